"""The analyst's drafts: open a process for editing, save its diagram, forms and catalog, deploy it.

A process has at most one draft. Until the first save the draft is the latest
deployed version (or, for a process never deployed, its files in processes/),
built on the fly and not stored. Every save is stored with its problems and an
audit event; a draft with problems is kept but cannot be deployed. Deploying a
clean draft stores its edited forms, deploys the diagram and catalog as the next
version (processes.deploy) and ends the draft.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import engine
from ..engine import diff as element_diff
from ..errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from ..models import Department, ProcessDefinition, ProcessDraft, User
from . import audit, catalog, forms, processes
from .catalog_text import merged_yaml, plain_yaml
from .drafts_checks import bpmn_problems, catalog_problems

MAX_BYTES = 2 * 1024 * 1024
_FORM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Draft:
    """What the editors show: the draft's content, its problems and who saved it last."""

    key: str
    name: str
    base_version: int | None
    bpmn_xml: str
    forms: dict[str, Any]
    catalog_yaml: str | None
    bpmn_problems: list[dict[str, str]]
    catalog_problems: list[str]
    revision: int  # 0: not saved yet
    updated_by: str | None = None
    updated_at: datetime | None = None
    form_keys: list[str] = field(default_factory=list)

    @property
    def saved(self) -> bool:
        return self.revision > 0

    @property
    def deployable(self) -> bool:
        return not self.bpmn_problems and not self.catalog_problems

    def to_dict(self) -> dict[str, Any]:
        return {"process_key": self.key, "name": self.name, "base_version": self.base_version,
                "bpmn_xml": self.bpmn_xml, "forms": self.forms, "catalog_yaml": self.catalog_yaml,
                "bpmn_problems": self.bpmn_problems, "catalog_problems": self.catalog_problems,
                "revision": self.revision, "saved": self.saved, "deployable": self.deployable,
                "updated_by": self.updated_by, "updated_at": self.updated_at}


def _row(session: Session, key: str, *, for_update: bool = False) -> ProcessDraft | None:
    """The stored draft; ``for_update`` locks it (PostgreSQL), so two saves with one revision cannot both pass."""
    query = select(ProcessDraft).where(ProcessDraft.process_key == key)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def _catalog_text(definition: ProcessDefinition, processes_dir: Path | None) -> str | None:
    """The catalog as YAML: the file beside the diagram when it is what was deployed (keeps its comments)."""
    if definition.catalog is None:
        return None
    path = processes_dir / f"{definition.key}.yaml" if processes_dir else None
    if path is not None and path.is_file():
        text = path.read_text(encoding="utf-8")
        try:
            if catalog.parse(text) == definition.catalog:
                return text
        except InvalidInput:
            pass
    return plain_yaml(definition.catalog)


def _from_source(session: Session, key: str, processes_dir: Path | None) -> tuple[str, str | None, int | None, str]:
    """(bpmn, catalog yaml, base version, name) of a process not being edited yet."""
    definition = processes.latest(session, key)
    if definition is not None:
        return definition.bpmn_xml, _catalog_text(definition, processes_dir), definition.version, definition.name
    path = processes_dir / f"{key}.bpmn" if processes_dir and key.isidentifier() else None
    if path is None or not path.is_file():
        raise NotFound(f"流程“{key}”不存在或尚未部署")
    yaml_path = path.with_suffix(".yaml")
    return (path.read_text(encoding="utf-8"), yaml_path.read_text(encoding="utf-8") if yaml_path.is_file() else None,
            None, key)


def _form_keys(xml: str) -> list[str]:
    try:
        found = {e.props["form_key"] for e in element_diff.summarize(xml.encode()).values() if "form_key" in e.props}
    except engine.BpmnInvalid:  # a draft that does not parse lists no forms
        return []
    return sorted(found)


