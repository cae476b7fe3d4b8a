"""form-js schemas: registry (database, seeded from forms/) and server-side validation."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import FormDefinition

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "select", "radio", "datetime", "checklist"}
_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def input_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Input components, including those nested in groups."""
    out: list[dict[str, Any]] = []
    stack = list(schema.get("components", []))
    while stack:
        comp = stack.pop(0)
        if comp.get("type") in INPUT_TYPES and comp.get("key"):
            out.append(comp)
        stack.extend(comp.get("components", []))
    return out


def check_schema(schema: Any) -> list[str]:
    """Problems with a form-js schema, as zh-CN messages (empty if fine)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
        return ["表单必须是 form-js JSON，且包含 components 列表"]
    problems = []
    if not isinstance(schema.get("id"), str) or not _KEY_RE.match(schema["id"]):
        problems.append("表单 id 必须是英文标识符")
    seen: set[str] = set()
    for comp in input_fields(schema):
        key = comp["key"]
        if not _KEY_RE.match(key):
            problems.append(f"字段名“{key}”必须是英文标识符")
        if key in seen:
            problems.append(f"字段名“{key}”重复")
        seen.add(key)
        if comp["type"] in {"select", "radio", "checklist"} and not comp.get("values"):
            problems.append(f"字段“{key}”缺少选项 values")
    return problems


def save_form(session: Session, schema: dict[str, Any], now: datetime) -> FormDefinition:
    problems = check_schema(schema)
    if problems:
        raise InvalidInput("表单定义无效", problems)
    raw = json.dumps(schema, sort_keys=True, ensure_ascii=False).encode()
    digest = hashlib.sha256(raw).hexdigest()
    current = latest(session, schema["id"])
    if current is not None and current.sha256 == digest:
        return current
    form = FormDefinition(key=schema["id"], version=(current.version + 1) if current else 1,
                          schema=schema, sha256=digest, created_at=now)
    session.add(form)
    session.flush()
    return form


def load_folder(session: Session, folder: Path, now: datetime) -> list[FormDefinition]:
    forms = []
    for path in sorted(folder.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"表单文件 {path.name} 不是有效 JSON：第 {exc.lineno} 行") from None
        forms.append(save_form(session, schema, now))
    return forms


def latest(session: Session, key: str) -> FormDefinition | None:
    return session.execute(select(FormDefinition).where(FormDefinition.key == key)
                           .order_by(FormDefinition.version.desc()).limit(1)).scalar_one_or_none()


def for_definition(session: Session, definition: Any, key: str | None) -> dict[str, Any] | None:
    """The schema a deployed version uses for ``key`` (snapshotted at deploy; newest for older versions)."""
    if not key:
        return None
    if key in definition.forms:
        return definition.forms[key]
    form = latest(session, key)
    return form.schema if form else None


def existing_keys(session: Session) -> set[str]:
    return set(session.execute(select(func.distinct(FormDefinition.key))).scalars())


def _check_value(comp: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    kind = comp["type"]
    rules = comp.get("validate") or {}
    if kind == "checkbox":
        if not isinstance(value, bool):
            return value, "必须是 true 或 false"
        if rules.get("required") and value is not True:
            return value, "必须勾选"
        return value, None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, "必须是数字"
        if "min" in rules and value < rules["min"]:
            return value, f"不能小于 {rules['min']}"
        if "max" in rules and value > rules["max"]:
            return value, f"不能大于 {rules['max']}"
        return value, None
    if kind == "checklist":
        allowed = {v["value"] for v in comp.get("values", [])}
        if not isinstance(value, list) or any(v not in allowed for v in value):
            return value, "包含无效选项"
        return value, None
    if not isinstance(value, str):
        return value, "必须是文本"
    value = value.strip()
    if kind in {"select", "radio"}:
        if value not in {v["value"] for v in comp.get("values", [])}:
            return value, "不是有效选项"
        return value, None
    if kind == "datetime":
        try:
            (date.fromisoformat if len(value) == 10 else datetime.fromisoformat)(value)
        except ValueError:
            return value, "日期时间格式无效"
    if "minLength" in rules and len(value) < rules["minLength"]:
        return value, f"至少 {rules['minLength']} 个字符"
    if "maxLength" in rules and len(value) > rules["maxLength"]:
        return value, f"最多 {rules['maxLength']} 个字符"
    if rules.get("pattern") and value and not re.fullmatch(rules["pattern"], value):
        return value, "格式不正确"
    return value, None


def validate_data(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Check submitted data against a form; return the cleaned data or raise 422.

    Unknown fields are refused, required fields must be present, defaults are
    applied. With no form, any JSON object with identifier keys is accepted.
    """
    if not isinstance(data, dict):
        raise InvalidInput("data 必须是 JSON 对象")
    bad_keys = [k for k in data if not isinstance(k, str) or not _KEY_RE.match(k)]
    if bad_keys:
        raise InvalidInput("字段名无效", {k: ["字段名必须是英文标识符，且不能以下划线开头"] for k in map(str, bad_keys)})
    if schema is None:
        return dict(data)
    fields = {c["key"]: c for c in input_fields(schema)}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key in data:
        if key not in fields:
            errors[key] = ["表单中没有这个字段"]
    for key, comp in fields.items():
        label = comp.get("label") or key
        value = data.get(key)
        if value is None or value == "":
            if (comp.get("validate") or {}).get("required"):
                errors[key] = [f"“{label}”为必填项"]
            elif "defaultValue" in comp:
                clean[key] = comp["defaultValue"]
            elif comp["type"] == "checkbox":
                clean[key] = False
            continue
        value, problem = _check_value(comp, value)
        if problem:
            errors[key] = [f"“{label}”{problem}"]
        else:
            clean[key] = value
    if errors:
        raise InvalidInput("表单数据校验未通过", errors)
    return clean
