"""First-run set-up: the admin user, and (optionally) the demo organisation and services."""
from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import User
from . import accounts, forms, processes

# (code, name): the departments the bundled services use
DEMO_DEPARTMENTS = [
    ("window", "综合窗口"),
    ("amr", "市场监管局"),
    ("police", "公安局"),
    ("tax", "税务局"),
    ("hrss", "人社局"),
    ("hpf", "公积金中心"),
    ("bank", "银行"),
    ("nr", "自然资源局"),
    ("realestate", "不动产登记中心"),
    ("housing", "住建局"),
    ("ndrc", "发改委"),
    ("fire", "消防救援大队"),
    ("civil_defense", "人防办"),
    ("archives", "城建档案馆"),
    ("quality", "质监站"),
    ("planning", "规划局"),
    ("eco", "生态环境局"),
    ("water", "水务局"),
    ("utility", "公共事业"),
    ("urban", "城管局"),
    ("water_supply", "供水公司"),
    ("power", "供电公司"),
    ("gas", "燃气公司"),
    ("catv", "广电网络"),
]


def ensure_admin(session: Session, password: str | None, now: datetime) -> str | None:
    """Create ``admin`` if missing; returns the password when one was generated."""
    if session.execute(select(User.id).where(User.username == "admin")).first():
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    accounts.create_user(session, username="admin", password=password, name="系统管理员",
                         department=None, roles=["admin"], actor_id=None, now=now)
    return generated


def demo_users() -> list[dict]:
    users = [
        {"username": "analyst", "name": "流程分析员", "department": None, "roles": ["analyst"]},
        {"username": "manager", "name": "效能监察员", "department": None, "roles": ["manager"]},
    ]
    for code, name in DEMO_DEPARTMENTS:
        role = "clerk" if code == "window" else "approver"
        users.append({"username": f"{code}_{role}", "name": f"{name}{'受理人员' if role == 'clerk' else '审批人员'}",
                      "department": code, "roles": [role]})
    return users


def load_demo(session: Session, *, password: str, processes_dir: Path, forms_dir: Path,
              now: datetime) -> list[dict]:
    """Departments, one user per role and department, forms and services. Idempotent."""
    existing = accounts.department_lookup(session)
    for code, name in DEMO_DEPARTMENTS:
        if code not in existing:
            accounts.create_department(session, code=code, name=name, actor_id=None, now=now)
    created = []
    for spec in demo_users():
        if not session.execute(select(User.id).where(User.username == spec["username"])).first():
            accounts.create_user(session, password=password, actor_id=None, now=now, **spec)
            created.append(spec)
    load_services(session, processes_dir=processes_dir, forms_dir=forms_dir, now=now)
    return created


def load_services(session: Session, *, processes_dir: Path, forms_dir: Path, now: datetime) -> None:
    forms.load_folder(session, forms_dir, now)
    processes.deploy_folder(session, processes_dir, actor_id=None, now=now)
