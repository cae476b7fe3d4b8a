"""The sweep of the material store: files a failed upload left behind go, files a case refers to stay."""
from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Material
from app.services import audit, clock, material_files, materials
from app.services.blobs import BlobStore

from .test_materials import PDF, start, upload

HOUR = 3600


def _store(app) -> BlobStore:
    return BlobStore(app.config["INSTANCE_DIR"])


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _sweep(app, min_age_seconds: float, dry_run: bool = False):
    db.session.rollback()
    return material_files.sweep(db.session, _store(app), min_age_seconds=min_age_seconds,
                                now=clock.now(), dry_run=dry_run)


def _failed_upload(app, api, monkeypatch, content: bytes) -> str:
    """An upload whose transaction fails after it kept its file: the file stays, no row refers to it."""
    clerk, no = start(api)

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")
    with monkeypatch.context() as patched:
        patched.setattr(audit, "record", fail)
        resp = upload(clerk, no, "M001", content, "申请书.pdf")
    assert resp.status_code == 500
    sha = hashlib.sha256(content).hexdigest()
    db.session.rollback()
    assert db.session.scalar(select(Material.id).where(Material.sha256 == sha)) is None
    return sha


def test_the_sweep_removes_what_a_failed_upload_left_and_keeps_every_referenced_file(app, api, monkeypatch):
    store = _store(app)
    orphan = _failed_upload(app, api, monkeypatch, PDF + b"% orphan\n")
    assert store.exists(orphan)
    clerk, no = start(api)
    kept = upload(clerk, no, "M001", PDF, "申请书.pdf").body
    fresh = store.put(b"%PDF-1.4\n% staged a minute ago\n")[0]  # younger than the grace period
    staging = store.root / ".upload-crashed"
    staging.write_bytes(b"half a file")
    for path in (store.path_of(orphan), store.path_of(kept["sha256"]), staging):
        _age(path, 2 * HOUR)

    report = _sweep(app, HOUR)

    assert report.removed == [orphan] and report.removed_bytes == len(PDF + b"% orphan\n")
    assert report.removed_staging == 1 and report.checked == 2
    assert not store.exists(orphan) and not staging.exists()
    assert store.exists(kept["sha256"]) and store.exists(fresh)
    content = clerk.get(f"/api/v1/materials/{kept['id']}/content")
    assert content.status_code == 200 and content.data == PDF
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "materials.swept")).scalar_one()
    assert event.case_id is None and event.after["removed"] == 1 and event.after["sha256"] == [orphan]


def test_a_dry_run_reports_and_changes_nothing(app, api, monkeypatch):
    store = _store(app)
    orphan = _failed_upload(app, api, monkeypatch, PDF + b"% dry\n")
    _age(store.path_of(orphan), 2 * HOUR)
    report = _sweep(app, HOUR, dry_run=True)
    assert report.removed == [orphan]
    assert store.exists(orphan)
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "materials.swept")) is None


def test_the_sweep_waits_for_an_upload_in_flight_and_keeps_its_file(app, api, monkeypatch):
    """An upload has kept its file but not committed its row: the sweep must not see the file as unreferenced."""
    store = _store(app)
    clerk, no = start(api)
    kept, release = threading.Event(), threading.Event()
    real_write = materials.rows.write_changes

    def pause_after_keeping(session, *rows):  # called after the keep, before the commit
        kept.set()
        assert release.wait(10)
        return real_write(session, *rows)
    monkeypatch.setattr(materials.rows, "write_changes", pause_after_keeping)
    responses, reports = [], []

    def do_upload():
        responses.append(upload(clerk, no, "M001", PDF + b"% in flight\n", "a.pdf"))

    def do_sweep():
        with app.app_context():
            reports.append(material_files.sweep(db.session, store, min_age_seconds=0, now=clock.now()))
            db.session.remove()

    uploader = threading.Thread(target=do_upload)
    uploader.start()
    assert kept.wait(10)
    sweeper = threading.Thread(target=do_sweep)
    sweeper.start()
    sweeper.join(0.5)
    assert sweeper.is_alive()  # held back until the upload commits
    release.set()
    uploader.join(10)
    sweeper.join(10)
    assert responses[0].status_code == 201, responses[0].body
    sha = responses[0].body["sha256"]
    assert store.exists(sha) and reports[0].removed == []


def test_the_cli_sweeps_with_a_grace_period_in_hours(app, api, monkeypatch):
    store = _store(app)
    orphan = _failed_upload(app, api, monkeypatch, PDF + b"% cli\n")
    runner = app.test_cli_runner()
    young = runner.invoke(args=["materials", "sweep"])  # default grace: 24 hours
    assert young.exit_code == 0, young.output
    assert store.exists(orphan) and "removed 0 unreferenced files" in young.output
    _age(store.path_of(orphan), 25 * HOUR)
    dry = runner.invoke(args=["materials", "sweep", "--dry-run"])
    assert dry.exit_code == 0 and "would remove 1 unreferenced files" in dry.output and store.exists(orphan)
    done = runner.invoke(args=["materials", "sweep"])
    assert done.exit_code == 0 and "removed 1 unreferenced files" in done.output
    assert not store.exists(orphan)
    refused = runner.invoke(args=["materials", "sweep", "--min-age-hours", "-1"])
    assert refused.exit_code != 0


def test_the_nightly_job_sweeps_files_a_day_old(app, api, monkeypatch):
    from app.scheduler import sweep_material_files
    store = _store(app)
    orphan = _failed_upload(app, api, monkeypatch, PDF + b"% nightly\n")
    assert sweep_material_files(app) == 0 and store.exists(orphan)
    _age(store.path_of(orphan), 25 * HOUR)
    assert sweep_material_files(app) == 1 and not store.exists(orphan)
