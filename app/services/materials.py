"""Materials of front-desk intake (一窗受理): one set of materials, uploads, e-certificates.

一套材料: a material code that several matters of a service list is asked for
once. 免证办: a valid electronic certificate of the applicant satisfies a
material with a ``licence_type`` and is attached when the case starts, so the
applicant is not asked for it again. Uploads are versioned per (case, code);
a supplement (补正) adds a version, nothing is overwritten.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

import filetype
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from ..models import Case, Certificate, Material
from . import audit, cases, material_files, processes, rows
from .blobs import StagedBlob
from .clock import local

DEFAULT_FILE_TYPES = ("pdf", "jpg", "png")  # when a catalog material names none
MAX_FILENAME_CHARS = 200
_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "tiff": "tif"}  # one spelling per sniffed type
_STATUS_WORDS = {"completed": "已办结", "terminated": "已终止"}


def _norm_type(ext: str) -> str:
    ext = ext.strip().lower().lstrip(".")
    return _ALIASES.get(ext, ext)


def _new_row(item: dict[str, Any]) -> dict[str, Any]:
    return {"code": item["code"], "name": item["name"], "required": False,
            "deficiency_allowed": True, "commitment_allowed": True, "licence_type": None,
            "supplement_workdays": None, "file_types": [], "matters": [], "departments": []}


def applicable_matters(catalog: dict[str, Any] | None, data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The catalog's matters; with case data, only those whose ``applies_when`` holds for it
    (e.g. 公章刻制 only when the applicant asked for seals)."""
    matters = (catalog or {}).get("matters") or []
    if data is None:
        return list(matters)
    return [m for m in matters if not m.get("applies_when") or engine.condition_holds(m["applies_when"], data)]


def catalog_materials(catalog: dict[str, Any] | None, data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every material of every matter, merged by code (一套材料: asked once), in catalog order.

    ``required`` is true if any matter requires it (a material listed without the key is
    required); 容缺 and 告知承诺 are allowed only if every matter listing it allows them;
    ``supplement_workdays`` (its 容缺 deadline) is the shortest any of them sets;
    ``file_types`` is the union; ``matters`` and ``departments`` say who needs it.
    """
    merged: dict[str, dict[str, Any]] = {}
    for matter in applicable_matters(catalog, data):
        for item in matter.get("materials") or []:
            row = merged.get(item["code"])
            if row is None:
                row = merged[item["code"]] = _new_row(item)
            row["required"] = row["required"] or bool(item.get("required", True))
            row["deficiency_allowed"] = row["deficiency_allowed"] and bool(item.get("deficiency_allowed", False))
            row["commitment_allowed"] = row["commitment_allowed"] and bool(item.get("commitment_allowed", False))
            row["licence_type"] = row["licence_type"] or item.get("licence_type")
            if item.get("supplement_workdays") is not None:  # the shortest 容缺 deadline of the matters
                days = int(item["supplement_workdays"])
                row["supplement_workdays"] = min(days, row["supplement_workdays"] or days)
            for ext in item.get("file_types") or ():
                if _norm_type(ext) not in row["file_types"]:
                    row["file_types"].append(_norm_type(ext))
            row["matters"].append({"code": matter.get("code"), "name": matter.get("name"),
                                   "department": matter.get("department")})
            if matter.get("department") and matter["department"] not in row["departments"]:
                row["departments"].append(matter["department"])
    for row in merged.values():
        row["file_types"] = row["file_types"] or list(DEFAULT_FILE_TYPES)
    return list(merged.values())


# -- checks of one upload ---------------------------------------------------------

def _human_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} 字节"


def clean_filename(filename: str | None) -> str:
    """The client's file name, for display only; refused if it could be mistaken for a path."""
    name = (filename or "").strip()
    problem = None
    if not name:
        problem = "缺少文件名"
    elif len(name) > MAX_FILENAME_CHARS:
        problem = f"文件名不能超过 {MAX_FILENAME_CHARS} 个字符"
    elif "/" in name or "\\" in name:
        problem = "文件名不能包含路径分隔符"
    elif ".." in name:
        problem = "文件名不能包含“..”"
    elif any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name):
        problem = "文件名不能包含控制字符"
    if problem:
        raise InvalidInput(f"文件名不合法：{problem}", {"file": [problem]})
    return name


def _check_size(data: bytes, max_bytes: int) -> None:
    if not data:
        raise InvalidInput("文件为空，请重新选择文件", {"file": ["文件为空"]})
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"文件过大，单个材料文件不能超过 {_human_size(max_bytes)}",
                              {"file": [f"上限 {_human_size(max_bytes)}"]})


