"""The one source of 'now'. Tests swap in a controllable clock; nothing sleeps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to (for tests and scenario runs)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        # moving a test clock by an exact interval, not computing a deadline
        self._now = self._now + delta


_clock: SystemClock | ManualClock = SystemClock()


def now() -> datetime:
    return _clock.now()


def use(clock: SystemClock | ManualClock) -> None:
    global _clock
    _clock = clock


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TZ)
