"""Remove the material files that no case refers to: what failed uploads leave behind.

An upload puts its staged file into the store inside its transaction
(``StagedBlob.keep``), because the file must be there once the row is. When the
transaction then fails (a refused step after the keep, a crash, a lost database),
the file stays with no row pointing at it; a process killed while staging leaves
its temporary ``.upload-*`` file. Files are content-addressed and shared between
cases, so a failed upload cannot simply delete "its" file: another case may hold
the same content. ``sweep`` removes both kinds, once older than ``min_age``.

It never races an upload. On SQLite every upload and every batch of the sweep is
a write use case, and write use cases exclude each other. On PostgreSQL an upload
takes a shared advisory lock before keeping its file and holds it to its commit
(``hold_for_upload``); each batch of the sweep takes the lock exclusively, so it
sees either the upload's committed row or no file yet.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..models import Material
from . import audit
from .blobs import BlobStore
from .uow import run_use_case

BATCH = 500  # files checked per transaction: the lock is held for one batch only
_LOCK_KEY = 0x62696e676c69616e  # the advisory lock of the material store ("binglian")


@dataclass
class SweepReport:
    removed: list[str] = field(default_factory=list)  # sha256 of each removed file
    removed_bytes: int = 0
    removed_staging: int = 0  # temporary files of uploads that never finished
    checked: int = 0  # stored files old enough to be checked


def hold_for_upload(session: Session) -> None:
    """Called by an upload before it keeps its file: no sweep runs until it commits (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _LOCK_KEY})


def _exclude_uploads(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone meanwhile: nothing to do


def _batches(paths: Iterator[Path]) -> Iterator[list[Path]]:
    batch: list[Path] = []
    for path in paths:
        batch.append(path)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _sweep_batch(session: Session, batch: list[Path], cutoff: float, dry_run: bool,
                 now: datetime) -> tuple[list[str], int]:
    """One batch under the lock: (sha256 of the files removed, their bytes)."""
    _exclude_uploads(session)
    names = [path.name for path in batch]
    referenced = set(session.execute(select(Material.sha256).where(Material.sha256.in_(names))
                                     .group_by(Material.sha256)).scalars())
    removed, size = [], 0
    for path in batch:
        try:
            stat = path.stat()  # read again under the lock
        except FileNotFoundError:
            continue
        if path.name in referenced or stat.st_mtime >= cutoff:
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
        removed.append(path.name)
        size += stat.st_size
    if removed and not dry_run:
        audit.record(session, action="materials.swept", at=now, actor_id=None, object_type="material_files",
                     after={"removed": len(removed), "bytes": size, "sha256": removed[:20]})
    return removed, size


def _sweep_staging(store: BlobStore, cutoff: float, dry_run: bool) -> int:
    count = 0
    for path in store.staging():
        if _mtime(path) < cutoff:
            if not dry_run:
                path.unlink(missing_ok=True)
            count += 1
    return count


def sweep(session: Session, store: BlobStore, *, min_age_seconds: float, now: datetime,
          dry_run: bool = False) -> SweepReport:
    """Remove stored files no material refers to and stale staging files, both older than ``min_age_seconds``.

    Each batch is a use case of its own (its own transaction and audit event). With
    ``dry_run`` nothing is removed or recorded; the report says what would be.
    """
    if min_age_seconds < 0:
        raise ValueError("min_age_seconds must not be negative")
    cutoff = time.time() - min_age_seconds  # file times are wall-clock seconds, as the file system keeps them
    report = SweepReport()
    for batch in _batches(path for path in store.stored() if _mtime(path) < cutoff):
        report.checked += len(batch)
        removed, size = run_use_case(session, lambda: _sweep_batch(session, batch, cutoff, dry_run, now))
        report.removed.extend(removed)
        report.removed_bytes += size
    report.removed_staging = _sweep_staging(store, cutoff, dry_run)
    return report