def _sniff(data: bytes, name: str, item: dict[str, Any]) -> Any:
    """The content's real type, which must be allowed and match the file name's extension."""
    allowed = item["file_types"]
    allowed_text = "、".join(t.upper() for t in allowed)
    kind = filetype.guess(data)
    if kind is None or _norm_type(kind.extension) not in allowed:
        raise InvalidInput(f"文件类型不符合要求：“{item['name']}”只接受 {allowed_text} 格式的文件",
                           {"file": [f"允许的类型：{allowed_text}"]})
    ext = _norm_type(name.rsplit(".", 1)[1]) if "." in name else ""
    if ext != _norm_type(kind.extension):
        raise InvalidInput(f"文件内容与扩展名不一致（内容是 {kind.extension.upper()} 文件），"
                           f"请上传真实的 {allowed_text} 格式文件",
                           {"file": [f"允许的类型：{allowed_text}"]})
    return kind


def _require_running(case: Case) -> None:
    if case.status != "running":
        word = _STATUS_WORDS.get(case.status, "不在办理中")
        raise Conflict(f"办件{word}，不能再提交材料")


def _catalog_item(session: Session, case: Case, code: str) -> dict[str, Any]:
    catalog = processes.deployed(session, case.process_definition_id).catalog
    for item in catalog_materials(catalog):
        if item["code"] == code:
            return item
    raise InvalidInput(f"材料编码“{code}”不在本事项的材料目录中", {"code": [f"未知的材料编码 {code}"]})


# run on every upload, checklist or new case, so built once (see cases.py)
_LATEST_VERSION = select(func.max(Material.version)).where(Material.case_id == bindparam("case_id"),
                                                          Material.code == bindparam("code"))
_FRESH_CASE = select(Case).where(Case.id == bindparam("case_id")).execution_options(populate_existing=True)
_CODES = select(Material.code).where(Material.case_id == bindparam("case_id"))
_CERTIFICATES = select(Certificate).where(Certificate.id.in_(bindparam("ids", expanding=True)))
_CASE_MATERIALS = (select(Material).where(Material.case_id == bindparam("case_id"))
                   .order_by(Material.code, Material.version))


def _next_version(session: Session, case_id: int, code: str) -> int:
    latest = session.execute(_LATEST_VERSION, {"case_id": case_id, "code": code}).scalar()
    return (latest or 0) + 1


# -- use cases ---------------------------------------------------------------------

def upload(session: Session, *, case: Case, code: str, filename: str | None, data: bytes,
           actor_id: int | None, now: datetime, blob: StagedBlob, max_bytes: int) -> Material:
    """Store an uploaded file as the next version of a catalog material of the case.

    ``blob`` is ``data`` staged by the caller before the transaction (``BlobStore.staged``),
    so that its sync does not hold the write lock. Every check runs before it is kept,
    so a refused upload leaves no row, no file and no audit event.
    """
    case_id = sa_inspect(case).identity[0]  # its key, without reloading a case read before this transaction
    cases.lock(session, case_id)  # the audit chain needs the case lock
    case = session.execute(_FRESH_CASE, {"case_id": case_id}).scalar_one()
    _require_running(case)
    item = _catalog_item(session, case, code)
    _check_size(data, max_bytes)
    name = clean_filename(filename)
    kind = _sniff(data, name, item)
    material_files.hold_for_upload(session)  # no sweep of the store until this commits
    blob.keep()
    sha, size = blob.sha256, blob.size
    row = Material(case_id=case.id, code=code, name=item["name"],
                   version=_next_version(session, case.id, code), source="upload", sha256=sha,
                   size=size, content_type=kind.mime, extension=_norm_type(kind.extension),
                   display_name=name, uploaded_by_id=actor_id, uploaded_at=now)
    session.add(row)
    session.flush()
    audit.record(session, action="material.uploaded", at=now, actor_id=actor_id, case=case,
                 object_type="material", object_id=row.id,
                 after={"code": code, "name": row.name, "version": row.version, "sha256": sha,
                        "size": size, "content_type": row.content_type, "display_name": name})
    rows.write_changes(session, case)  # the new audit head: one UPDATE, not a flush at commit
    return row


