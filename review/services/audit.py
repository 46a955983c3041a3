"""The audit log: an append-only hash chain of every state change.

Each row stores (id, time, actor, action, entity, before, after, policy version) and the
hash of the row before it; its own hash covers all of that. ``verify_chain`` recomputes
the chain and names every row that was edited, deleted or moved. The head table keeps
the last id and hash, so rows deleted from the end are caught too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from review.store.db import Database, utcnow
from review.store.models import AuditHead, AuditLog

GENESIS = "0" * 64
_LOCK_KEY = 7_424_242  # pg_advisory_xact_lock key that serializes appends on PostgreSQL


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, *, id: int, at: Any, actor: str, action: str, entity: str, entity_id: str,
             before: Any, after: Any, policy_version: str | None) -> str:
    body = _canonical([id, _at(at), actor, action, entity, entity_id, before, after, policy_version])
    return hashlib.sha256((prev_hash + "|" + body).encode()).hexdigest()


def _at(at: Any) -> str:
    # Microsecond UTC text, identical after a round trip through SQLite or PostgreSQL.
    from datetime import timezone

    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    policy_version: str | None = None,
) -> AuditLog:
    """Append one row in the caller's transaction (it commits or rolls back with the change)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    head = session.get(AuditHead, 1)
    prev_id, prev_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    row = AuditLog(
        id=prev_id + 1,
        at=utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before,
        after=after,
        policy_version=policy_version,
        prev_hash=prev_hash,
        hash="",
    )
    row.hash = row_hash(prev_hash, id=row.id, at=row.at, actor=actor, action=action, entity=entity,
                        entity_id=row.entity_id, before=before, after=after, policy_version=policy_version)
    session.add(row)
    if head is None:
        session.add(AuditHead(id=1, last_id=row.id, last_hash=row.hash))
    else:
        head.last_id, head.last_hash = row.id, row.hash
        session.add(head)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainProblem:
    row_id: int | None
    kind: str  # edited | deleted | reordered | truncated
    detail: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    problems: tuple[ChainProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(db: Database, *, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; report every edited, deleted, reordered or truncated row."""
    problems: list[ChainProblem] = []
    count = 0
    prev_id, prev_hash = 0, GENESIS
    hashes_seen: dict[str, int] = {}
    with db.reading() as s:
        last = 0
        while True:
            rows = s.exec(select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id).limit(batch)).all()
            if not rows:
                break
            for r in rows:
                count += 1
                expected = row_hash(r.prev_hash, id=r.id, at=r.at, actor=r.actor, action=r.action, entity=r.entity,
                                    entity_id=r.entity_id, before=r.before, after=r.after, policy_version=r.policy_version)
                if expected != r.hash:
                    problems.append(ChainProblem(r.id, "edited", f"row {r.id} ({r.action} on {r.entity} {r.entity_id}) does not match its hash: its content was changed"))
                if r.id != prev_id + 1:
                    gap = f"{prev_id + 1}" if r.id == prev_id + 2 else f"{prev_id + 1}-{r.id - 1}"
                    problems.append(ChainProblem(prev_id + 1, "deleted", f"row(s) {gap} missing before row {r.id}: deleted"))
                elif r.prev_hash != prev_hash:
                    if r.prev_hash in hashes_seen:
                        problems.append(ChainProblem(r.id, "reordered", f"row {r.id} points back to row {hashes_seen[r.prev_hash]}, not row {prev_id}: rows were reordered or replaced"))
                    else:
                        problems.append(ChainProblem(r.id, "reordered", f"row {r.id} does not follow row {prev_id} in the chain: rows were reordered, replaced or edited"))
                hashes_seen[r.hash] = r.id
                prev_id, prev_hash = r.id, r.hash
            last = rows[-1].id
        head = s.get(AuditHead, 1)
    if head is not None:
        if head.last_id > prev_id:
            problems.append(ChainProblem(prev_id + 1, "deleted", f"row(s) {prev_id + 1}-{head.last_id} missing at the end of the log: deleted"))
        elif head.last_id == prev_id and head.last_hash != prev_hash:
            problems.append(ChainProblem(prev_id, "edited", f"last row {prev_id} does not match the recorded head hash"))
        elif head.last_id < prev_id:
            problems.append(ChainProblem(head.last_id + 1, "edited", f"rows after {head.last_id} were added outside the application"))
    elif count:
        problems.append(ChainProblem(None, "edited", "the audit head record is missing"))
    return ChainReport(count, tuple(problems))


def recent(db: Database, *, review_id: int | None = None, limit: int = 50) -> list[AuditLog]:
    """The last ``limit`` audit rows (of one review when given), oldest first."""
    with db.reading() as s:
        q = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
        if review_id is not None:
            q = q.where(AuditLog.entity == "review", AuditLog.entity_id == str(review_id))
        return list(reversed(s.exec(q).all()))


def trail(session: Session, entity: str, entity_id: Any, limit: int = 200) -> list[AuditLog]:
    return list(session.exec(
        select(AuditLog).where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id)).order_by(AuditLog.id).limit(limit)
    ).all())
