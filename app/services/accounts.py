"""Departments, users, passwords and bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from ..models import ROLES, ApiToken, Department, User
from . import audit, uow

_hasher = PasswordHasher()


def configure_hasher(time_cost: int | None = None, memory_cost_kib: int | None = None) -> None:
    """Argon2 parameters (the library's defaults unless set; tests use cheap ones)."""
    global _hasher, _DUMMY_HASH
    if time_cost or memory_cost_kib:
        _hasher = PasswordHasher(time_cost=time_cost or 3, memory_cost=memory_cost_kib or 65536)
        _DUMMY_HASH = _hasher.hash("binglian-no-such-user")


@dataclass(frozen=True)
class Actor:
    """Who is calling: a plain snapshot of the user, taken once per request."""

    id: int
    username: str
    name: str
    roles: tuple[str, ...]
    department_id: int | None
    department_code: str | None
    department_name: str | None

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @classmethod
    def of(cls, user: User) -> "Actor":
        dept = user.department
        return cls(user.id, user.username, user.name, tuple(user.roles), user.department_id,
                   dept.code if dept else None, dept.name if dept else None)
# verified against when the user does not exist, so timing does not reveal it
_DUMMY_HASH = _hasher.hash("binglian-no-such-user")
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def find_department(session: Session, name_or_code: str) -> Department | None:
    return session.execute(select(Department).where(
        or_(Department.code == name_or_code, Department.name == name_or_code))).scalar_one_or_none()


_DEPARTMENTS = select(Department)  # effects and 会签 instances read them: built once


def department_lookup(session: Session) -> dict[str, Department]:
    """Every department under both its code and its name."""
    found: dict[str, Department] = {}
    for dept in session.execute(_DEPARTMENTS).scalars():
        found[dept.code] = dept
        found[dept.name] = dept
    return found


def create_department(session: Session, *, code: str, name: str, actor_id: int | None,
                      now: datetime) -> Department:
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise InvalidInput("部门代码和名称不能为空")
    clash = session.execute(select(Department).where(
        or_(Department.code.in_([code, name]), Department.name.in_([code, name])))).first()
    if clash:
        raise Conflict(f"部门“{name}”或代码“{code}”已存在")
    dept = Department(code=code, name=name, created_at=now)
    session.add(dept)
    session.flush()
    audit.record(session, action="department.created", at=now, actor_id=actor_id,
                 object_type="department", object_id=dept.id, after={"code": code, "name": name})
    return dept


def create_user(session: Session, *, username: str, password: str, name: str,
                department: str | None, roles: list[str], actor_id: int | None,
                now: datetime) -> User:
    username = username.strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["用户名不能为空"]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"密码至少 {MIN_PASSWORD_LENGTH} 位"]
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        errors["roles"] = [f"角色必须取自 {', '.join(ROLES)}"]
    dept = None
    if department:
        dept = find_department(session, department)
        if dept is None:
            errors["department"] = [f"部门“{department}”不存在"]
    if {"approver", "clerk"} & set(roles) and department is None:
        errors.setdefault("department", []).append("审批人员和窗口人员必须属于一个部门")
    if errors:
        raise InvalidInput("用户信息无效", errors)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"用户名“{username}”已存在")
    user = User(username=username, password_hash=hash_password(password), name=name.strip() or username,
                department_id=dept.id if dept else None, roles_csv=",".join(dict.fromkeys(roles)),
                created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, action="user.created", at=now, actor_id=actor_id, object_type="user",
                 object_id=user.id, after={"username": username, "roles": roles,
                                            "department": dept.code if dept else None})
    return user


MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15


