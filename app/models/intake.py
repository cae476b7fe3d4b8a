"""一窗受理 records: materials, electronic certificates, notices, credit records,
notifications to applicants and the delivery of results (统一出件)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class Certificate(db.Model):
    """电子证照: a certificate the government issued, reused by later cases (免证办)."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("type", "number", name="uq_certificates_type_number"),
        Index("ix_certificates_holder", "holder_id", "type"),
        Index("ix_certificates_owner", "owner_id_number", "type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))            # e.g. business_licence
    type_name: Mapped[str] = mapped_column(String(128))      # 营业执照
    number: Mapped[str] = mapped_column(String(64))          # e.g. the unified social credit code
    holder_name: Mapped[str] = mapped_column(String(255))
    holder_id: Mapped[str] = mapped_column(String(64))       # credit code or ID number of the holder
    owner_id_number: Mapped[str] = mapped_column(String(32))  # the applicant who may authorise its use
    issued_by_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid | revoked
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)  # the case that issued it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Material(db.Model):
    """One version of one catalog material on a case: an uploaded file or a reused certificate."""

    __tablename__ = "materials"
    __table_args__ = (
        UniqueConstraint("case_id", "code", "version", name="uq_materials_case_code_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))        # catalog material code (M001 …)
    name: Mapped[str] = mapped_column(String(255))       # catalog name at upload time
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))      # upload | certificate
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # content address of the file
    size: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(64))  # sniffed, never taken from the client
    extension: Mapped[str | None] = mapped_column(String(8))
    display_name: Mapped[str | None] = mapped_column(String(255))  # sanitised, shown only, never a path
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Notice(db.Model):
    """A written notice issued on a case (受理通知书, 一次性告知书, 不予受理决定书 …)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(64), unique=True)  # 文书编号
    title: Mapped[str] = mapped_column(String(128))
    items: Mapped[list] = mapped_column(JSON)  # the listed items (missing materials, reasons …)
    html: Mapped[str] = mapped_column(Text)    # rendered once and kept, as issued
    element_id: Mapped[str | None] = mapped_column(String(128))  # the BPMN step that issued it
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CreditRecord(db.Model):
    """信用记录: a broken commitment (容缺 not supplied, a false 告知承诺)."""

    __tablename__ = "credit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_name: Mapped[str] = mapped_column(String(255))
    subject_id_number: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))   # deficiency_not_supplied | false_commitment
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Notification(db.Model):
    """The outbox: what applicants were told, and through which channel."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_case", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    channel: Mapped[str] = mapped_column(String(16))   # outbox | sms | email
    recipient: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))    # queued | sent | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delivery(db.Model):
    """统一出件: how the results left the window."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    method: Mapped[str] = mapped_column(String(16))    # window | post
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    results: Mapped[list] = mapped_column(JSON)        # [{"kind","title","number"}]
    delivered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime())
