"""一窗受理 API: messages into a case (补齐/补正), notices, results, notifications, credit records."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from ..extensions import db
from ..models import Case, Certificate, CreditRecord, Delivery
from ..services import clock, messages, notices, notifications, pdf, prefill, privacy
from ..services.uow import run_use_case
from .auth import auth_required
from .cases import _case_for_actor, case_json
from .schemas import CaseSchema, LocalDateTime

blp = Blueprint("intake", __name__, url_prefix="/api/v1", description="一窗受理：补正、容缺、文书、出件、通知")


class MessageSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128),
                         metadata={"description": "消息名，如 materials_supplied（补正）、deficiency_supplied（容缺补齐）"})
    data = fields.Dict(load_default=dict, metadata={"description": "如 {\"materials\": [\"M004\"]}：已上传的补交材料编码"})


class PrefillArgsSchema(Schema):
    process_key = fields.String(required=True)
    id_number = fields.String(required=True, validate=validate.Length(min=6, max=32))


class PrefillSchema(Schema):
    fields = fields.Dict(metadata={"description": "字段 → {value, source: case|certificate, case_no|certificate}"})


class NoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    number = fields.String()
    title = fields.String()
    items = fields.List(fields.String())
    element_id = fields.String(allow_none=True)
    issued_at = LocalDateTime()
    url = fields.String(metadata={"description": "可打印的 HTML 文书"})
    pdf_url = fields.String(metadata={"description": "PDF 文书（下载）"})


class NotificationSchema(Schema):
    id = fields.Integer()
    case_no = fields.String(allow_none=True)
    channel = fields.String()
    recipient = fields.String()
    subject = fields.String()
    body = fields.String()
    status = fields.String()
    created_at = LocalDateTime()


class CreditRecordSchema(Schema):
    id = fields.Integer()
    case_no = fields.String()
    subject_name = fields.String()
    subject_id_number = fields.String()
    kind = fields.String()
    reason = fields.String()
    created_at = LocalDateTime()


class CertificateSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    type_name = fields.String()
    number = fields.String()
    holder_name = fields.String()
    status = fields.String()
    issued_on = fields.Date()
    valid_until = fields.Date(allow_none=True)


class ResultsSchema(Schema):
    certificates = fields.List(fields.Nested(CertificateSchema))
    notices = fields.List(fields.Nested(NoticeSchema))
    delivery = fields.Dict(allow_none=True)


def _notice_json(n) -> dict:
    return {"id": n.id, "kind": n.kind, "number": n.number, "title": n.title, "items": n.items,
            "element_id": n.element_id, "issued_at": n.issued_at, "url": f"/api/v1/notices/{n.id}.html",
            "pdf_url": f"/api/v1/notices/{n.id}.pdf"}


@blp.route("/cases/<string:case_no>/messages")
class CaseMessages(MethodView):
    @auth_required("clerk", "admin")
    @blp.arguments(MessageSchema())
    @blp.response(200, CaseSchema)
    def post(self, body, case_no):
        """向办件发送消息：申请人补正或补齐容缺材料后，由综合窗口提交（按统一受理号码关联）"""
        _case_for_actor(case_no)
        case = run_use_case(db.session, lambda: messages.deliver(
            db.session, case_no=case_no, name=body["name"], data=body["data"], actor_id=g.user.id,
            now=clock.now()))
        return case_json(case)


@blp.route("/cases/<string:case_no>/notices")
class CaseNotices(MethodView):
    @auth_required()
    @blp.response(200, NoticeSchema(many=True))
    def get(self, case_no):
        """办件的全部文书（受理通知书、一次性告知书、不予受理决定书等）"""
        return [_notice_json(n) for n in notices.for_case(db.session, _case_for_actor(case_no).id)]


def _notice_for_actor(notice_id):
    """The notice, if the current user may read its case (404 unknown, 403 not theirs)."""
    notice = notices.get(db.session, notice_id)
    _case_for_actor(db.session.get(Case, notice.case_id).case_no)
    return notice


def notice_html_response(notice) -> Response:
    """The stored notice as a printable page (its own CSP: no scripts, inline styles only)."""
    return Response(notice.html, mimetype="text/html",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                             "X-Content-Type-Options": "nosniff"})


def notice_pdf_response(notice) -> Response:
    """The notice as a PDF attachment named by its number (503 when the renderer is missing)."""
    body = pdf.render_pdf(notice.html)
    disposition = (f"attachment; filename=\"notice-{notice.id}.pdf\"; "
                   f"filename*=UTF-8''{quote(notice.number + '.pdf', safe='')}")
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"})


@blp.route("/notices/<int:notice_id>.html")
class NoticeHtml(MethodView):
    @auth_required()
    def get(self, notice_id):
        """打印文书（HTML，带打印样式）"""
        return notice_html_response(_notice_for_actor(notice_id))


@blp.route("/notices/<int:notice_id>.pdf")
class NoticePdf(MethodView):
    @auth_required()
    def get(self, notice_id):
        """下载文书（PDF，按文书编号命名）；PDF 组件不可用时返回 503，可改用 HTML 打印"""
        return notice_pdf_response(_notice_for_actor(notice_id))


@blp.route("/cases/<string:case_no>/results")
class CaseResults(MethodView):
    @auth_required()
    @blp.response(200, ResultsSchema)
    def get(self, case_no):
        """统一出件：办件产生的证照、文书与送达记录"""
        return case_results(_case_for_actor(case_no))


def case_results(case) -> dict:
    """统一出件 of a case: its certificates (rows), notices and delivery (the API and the case page)."""
    certs = db.session.execute(select(Certificate).where(Certificate.case_id == case.id)
                               .order_by(Certificate.id)).scalars().all()
    delivery = db.session.execute(select(Delivery).where(Delivery.case_id == case.id)).scalar_one_or_none()
    return {"certificates": certs, "notices": [_notice_json(n) for n in notices.for_case(db.session, case.id)],
            "delivery": None if delivery is None else {
                "method": delivery.method, "tracking_no": delivery.tracking_no, "results": delivery.results,
                "delivered_at": delivery.delivered_at.isoformat()}}


@blp.route("/cases/<string:case_no>/notifications")
class CaseNotifications(MethodView):
    @auth_required()
    @blp.response(200, NotificationSchema(many=True))
    def get(self, case_no):
        """发给申请人的通知"""
        case = _case_for_actor(case_no)
        return [_notification_json(n, case.case_no) for n in notifications.for_case(db.session, case.id)]


def _notification_json(n, case_no) -> dict:
    return {"id": n.id, "case_no": case_no, "channel": n.channel,
            "recipient": privacy.mask_phone_for(g.user, n.recipient), "subject": n.subject, "body": n.body,
            "status": n.status, "created_at": n.created_at}


@blp.route("/notifications")
class Outbox(MethodView):
    @auth_required("admin", "clerk", "manager")
    @blp.response(200, NotificationSchema(many=True))
    def get(self):
        """通知发件箱（默认通道只写入此处）"""
        rows = notifications.outbox(db.session)
        numbers = dict(db.session.execute(select(Case.id, Case.case_no).where(
            Case.id.in_({n.case_id for n in rows if n.case_id}))).all()) if rows else {}
        return [_notification_json(n, numbers.get(n.case_id)) for n in rows]


@blp.route("/credit-records")
class CreditRecords(MethodView):
    @auth_required("admin", "manager")
    @blp.response(200, CreditRecordSchema(many=True))
    def get(self):
        """信用记录（容缺逾期未补齐、告知承诺不实）"""
        rows = db.session.execute(select(CreditRecord, Case.case_no).join(Case, Case.id == CreditRecord.case_id)
                                  .order_by(CreditRecord.id.desc()).limit(200)).all()
        return [{"id": r.id, "case_no": no, "subject_name": r.subject_name,
                 "subject_id_number": privacy.mask_id_for(g.user, r.subject_id_number), "kind": r.kind,
                 "reason": r.reason, "created_at": r.created_at} for r, no in rows]


@blp.route("/prefill")
class Prefill(MethodView):
    @auth_required("clerk", "admin")
    @blp.arguments(PrefillArgsSchema(), location="query")
    @blp.response(200, PrefillSchema)
    def get(self, args):
        """共享数据自动调用：按申请人证件号码，从其以往办件和电子证照预填一表申请（注明来源，可修改）"""
        return {"fields": prefill.for_applicant(db.session, process_key=args["process_key"],
                                                id_number=args["id_number"], now=clock.now())}