def _valid_certificates(session: Session, case: Case, types: set[str], now: datetime) -> dict[str, Certificate]:
    """The newest valid certificate of each type that the applicant (or the company) holds."""
    today = local(now).date()
    whose = [Certificate.owner_id_number == case.applicant_id_number]
    credit_code = (case.data or {}).get("credit_code")
    if credit_code:
        whose.append(Certificate.holder_id == str(credit_code))
    newest_first = func.row_number().over(partition_by=Certificate.type,
                                          order_by=(Certificate.issued_on.desc(), Certificate.id.desc()))
    ranked = (select(Certificate.id, newest_first.label("rank"))
              .where(Certificate.type.in_(sorted(types)), Certificate.status == "valid",
                     Certificate.revoked_at.is_(None),
                     or_(Certificate.valid_until.is_(None), Certificate.valid_until >= today), or_(*whose))
              .subquery())
    # one row per type however many the holder has collected over the years
    query = select(Certificate).join(ranked, ranked.c.id == Certificate.id).where(ranked.c.rank == 1)
    return {cert.type: cert for cert in session.execute(query).scalars()}


def attach_certificates(session: Session, case: Case, catalog: dict[str, Any] | None,
                        now: datetime) -> list[Material]:
    """免证办: attach the applicant's valid e-certificates to the materials they satisfy.

    The caller holds the case lock and has the case current (``start_case`` does: the
    case was just created). Materials the case already has are left alone, so calling
    it again attaches nothing twice. No query runs when no material names a licence type.
    """
    wanted = [item for item in catalog_materials(catalog, case.data or {}) if item["licence_type"]]
    if not wanted:
        return []
    found = _valid_certificates(session, case, {item["licence_type"] for item in wanted}, now)
    if not found:
        return []
    present = set(session.execute(_CODES, {"case_id": case.id}).scalars())
    attached = []
    for item in wanted:
        cert = found.get(item["licence_type"])
        if cert is None or item["code"] in present:
            continue
        row = Material(case_id=case.id, code=item["code"], name=item["name"], version=1,
                       source="certificate", certificate_id=cert.id, display_name=cert.type_name,
                       uploaded_by_id=None, uploaded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, action="material.certificate_attached", at=now, actor_id=None, case=case,
                     object_type="material", object_id=row.id,
                     after={"code": item["code"], "name": item["name"], "certificate_id": cert.id,
                            "certificate_type": cert.type, "certificate_number": cert.number})
        attached.append(row)
    return attached


# -- reading -------------------------------------------------------------------------

def case_materials(session: Session, case_id: int) -> dict[str, list[Material]]:
    """Every version of every material of a case, by code, oldest first."""
    by_code: dict[str, list[Material]] = {}
    for row in session.execute(_CASE_MATERIALS, {"case_id": case_id}).scalars():
        by_code.setdefault(row.code, []).append(row)
    return by_code


def _certificates(session: Session, ids: set[int]) -> dict[int, Certificate]:
    if not ids:
        return {}
    return {c.id: c for c in session.execute(_CERTIFICATES, {"ids": sorted(ids)}).scalars()}


def _status(latest: Material | None, certs: dict[int, Certificate]) -> dict[str, Any]:
    if latest is None:
        return {"status": "missing", "version": None, "material_id": None, "certificate": None}
    if latest.source == "certificate":
        cert = certs.get(latest.certificate_id)
        return {"status": "certificate", "version": latest.version, "material_id": latest.id,
                "certificate": None if cert is None else {
                    "id": cert.id, "type": cert.type, "type_name": cert.type_name, "number": cert.number,
                    "holder_name": cert.holder_name, "valid_until": cert.valid_until}}
    return {"status": "uploaded", "version": latest.version, "material_id": latest.id, "certificate": None}


def checklist(session: Session, case: Case, catalog: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per merged catalog material: what is needed, by whom, and what the case has.

    ``status`` is the newest version's: uploaded, certificate (免证办) or missing.
    """
    by_code = case_materials(session, case.id)
    certs = _certificates(session, {m.certificate_id for rows in by_code.values() for m in rows
                                    if m.certificate_id is not None})
    rows = []
    for item in catalog_materials(catalog, case.data or {}):
        versions = by_code.get(item["code"], [])
        rows.append({**item, **_status(versions[-1] if versions else None, certs), "versions": versions})
    return rows


def missing_required(session: Session, case: Case, catalog: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Required materials the case has neither uploaded nor covered by a certificate."""
    return [row for row in checklist(session, case, catalog) if row["required"] and row["status"] == "missing"]


def get_material(session: Session, material_id: int) -> Material:
    row = session.get(Material, material_id)
    if row is None:
        raise NotFound("材料不存在")
    return row
