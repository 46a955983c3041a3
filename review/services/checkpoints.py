"""Signed checkpoints of the audit chain's head, and the export an auditor verifies offline.

A checkpoint is a small JSON document (row id, row hash, row count, time, public key, key id)
signed with the server's Ed25519 key. Kept anywhere outside the database, it proves that the
log up to its row is unchanged: every earlier row is bound into that row's hash, and nobody
can sign a different head without the key. ``audit-log export`` writes the log as JSON Lines
with every checkpoint taken; ``verify_export`` checks such a file with only the public key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Iterable

import sqlalchemy as sa
from sqlmodel import col

from review.errors import InvalidInput, NotFound
from review.services import signing
from review.services.audit import ChainProblem, ChainReport, ChainWalk, canonical, walk_columns
from review.store.db import Database, at_text, utcnow
from review.store.models import AuditCheckpoint, AuditHead, AuditLog

KIND = "ethics-review-audit-checkpoint"
EXPORT_FORMAT = "ethics-review-audit-export/1"


@dataclass(frozen=True)
class Head:
    head_id: int
    head_hash: str
    rows: int
    at: str


def _payload(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return canonical(body).encode()


def create(db: Database, *, if_changed: bool = False) -> dict[str, Any]:
    """Sign the chain's current head; store the document in the database and return it (to keep elsewhere).
    ``if_changed`` (the hourly flow): when the head is the one the last checkpoint signed, return that
    document instead of storing another row saying the same."""
    key = signing.load_key(db.data_dir)
    assert key is not None
    with db.transaction() as s:
        head = s.get(AuditHead, 1)
        if head is None:
            raise NotFound("the audit log is empty: nothing to checkpoint yet")
        if if_changed:
            last = s.execute(sa.select(col(AuditCheckpoint.head_id), col(AuditCheckpoint.document)).order_by(col(AuditCheckpoint.id).desc()).limit(1)).first()
            if last is not None and last.head_id == head.last_id:
                return {**json.loads(last.document), "unchanged": True}
        rows = head.last_id  # ids run 1..head in an intact chain (verify checks exactly that)
        now = utcnow()
        doc = {"kind": KIND, "version": 1, "head_id": head.last_id, "head_hash": head.last_hash, "rows": int(rows), "at": at_text(now),
               "key_id": key.key_id, "public_key": key.public_b64}
        doc["signature"] = key.sign(_payload(doc))
        s.add(AuditCheckpoint(head_id=head.last_id, head_hash=head.last_hash, at=now, key_id=key.key_id, document=canonical(doc)))
    return doc


def check_signature(doc: Any, public_key: Any, *, where: str) -> Head:
    """The head a checkpoint document signs, after checking its signature (``InvalidInput`` naming ``where``)."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND or "signature" not in doc:
        raise InvalidInput(f"{where}: not an audit checkpoint written by `ethics-review audit-log checkpoint`")
    if public_key is None:
        raise InvalidInput(f"{where}: no public key to check it with; pass --public-key (the server's audit-signing.pub)")
    if signing.key_id(public_key) != doc.get("key_id"):
        raise InvalidInput(f"{where}: signed by key {doc.get('key_id')}, not by the key given ({signing.key_id(public_key)})")
    if not signing.verify_signature(public_key, _payload(doc), str(doc["signature"])):
        raise InvalidInput(f"{where}: the signature does not verify: the document was altered or signed by another key")
    try:
        return Head(int(doc["head_id"]), str(doc["head_hash"]), int(doc["rows"]), str(doc["at"]))
    except (KeyError, ValueError, TypeError):
        raise InvalidInput(f"{where}: head_id, head_hash, rows and at are required") from None


def read_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{path}: no such checkpoint file")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not a JSON checkpoint ({exc})") from None


def stored(db: Database) -> list[dict[str, Any]]:
    """Every checkpoint taken on this database, oldest first."""
    with db.reading() as s:
        return [json.loads(d) for d in s.execute(sa.select(col(AuditCheckpoint.document)).order_by(col(AuditCheckpoint.id))).scalars()]


