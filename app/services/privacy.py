"""Masking personal data (ID numbers, phone numbers) for roles that do not need it."""
from __future__ import annotations

import logging
import re
import traceback

# the front desk must see the full number to check the applicant's identity
SEES_PERSONAL_DATA = ("clerk", "admin")


def mask_id_number(value: str | None) -> str | None:
    """410602199001011234 -> 4106**********1234"""
    if not value or len(value) < 8:
        return "*" * len(value) if value else value
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """13812345678 -> 138****5678"""
    if not value or len(value) < 7:
        return "*" * len(value) if value else value
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def applicant_view(actor, name: str, id_number: str, phone: str) -> dict[str, str | None]:
    if actor is not None and actor.has_role(*SEES_PERSONAL_DATA):
        return {"name": name, "id_number": id_number, "phone": phone}
    return {"name": name, "id_number": mask_id_number(id_number), "phone": mask_phone(phone)}


def _masker(key: str):
    if key.endswith("id_number"):
        return mask_id_number
    if key.endswith("phone"):
        return mask_phone
    return None


def mask_data(actor, data):
    """Case data (or an audit payload) with ID and phone fields masked for roles that do not need them."""
    if actor is not None and actor.has_role(*SEES_PERSONAL_DATA):
        return data
    if isinstance(data, dict):
        return {k: (_masker(k)(v) if _masker(k) and isinstance(v, str) else mask_data(actor, v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [mask_data(actor, v) for v in data]
    return data


def mask_id_for(actor, value: str | None) -> str | None:
    return value if actor is not None and actor.has_role(*SEES_PERSONAL_DATA) else mask_id_number(value)


def mask_phone_for(actor, value: str | None) -> str | None:
    return value if actor is not None and actor.has_role(*SEES_PERSONAL_DATA) else mask_phone(value)


# --- logs --------------------------------------------------------------------------------------
# an 18-character resident ID (17 digits and a digit or X) or a mainland mobile number, not inside
# a longer run of digits (case numbers, timestamps and amounts are left alone)
_PERSONAL_NUMBER = re.compile(r"(?<!\d)(?:\d{17}[\dXx]|1[3-9]\d{9})(?!\d)")


def mask_text(text: str) -> str:
    """Every ID or mobile number in free text, masked as in the API's replies."""
    return _PERSONAL_NUMBER.sub(lambda m: (mask_phone if len(m.group()) == 11 else mask_id_number)(m.group()), text)


def install_log_masking() -> None:
    """Mask ID and phone numbers in every log record's message and traceback, whichever logger wrote it.

    Done in the record factory, so it holds for every handler (files, stderr, gunicorn's, the tests'
    capture) and for exceptions carrying data, such as database errors listing their parameters.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_personal_data", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logged as it is
            return record
        record.msg, record.args = mask_text(message), ()
        if record.exc_info and record.exc_info[0] is not None:  # the text stays, the raw exception goes
            record.exc_text = mask_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return record

    factory.masks_personal_data = True
    logging.setLogRecordFactory(factory)
