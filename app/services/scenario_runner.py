"""Running one scenario in a sandbox: the engine in memory, the legal clock injected, nothing stored.

The run never opens a transaction: the workflow lives in an
:class:`engine.simulation.Simulation`, service tasks are listed (not carried
out), and deadlines are computed with the calendar the caller passes in (read
from the database read-only, or the library calendar in tests). What the
window's completeness check would add to the intake decision is computed from
the catalog, assuming every required material was uploaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import engine
from ..engine.simulation import Simulation, View
from ..errors import DomainError, InvalidInput
from . import catalog as catalogs, deadlines, forms, intake
from .calendar import WorkCalendar
from .clock import local

MAX_TIMER_ROUNDS = 200  # a cycle timer due again and again must not spin for ever
# SpiffWorkflow fires a timer strictly after its time; the scheduler looks about once a second.
# This is the engine's view of 'just after', not a deadline: every deadline comes from the calendar.
SCHEDULER_TICK = timedelta(seconds=1)


@dataclass(frozen=True)
class Target:
    """What a scenario runs against: a deployed version, or the files in processes/."""

    key: str
    name: str
    version: int | None  # None: the files, not a deployed version
    parsed: engine.ParsedProcess
    catalog: dict[str, Any] | None
    forms: dict[str, dict]  # form key -> form-js schema
    departments: dict[str, str] | None = None  # name or code -> name (None: lanes as drawn)

    @property
    def start_form_key(self) -> str | None:
        return self.parsed.model.start_form_key


class StepFailed(Exception):
    def __init__(self, message: str, errors: Any = None):
        super().__init__(message)
        self.message, self.errors = message, errors


def iso(moment: datetime | None) -> str | None:
    return local(moment).isoformat() if moment else None


@dataclass
class Run:
    target: Target
    cal: WorkCalendar
    now: datetime
    sim: Simulation
    view: View | None = None
    data: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> record
    timers: dict[str, dict[str, Any]] = field(default_factory=dict)  # timer task id -> record
    effects: list[dict[str, Any]] = field(default_factory=list)
    case: dict[str, Any] = field(default_factory=dict)  # received, accepted, promised, statutory
    path: list[dict[str, Any]] = field(default_factory=list)
    suspended_at: datetime | None = None
    paused_minutes: int = 0
    error: dict[str, Any] | None = None

    # -- engine calls -----------------------------------------------------------
    def engine_call(self, fn, *args, firing: bool = False) -> None:
        passed = len(self.sim.path)
        try:
            with engine.run_context(self.now + SCHEDULER_TICK if firing else self.now, self.cal.deadline):
                view = fn(*args)
        except engine.EngineError as exc:
            raise StepFailed(exc.message, {"element_id": exc.element_id}) from None
        finally:
            self.path.extend({**step.__dict__, "at": iso(self.now)} for step in self.sim.path[passed:])
        self.absorb(view, firing)
        for step in self.path[passed:]:
            record = self.tasks.get(step["task_id"])
            step["department"] = record["department"] if record else None

    def absorb(self, view: View, firing: bool = False) -> None:
        self.view = view
        ready = {t.task_id: t for t in view.tasks}
        for task_id, record in self.tasks.items():
            if record["state"] == "ready" and task_id not in ready:
                record["state"], record["closed_at"] = "cancelled", iso(self.now)
        for snap in view.tasks:
            if snap.task_id not in self.tasks:
                self.tasks[snap.task_id] = self._task_record(snap)
        pending = {t.task_id: t for t in view.timers}
        for task_id, record in self.timers.items():
            if record["state"] == "waiting" and task_id not in pending:
                fired = firing and datetime.fromisoformat(record["due_at"]) <= self.now
                record["state"], record["closed_at"] = "fired" if fired else "cancelled", iso(self.now)
        for timer in view.timers:
            record = self.timers.get(timer.task_id)
            if record is None:
                self.timers[timer.task_id] = {"element_id": timer.element_id, "name": timer.name,
                                              "due_at": iso(datetime.fromisoformat(timer.fire_at)),
                                              "set_at": iso(self.now), "state": "waiting", "closed_at": None}
            else:
                record["due_at"] = iso(datetime.fromisoformat(timer.fire_at))
        for effect in self.sim.new_effects():
            self._effect(effect)

    def _task_record(self, snap: engine.TaskSnapshot) -> dict[str, Any]:
        department = snap.department or snap.lane
        if self.target.departments is not None and department in self.target.departments:
            department = self.target.departments[department]
        due = deadlines.task_due(self.cal, self.target.catalog, snap.element_id, self.now)
        return {"task_id": snap.task_id, "element_id": snap.element_id, "name": snap.name,
                "department": department, "form_key": snap.form_key, "state": "ready",
                "created_at": iso(self.now), "due_at": iso(due), "closed_at": None,
                "provisional": bool(due and self.cal.is_estimated(local(due).year))}

    # -- effects: listed, and the ones that move the legal clock are followed ---
    def _effect(self, effect: engine.Effect) -> None:
        self.effects.append({"operator": effect.operator, "element_id": effect.element_id,
                             "element_name": effect.element_name, "params": _plain(effect.params),
                             "at": iso(self.now)})
        if effect.operator == "accept":
            deemed = effect.params.get("mode") == "deemed"
            accepted = datetime.fromisoformat(self.case["received_at"]) if deemed else self.now
            self.set_case_deadlines(accepted, "deemed" if deemed else "window")
        elif effect.operator == "suspend" and self.suspended_at is None:
            self.suspended_at = self.now
        elif effect.operator == "resume" and self.suspended_at is not None:
            self._resume()

    def set_case_deadlines(self, start: datetime, acceptance: str | None) -> None:
        promised, statutory = deadlines.case_deadlines(self.cal, self.target.catalog, start, self.data)
        if acceptance:
            self.case["accepted_at"], self.case["acceptance"] = iso(start), acceptance
        self.case["promised"], self.case["statutory"] = iso(promised or statutory), iso(statutory)
        due = promised or statutory
        self.case["provisional"] = bool(due and self.cal.is_estimated(local(due).year))

    def _resume(self) -> None:
        """Every deadline of the case moves by the office time the clock stood still (as on resume)."""
        minutes = self.cal.work_minutes_between(self.suspended_at, self.now)
        self.suspended_at, self.paused_minutes = None, self.paused_minutes + minutes
        if not minutes:
            return

        def shift(text: str | None) -> str | None:
            return iso(self.cal.add_work_minutes(datetime.fromisoformat(text), minutes)) if text else text
        for key in ("promised", "statutory"):
            self.case[key] = shift(self.case.get(key))
        started = self.now  # the step that resumes may offer tasks; they already run from now
        for record in self.tasks.values():
            if record["state"] == "ready" and record["due_at"] and record["created_at"] < iso(started):
                record["due_at"] = shift(record["due_at"])
        moved = {tid: shift(r["due_at"]) for tid, r in self.timers.items()
                 if r["state"] == "waiting" and r["set_at"] < iso(started)}
        if moved:
            self.view = self.sim.move_timers(moved)
            for tid, when in moved.items():
                self.timers[tid]["due_at"] = when

    # -- the clock ----------------------------------------------------------------
    def move_clock(self, target: datetime) -> None:
        """Move to ``target``, letting each due timer fire at its own time on the way (as the scheduler does)."""
        if target < self.now:
            raise StepFailed(f"时间不能倒退：当前已是 {iso(self.now)}")
        for _ in range(MAX_TIMER_ROUNDS):
            due = self.next_timer_due()
            if due is None or due > target:
                break
            self.now = max(self.now, due)
            self.engine_call(self.sim.fire_due_timers, firing=True)
        else:
            raise StepFailed("定时器反复到期，已停止推进时钟")
        self.now = target

    def next_timer_due(self) -> datetime | None:
        if self.suspended_at is not None or self.view is None or self.view.status != "running":
            return None  # a suspended case's timers do not fire
        times = [datetime.fromisoformat(t.fire_at) for t in self.view.timers]
        return min(times) if times else None


def _plain(value: Any) -> Any:
    """Effect parameters as JSON-able data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _validate(target: Target, form_key: str | None, data: dict[str, Any]) -> dict[str, Any]:
    schema = target.forms.get(form_key) if form_key else None
    if form_key and schema is None:
        raise StepFailed(f"表单“{form_key}”不存在")
    return forms.validate_data(schema, data)