def current(session: Session, key: str, *, processes_dir: Path | None = None) -> Draft:
    """The draft of a process: the saved one, else one built from the latest version (not stored)."""
    row = _row(session, key)
    if row is not None:
        user = session.get(User, row.updated_by_id) if row.updated_by_id else None
        latest = processes.latest(session, key)
        return Draft(key, latest.name if latest else key, row.base_version, row.bpmn_xml, dict(row.forms),
                     row.catalog_yaml, list(row.bpmn_problems), list(row.catalog_problems), row.revision,
                     user.name if user else None, row.updated_at, _form_keys(row.bpmn_xml))
    xml, catalog_yaml, base, name = _from_source(session, key, processes_dir)
    return Draft(key, name, base, xml, {}, catalog_yaml, bpmn_problems(session, key, xml.encode(), ()),
                 catalog_problems(session, key, catalog_yaml, xml.encode()), 0, form_keys=_form_keys(xml))


def _editable(session: Session, key: str, revision: int | None, processes_dir: Path | None,
              now: datetime) -> ProcessDraft:
    """The stored draft (created from the latest version on the first save); a stale revision is refused."""
    row = _row(session, key, for_update=True)
    if row is None:
        if revision not in (None, 0):
            raise Conflict("草稿已被部署或删除，请刷新后重试")
        xml, catalog_yaml, base, _ = _from_source(session, key, processes_dir)
        row = ProcessDraft(process_key=key, base_version=base, bpmn_xml=xml, forms={}, catalog_yaml=catalog_yaml,
                           bpmn_problems=[], catalog_problems=[], revision=0, updated_at=now)
        session.add(row)
    elif revision is not None and revision != row.revision:
        raise Conflict("草稿已被他人修改，请刷新后再保存")
    return row


def _touch(session: Session, row: ProcessDraft, *, part: str, actor_id: int | None, now: datetime,
           detail: dict[str, Any] | None = None) -> None:
    row.revision += 1
    row.updated_by_id = actor_id
    row.updated_at = now
    session.flush()
    audit.record(session, action="process.draft_saved", at=now, actor_id=actor_id, object_type="process_draft",
                 object_id=row.id, after={"key": row.process_key, "part": part, "revision": row.revision,
                                          **(detail or {})})


def _recheck(session: Session, row: ProcessDraft) -> None:
    xml = row.bpmn_xml.encode()
    row.bpmn_problems = bpmn_problems(session, row.process_key, xml, row.forms)
    row.catalog_problems = catalog_problems(session, row.process_key, row.catalog_yaml, xml)


def save_bpmn(session: Session, key: str, xml: str, *, actor_id: int | None, now: datetime,
              revision: int | None = None, processes_dir: Path | None = None) -> Draft:
    """Store the diagram with its problems (validation and lint, by element id); kept even with problems."""
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidInput("流程图为空")
    if len(xml.encode()) > MAX_BYTES:
        raise PayloadTooLarge(f"流程图过大，上限为 {MAX_BYTES // (1024 * 1024)} MB")
    row = _editable(session, key, revision, processes_dir, now)
    row.bpmn_xml = xml
    _recheck(session, row)
    _touch(session, row, part="bpmn", actor_id=actor_id, now=now,
           detail={"problems": len(row.bpmn_problems)})
    return current(session, key)


def save_form(session: Session, key: str, form_id: str, schema: Any, *, actor_id: int | None, now: datetime,
              revision: int | None = None, processes_dir: Path | None = None) -> Draft:
    """Store a form-js schema in the draft; a schema with problems is refused (nothing changes)."""
    problems = forms.check_schema(schema)
    if not problems and schema.get("id") != form_id:
        problems = [f"表单 id 必须是“{form_id}”"]
    if problems:
        raise InvalidInput("表单定义无效", problems)
    row = _editable(session, key, revision, processes_dir, now)
    row.forms = {**row.forms, form_id: schema}
    _recheck(session, row)  # a task may have waited for this form
    _touch(session, row, part="form", actor_id=actor_id, now=now, detail={"form_id": form_id})
    return current(session, key)


def save_catalog(session: Session, key: str, text: str, *, actor_id: int | None, now: datetime,
                 revision: int | None = None, processes_dir: Path | None = None) -> Draft:
    """Store the catalog YAML with its problems (the catalog service's messages, by line)."""
    if not isinstance(text, str):
        raise InvalidInput("事项目录必须是文本")
    row = _editable(session, key, revision, processes_dir, now)
    return _store_catalog(session, row, text, actor_id, now)


