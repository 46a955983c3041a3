"""Where evidence files live: a directory, or the database itself.

The store follows the deployment, not the person uploading. ``ETHICS_REVIEW_EVIDENCE_STORE`` chooses:

- ``database``: the blobs are in the application database (table ``evidence_chunk``, 1 MiB chunks, written in
  the use case's own transaction), so everyone working against one PostgreSQL sees the same files, whichever
  machine they upload from. The default on PostgreSQL unless ``ETHICS_REVIEW_EVIDENCE_DIR`` names a directory.
- ``dir``: a content-addressed directory (``ETHICS_REVIEW_EVIDENCE_DIR``, default ``$ETHICS_REVIEW_HOME/evidence``,
  owner-only). The default on SQLite, where the database is a file on one machine anyway.

Reading looks in the directory first (files stored before a switch stay readable), then the database. A
blob from the database is written to a private cache file to be sent or copied; every read is checked
against the SHA-256 the evidence row recorded, so neither a changed chunk nor a changed cache file is ever
handed out as evidence. Blobs are immutable and named by their hash: they are not imaged on the audit
trail (the evidence row, with its hash, is).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlmodel import Session, col

from review.store.db import Database
from review.store.models import EvidenceChunk

STORE_ENV = "ETHICS_REVIEW_EVIDENCE_STORE"
CHUNK = 1024 * 1024
STORES = ("dir", "database")


def kind(db: Database) -> str:
    """``dir`` or ``database`` for this deployment (see the module)."""
    chosen = (os.environ.get(STORE_ENV) or "").strip().lower()
    if chosen:
        if chosen not in STORES:
            from review.errors import InvalidInput

            raise InvalidInput(f"{STORE_ENV}={chosen!r}: use 'database' (blobs in the database) or 'dir' (a directory)")
        return chosen
    if db.is_sqlite or os.environ.get("ETHICS_REVIEW_EVIDENCE_DIR"):
        return "dir"
    return "database"


def dir_path(db: Database, sha256: str) -> Path:
    """Where the directory store keeps the blob with this SHA-256."""
    return db.evidence_dir / sha256[:2] / sha256


def put(db: Database, s: Session, path: Path, digest: str) -> None:
    """Store the (checked) file ``path`` whose SHA-256 is ``digest``, in ``s``'s transaction for the database store."""
    if kind(db) == "database":
        if s.execute(sa.select(col(EvidenceChunk.seq)).where(col(EvidenceChunk.sha256) == digest).limit(1)).first() is not None:
            return
        with path.open("rb") as f:
            seq = 0
            while block := f.read(CHUNK):
                s.execute(sa.insert(EvidenceChunk), {"sha256": digest, "seq": seq, "data": block})
                seq += 1
        return
    dest = dir_path(db, digest)
    if not dest.exists():
        for d in (db.evidence_dir, dest.parent):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)  # evidence may hold personal data: owner only
        fd, tmp = tempfile.mkstemp(dir=dest.parent)
        os.close(fd)
        import shutil

        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)  # atomic: a blob is either whole or absent


def _chunks(db: Database, digest: str) -> Iterator[bytes]:
    with db.reading() as s:
        for (data,) in s.execute(sa.select(col(EvidenceChunk.data)).where(col(EvidenceChunk.sha256) == digest).order_by(col(EvidenceChunk.seq))):
            yield bytes(data)


def in_database(db: Database, digest: str) -> bool:
    with db.reading() as s:
        return s.execute(sa.select(col(EvidenceChunk.seq)).where(col(EvidenceChunk.sha256) == digest).limit(1)).first() is not None


def locate(db: Database, digest: str) -> Path | None:
    """A local file with the blob's bytes (the directory store's, or a fresh private copy from the database), or
    None when neither has it. Callers check the bytes against ``digest``."""
    local = dir_path(db, digest)
    if local.is_file():
        return local
    if not in_database(db, digest):
        return None
    cache = db.data_dir / "evidence-cache" / digest[:2]
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache)
    with os.fdopen(fd, "wb") as f:
        for block in _chunks(db, digest):
            f.write(block)
    dest = cache / digest
    os.replace(tmp, dest)
    return dest


def stored_sha256(db: Database, digest: str) -> str | None:
    """The SHA-256 of the stored bytes (None: missing), read straight from the store (no cache)."""
    local = dir_path(db, digest)
    if local.is_file():
        from review.hashing import file_sha256

        return file_sha256(local)
    h = hashlib.sha256()
    seen = False
    for block in _chunks(db, digest):
        seen = True
        h.update(block)
    return h.hexdigest() if seen else None
