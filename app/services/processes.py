"""Deploying BPMN and getting runnable specs for deployed versions."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import DomainError, InvalidInput, NotFound, PayloadTooLarge
from ..models import ProcessDefinition
from . import accounts, audit, catalog, effects, forms

_cache: dict[str, engine.ParsedProcess] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Deployed:
    """A deployed version, immutable once stored, so it is cached per process forever."""

    id: int
    key: str
    version: int
    name: str
    model: dict[str, Any]
    catalog: dict[str, Any] | None
    sha256: str

    @property
    def forms(self) -> dict[str, dict]:
        """The form schemas as they were when this version was deployed."""
        return self.model.get("forms", {})

    @property
    def lane_departments(self) -> dict[str, int]:
        return self.model.get("lane_departments", {})


_deployed: dict[tuple[str, int], Deployed] = {}


class ProcessRejected(DomainError):
    status = 422


def _parse(session: Session, xml: bytes, filename: str, departments: dict,
           called: list[ProcessDefinition]) -> engine.ParsedProcess:
    form_keys = forms.existing_keys(session)
    libraries = [d.bpmn_xml.encode() for d in called]
    try:
        return engine.parse_process(xml, filename, is_department=departments.__contains__,
                                    form_exists=form_keys.__contains__, is_operator=effects.is_operator,
                                    libraries=libraries)
    except engine.BpmnInvalid as exc:
        if exc.status == 413:
            raise PayloadTooLarge(exc.message) from None
        raise ProcessRejected(exc.message, [i.to_dict() for i in exc.issues]) from None


def latest_called(session: Session, xml: bytes) -> list[ProcessDefinition]:
    """Deployed processes that call activities in this file may refer to."""
    text = xml.decode("utf-8", errors="replace")
    if "callActivity" not in text:
        return []
    return [d for d in latest_versions(session) if f'calledElement="{d.key}"' in text]


def _catalog(text: str | None, parsed: engine.ParsedProcess, departments: dict) -> dict | None:
    if text is None:
        return None
    return catalog.parse(text, process_key=parsed.model.process_key, departments=set(departments),
                         task_ids={t.element_id for t in parsed.model.user_tasks})


def deploy(session: Session, xml: bytes, *, filename: str, actor_id: int | None,
           now: datetime, catalog_text: str | None = None,
           skip_if_unchanged: bool = False) -> ProcessDefinition:
    """Validate and store a new version (BPMN plus its optional catalog); nothing is stored on failure."""
    if not xml:
        raise InvalidInput("文件为空")
    departments = accounts.department_lookup(session)  # read once for lanes, catalog and snapshot
    called = latest_called(session, xml)
    parsed = _parse(session, xml, filename, departments, called)
    matters = _catalog(catalog_text, parsed, departments)
    key = parsed.model.process_key
    current = latest(session, key)
    if (skip_if_unchanged and current is not None and current.sha256 == parsed.sha256
            and current.catalog == matters
            and current.model.get("called_definitions", {}) == {d.key: d.id for d in called}):
        return current
    model = parsed.model.to_dict()
    model["lane_departments"] = {lane: departments[lane].id for lane in parsed.model.lanes if lane in departments}
    # a case keeps the called processes' versions it started with, as it keeps its own
    model["called_definitions"] = {d.key: d.id for d in called}
    keys = {t.form_key for t in parsed.model.user_tasks if t.form_key} | {parsed.model.start_form_key} - {None}
    model["forms"] = {k: forms.latest(session, k).schema for k in sorted(keys)}
    definition = ProcessDefinition(
        key=key, version=(current.version + 1) if current else 1, name=parsed.model.name,
        bpmn_xml=xml.decode("utf-8"), sha256=parsed.sha256, model=model,
        catalog=matters, deployed_by_id=actor_id, deployed_at=now)
    session.add(definition)
    session.flush()
    with _cache_lock:
        _cache[parsed.sha256] = parsed
    audit.record(session, action="process.deployed", at=now, actor_id=actor_id,
                 object_type="process_definition", object_id=definition.id,
                 after={"key": key, "version": definition.version, "sha256": parsed.sha256,
                        "filename": filename})
    return definition


def deploy_folder(session: Session, folder: Path, *, actor_id: int | None, now: datetime) -> list[ProcessDefinition]:
    """Deploy every .bpmn file in a folder (called processes first), skipping unchanged ones."""
    pending = sorted(folder.glob("*.bpmn"))
    deployed: list[ProcessDefinition] = []
    while pending:
        progress = False
        for path in list(pending):
            catalog_path = path.with_suffix(".yaml")
            text = catalog_path.read_text(encoding="utf-8") if catalog_path.exists() else None
            try:
                deployed.append(deploy(session, path.read_bytes(), filename=path.name, actor_id=actor_id,
                                       now=now, catalog_text=text, skip_if_unchanged=True))
            except ProcessRejected:
                continue  # may depend on a file not yet deployed; retried below
            pending.remove(path)
            progress = True
        if not progress:
            # deploy the first failing file again to surface its error
            first = pending[0]
            text = first.with_suffix(".yaml").read_text(encoding="utf-8") if first.with_suffix(".yaml").exists() else None
            deploy(session, first.read_bytes(), filename=first.name, actor_id=actor_id, now=now, catalog_text=text)
    return deployed


_LATEST = (select(ProcessDefinition).where(ProcessDefinition.key == bindparam("key"))
           .order_by(ProcessDefinition.version.desc()).limit(1))  # every new case reads it: built once


def latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.execute(_LATEST, {"key": key}).scalar_one_or_none()


def latest_versions(session: Session) -> list[ProcessDefinition]:
    newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    return list(session.execute(
        select(ProcessDefinition).join(newest, (ProcessDefinition.key == newest.c.key)
                                       & (ProcessDefinition.version == newest.c.v))
        .order_by(ProcessDefinition.key)).scalars())


def services(session: Session) -> list[ProcessDefinition]:
    """The bundled services a window can start: the newest version of each process with an
    application form (stages that are only called by another process have none)."""
    return [d for d in latest_versions(session) if d.model.get("start_form_key")]


def get_latest(session: Session, key: str) -> ProcessDefinition:
    definition = latest(session, key)
    if definition is None:
        raise NotFound(f"流程“{key}”不存在或尚未部署")
    return definition


def deployed(session: Session, definition_id: int) -> Deployed:
    """A deployed version; read once per process (versions never change once stored)."""
    key = (str(session.get_bind().url), definition_id)  # ids are per database
    found = _deployed.get(key)
    if found is None:
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound("流程版本不存在")
        found = Deployed(row.id, row.key, row.version, row.name, row.model, row.catalog, row.sha256)
        _deployed[key] = found
    return found


def runnable(session: Session, definition: ProcessDefinition | Deployed) -> engine.ParsedProcess:
    """The parsed spec of a deployed version (parsed once per process and worker)."""
    parsed = _cache.get(definition.sha256)
    if parsed is None:
        if isinstance(definition, Deployed):
            definition = session.get(ProcessDefinition, definition.id)
        pinned = definition.model.get("called_definitions")
        if pinned is not None:
            libraries = [session.get(ProcessDefinition, i).bpmn_xml.encode() for i in pinned.values()]
        else:  # deployed before versions were pinned
            libraries = [d.bpmn_xml.encode() for d in latest_versions(session)
                         if d.key in definition.model.get("called_processes", [])]
        parsed = engine.parse_process(definition.bpmn_xml.encode(), f"{definition.key}.bpmn",
                                      libraries=libraries)
        with _cache_lock:
            _cache[definition.sha256] = parsed
    return parsed


def versions(session: Session, key: str) -> list[ProcessDefinition]:
    return list(session.execute(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                .order_by(ProcessDefinition.version.desc())).scalars())


def lint_folder(session: Session, folder: Path, forms_dir: Path | None = None) -> list[tuple[str, str, str]]:
    """(file, element id, problem) for every diagram and catalog in a folder; empty when all are clean.

    Departments come from the database; a form exists if it is registered or is a file in ``forms_dir``.
    Diagrams in the same folder serve as the called processes of call activities.
    """
    departments = accounts.department_lookup(session)
    known_forms = forms.existing_keys(session) | (
        {p.stem for p in forms_dir.glob("*.json")} if forms_dir else set())
    files = sorted(folder.glob("*.bpmn"))
    problems: list[tuple[str, str, str]] = []
    for path in files:
        xml = path.read_bytes()
        libraries = [p.read_bytes() for p in files if p != path]
        for issue in engine.lint(xml, path.name, is_department=departments.__contains__,
                                 form_exists=known_forms.__contains__, is_operator=effects.is_operator,
                                 libraries=libraries):
            problems.append((path.name, issue.element_id, issue.message))
        catalog_path = path.with_suffix(".yaml")
        if catalog_path.exists():
            try:
                parsed = engine.parse_process(xml, path.name, libraries=libraries)
                catalog.parse(catalog_path.read_text(encoding="utf-8"), process_key=parsed.model.process_key,
                              departments=set(departments),
                              task_ids={t.element_id for t in parsed.model.user_tasks})
            except engine.BpmnInvalid:
                pass  # the diagram's own problems are listed above
            except InvalidInput as exc:
                problems.extend((catalog_path.name, "", str(e)) for e in (exc.errors or [exc.message]))
    return problems
