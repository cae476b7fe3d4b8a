"""Materials at the front desk (一窗受理): one set of materials, uploads, e-certificates (免证办), downloads."""
from __future__ import annotations

import hashlib
import io
import re
import stat
import struct
import zlib
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import AuditEvent, Case, Certificate, Material
from app.services import clock, materials, processes
from app.services.clock import local

from .startup import APPLICANT, APPLY

CHINESE = re.compile(r"[\u4e00-\u9fff]")

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 3 3]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


PNG = _png_1x1()
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 50


def start(api, applicant=APPLICANT):
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": applicant,
                                             "data": APPLY})
    assert resp.status_code == 201, resp.body
    return clerk, resp.body["case_no"]


def upload(user, case_no, code, content, filename):
    return user.post(f"/api/v1/cases/{case_no}/materials", data={"code": code, "file": (io.BytesIO(content), filename)},
                     content_type="multipart/form-data")


def checklist(user, case_no) -> dict[str, dict]:
    resp = user.get(f"/api/v1/cases/{case_no}/materials")
    assert resp.status_code == 200, resp.body
    return {row["code"]: row for row in resp.body}


def stored_files(app) -> list[Path]:
    root = Path(app.config["INSTANCE_DIR"]) / "materials"
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot(app):
    """What a refused upload must not change: material rows, audit events, stored files."""
    db.session.rollback()  # see what the requests committed
    return (db.session.scalar(select(func.count(Material.id))), db.session.scalar(select(func.count(AuditEvent.id))),
            stored_files(app))


def case_row(case_no) -> Case:
    db.session.rollback()
    return db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()


def test_catalog_materials_are_merged_by_code():
    catalog = {"matters": [
        {"code": "A", "name": "甲", "department": "公安局",
         "materials": [{"code": "M1", "name": "执照", "required": False, "deficiency_allowed": True,
                        "file_types": ["PDF"], "supplement_workdays": 7}]},
        {"code": "B", "name": "乙", "department": "银行",
         "materials": [{"code": "M1", "name": "执照", "required": True, "licence_type": "business_licence",
                        "file_types": ["jpeg", "pdf"], "supplement_workdays": 3}]},
        {"code": "C", "name": "丙", "department": "税务局",
         "materials": [{"code": "M2", "name": "章程"}]}]}
    row, other = materials.catalog_materials(catalog)
    assert row["required"] is True and row["deficiency_allowed"] is False  # the stricter matter wins
    assert row["supplement_workdays"] == 3 and other["supplement_workdays"] is None  # the shortest, or unset
    assert row["file_types"] == ["pdf", "jpg"] and row["licence_type"] == "business_licence"
    assert row["departments"] == ["公安局", "银行"] and [m["code"] for m in row["matters"]] == ["A", "B"]
    assert materials.catalog_materials(None) == [] and materials.catalog_materials({"matters": []}) == []


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "..\\a.pdf", "a\\b.pdf", "a/b.pdf", "a\x00.pdf",
                                  "a\x1b.pdf", "a\u202egpj.pdf", "x" * 197 + ".pdf", "", "   "])
def test_unsafe_file_names_are_refused(name):
    with pytest.raises(InvalidInput) as exc:
        materials.clean_filename(name)
    assert exc.value.message.startswith("文件名不合法")


def test_upload_pdf_and_png_then_the_checklist(app, api):
    clerk, no = start(api)
    resp = upload(clerk, no, "M001", PDF, "登记申请书.pdf")
    assert resp.status_code == 201, resp.body
    pdf = resp.body
    assert pdf["version"] == 1 and pdf["source"] == "upload" and pdf["content_type"] == "application/pdf"
    assert pdf["sha256"] == hashlib.sha256(PDF).hexdigest() and pdf["size"] == len(PDF)
    assert pdf["display_name"] == "登记申请书.pdf" and pdf["extension"] == "pdf"
    png = upload(clerk, no, "M003", PNG, "id.PNG").body
    assert png["content_type"] == "image/png" and png["extension"] == "png"

    rows = checklist(clerk, no)
    assert list(rows) == ["M001", "M002", "M003", "M004", "M010"]  # M010 is listed by two matters, asked once
    assert rows["M010"]["departments"] == ["公安局", "银行"] and rows["M010"]["licence_type"] == "business_licence"
    assert rows["M001"]["status"] == "uploaded" and rows["M001"]["material_id"] == pdf["id"]
    assert rows["M003"]["status"] == "uploaded" and rows["M003"]["versions"][0]["content_type"] == "image/png"
    assert {c for c, r in rows.items() if r["status"] == "missing"} == {"M002", "M004", "M010"}
    assert rows["M004"]["deficiency_allowed"] is True and rows["M004"]["commitment_allowed"] is True
    assert rows["M002"]["file_types"] == ["pdf"]
    case = case_row(no)
    catalog = processes.deployed(db.session, case.process_definition_id).catalog
    expected = [code for code in ("M002", "M004", "M010") if rows[code]["required"]]
    assert [r["code"] for r in materials.missing_required(db.session, case, catalog)] == expected
    assert {"M002", "M004"} <= set(expected)
    actions = [e["action"] for e in clerk.get(f"/api/v1/cases/{no}/history").body]
    assert actions.count("material.uploaded") == 2


