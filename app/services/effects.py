"""What service tasks in a diagram ask the app to do (受理, 文书, 信用记录, 证照, 出件 …).

The diagram decides *when*: a ``bpmn:serviceTask`` with
``<spiff:serviceTaskOperator id="notice">`` and parameters (sandbox expressions
over the case data). The engine only records the request; :func:`apply` carries
it out here, in the same transaction as the step, with an audit event, so a
failed step leaves neither the state change nor its effects behind.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, InvalidInput
from ..models import Case, Certificate, CreditRecord, Delivery, Notice, WorkflowState
from . import accounts, audit, calendar, deadlines, legal_time, notices, notifications
from .clock import local


@dataclass
class EffectContext:
    session: Session
    case: Case
    state_row: WorkflowState
    definition: Any  # processes.Deployed
    effect: engine.Effect
    actor_id: int | None
    now: datetime

    @property
    def params(self) -> dict[str, Any]:
        return self.effect.params

    def text(self, name: str, default: str = "") -> str:
        value = self.params.get(name, default)
        return "" if value is None else str(value).strip()

    def material_names(self, codes: Any) -> list[str]:
        """Catalog names of material codes (unknown codes are shown as given)."""
        names = {}
        for matter in (self.definition.catalog or {}).get("matters", []):
            for material in matter.get("materials", []):
                names.setdefault(material["code"], material["name"])
        return [names.get(str(c), str(c)) for c in (codes or [])]


Handler = Callable[[EffectContext], dict[str, Any]]
_handlers: dict[str, Handler] = {}


def operator(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[name] = fn
        return fn
    return register


def is_operator(name: str) -> bool:
    return name in _handlers


def operators() -> list[str]:
    return sorted(_handlers)


def apply(session: Session, case: Case, state_row: WorkflowState, definition: Any,
          effects: list[engine.Effect], actor_id: int | None, now: datetime) -> None:
    for effect in effects:
        handler = _handlers.get(effect.operator)
        if handler is None:  # deployment refuses unknown operators; an old version may name a retired one
            raise InvalidInput(f"服务任务“{effect.element_name}”的操作“{effect.operator}”不存在")
        summary = handler(EffectContext(session, case, state_row, definition, effect, actor_id, now))
        audit.record(session, action=f"effect.{effect.operator}", at=now, actor_id=actor_id, case=case,
                     object_type="element", object_id=effect.element_id, after=summary)


def _issue_notice(ctx: EffectContext, kind: str, items: Any, **extra: Any) -> Notice:
    notice = notices.issue(ctx.session, ctx.case, kind=kind, service_name=ctx.definition.name, items=items,
                           now=ctx.now, element_id=ctx.effect.element_id, extra=extra)
    notifications.notify_applicant(
        ctx.session, ctx.case, now=ctx.now, subject=f"{notice.title}（{ctx.case.case_no}）",
        body=f"您申请的“{ctx.definition.name}”已出具《{notice.title}》（{notice.number}），"
             f"可凭统一受理号码{ctx.case.case_no}查询或到综合窗口领取。")
    return notice


@operator("accept")
def accept(ctx: EffectContext) -> dict[str, Any]:
    """受理: the legal clock starts; a deemed acceptance (Art. 32) counts from receipt."""
    mode = ctx.text("mode", "window")
    if mode not in ("window", "deemed"):
        raise InvalidInput("受理方式必须是 window 或 deemed")
    case = ctx.case
    case.acceptance = mode
    case.accepted_at = case.created_at if mode == "deemed" else ctx.now
    cal = calendar.load(ctx.session)
    promised, statutory = deadlines.case_deadlines(cal, ctx.definition.catalog, case.accepted_at, case.data)
    case.deadline, case.statutory_deadline = promised or statutory, statutory
    case.warn_at = deadlines.case_warn_at(cal, ctx.definition.catalog, case)
    deficient = ctx.material_names(ctx.params.get("deficiency_materials"))
    notice = _issue_notice(ctx, "acceptance", deficient, deemed=mode == "deemed",
                           accepted_at=case.accepted_at, promised=case.deadline, statutory=statutory)
    summary = {"mode": mode, "accepted_at": case.accepted_at.isoformat(), "notice": notice.number,
               "deadline": case.deadline.isoformat() if case.deadline else None}
    committed = ctx.material_names(ctx.params.get("commitment_materials"))
    if committed:  # 告知承诺: the signed commitment stands in for these proofs until the post-check
        due = cal.add_workdays(local(ctx.now).date(), int(ctx.params.get("post_check_workdays") or 20))
        summary["commitment_notice"] = _issue_notice(ctx, "commitment", committed, due=due).number
    return summary


def _due(ctx: EffectContext) -> date | None:
    workdays = ctx.params.get("due_workdays")
    if workdays is None:
        return None
    return calendar.load(ctx.session).add_workdays(local(ctx.now).date(), int(workdays))


@operator("notice")
def notice(ctx: EffectContext) -> dict[str, Any]:
    """Issue a written notice of ``kind`` listing ``items`` and/or catalog ``materials``."""
    kind = ctx.text("kind")
    items = notices.normalise_items(ctx.params.get("items")) + ctx.material_names(ctx.params.get("materials"))
    if kind in ("correction", "rejection", "refusal") and not items:
        raise InvalidInput("请列明需要补正的全部内容" if kind == "correction" else "请填写不予受理的理由")
    row = _issue_notice(ctx, kind, items, due=_due(ctx), delivery=ctx.text("delivery"),
                        consequence=ctx.text("consequence"))
    return {"kind": kind, "number": row.number, "items": row.items}


@operator("notify")
def notify(ctx: EffectContext) -> dict[str, Any]:
    row = notifications.notify_applicant(ctx.session, ctx.case, subject=ctx.text("subject"),
                                         body=ctx.text("body"), now=ctx.now)
    return {"channel": row.channel, "subject": row.subject}


@operator("credit_record")
def credit_record(ctx: EffectContext) -> dict[str, Any]:
    kind = ctx.text("kind", "broken_commitment")
    row = CreditRecord(case_id=ctx.case.id, subject_name=ctx.case.applicant_name,
                       subject_id_number=ctx.case.applicant_id_number, kind=kind,
                       reason=ctx.text("reason"), created_at=ctx.now)
    ctx.session.add(row)
    return {"kind": kind, "reason": row.reason}


@operator("certificate")
def certificate(ctx: EffectContext) -> dict[str, Any]:
    """Store an issued certificate as 电子证照, so later cases reuse it (免证办)."""
    number, kind = ctx.text("number"), ctx.text("type")
    if not kind:
        raise InvalidInput(f"服务任务“{ctx.effect.element_name}”未指明证照类型")
    if not number:  # numbered by the system: unique, since the case number is
        issued = ctx.session.execute(select(func.count()).select_from(Certificate)
                                     .where(Certificate.case_id == ctx.case.id)).scalar_one()
        number = f"{ctx.case.case_no}-{issued + 1}"
    existing = ctx.session.execute(select(Certificate).where(
        Certificate.type == kind, Certificate.number == number)).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"编号为 {number} 的{existing.type_name}已存在")
    issuer = accounts.department_lookup(ctx.session).get(ctx.text("issuer"))
    today = local(ctx.now).date()
    years = ctx.params.get("valid_years")
    row = Certificate(type=kind, type_name=ctx.text("type_name", kind), number=number,
                      holder_name=ctx.text("holder_name", ctx.case.applicant_name),
                      holder_id=ctx.text("holder_id", number), owner_id_number=ctx.case.applicant_id_number,
                      issued_by_department_id=issuer.id if issuer else None, issued_on=today,
                      valid_until=today.replace(year=today.year + int(years)) if years else None,
                      status="valid", case_id=ctx.case.id, created_at=ctx.now)
    ctx.session.add(row)
    return {"type": kind, "number": number, "holder_name": row.holder_name}


@operator("revoke_certificates")
def revoke_certificates(ctx: EffectContext) -> dict[str, Any]:
    rows = ctx.session.execute(select(Certificate).where(
        Certificate.case_id == ctx.case.id, Certificate.status == "valid")).scalars().all()
    for row in rows:
        row.status, row.revoked_at = "revoked", ctx.now
    return {"revoked": [r.number for r in rows]}


@operator("suspend")
def suspend(ctx: EffectContext) -> dict[str, Any]:
    """Stop the clock, e.g. while a department waits for 补正 (Art. 45 style pause)."""
    items = notices.normalise_items(ctx.params.get("items"))
    reason = ctx.text("reason") or "；".join(items) or "等待申请人补正"
    row = legal_time.suspend_case(ctx.session, ctx.case, kind=ctx.text("kind", "correction"), reason=reason,
                                  notice=ctx.text("notice"), actor_id=ctx.actor_id, now=ctx.now)
    return {"suspension": row.id, "reason": row.reason}


@operator("resume")
def resume(ctx: EffectContext) -> dict[str, Any]:
    if ctx.case.suspended_at is None:
        return {"resumed": False}
    row = legal_time.resume_case(ctx.session, ctx.case, ctx.state_row, actor_id=ctx.actor_id, now=ctx.now)
    return {"resumed": True, "paused_minutes": row.paused_minutes}


@operator("deliver")
def deliver(ctx: EffectContext) -> dict[str, Any]:
    """统一出件: gather every result of the case and record how it left the window."""
    method, tracking = ctx.text("method", "window"), ctx.text("tracking_no") or None
    if method not in ("window", "post"):
        raise InvalidInput("送达方式必须是窗口领取（window）或邮寄送达（post）")
    if method == "post" and not tracking:
        raise InvalidInput("邮寄送达须填写快递单号", {"tracking_no": ["必填"]})
    certs = ctx.session.execute(select(Certificate).where(Certificate.case_id == ctx.case.id)
                                .order_by(Certificate.id)).scalars().all()
    results = [{"kind": "certificate", "title": c.type_name, "number": c.number} for c in certs]
    results += [{"kind": "record", "title": str(item), "number": None}
                for item in notices.normalise_items(ctx.params.get("results"))]
    ctx.session.add(Delivery(case_id=ctx.case.id, method=method, tracking_no=tracking, results=results,
                             delivered_by_id=ctx.actor_id, delivered_at=ctx.now))
    how = "窗口领取" if method == "window" else f"邮寄送达（快递单号 {tracking}）"
    listed = [f"{r['title']}（{r['number']}）" if r["number"] else r["title"] for r in results]
    row = _issue_notice(ctx, "result", listed, delivery=how)
    return {"method": method, "tracking_no": tracking, "results": results, "notice": row.number}
