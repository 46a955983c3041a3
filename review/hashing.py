"""SHA-256 of a file, read in 1 MiB blocks (evidence blobs, audited inputs, downloads)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO


def file_sha256(path: str | Path) -> str:
    return stream_sha256(Path(path).open("rb"))


def stream_sha256(f: IO[bytes]) -> str:
    """SHA-256 of what ``f`` holds from where it stands (closed afterwards)."""
    h = hashlib.sha256()
    with f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