def test_uploading_the_same_code_again_adds_version_2(app, api):
    clerk, no = start(api)
    first = upload(clerk, no, "M002", PDF, "章程.pdf").body
    second = upload(clerk, no, "M002", PDF + b"%% corrected\n", "章程-补正.pdf")
    assert second.status_code == 201 and second.body["version"] == 2
    row = checklist(clerk, no)["M002"]
    assert row["status"] == "uploaded" and row["version"] == 2 and row["material_id"] == second.body["id"]
    assert [v["id"] for v in row["versions"]] == [first["id"], second.body["id"]]


def test_an_upload_is_synced_before_its_transaction_begins(app, api, monkeypatch):
    """The sync is the slow part of an upload: other writers must not queue behind it (SQLite's write lock)."""
    import os

    from app.api import materials as materials_api
    clerk, no = start(api)
    in_use_case, synced_in_use_case = [False], []
    real_run, real_fsync = materials_api.run_use_case, os.fsync

    def watched_run(session, fn):
        in_use_case[0] = True
        try:
            return real_run(session, fn)
        finally:
            in_use_case[0] = False

    def watched_fsync(fd):
        synced_in_use_case.append(in_use_case[0])
        return real_fsync(fd)

    monkeypatch.setattr(materials_api, "run_use_case", watched_run)
    monkeypatch.setattr(os, "fsync", watched_fsync)
    resp = upload(clerk, no, "M001", PDF, "a.pdf")
    assert resp.status_code == 201, resp.body
    assert synced_in_use_case == [False]
    assert stored_files(app) == [Path(resp.body["sha256"][:2]) / resp.body["sha256"]]


def test_identical_files_are_stored_once(app, api):
    clerk, first = start(api)
    _, second = start(api)
    a = upload(clerk, first, "M001", PDF, "a.pdf").body
    b = upload(clerk, second, "M001", PDF, "b.pdf").body
    sha = hashlib.sha256(PDF).hexdigest()
    assert a["sha256"] == b["sha256"] == sha and a["case_id"] != b["case_id"]
    assert stored_files(app) == [Path(sha[:2]) / sha]
    path = Path(app.config["INSTANCE_DIR"]) / "materials" / sha[:2] / sha
    assert path.read_bytes() == PDF and stat.S_IMODE(path.stat().st_mode) == 0o600


BAD = [
    ("oversize", "M001", PDF + b"0" * 1024, "big.pdf", 413, "文件过大"),
    ("empty", "M001", b"", "empty.pdf", 422, "文件为空"),
    ("png named pdf", "M001", PNG, "x.pdf", 422, "PDF、JPG、PNG"),
    ("png for a pdf-only material", "M002", PNG, "x.png", 422, "只接受 PDF"),
    ("elf named pdf", "M001", ELF, "x.pdf", 422, "PDF、JPG、PNG"),
    ("exe named pdf", "M001", EXE, "x.pdf", 422, "PDF、JPG、PNG"),
    ("no extension", "M001", PDF, "document", 422, "扩展名"),
    ("path traversal", "M001", PDF, "../../etc/passwd.pdf", 422, "文件名不合法"),
    ("backslash traversal", "M001", PDF, "..\\a.pdf", 422, "文件名不合法"),
    ("unknown code", "M999", PDF, "a.pdf", 422, "M999"),
]


