"""What a diagram may know about time while the engine runs: 'now' and the legal calendar.

Services wrap every engine call in :func:`run_context`, passing the app's clock and
the calendar's deadline function. Two things read it:

* the timer helpers that diagrams call (``workdays(5)``, ``hours(3)``, ``days(10)``),
  which return absolute ISO 8601 times for ``timeDate`` expressions;
* SpiffWorkflow's timer module, whose ``datetime.now`` we point at the same clock,
  so tests and scenario runs move time without sleeping.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

from .sandbox import SandboxError
from .scripts import register_helper


@dataclass(frozen=True)
class RunContext:
    now: datetime
    deadline: Callable[[datetime, int, str], datetime]


_current: ContextVar[RunContext | None] = ContextVar("engine_run_context", default=None)


@contextmanager
def run_context(now: datetime, deadline: Callable[[datetime, int, str], datetime]) -> Iterator[None]:
    if now.tzinfo is None:
        raise ValueError("run_context needs an aware datetime")
    token = _current.set(RunContext(now, deadline))
    try:
        yield
    finally:
        _current.reset(token)


def current_now() -> datetime:
    ctx = _current.get()
    return ctx.now if ctx else datetime.now(timezone.utc)


class _EngineClock(datetime):
    """Stands in for ``datetime`` inside SpiffWorkflow's timer module."""

    @classmethod
    def now(cls, tz=None):
        moment = current_now()
        return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)


_spiff_timer.datetime = _EngineClock


def _deadline(amount: int, unit: str, since: str | None) -> str:
    ctx = _current.get()
    if ctx is None:
        raise SandboxError("计时函数只能在流程运行时使用")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0 or amount > 3650:
        raise SandboxError("时限必须是 0 到 3650 之间的整数")
    start = ctx.now
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except (TypeError, ValueError):
            raise SandboxError("起算时间必须是 ISO 8601 时间") from None
        if start.tzinfo is None:
            raise SandboxError("起算时间必须带时区")
    return ctx.deadline(start, amount, unit).isoformat()


def workdays(n: int, since: str | None = None) -> str:
    """n working days after ``since`` (default: now), at office close."""
    return _deadline(n, "workday", since)


def hours(n: int, since: str | None = None) -> str:
    """n working (office) hours after ``since`` (default: now)."""
    return _deadline(n, "workhour", since)


def days(n: int, since: str | None = None) -> str:
    """n natural days after ``since`` (default: now), at office close."""
    return _deadline(n, "day", since)


for _name, _fn in (("workdays", workdays), ("hours", hours), ("days", days)):
    register_helper(_name, _fn)
