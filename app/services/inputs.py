"""Checks of the small free inputs of task actions: a text field, and a list of chosen users."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import User
from .accounts import Actor


def text_field(value: Any, *, field: str, label: str, limit: int, required: bool) -> str:
    """The trimmed text, or a Chinese refusal naming ``label`` (anything but a string counts as empty)."""
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput(f"请填写{label}", {field: [f"“{label}”为必填项"]})
    if len(text) > limit:
        raise InvalidInput(f"{label}过长：最多 {limit} 个字符",
                           {field: [f"“{label}”最多 {limit} 个字符（现有 {len(text)} 个）"]})
    return text


def chosen_users(session: Session, user: Actor, user_ids: Any, *, noun: str, verb: str, most: int,
                 not_yourself: str) -> list[User]:
    """Active users picked by id for an action (抄送, 加签), in the order given, duplicates dropped.

    ``noun`` names them in messages ("抄送对象"), ``verb`` is the action ("抄送"), ``not_yourself``
    the refusal when the caller picks themselves.
    """
    if not isinstance(user_ids, list) or not user_ids:
        raise InvalidInput(f"请选择{noun}", {"user_ids": ["至少选择一人"]})
    if any(not isinstance(i, int) or isinstance(i, bool) for i in user_ids):
        raise InvalidInput(f"{noun}无效", {"user_ids": ["必须是用户编号"]})
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > most:
        raise InvalidInput(f"一次最多{verb} {most} 人", {"user_ids": [f"最多 {most} 人"]})
    if user.id in wanted:
        raise InvalidInput(not_yourself, {"user_ids": [not_yourself]})
    found = {u.id: u for u in session.execute(select(User).where(User.id.in_(wanted))).scalars()}
    missing = [i for i in wanted if i not in found or not found[i].is_active]
    if missing:
        raise InvalidInput(f"{noun}不存在或已停用", {"user_ids": [f"用户 {i} 不存在或已停用" for i in missing]})
    return [found[i] for i in wanted]
