"""Test runs (模拟运行) of a service with a scenario file, in a sandbox that touches no real case.

A scenario (see docs/scenarios.md) gives the application data, the form data each
user task is completed with (which way each decision goes), the messages the
applicant sends, and when timers fire (the clock moves; timers due on the way
fire at their own time). It runs against the latest deployed version (API, web
page) or against the files in processes/ (CLI, test suite). The result lists the
path taken, the tasks created with their departments and deadlines, the timers,
the requested service-task effects, and each expectation with pass or fail.

Nothing here adds to or flushes the session: the run reads the deployed version,
the forms, the departments and the calendar, and keeps everything else in memory.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from .. import engine
from ..errors import InvalidInput, NotFound
from . import accounts, calendar, catalog as catalogs, forms, processes
from .calendar import WorkCalendar
from .scenario_runner import Target, execute, iso

ACTIONS = ("complete", "message", "advance", "fire", "at")
STEP_KEYS = {"complete": {"data", "department", "all", "at", "note"}, "message": {"data", "at", "note"},
             "advance": {"note"}, "fire": {"note"}, "at": {"note"}}
TOP_KEYS = {"name", "description", "start_at", "data", "steps", "expect"}
ADVANCE_UNITS = ("workdays", "hours", "days")
LIST_EXPECTATIONS = ("path", "not_path", "tasks", "no_tasks", "open_tasks", "effects", "waiting_messages")
EXPECT_KEYS = {"status", "end_event", "deadlines", "error", *LIST_EXPECTATIONS}
DEADLINE_KEYS = {"case_promised", "case_statutory", "accepted_at", "tasks", "timers"}
MAX_STEPS = 500


# -- the scenario format ----------------------------------------------------------
def _moment(value: Any, where: str, problems: list[str]) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            problems.append(f"{where} 必须是 ISO 8601 时间，如 2025-09-26T09:30:00+08:00")
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        problems.append(f"{where} 必须是带时区的时间，如 2025-09-26T09:30:00+08:00")
        return None
    return value


def _step(raw: Any, number: int, problems: list[str]) -> dict[str, Any] | None:
    where = f"第 {number} 步"
    if not isinstance(raw, dict):
        problems.append(f"{where} 必须是映射")
        return None
    actions = [a for a in ACTIONS if a in raw and not (a == "at" and ({"complete", "message"} & set(raw)))]
    if len(actions) != 1:
        problems.append(f"{where} 须有且只有一个动作：{'、'.join(ACTIONS)}")
        return None
    action, step = actions[0], dict(raw)
    unknown = set(raw) - {action} - STEP_KEYS[action]
    if unknown:
        problems.append(f"{where} 有未知的键：{'、'.join(sorted(map(str, unknown)))}")
    if action in ("complete", "message", "fire") and (not isinstance(raw[action], str) or not raw[action].strip()):
        problems.append(f"{where} 的 {action} 必须是元素 id 或消息名称")
    if "data" in raw and not isinstance(raw["data"], dict):
        problems.append(f"{where} 的 data 必须是映射")
    if action == "advance":
        amount = raw["advance"]
        if not isinstance(amount, dict) or len(amount) != 1 or next(iter(amount)) not in ADVANCE_UNITS \
                or isinstance(next(iter(amount.values())), bool) \
                or not isinstance(next(iter(amount.values())), int) or not 0 <= next(iter(amount.values())) <= 3650:
            problems.append(f"{where} 的 advance 必须写成 {{workdays: n}}、{{hours: n}} 或 {{days: n}}（n 为 0 到 3650 的整数）")
    if "at" in raw:
        step["at"] = _moment(raw["at"], f"{where} 的 at", problems)
    return step


def _expect(expect: Any, problems: list[str]) -> None:
    if not isinstance(expect, dict):
        problems.append("expect 必须是映射")
        return
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        problems.append(f"expect 中有未知的键：{'、'.join(sorted(map(str, unknown)))}")
    for key in LIST_EXPECTATIONS:
        if key in expect and not isinstance(expect[key], list):
            problems.append(f"expect.{key} 必须是列表")
    for item in expect.get("tasks", []) if isinstance(expect.get("tasks"), list) else []:
        if not isinstance(item, str) and not (isinstance(item, dict) and isinstance(item.get("element_id"), str)):
            problems.append("expect.tasks 的每一项须为元素 id，或 {element_id: …, department: …}")
            break
    wanted = expect.get("deadlines", {})
    if not isinstance(wanted, dict) or set(wanted) - DEADLINE_KEYS:
        problems.append(f"expect.deadlines 只能包含 {'、'.join(sorted(DEADLINE_KEYS))}")
    elif any(k in wanted and not isinstance(wanted[k], dict) for k in ("tasks", "timers")):
        problems.append("expect.deadlines.tasks 与 timers 必须是“元素 id: 时间”的映射")


def parse(raw: Any) -> dict[str, Any]:
    """Check a scenario (parsed YAML or JSON); raises InvalidInput listing every problem."""
    if not isinstance(raw, dict):
        raise InvalidInput("场景无效", ["场景必须是映射（YAML）或 JSON 对象"])
    problems: list[str] = []
    unknown = set(raw) - TOP_KEYS
    if unknown:
        problems.append(f"场景中有未知的键：{'、'.join(sorted(map(str, unknown)))}")
    if not isinstance(raw.get("name"), str) or not raw["name"].strip():
        problems.append("缺少 name（场景名称）")
    start_at = _moment(raw.get("start_at"), "start_at", problems)
    if not isinstance(raw.get("data", {}), dict):
        problems.append("data（申请数据）必须是映射")
    steps = raw.get("steps", [])
    if not isinstance(steps, list):
        problems.append("steps 必须是列表")
        steps = []
    if len(steps) > MAX_STEPS:
        problems.append(f"步骤过多，上限为 {MAX_STEPS}")
    parsed_steps = [_step(s, n, problems) for n, s in enumerate(steps[:MAX_STEPS], start=1)]
    _expect(raw.get("expect", {}), problems)
    if problems:
        raise InvalidInput("场景无效", problems)
    return {"name": raw["name"].strip(), "description": str(raw.get("description") or "").strip(),
            "start_at": start_at, "data": dict(raw.get("data") or {}), "steps": parsed_steps,
            "expect": dict(raw.get("expect") or {})}


def load_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行：" if mark else ""
        raise InvalidInput(f"场景文件 {path.name} 不是有效的 YAML", [f"{where}{getattr(exc, 'problem', exc)}"]) from None
    return parse(raw)


# -- where scenarios live ---------------------------------------------------------
def scenario_dir(processes_dir: Path, key: str | None = None) -> Path:
    folder = Path(processes_dir) / "scenarios"
    return folder / key if key else folder


def discover(processes_dir: Path, key: str | None = None) -> list[tuple[str, Path]]:
    """(process key, file) of every scenario under processes/scenarios/<key>/*.yaml."""
    root = scenario_dir(processes_dir)
    folders = [root / key] if key else sorted(p for p in root.glob("*") if p.is_dir())
    return [(folder.name, path) for folder in folders
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])]


def listing(processes_dir: Path, key: str) -> list[dict[str, str]]:
    """The scenario files of one service with their names (a broken file is listed with its problem)."""
    rows = []
    for _, path in discover(processes_dir, key):
        try:
            rows.append({"file": path.name, "name": load_file(path)["name"], "problem": ""})
        except InvalidInput as exc:
            rows.append({"file": path.name, "name": path.stem, "problem": "；".join(map(str, exc.errors or [exc.message]))})
    return rows


# -- what a scenario runs against ------------------------------------------------
def files_target(processes_dir: Path, forms_dir: Path, key: str,
                 departments: dict[str, str] | None = None) -> Target:
    """The service as the files in processes/ and forms/ describe it (called diagrams from the same folder)."""
    folder = Path(processes_dir)
    path = folder / f"{key}.bpmn"
    if not path.exists():
        raise NotFound(f"没有流程文件 {path.name}")
    libraries = [p.read_bytes() for p in sorted(folder.glob("*.bpmn")) if p != path]
    try:
        parsed = engine.parse_process(path.read_bytes(), path.name, libraries=libraries)
    except engine.BpmnInvalid as exc:
        raise InvalidInput(f"{path.name}：{exc.message}", [i.to_dict() for i in exc.issues]) from None
    catalog_path = path.with_suffix(".yaml")
    matters = catalogs.parse(catalog_path.read_text(encoding="utf-8"), process_key=parsed.model.process_key,
                             task_ids={t.element_id for t in parsed.model.user_tasks}) \
        if catalog_path.exists() else None
    keys = {t.form_key for t in parsed.model.user_tasks if t.form_key} | {parsed.model.start_form_key} - {None}
    schemas = {k: json.loads((Path(forms_dir) / f"{k}.json").read_text(encoding="utf-8"))
               for k in keys if (Path(forms_dir) / f"{k}.json").exists()}
    return Target(key=parsed.model.process_key, name=parsed.model.name, version=None, parsed=parsed,
                  catalog=matters, forms=schemas, departments=departments)


def deployed_target(session: Session, key: str) -> Target:
    """The latest deployed version, with the forms and catalog it was deployed with."""
    definition = processes.deployed(session, processes.get_latest(session, key).id)
    parsed = processes.runnable(session, definition)
    keys = {t.form_key for t in parsed.model.user_tasks if t.form_key} | {parsed.model.start_form_key} - {None}
    schemas = {k: s for k in keys if (s := forms.for_definition(session, definition, k)) is not None}
    return Target(key=definition.key, name=definition.name, version=definition.version, parsed=parsed,
                  catalog=definition.catalog, forms=schemas, departments=department_names(session))


def department_names(session: Session) -> dict[str, str]:
    return {k: d.name for k, d in accounts.department_lookup(session).items()}


# -- running ------------------------------------------------------------------------
def _end_event(target: Target, result) -> str | None:
    """The end event the main process reached last (a non-interrupting branch may end earlier)."""
    if result.view is None or result.view.status == "running":
        return None
    ends = [p["element_id"] for p in result.path if p["kind"] == "endEvent" and p["process_key"] == target.key]
    return ends[-1] if ends else result.view.end_event


def run(target: Target, scenario: dict[str, Any], cal: WorkCalendar) -> dict[str, Any]:
    """Run a parsed scenario and check its expectations; returns the result as plain data."""
    result = execute(target, scenario, cal)
    body = {
        "scenario": scenario["name"], "description": scenario["description"],
        "process_key": target.key, "process_name": target.name, "version": target.version,
        "source": "deployed" if target.version is not None else "files",
        "started_at": iso(scenario["start_at"]), "finished_at": iso(result.now),
        "status": result.view.status if result.view else "not_started",
        "end_event": _end_event(target, result),
        "waiting_messages": result.view.waiting_messages if result.view else [],
        "path": result.path,
        "tasks": list(result.tasks.values()),
        "timers": list(result.timers.values()),
        "effects": result.effects,
        "deadlines": {"case": dict(result.case), "paused_minutes": result.paused_minutes},
        "error": result.error,
    }
    body["checks"] = check_expectations(body, scenario["expect"])
    body["passed"] = all(c["ok"] for c in body["checks"]) and (result.error is None or "error" in scenario["expect"])
    return body


def run_deployed(session: Session, key: str, raw: Any) -> dict[str, Any]:
    """A scenario (JSON) against the latest deployed version of ``key``; reads only."""
    scenario = parse(raw)
    target = deployed_target(session, key)
    return run(target, scenario, calendar.load(session))


def run_file_deployed(session: Session, processes_dir: Path, key: str, filename: str) -> dict[str, Any]:
    """One of the service's scenario files against its latest deployed version."""
    files = {path.name: path for _, path in discover(processes_dir, key)}
    if filename not in files:
        raise NotFound(f"流程“{key}”没有场景文件“{filename}”")
    scenario = load_file(files[filename])
    target = deployed_target(session, key)
    result = run(target, scenario, calendar.load(session))
    result["file"] = filename
    return result


def run_folder(processes_dir: Path, forms_dir: Path, cal: WorkCalendar, key: str | None = None,
               departments: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every scenario file (of one service, or all) against the files in processes/."""
    targets: dict[str, Target | InvalidInput | NotFound] = {}
    results = []
    for process_key, path in discover(processes_dir, key):
        if process_key not in targets:
            try:
                targets[process_key] = files_target(processes_dir, forms_dir, process_key, departments)
            except (InvalidInput, NotFound) as exc:
                targets[process_key] = exc
        target = targets[process_key]
        try:
            if not isinstance(target, Target):
                raise target
            result = run(target, load_file(path), cal)
        except (InvalidInput, NotFound) as exc:
            result = {"scenario": path.stem, "process_key": process_key, "passed": False, "checks": [],
                      "error": {"step": 0, "message": exc.message, "errors": exc.errors}}
        result["file"] = f"{process_key}/{path.name}"
        results.append(result)
    return results


# -- expectations -------------------------------------------------------------------
def _check(what: str, expected: Any, actual: Any, ok: bool) -> dict[str, Any]:
    return {"check": what, "expected": expected, "actual": actual, "ok": bool(ok)}


def _in_order(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(x == w for x in it) for w in wanted)


def _same_moment(expected: Any, actual: str | None) -> bool:
    if actual is None or expected is None:
        return expected is None and actual is None
    try:
        wanted = expected if isinstance(expected, datetime) else datetime.fromisoformat(str(expected))
    except ValueError:
        return False
    return wanted.tzinfo is not None and wanted == datetime.fromisoformat(actual)


def _created(body: dict[str, Any], wanted: list[Any]) -> tuple[bool, list[str]]:
    pool = [(t["element_id"], t["department"]) for t in body.get("tasks", [])]
    shown = [f"{e}@{d}" if d else e for e, d in pool]
    for item in wanted:
        element, department = (item.get("element_id"), item.get("department")) if isinstance(item, dict) else (item, None)
        match = next((p for p in pool if p[0] == element and (department is None or p[1] == department)), None)
        if match is None:
            return False, shown
        pool.remove(match)
    return True, shown


def _deadline_checks(body: dict[str, Any], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    case = body.get("deadlines", {}).get("case", {})
    checks = []
    for key, label, actual in (("case_promised", "办件承诺时限", case.get("promised")),
                               ("case_statutory", "办件法定时限", case.get("statutory")),
                               ("accepted_at", "受理时间", case.get("accepted_at"))):
        if key in wanted:
            checks.append(_check(label, str(wanted[key]), actual, _same_moment(wanted[key], actual)))
    for kind, label, rows in (("tasks", "任务时限", body.get("tasks", [])), ("timers", "定时器到期", body.get("timers", []))):
        for element, expected in (wanted.get(kind) or {}).items():
            actual = next((r["due_at"] for r in rows if r["element_id"] == element), None)
            checks.append(_check(f"{label} {element}", str(expected), actual, _same_moment(expected, actual)))
    return checks


def check_expectations(body: dict[str, Any], expect: dict[str, Any]) -> list[dict[str, Any]]:
    """Each expectation of the scenario, with what the run showed."""
    path = [p["element_id"] for p in body.get("path", [])]
    checks = []
    for key, label in (("status", "结束状态"), ("end_event", "结束事件")):
        if key in expect:
            checks.append(_check(label, expect[key], body.get(key), expect[key] == body.get(key)))
    if "path" in expect:
        checks.append(_check("依次经过", list(expect["path"]), path, _in_order(list(expect["path"]), path)))
    if "not_path" in expect:
        passed = sorted(set(expect["not_path"]) & set(path))
        checks.append(_check("不经过", list(expect["not_path"]), passed, not passed))
    if "tasks" in expect:
        ok, shown = _created(body, list(expect["tasks"]))
        checks.append(_check("生成任务", expect["tasks"], shown, ok))
    if "no_tasks" in expect:
        made = sorted({t["element_id"] for t in body.get("tasks", [])} & set(expect["no_tasks"]))
        checks.append(_check("不生成任务", list(expect["no_tasks"]), made, not made))
    if "open_tasks" in expect:
        open_ids = sorted(t["element_id"] for t in body.get("tasks", []) if t["state"] == "ready")
        checks.append(_check("待办任务", sorted(expect["open_tasks"]), open_ids, open_ids == sorted(expect["open_tasks"])))
    if "effects" in expect:
        ops = [e["operator"] for e in body.get("effects", [])]
        checks.append(_check("服务任务（依次）", list(expect["effects"]), ops, _in_order(list(expect["effects"]), ops)))
    if "waiting_messages" in expect:
        waiting = body.get("waiting_messages", [])
        checks.append(_check("等待消息", sorted(expect["waiting_messages"]), waiting,
                             sorted(expect["waiting_messages"]) == waiting))
    if "deadlines" in expect:
        checks.extend(_deadline_checks(body, expect["deadlines"] or {}))
    if "error" in expect:
        message = (body.get("error") or {}).get("message", "")
        checks.append(_check("出错", expect["error"], message, bool(message) and str(expect["error"]) in message))
    return checks
