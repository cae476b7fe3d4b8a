"""Content-addressed file store for uploaded materials.

A file lives at ``<instance>/materials/<first two hex digits>/<sha256>``: the path
comes only from the content's hash, never from anything the client sent, and the
same content is stored once however many cases upload it. Writes go to a temporary
file in the store and are put in place with a hard link (``os.link``, or a copy
moved in with ``os.replace`` where the file system has no links), so a reader
never sees half a file.

An upload is staged first (written and synced under a temporary name, outside any
transaction) and kept by the use case that records it: the slow part, the sync,
never runs while the use case holds the database's write lock.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import NotFound

_CHUNK = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STAGING = ".upload-"  # the name prefix of a file being staged


class BlobStore:
    def __init__(self, instance_dir: str | os.PathLike):
        self.root = Path(instance_dir) / "materials"

    def path_of(self, sha256: str) -> Path:
        if not _HEX64.fullmatch(sha256 or ""):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def put(self, content: bytes | BinaryIO) -> tuple[str, int]:
        """Store bytes or a binary stream; returns (sha256, size)."""
        with self.staged(content) as blob:
            blob.keep()
            return blob.sha256, blob.size

    @contextmanager
    def staged(self, content: bytes | BinaryIO) -> Iterator["StagedBlob"]:
        """The content written and synced under a temporary name; gone on exit unless kept."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_STAGING, dir=self.root)  # mkstemp creates it 0600
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(content):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            yield StagedBlob(sha, size, Path(tmp), self.path_of(sha))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def stored(self) -> Iterator[Path]:
        """Every stored file, each at its content's place (``<two hex digits>/<sha256>``)."""
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            if folder.is_dir():
                yield from (path for path in sorted(folder.iterdir())
                            if _HEX64.fullmatch(path.name) and path.name[:2] == folder.name)

    def staging(self) -> list[Path]:
        """The files being staged now, or left by uploads that never finished."""
        return sorted(self.root.glob(_STAGING + "*")) if self.root.is_dir() else []

    def open(self, sha256: str) -> BinaryIO:
        """The stored file, opened for reading (the caller closes it)."""
        try:
            return self.path_of(sha256).open("rb")
        except (FileNotFoundError, ValueError):
            raise NotFound("材料文件不存在或已丢失") from None


class StagedBlob:
    """A staged file: its hash and size are known, and ``keep`` moves it into the store."""

    def __init__(self, sha256: str, size: int, tmp: Path, target: Path) -> None:
        self.sha256, self.size, self._tmp, self._target = sha256, size, tmp, target

    def keep(self) -> None:
        """Into the store, atomically. The staged file stays until ``staged`` ends, so a use case
        run again after a rollback (and a sweep of the then unreferenced file) keeps it again."""
        if self._target.is_file():
            return  # identical content is already stored
        self._target.parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self._tmp, 0o600)
        try:
            os.link(self._tmp, self._target)  # same file system: atomic, and the staged name stays
        except FileExistsError:
            pass  # another upload stored the same content meanwhile
        except OSError:  # a file system without hard links: a copy of our own, moved into place
            fd, copy = tempfile.mkstemp(prefix=_STAGING, dir=self._tmp.parent)  # created 0600
            os.close(fd)
            shutil.copyfile(self._tmp, copy)
            os.replace(copy, self._target)


def _chunks(content: bytes | BinaryIO):
    if isinstance(content, (bytes, bytearray, memoryview)):
        yield bytes(content)
        return
    while True:
        chunk = content.read(_CHUNK)
        if not chunk:
            return
        yield chunk
