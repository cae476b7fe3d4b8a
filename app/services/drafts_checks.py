"""The checks a draft's save runs: the deploy rules and the lint over the diagram, the catalog's validation.

The problems are kept with the draft and shown on the diagram's elements; a draft
with any problem is kept but cannot be deployed.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from .. import engine
from ..engine import diff as element_diff
from ..errors import InvalidInput
from . import accounts, catalog, effects, forms, processes




def _dedupe(problems: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for problem in problems:
        key = (problem["element_id"], problem["message"])
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _authoring_issues(xml: bytes, key: str) -> list[dict[str, str]]:
    """What the modeler asks beyond the deploy rules: the process id, and a form on every user task."""
    try:
        elements = element_diff.summarize(xml)
        process_ids = element_diff.process_ids(xml)
    except engine.BpmnInvalid:
        return []  # the lint names the broken file
    issues = []
    for element in elements.values():
        if element.kind == "userTask" and not element.props.get("form_key"):
            issues.append({"element_id": element.element_id,
                           "message": f"用户任务“{element.name or element.element_id}”未设置表单（表单键）"})
    if key not in process_ids:
        issues.append({"element_id": "", "message": f"流程 id 必须保持为“{key}”"})
    return issues


def bpmn_problems(session: Session, key: str, xml: bytes, draft_forms: Iterable[str]) -> list[dict[str, str]]:
    """Every problem of a draft diagram, each naming its element (empty when it can be deployed)."""
    departments = accounts.department_lookup(session)
    known_forms = forms.existing_keys(session) | set(draft_forms)
    libraries = [d.bpmn_xml.encode() for d in processes.latest_called(session, xml)]
    issues = engine.lint(xml, f"{key}.bpmn", is_department=departments.__contains__,
                         form_exists=known_forms.__contains__, is_operator=effects.is_operator, libraries=libraries)
    found = [issue.to_dict() for issue in issues] + _authoring_issues(xml, key)
    return _dedupe(found)


def user_task_ids(session: Session, xml: bytes) -> set[str] | None:
    """The user tasks of the service (with its called processes), or None when the diagram does not parse."""
    libraries = [d.bpmn_xml.encode() for d in processes.latest_called(session, xml)]
    try:
        parsed = engine.parse_process(xml, "draft.bpmn", libraries=libraries)
    except engine.BpmnInvalid:
        try:
            return {e.element_id for e in element_diff.summarize(xml).values() if e.kind == "userTask"}
        except engine.BpmnInvalid:
            return None
    return {t.element_id for t in parsed.model.user_tasks}


def catalog_problems(session: Session, key: str, text: str | None, xml: bytes) -> list[str]:
    """The catalog's problems as the catalog service words them (with line numbers); empty when valid."""
    if text is None or not text.strip():
        return []
    departments = accounts.department_lookup(session)
    try:
        catalog.parse(text, process_key=key, departments=set(departments), task_ids=user_task_ids(session, xml))
    except InvalidInput as exc:
        return [str(e) for e in (exc.errors or [exc.message])]
    return []