def start(run: Run, data: dict[str, Any]) -> None:
    clean = _validate(run.target, run.target.start_form_key, data)
    run.data = dict(clean)
    run.case["received_at"] = iso(run.now)
    run.set_case_deadlines(run.now, None)
    run.engine_call(run.sim.start, {**clean, **catalogs.variant_data(run.target.catalog, clean)})


def complete(run: Run, step: dict[str, Any]) -> None:
    ready = [t for t in run.view.tasks if t.element_id == step["complete"]]
    if step.get("department"):
        ready = [t for t in ready if run.tasks[t.task_id]["department"] == step["department"]]
    if not ready:
        open_ids = sorted({f"{t.element_id}（{run.tasks[t.task_id]['department']}）" for t in run.view.tasks})
        raise StepFailed(f"没有待办的任务“{step['complete']}”" + (f"，当前待办：{'、'.join(open_ids)}" if open_ids
                                                                 else "，当前没有待办任务"))
    if len(ready) > 1 and not step.get("all"):
        departments = "、".join(run.tasks[t.task_id]["department"] or "" for t in ready)
        raise StepFailed(f"任务“{step['complete']}”有 {len(ready)} 个待办（{departments}），"
                         "请用 department 指明部门，或写 all: true 全部办理")
    for snap in ready if step.get("all") else ready[:1]:
        if run.view.status != "running":
            break
        clean = _validate(run.target, snap.form_key, step.get("data") or {})
        facts = intake.decide(run.target.catalog, snap.element_id, clean,  # every material uploaded
                              case_data=run.data)
        try:
            run.engine_call(run.sim.complete, snap.task_id, {**clean, **facts})
        except (engine.TaskNotReady, engine.UnknownTask):
            raise StepFailed(f"任务“{snap.name}”已不能办理") from None
        record = run.tasks[snap.task_id]
        record["state"], record["closed_at"], record["data"] = "completed", iso(run.now), clean
        run.data.update(clean)