def check_password(session: Session, username: str, password: str) -> tuple[User | None, bool]:
    """(user, password matches). Runs the slow hash outside any write transaction."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        return user, user is not None
    except (VerificationError, InvalidHashError):
        return user, False


def record_login(session: Session, user: User | None, ok: bool, now: datetime) -> str:
    """Book the result of a password check; returns "ok", "failed" or "locked".

    Five failures in a row lock the account for 15 minutes (across all workers,
    since the counter lives in the database). The caller commits either way.
    """
    if user is None:
        return "failed"
    session.refresh(user)
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    if not ok or not user.is_active:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            # a security lockout in elapsed minutes, not a legal deadline
            user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0
            audit.record(session, action="auth.locked", at=now, actor_id=user.id,
                         object_type="user", object_id=user.id)
        return "failed"
    user.failed_logins = 0
    user.locked_until = None
    return "ok"


def login(session: Session, user: User | None, ok: bool, *, now: datetime, ttl: timedelta) -> tuple[str, str | None]:
    """(outcome, token): books the attempt and, when it succeeded, issues a token."""
    outcome = record_login(session, user, ok, now)
    return outcome, issue_token(session, user, now=now, ttl=ttl) if outcome == "ok" else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    # a token lifetime is a security setting in real elapsed time, not a legal deadline
    session.add(ApiToken(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=now + ttl))
    audit.record(session, action="auth.login", at=now, actor_id=user.id, object_type="user", object_id=user.id)
    return token


# every request resolves its token: plain columns in one joined query, no ORM objects to build
_tokens, _users, _departments = ApiToken.__table__.c, User.__table__.c, Department.__table__.c
_TOKEN_LOOKUP = (
    select(_tokens.revoked_at, _tokens.expires_at, _users.is_active, _users.id, _users.username, _users.name,
           _users.roles_csv, _users.department_id, _departments.code, _departments.name)
    .select_from(ApiToken.__table__.join(User.__table__, _users.id == _tokens.user_id)
                 .outerjoin(Department.__table__, _departments.id == _users.department_id))
    .where(_tokens.token_hash == bindparam("token_hash")))


class _RecentTokens:
    """Tokens this process resolved a moment ago, so that a burst of requests reads each once.

    A logout in this process ends its token at once, even for a request that read the
    token just before the logout committed: the logout leaves a tombstone that outlives
    any entry such a request could still put. Another process (``APP_WORKERS`` above 1,
    or the scheduler) sees a logout or a deactivated account at most ``seconds`` later.
    Expiry is checked on every request all the same.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self.seconds = 0.0
        self.monotonic = time.monotonic  # tests put a hand-driven clock here
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[object, float, Actor, datetime]] = {}
        self._tombstones: dict[str, float] = {}

    def get(self, bind: object, digest: str) -> tuple[Actor, datetime] | None:
        entry = self._entries.get(digest)
        if entry is None or entry[0] is not bind or entry[1] < self.monotonic():
            return None
        return entry[2], entry[3]

    def put(self, bind: object, digest: str, actor: Actor, expires_at: datetime, read_at: float) -> None:
        """Trust what was read at ``read_at`` (monotonic, taken before the read) until ``seconds`` after it."""
        if self.seconds <= 0:
            return
        with self._lock:
            if self._tombstones.get(digest, 0.0) >= self.monotonic():
                return
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (bind, read_at + self.seconds, actor, expires_at)

    def revoke(self, digest: str) -> None:
        """Forget a token and refuse to cache it again until any read taken before now is stale.

        Called when the logout is written and again once it has committed: a read that
        began before the commit puts an entry that expires ``seconds`` after its read,
        so it can never outlive the tombstone set after the commit.
        """
        now = self.monotonic()
        with self._lock:
            self._entries.pop(digest, None)
            # only the logouts of the last ``seconds`` are kept, so this never grows with uptime
            self._tombstones = {d: t for d, t in self._tombstones.items() if t >= now}
            if self.seconds > 0:
                self._tombstones[digest] = now + self.seconds

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()
            self._tombstones.clear()


_recent_tokens = _RecentTokens()


def configure_token_cache(seconds: float) -> None:
    """How long a resolved token is trusted without reading it again (0: read on every request)."""
    _recent_tokens.forget()
    _recent_tokens.seconds = max(0.0, float(seconds))


def user_for_token(session: Session, token: str, now: datetime) -> Actor:
    digest, bind = _digest(token), session.get_bind()
    read_at = _recent_tokens.monotonic()
    recent = _recent_tokens.get(bind, digest)
    if recent is not None:
        actor, expires_at = recent
        if expires_at <= now:
            raise NotAuthenticated("未登录或登录已失效")
        return actor
    row = session.execute(_TOKEN_LOOKUP, {"token_hash": digest}).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.is_active:
        raise NotAuthenticated("未登录或登录已失效")
    _, expires_at, _, user_id, username, name, roles_csv, department_id, dept_code, dept_name = row
    actor = Actor(user_id, username, name, tuple(r for r in roles_csv.split(",") if r), department_id,
                  dept_code, dept_name)
    _recent_tokens.put(bind, digest, actor, expires_at, read_at)
    return actor


def revoke_token(session: Session, token: str, now: datetime) -> None:
    digest = _digest(token)
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one_or_none()
    if row is None:
        raise NotFound("令牌不存在")
    _recent_tokens.revoke(digest)
    uow.after_commit(session, lambda: lambda: _recent_tokens.revoke(digest))
    if row.revoked_at is not None:  # a second logout racing the first: already ended, nothing to write
        return
    row.revoked_at = now
    audit.record(session, action="auth.logout", at=now, actor_id=row.user_id, object_type="user",
                 object_id=row.user_id)
