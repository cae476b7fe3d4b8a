"""The completeness check at the window (一窗受理), run when the intake task is completed.

The diagram decides what happens after intake (受理, 补正, 容缺, 不予受理 …) by
gateways on the decision. This module only makes sure the decision is lawful
before the engine sees it, and hands the diagram the facts it needs:

- only catalog materials may be named, only 容缺-allowed ones may be missing,
  only commitment-allowed proofs may be replaced by a commitment (告知承诺), and
  either needs the applicant's signed commitment;
- a decision that accepts the case (``intake_requires_complete`` in the catalog,
  default ``accept`` and ``deficiency``) needs every required material uploaded,
  covered by an electronic certificate, or named as 容缺 / 告知承诺;
- a correction (补正) must list what is to be corrected, all at once.

Field names are a convention of intake forms (see processes/README.md):
``intake_result``, ``correction_items``, ``deficiency_materials``,
``commitment_materials``, ``commitment_signed``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Case
from . import materials

DEFAULT_COMPLETE_DECISIONS = ("accept", "deficiency")
DEFAULT_SUPPLEMENT_WORKDAYS = 5
DEFAULT_POST_CHECK_WORKDAYS = 20


def _codes(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.replace("，", ",").split(",")]
    return [str(v).strip() for v in value if str(v).strip()]


def check(session: Session, case: Case, catalog: dict[str, Any] | None, element_id: str,
          data: dict[str, Any]) -> dict[str, Any]:
    """Validate an intake decision; returns facts for the diagram (nothing when not the intake task)."""
    return decide(catalog, element_id, data, lambda: materials.missing_required(session, case, catalog),
                  case_data=case.data or {})


def decide(catalog: dict[str, Any] | None, element_id: str, data: dict[str, Any],
           missing_required: Callable[[], list[dict[str, Any]]] = list,
           case_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rules of :func:`check` on their own: ``missing_required`` gives the required catalog
    materials the case lacks (asked only for a decision that accepts the case). The scenario
    runner calls this with none missing, so a test run is held to the window's rules.

    With ``case_data``, only the matters that apply to the case (``applies_when``) count, as
    in the case's checklist: a matter the case does not need neither forbids 容缺 of a
    material nor shortens its deadline."""
    if not catalog or catalog.get("intake_task") != element_id:
        return {}
    # the case's data as stored, exactly what its checklist (and so missing_required) goes by
    by_code = {m["code"]: m for m in materials.catalog_materials(catalog, case_data)}
    deficient = _codes(data.get("deficiency_materials"))
    committed = _codes(data.get("commitment_materials"))
    errors: dict[str, list[str]] = {}
    unknown = [c for c in deficient + committed if c not in by_code]
    if unknown:
        raise InvalidInput(f"事项目录中没有材料：{'、'.join(unknown)}", {"materials": unknown})
    not_allowed = [by_code[c]["name"] for c in deficient if not by_code[c].get("deficiency_allowed")]
    if not_allowed:
        errors["deficiency_materials"] = [f"“{n}”是主要材料，不能容缺" for n in not_allowed]
    no_commitment = [by_code[c]["name"] for c in committed if not by_code[c].get("commitment_allowed")]
    if no_commitment:
        errors["commitment_materials"] = [f"“{n}”不适用告知承诺" for n in no_commitment]
    if (deficient or committed) and data.get("commitment_signed") is not True:
        errors["commitment_signed"] = ["容缺受理或告知承诺须由申请人签署承诺书"]
    decision = data.get("intake_result")
    if decision == "deficiency" and not deficient:
        errors["deficiency_materials"] = ["容缺受理须列明暂缺的材料"]
    if decision == "correct" and not str(data.get("correction_items") or "").strip():
        errors["correction_items"] = ["补正须一次性列明全部需要补正的内容"]
    complete_decisions = catalog.get("intake_requires_complete", DEFAULT_COMPLETE_DECISIONS)
    if decision in complete_decisions:
        missing = [m["name"] for m in missing_required()
                   if m["code"] not in deficient and m["code"] not in committed]
        if missing:
            errors["materials"] = [f"材料不齐全，缺少：{'、'.join(missing)}。请选择补正并一次性告知，或对次要材料容缺受理"]
    if errors:
        raise InvalidInput("受理审查未通过", errors)
    supplement = [by_code[c]["supplement_workdays"] or DEFAULT_SUPPLEMENT_WORKDAYS for c in deficient]
    return {
        "deficiency_materials": deficient,
        "commitment_materials": committed,
        "deficiency_workdays": min(supplement) if supplement else DEFAULT_SUPPLEMENT_WORKDAYS,
        "commitment_used": bool(committed),
        "post_check_workdays": int(catalog.get("post_check_workdays", DEFAULT_POST_CHECK_WORKDAYS)),
    }
