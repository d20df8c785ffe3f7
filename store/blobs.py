"""Uploaded files stored content-addressed on disk: the path is derived from the SHA-256 of the bytes
only, so a client's file name never reaches the file system and the same file is stored once."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

_SHA = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Store `data` (atomically: written to a temporary file, then renamed) and return its hash."""
        return self.put_file(io.BytesIO(data))

    def put_file(self, source: BinaryIO) -> str:
        """Store what `source` holds from its current position, copied a chunk at a time (an upload is
        never held in memory whole), atomically: written to a temporary file, hashed on the way,
        then renamed to its hash, which is returned."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as fh:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.is_file():
                Path(tmp).unlink()
                return sha
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