@pytest.mark.parametrize("code,content,filename,status,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_and_change_nothing(app, api, code, content, filename, status, words):
    app.config["MATERIAL_MAX_BYTES"] = 1024
    clerk, no = start(api)
    before = snapshot(app)
    resp = upload(clerk, no, code, content, filename)
    assert resp.status_code == status, resp.body
    assert CHINESE.search(resp.body["message"]) and words in resp.body["message"], resp.body
    assert snapshot(app) == before


def test_a_file_of_exactly_the_limit_is_accepted(app, api):
    app.config["MATERIAL_MAX_BYTES"] = len(PDF)
    clerk, no = start(api)
    assert upload(clerk, no, "M001", PDF, "a.pdf").status_code == 201


def test_no_upload_to_a_completed_case(app, api):
    clerk, no = start(api)
    case = case_row(no)
    case.status, case.completed_at = "completed", clock.now()  # as if the result had been issued
    db.session.commit()
    before = snapshot(app)
    resp = upload(clerk, no, "M001", PDF, "a.pdf")
    assert resp.status_code == 409 and resp.body["message"] == "办件已办结，不能再提交材料"
    assert snapshot(app) == before


def test_upload_needs_the_form_fields(app, api):
    clerk, no = start(api)
    resp = clerk.post(f"/api/v1/cases/{no}/materials", data={"code": "M001"}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.body["errors"]
    assert upload(clerk, "410600209901010000001", "M001", PDF, "a.pdf").status_code == 404


def add_certificate(**overrides) -> Certificate:
    values = {"type": "business_licence", "type_name": "营业执照", "number": "91410600MA9XXXXX1Y",
              "holder_name": "鹤壁市示例科技有限公司", "holder_id": "91410600MA9XXXXX1Y",
              "owner_id_number": APPLICANT["id_number"], "issued_on": date(2025, 1, 6), "valid_until": None,
              "status": "valid", "created_at": clock.now()}
    cert = Certificate(**{**values, **overrides})
    db.session.add(cert)
    db.session.commit()
    return cert


def test_a_valid_certificate_satisfies_the_material(app, api):
    cert_id = add_certificate().id
    clerk, no = start(api)
    row = checklist(clerk, no)["M010"]
    assert row["status"] == "certificate" and row["version"] == 1
    assert row["certificate"]["number"] == "91410600MA9XXXXX1Y" and row["certificate"]["type_name"] == "营业执照"
    assert row["versions"][0]["source"] == "certificate" and row["versions"][0]["certificate_id"] == cert_id
    case = case_row(no)
    catalog = processes.deployed(db.session, case.process_definition_id).catalog
    assert "M010" not in {r["code"] for r in materials.missing_required(db.session, case, catalog)}
    assert "material.certificate_attached" in [e["action"] for e in clerk.get(f"/api/v1/cases/{no}/history").body]
    resp = clerk.get(f"/api/v1/materials/{row['material_id']}/content")
    assert resp.status_code == 404 and "电子证照" in resp.body["message"]


def _yesterday():
    return local(clock.now()).date() - timedelta(days=1)


@pytest.mark.parametrize("overrides", [
    {"status": "revoked", "revoked_at": "now"},
    {"valid_until": "yesterday"},
    {"owner_id_number": "410602198001011111", "holder_id": "91410600MA0000000X"},
], ids=["revoked", "expired", "someone_elses"])
def test_an_invalid_certificate_is_not_attached(app, api, overrides):
    resolved = {k: clock.now() if v == "now" else _yesterday() if v == "yesterday" else v for k, v in overrides.items()}
    add_certificate(**resolved)
    clerk, no = start(api)
    assert checklist(clerk, no)["M010"]["status"] == "missing"
    db.session.rollback()
    assert db.session.scalar(select(func.count(Material.id))) == 0


def test_a_certificate_valid_until_today_is_attached(app, api):
    add_certificate(valid_until=local(clock.now()).date())
    clerk, no = start(api)
    assert checklist(clerk, no)["M010"]["status"] == "certificate"


def test_the_newest_valid_certificate_of_several_is_attached(app, api):
    """A holder collects certificates over the years: the newest valid one counts, a newer revoked one not."""
    add_certificate(number="C-2019", issued_on=date(2019, 3, 1))
    newest = add_certificate(number="C-2024", issued_on=date(2024, 5, 1)).id
    add_certificate(number="C-2023", issued_on=date(2023, 5, 1))
    add_certificate(number="C-2025", issued_on=date(2025, 6, 1), status="revoked", revoked_at=clock.now())
    add_certificate(number="C-2024b", issued_on=date(2024, 5, 1), owner_id_number="410602198001011111",
                    holder_id="91410600MA0000000X")  # someone else's, issued the same day
    clerk, no = start(api)
    row = checklist(clerk, no)["M010"]
    assert row["status"] == "certificate" and row["certificate"]["number"] == "C-2024"
    assert row["versions"][0]["certificate_id"] == newest


def test_download_content_and_headers(app, api):
    clerk, no = start(api)
    name = "法定代表人 身份证明.png"
    material = upload(clerk, no, "M003", PNG, name).body
    resp = clerk.get(f"/api/v1/materials/{material['id']}/content")
    assert resp.status_code == 200 and resp.data == PNG
    assert resp.headers["Content-Type"] == "image/png"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert api.as_user("manager").get(f"/api/v1/materials/{material['id']}/content").status_code == 200
    other = api.as_user("hpf_approver")  # 公积金中心 has no part in this case yet
    denied = other.get(f"/api/v1/materials/{material['id']}/content")
    assert denied.status_code == 403 and CHINESE.search(denied.body["message"])
    assert other.get(f"/api/v1/cases/{no}/materials").status_code == 403
    missing = clerk.get("/api/v1/materials/999999/content")
    assert missing.status_code == 404 and missing.body["message"] == "材料不存在"
