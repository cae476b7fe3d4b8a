"""Template filters: local times and dates in Chinese, lights and statuses in words."""
from __future__ import annotations

from datetime import datetime

from flask import Flask

from ..services.clock import local

LIGHTS = {"green": "正常", "yellow": "预警", "red": "超期"}
STATUSES = {"running": "办理中", "completed": "已办结", "terminated": "已终止"}
TASK_STATES = {"ready": "待办", "completed": "已办", "cancelled": "已取消", "error": "出错"}


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local(moment).strftime(fmt) if moment else ""


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["light_word"] = lambda light: LIGHTS.get(light or "", "")
    app.jinja_env.filters["status_word"] = lambda status: STATUSES.get(status or "", status or "")
    app.jinja_env.filters["task_state_word"] = lambda state: TASK_STATES.get(state or "", state or "")
