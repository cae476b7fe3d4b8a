"""An analyst's draft of a process: diagram, forms and catalog, saved before they are deployed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class ProcessDraft(db.Model):
    """One draft per process key. A save with problems is kept (and its problems listed);
    only a draft without problems can be deployed, which makes it the next version."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(128), unique=True)
    base_version: Mapped[int | None]  # the deployed version the draft was opened from
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict] = mapped_column(JSON)  # form id -> form-js schema, the forms edited in this draft
    catalog_yaml: Mapped[str | None] = mapped_column(Text)  # 事项目录 YAML text
    bpmn_problems: Mapped[list] = mapped_column(JSON)  # [{"element_id", "message"}] of the last save
    catalog_problems: Mapped[list] = mapped_column(JSON)  # ["第 n 行：…"] of the last save
    revision: Mapped[int] = mapped_column(default=1)  # bumped by every save (stale saves are refused)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