def deliver(run: Run, step: dict[str, Any]) -> None:
    try:
        run.engine_call(run.sim.deliver_message, step["message"], dict(step.get("data") or {}))
    except engine.NotWaiting:
        waiting = "、".join(run.view.waiting_messages) or "无"
        raise StepFailed(f"流程当前没有等待消息“{step['message']}”（正在等待：{waiting}）") from None


def step_time(run: Run, step: dict[str, Any]) -> datetime | None:
    """Where a step moves the clock to before it acts (None: it stays)."""
    if "advance" in step:
        (unit, amount), = step["advance"].items()
        return run.cal.deadline(run.now, amount, {"workdays": "workday", "hours": "workhour", "days": "day"}[unit])
    if "fire" in step:
        due = [datetime.fromisoformat(t.fire_at) for t in run.view.timers if t.element_id == step["fire"]]
        if not due:
            waiting = "、".join(sorted({t.element_id for t in run.view.timers})) or "无"
            raise StepFailed(f"没有等待中的定时器“{step['fire']}”（等待中：{waiting}）")
        if run.suspended_at is not None:
            raise StepFailed("办件处于中止计时状态，定时器不会触发")
        return max(min(due), run.now)
    return step.get("at")


def do_step(run: Run, step: dict[str, Any]) -> None:
    moment = step_time(run, step)
    if moment is not None:
        run.move_clock(moment)
    if run.view.status != "running" and ("complete" in step or "message" in step):
        raise StepFailed(f"流程已{'办结' if run.view.status == 'completed' else '终止'}，不能继续办理")
    if "complete" in step:
        complete(run, step)
    elif "message" in step:
        deliver(run, step)


def execute(target: Target, scenario: dict[str, Any], cal: WorkCalendar) -> Run:
    """Run the scenario's steps; a failing step is recorded in ``run.error`` and stops the run."""
    run = Run(target=target, cal=cal, now=scenario["start_at"], sim=Simulation(target.parsed))
    position = 0
    try:
        start(run, scenario.get("data") or {})
        for position, step in enumerate(scenario.get("steps", []), start=1):
            do_step(run, step)
    except StepFailed as exc:
        run.error = {"step": position, "message": exc.message, "errors": exc.errors}
    except DomainError as exc:
        run.error = {"step": position, "message": exc.message, "errors": exc.errors}
    return run
