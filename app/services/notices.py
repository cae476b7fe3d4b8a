"""Written notices (文书): rendered from Chinese templates, stored with the case as issued.

Kinds and their titles are fixed by law and practice; what each lists (missing
materials, reasons, dates) comes from the diagram's service task and the case.
The HTML carries a print stylesheet, so the window prints it from the browser.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import Case, Notice
from .clock import local

KINDS = {
    "acceptance": ("受理通知书", "受"),
    "correction": ("补正材料一次性告知书", "补"),
    "rejection": ("不予受理决定书", "不"),
    "refusal": ("不予许可决定书", "否"),
    "deficiency": ("容缺受理承诺书", "容"),
    "commitment": ("告知承诺书", "诺"),
    "result": ("办结通知书", "结"),
    "termination": ("终止办理通知书", "终"),
    "revocation": ("撤销决定书", "撤"),
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "notices"),
    autoescape=select_autoescape(["html"]), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def chinese_date(moment: date | datetime | None) -> str:
    if moment is None:
        return ""
    day = local(moment).date() if isinstance(moment, datetime) else moment
    return f"{day.year}年{day.month}月{day.day}日"


_templates.filters["cn_date"] = chinese_date


def normalise_items(value: Any) -> list[str]:
    """A list of strings from a list, or from text with one item per line."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, (list, tuple)):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


# run by every notice an effect issues, so built once (see cases.py)
_ISSUED = select(func.count()).select_from(Notice).where(Notice.case_id == bindparam("case_id"),
                                                         Notice.kind == bindparam("kind"))


def issue(session: Session, case: Case, *, kind: str, service_name: str, items: Any = None,
          now: datetime, element_id: str | None = None, extra: dict[str, Any] | None = None) -> Notice:
    """Render and store one notice; its number is unique (kind prefix, case number, sequence)."""
    if kind not in KINDS:
        raise InvalidInput(f"未知的文书类型“{kind}”")
    title, prefix = KINDS[kind]
    listed = normalise_items(items)
    count = session.execute(_ISSUED, {"case_id": case.id, "kind": kind}).scalar_one()
    number = f"{prefix}字〔{local(now).year}〕{case.case_no}-{count + 1}"
    context = {"deemed": False, "accepted_at": case.accepted_at, "promised": case.deadline,
               "statutory": case.statutory_deadline, "due": None, "delivery": "", "consequence": "",
               **(extra or {})}
    html = _templates.get_template(f"{kind}.html").render(
        title=title, number=number, case=case, service_name=service_name, items=listed,
        issued_at=now, **context)
    notice = Notice(case_id=case.id, kind=kind, number=number, title=title, items=listed, html=html,
                    element_id=element_id, issued_at=now)
    session.add(notice)
    return notice


def for_case(session: Session, case_id: int) -> list[Notice]:
    return list(session.execute(select(Notice).where(Notice.case_id == case_id).order_by(Notice.id)).scalars())


def get(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("文书不存在")
    return notice