def save_catalog_table(session: Session, key: str, data: dict[str, Any], *, actor_id: int | None, now: datetime,
                       revision: int | None = None, processes_dir: Path | None = None) -> Draft:
    """Store the catalog as the table editor sends it (data), written into the draft's YAML text
    so that the analysts' comments stay (see catalog_text)."""
    if not isinstance(data, dict):
        raise InvalidInput("事项目录必须是对象")
    row = _editable(session, key, revision, processes_dir, now)
    return _store_catalog(session, row, merged_yaml(row.catalog_yaml, data), actor_id, now)


def _store_catalog(session: Session, row: ProcessDraft, text: str, actor_id: int | None, now: datetime) -> Draft:
    if len(text.encode()) > MAX_BYTES:
        raise PayloadTooLarge("事项目录过大")
    row.catalog_yaml = text if text.strip() else None
    _recheck(session, row)
    _touch(session, row, part="catalog", actor_id=actor_id, now=now,
           detail={"problems": len(row.catalog_problems)})
    return current(session, row.process_key)


def form_schema(session: Session, key: str, form_id: str, *, processes_dir: Path | None = None) -> dict[str, Any]:
    """The form as the draft has it: edited in the draft, else the one in use, else a new empty form."""
    draft = current(session, key, processes_dir=processes_dir)
    if form_id in draft.forms:
        return draft.forms[form_id]
    if not _FORM_ID.match(form_id or ""):
        raise InvalidInput("表单 id 必须是英文标识符")
    definition = processes.latest(session, key)
    if definition is not None and form_id in (definition.model.get("forms") or {}):
        return definition.model["forms"][form_id]
    stored = forms.latest(session, form_id)
    return stored.schema if stored else {"id": form_id, "type": "default", "components": []}


def deploy(session: Session, key: str, *, actor_id: int | None, now: datetime,
           revision: int | None = None) -> ProcessDefinition:
    """Deploy a saved draft without problems as the next version; the draft ends."""
    row = _row(session, key, for_update=True)
    if row is None:
        raise Conflict("尚无已保存的草稿，请先保存")
    if revision is not None and revision != row.revision:
        raise Conflict("草稿已被他人修改，请刷新后再部署")
    _recheck(session, row)  # departments or forms may have changed since the save
    if row.bpmn_problems or row.catalog_problems:
        raise InvalidInput(f"草稿还有 {len(row.bpmn_problems) + len(row.catalog_problems)} 个问题，修正后才能部署",
                           {"bpmn": row.bpmn_problems, "catalog": row.catalog_problems})
    for schema in row.forms.values():
        forms.save_form(session, schema, now)
    definition = processes.deploy(session, row.bpmn_xml.encode(), filename=f"{key}.bpmn", actor_id=actor_id,
                                  now=now, catalog_text=row.catalog_yaml)
    audit.record(session, action="process.draft_deployed", at=now, actor_id=actor_id, object_type="process_draft",
                 object_id=row.id, after={"key": key, "revision": row.revision, "base_version": row.base_version,
                                          "version": definition.version, "forms": sorted(row.forms)})
    session.delete(row)
    session.flush()
    return definition


def discard(session: Session, key: str, *, actor_id: int | None, now: datetime) -> None:
    """Throw the draft away; the editors show the latest version again."""
    row = _row(session, key, for_update=True)
    if row is None:
        raise NotFound("没有可放弃的草稿")
    audit.record(session, action="process.draft_discarded", at=now, actor_id=actor_id, object_type="process_draft",
                 object_id=row.id, after={"key": key, "revision": row.revision})
    session.delete(row)
    session.flush()


def valid_form_id(form_id: str) -> bool:
    return bool(_FORM_ID.match(form_id or ""))


def department_choices(session: Session) -> list[dict[str, str]]:
    """The departments a lane may name (the modeler's lane picker)."""
    return [{"code": d.code, "name": d.name}
            for d in session.execute(select(Department).order_by(Department.id)).scalars()]


def known_form_keys(session: Session, draft: Draft) -> list[str]:
    """Forms a task may use: the registered ones and the draft's own."""
    return sorted(forms.existing_keys(session) | set(draft.forms))
