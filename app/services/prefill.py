"""共享数据自动调用: prefill a service's application form from what the government already holds.

Two sources, each value marked with where it came from so the window shows it
as prefilled and the applicant can change it:

- the applicant's earlier cases (any service): a field of the new form takes the
  newest value the same applicant gave for the same field name;
- valid electronic certificates (电子证照) of the applicant, through the
  catalog's ``prefill`` map, e.g. ``credit_code: business_licence.number``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Case, Certificate
from . import forms, processes
from .clock import local

CERTIFICATE_FIELDS = ("number", "holder_name", "holder_id", "type_name")


def _form_keys(session: Session, definition: Any) -> set[str]:
    schema = forms.for_definition(session, definition, definition.model.get("start_form_key"))
    return {c["key"] for c in forms.input_fields(schema)} if schema else set()


def for_applicant(session: Session, *, process_key: str, id_number: str, now: datetime,
                  limit_cases: int = 20) -> dict[str, dict[str, Any]]:
    definition = processes.deployed(session, processes.get_latest(session, process_key).id)
    keys = _form_keys(session, definition)
    found: dict[str, dict[str, Any]] = {}
    earlier = session.execute(select(Case.case_no, Case.data).where(Case.applicant_id_number == id_number)
                              .order_by(Case.id.desc()).limit(limit_cases)).all()
    for case_no, data in earlier:  # newest first: the first value found wins
        for key, value in (data or {}).items():
            if key in keys and key not in found:
                found[key] = {"value": value, "source": "case", "case_no": case_no}
    mapping = (definition.catalog or {}).get("prefill", {})
    if mapping:
        today = local(now).date()
        certs = session.execute(select(Certificate).where(
            Certificate.owner_id_number == id_number, Certificate.status == "valid",
            or_(Certificate.valid_until.is_(None), Certificate.valid_until >= today))
            .order_by(Certificate.id.desc())).scalars().all()
        for key, ref in mapping.items():
            kind, _, attr = str(ref).partition(".")
            cert = next((c for c in certs if c.type == kind), None)
            if key in keys and cert is not None and attr in CERTIFICATE_FIELDS:
                found[key] = {"value": getattr(cert, attr), "source": "certificate",
                              "certificate": f"{cert.type_name} {cert.number}"}
    return found