# ---- export --------------------------------------------------------------------------------------
def may_export(db: Database, actor: str) -> None:
    """The chair or an admin exports the log (it holds personal data); anyone else is refused (``Forbidden``)."""
    from review.domain.duties import Duty
    from review.services.users import require_duty

    require_duty(db, actor, Duty.EXPORT_LOG)


def export(db: Database, out: IO[str], *, actor: str) -> int:
    """The whole log as JSON Lines (a header, every row as stored, every checkpoint); returns the row count."""
    may_export(db, actor)
    key = signing.load_key(db.data_dir, create=False)
    header = {"format": EXPORT_FORMAT, "exported_at": at_text(utcnow()),
              "public_key": key.public_b64 if key else None, "key_id": key.key_id if key else None}
    out.write(canonical(header) + "\n")
    n = 0
    with db.read_engine.connect() as conn:
        conn = conn.execution_options(stream_results=True, yield_per=10_000)
        for r in conn.execute(sa.select(*walk_columns()).order_by(col(AuditLog.id))):
            row = dict(r._mapping)
            row["at"] = at_text(row["at"])
            out.write(canonical({"row": row}) + "\n")  # JSON columns as their stored text: hashed as they are
            n += 1
    for doc in stored(db):
        out.write(canonical({"checkpoint": doc}) + "\n")
    return n


def verify_export(path: str | Path, *, public_key: Any = None, extra_checkpoints: Iterable[dict] = ()) -> tuple[ChainReport, list[str]]:
    """Check an export with no database: the chain, and every checkpoint against ``public_key``
    (default: the key named in the file, which only proves the file is self-consistent)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{path}: no such export file")
    notes: list[str] = []
    w = ChainWalk()
    rows: list[tuple] = []
    docs: list[dict[str, Any]] = list(extra_checkpoints)
    header: dict[str, Any] | None = None
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                item = json.loads(line)
            except ValueError:
                raise InvalidInput(f"{path}:{lineno}: not JSON; an export holds one JSON object per line") from None
            if lineno == 1:
                if item.get("format") != EXPORT_FORMAT:
                    raise InvalidInput(f"{path}:1: not an audit export (format {item.get('format')!r}, expected {EXPORT_FORMAT})")
                header = item
            elif "row" in item:
                r = item["row"]
                rows.append((r["id"], datetime.fromisoformat(r["at"].replace("Z", "+00:00")), r["actor"], r["action"], r["entity"],
                             r["entity_id"], r["before"], r["after"], r["policy_version"], r["prev_hash"], r["hash"], r["fmt"],
                             r["state"], r["state_keys"], r["mac"]))
            elif "checkpoint" in item:
                docs.append(item["checkpoint"])
    if header is None:
        raise InvalidInput(f"{path}: empty; an export starts with its header line (`ethics-review audit-log export`)")
    if public_key is None:
        if not header.get("public_key"):
            raise InvalidInput(f"{path}: the export names no public key; pass --public-key")
        public_key = signing.read_public_key(header["public_key"], where=f"{path}: public_key")
        notes.append("checked with the public key written in the export itself: pass --public-key with the key you hold "
                     "to prove who signed it")
    for n, doc in enumerate(docs, 1):
        head = check_signature(doc, public_key, where=f"checkpoint {n}")
        w.checkpoints.setdefault(head.head_id, []).append((n, head.head_hash))
    for r in rows:
        w.row(*r)
    w.end()
    covered = max(w.checkpoints) if w.checkpoints else 0
    if not docs:
        w.problems.append(ChainProblem(None, "checkpoint", "the export holds no checkpoint: nothing in it is proven against the key"))
    elif covered < w.prev_id:
        notes.append(f"rows {covered + 1}-{w.prev_id} come after the last checkpoint: they are chained, not yet signed")
    return ChainReport(w.count, tuple(w.problems), 0, False, tuple(w.proven)), notes
