"""What changed between two deployed versions of a process, element by element."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import diff as element_diff
from ..errors import InvalidInput, NotFound
from ..models import ProcessDefinition


def _version(session: Session, key: str, version: int) -> ProcessDefinition:
    found = session.execute(select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"流程“{key}”没有第 {version} 版")
    return found


def version_diff(session: Session, key: str, from_version: int, to_version: int) -> dict[str, Any]:
    """{"from", "to", "added", "removed", "changed"}: each change with id, kind, name and, when changed,
    the fields that differ with their values before and after."""
    if from_version == to_version:
        raise InvalidInput("请选择两个不同的版本进行比较")
    old, new = _version(session, key, from_version), _version(session, key, to_version)
    changes = element_diff.diff(old.bpmn_xml.encode(), new.bpmn_xml.encode())
    out: dict[str, Any] = {"process_key": key, "from": from_version, "to": to_version,
                           "added": [], "removed": [], "changed": []}
    for change in changes:
        out[change.change].append({
            "element_id": change.element_id, "kind": change.kind, "name": change.name,
            "fields": [{"field": f, "before": before, "after": after} for f, before, after in change.fields]})
    return out
