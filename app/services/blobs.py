"""Content-addressed file store for uploaded materials.

A file lives at ``<instance>/materials/<first two hex digits>/<sha256>``: the path
comes only from the content's hash, never from anything the client sent, and the
same content is stored once however many cases upload it. Writes go to a temporary
file in the target directory and are moved into place with ``os.replace``, so a
reader never sees half a file.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from ..errors import NotFound

_CHUNK = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")


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
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.root)  # mkstemp creates it 0600
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
            target = self.path_of(sha)
            if target.is_file():
                os.unlink(tmp)  # identical content is already stored
                return sha, size
            target.parent.mkdir(mode=0o700, exist_ok=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)  # same file system: atomic
            return sha, size
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def open(self, sha256: str) -> BinaryIO:
        """The stored file, opened for reading (the caller closes it)."""
        try:
            return self.path_of(sha256).open("rb")
        except (FileNotFoundError, ValueError):
            raise NotFound("材料文件不存在或已丢失") from None


def _chunks(content: bytes | BinaryIO):
    if isinstance(content, (bytes, bytearray, memoryview)):
        yield bytes(content)
        return
    while True:
        chunk = content.read(_CHUNK)
        if not chunk:
            return
        yield chunk
