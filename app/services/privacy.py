"""Masking personal data (ID numbers, phone numbers) for roles that do not need it."""
from __future__ import annotations

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
