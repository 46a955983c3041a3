"""Helpers for the gate / follow-up tests: walk demo products through the gates with the services."""

from __future__ import annotations

import copy
from pathlib import Path

from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
from review.demo.seed import CHAIR
from review.services import controls, gates, reviews
from review.services.queries import show_review
from review.store.db import Database


def team_of(name: str) -> str:
    return next(p for p in PRODUCTS if p["product"]["name"] == name)["product"]["owner_team"]


def submit(db: Database, name: str) -> int:
    d = submission(copy.deepcopy(next(p for p in PRODUCTS if p["product"]["name"] == name)))
    return reviews.submit(db, d, actor=TEAM_SUBMITTERS[d["product"]["owner_team"]]).id


def evidence(db: Database, rid: int, name: str, tmp: Path, gates_: tuple[str, ...]) -> None:
    for c in show_review(db, rid).controls:
        if c.verify_gate in gates_ and c.status in ("REQUIRED", "REJECTED"):
            f = tmp / f"{rid}-{c.control_id}.md"
            f.write_text(f"evidence for {c.control_id}")
            controls.add_evidence(db, rid, c.control_id, f, actor=TEAM_SUBMITTERS[team_of(name)])


def verify(db: Database, rid: int, reviewer: str, gates_: tuple[str, ...], fail: str | None = None) -> None:
    for c in show_review(db, rid).controls:
        if c.verify_gate in gates_ and c.status == "EVIDENCE_SUBMITTED":
            controls.verify(db, rid, c.control_id, "fail" if c.control_id == fail else "pass", actor=reviewer, rationale="checked")


def approve(db: Database, rid: int, reviewer: str, second: str | None = None) -> reviews.DecisionOutcome:
    reviews.assign(db, rid, reviewer, actor=CHAIR)
    out = reviews.decide(db, rid, "approve", actor=reviewer, rationale="looks right")
    if second and not out.applied:
        out = reviews.decide(db, rid, "approve", actor=second, rationale="quorum")
    return out


def to_release_gate(db: Database, name: str, tmp: Path, *, reviewer: str = "priya.nair", verify_all: bool = True) -> int:
    """Submit ``name`` and walk it to RELEASE/SUBMITTED, every control evidenced (and verified unless told not to)."""
    rid = submit(db, name)
    team = TEAM_SUBMITTERS[team_of(name)]
    approve(db, rid, reviewer)
    reviews.advance(db, rid, actor=team)
    evidence(db, rid, name, tmp, ("DEVELOPMENT", "RELEASE"))
    if verify_all:
        verify(db, rid, reviewer, ("DEVELOPMENT", "RELEASE"))
    else:
        verify(db, rid, reviewer, ("DEVELOPMENT",))
    reviews.submit_gate(db, rid, actor=team)
    approve(db, rid, reviewer)
    reviews.advance(db, rid, actor=team)
    reviews.submit_gate(db, rid, actor=team)
    return rid


def released(db: Database, name: str, tmp: Path, *, now=None) -> int:
    """A product at MONITORING with its first follow-up scheduled (release approved by the committee)."""
    rid = to_release_gate(db, name, tmp)
    approve(db, rid, "amara.okafor", second=CHAIR)
    gates.release_step(db, rid, now=now)
    return rid


def tamper_blob(db: Database, sha: str, data: bytes | None) -> None:
    """Change (or with None remove) a stored blob behind the application's back, in whichever store holds it."""
    import os

    import sqlalchemy as sa

    from review.services import evidence_store
    from review.store.models import EvidenceChunk

    if evidence_store.kind(db) == "database":
        with db.engine.begin() as conn:
            if data is None:
                conn.execute(sa.delete(EvidenceChunk).where(EvidenceChunk.sha256 == sha))
            else:
                conn.execute(sa.update(EvidenceChunk).where(EvidenceChunk.sha256 == sha).values(data=data))
        return
    blob = db.evidence_dir / sha[:2] / sha
    os.chmod(blob, 0o600)
    if data is None:
        blob.unlink()
    else:
        blob.write_bytes(data)
