"""Control use cases: attach evidence, verify (pass/fail), waive with a rationale."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from review.domain import rules
from review.domain.duties import Actor, Duty, require
from review.domain.lifecycle import Gate
from review.domain.rules import WAIVABLE, Act  # noqa: F401  (WAIVABLE re-exported)
from review.errors import Conflict, Forbidden, InvalidInput, NotFound
from review.hashing import file_sha256
from review.services import audit, evidence_store
from review.services.notifications import notify_event
from review.services.common import expect_version, get_review, load_actor, product_context, situation
from review.store.db import Database, utcnow
from review.store.models import ControlRequirement, Evidence



def _requirement(s: Session, review_id: int, control_id: str) -> ControlRequirement:
    """The requirement (the caller already holds its review's row lock in a write transaction)."""
    row = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review_id, ControlRequirement.control_id == control_id.upper())
                 .execution_options(populate_existing=True)).first()
    if row is None:
        ids = s.exec(select(ControlRequirement.control_id).where(ControlRequirement.review_id == review_id)).all()
        raise NotFound(f"control {control_id!r} is not required on review {review_id}; required: {', '.join(sorted(ids)) or 'none'}")
    return row


def _snap(c: ControlRequirement) -> dict[str, Any]:
    return {"control": c.control_id, "status": c.status, "rationale": c.rationale}


def blob_path(db: Database, sha256: str) -> Path | None:
    """A local file with the stored blob's bytes (``evidence_store.locate``: the directory store, or a private copy
    from the database store), or None when the store does not have it. Check its bytes before trusting them."""
    return evidence_store.locate(db, sha256)


def store_blob(db: Database, s: Session, path: Path) -> tuple[str, int]:
    """Check a file and put it in the deployment's evidence store (in ``s``'s transaction for the database store);
    returns (sha256, size)."""
    import stat as st_

    try:
        info = os.lstat(path)
    except OSError:
        raise InvalidInput(f"{path}: no such file (evidence must be a readable file)") from None
    if st_.S_ISLNK(info.st_mode):
        raise InvalidInput(f"{path}: is a symbolic link; attach the file itself (evidence is the file, not a pointer to one)")
    if not st_.S_ISREG(info.st_mode):
        raise InvalidInput(f"{path}: is not a regular file (a directory, device or pipe); attach a document")
    from review.limits import EVIDENCE_ENV, evidence_bytes

    size = info.st_size
    if size == 0:
        raise InvalidInput(f"{path}: is empty; evidence must show something (a document, a test report, a screenshot)")
    limit = evidence_bytes()
    if size > limit:
        raise InvalidInput(f"{path}: {size:,} bytes is over the {limit // (1024 * 1024)} MiB evidence limit; attach a summary or a link "
                           f"file, or raise {EVIDENCE_ENV}")
    digest = file_sha256(path)
    evidence_store.put(db, s, path, digest)
    return digest, size


def add_evidence(db: Database, review_id: Any, control_id: str, file: str | Path, *, actor: str, filename: str | None = None) -> Evidence:
    """Attach ``file`` as evidence for a control (its team only). ``filename``: the name to
    record when ``file`` is a server-side copy of an upload (default: the file's own name)."""
    path = Path(file)
    name = _clean_filename(filename if filename is not None else path.name)
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        who = load_actor(s, actor)
        require(who, Duty.ADD_EVIDENCE, product_context(product, review))
        if review.gate == Gate.WITHDRAWN.value:
            raise InvalidInput(f"review {review.id} is withdrawn; no more evidence is taken")
        assert review.id is not None  # a stored review
        req = _requirement(s, review.id, control_id)
        if req.status in ("VERIFIED", "WAIVED"):
            raise InvalidInput(f"control {req.control_id} on review {review.id} is already {req.status}; no new evidence needed")
        digest, size = store_blob(db, s, path)
        before = _snap(req)
        ev = Evidence(review_id=review.id, control_id=req.control_id, sha256=digest, filename=name, size=size,
                      uploaded_by=who.username, uploaded_at=utcnow())
        s.add(ev)
        req.status, req.updated_by, req.updated_at = "EVIDENCE_SUBMITTED", who.username, utcnow()
        s.add(req)
        s.flush()
        audit.record(s, actor=who.username, action="evidence-add", entity="review", entity_id=review.id, before=before,
                     after={**_snap(req), "sha256": digest, "file": name, "size": size})
        return ev


def _clean_filename(name: str) -> str:
    """A file name as recorded: no directories, no control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base or base in (".", ".."):
        raise InvalidInput(f"evidence file name {name!r}: give the file's name, e.g. raci.pdf")
    return base[:255]


def list_evidence(db: Database, review_id: Any) -> list[Evidence]:
    """Every evidence file attached to a review, oldest first."""
    with db.reading() as s:
        review, _product = get_review(s, review_id)
        return list(s.exec(select(Evidence).where(Evidence.review_id == review.id).order_by(col(Evidence.id))).all())


def evidence_file(db: Database, review_id: Any, evidence_id: Any, *, actor: str) -> tuple[Evidence, Path]:
    """An evidence row and its blob in the store (checked against its sha256 name); the read is logged
    (evidence may hold personal data)."""
    from review.services.common import parse_id

    eid = parse_id(evidence_id, "evidence id")
    with db.reading() as s:
        review, _product = get_review(s, review_id)
        ev = s.get(Evidence, eid)
        if ev is None or ev.review_id != review.id:
            raise NotFound(f"evidence {eid} is not attached to review {review.id}; `ethics-review evidence list {review.id}` shows it")
    path = blob_path(db, ev.sha256)
    if path is None:
        raise NotFound(f"{_what(ev)}: its file {ev.sha256[:16]}... is missing from the evidence store; nothing was sent. "
                       f"`ethics-review evidence verify` checks the whole store")
    if file_sha256(path) != ev.sha256:
        raise Conflict(f"{_what(ev)}: {_CHANGED.format(sha=ev.sha256[:16])}; nothing was sent. "
                       f"`ethics-review evidence verify` checks the whole store")
    with db.reading() as s:
        load_actor(s, actor)
    audit.personal_read(db, actor=actor, what="evidence", entity="review", entity_id=ev.review_id,
                        detail={"evidence": ev.id, "control": ev.control_id, "file": ev.filename, "sha256": ev.sha256})
    return ev, path


_CHANGED = "the stored file no longer matches its SHA-256 {sha}... (changed or corrupted after upload)"


def _what(ev: Evidence) -> str:
    return f"evidence {ev.id} ({ev.filename}, review {ev.review_id}, control {ev.control_id})"


def blob_problem(db: Database, ev: Evidence) -> str | None:
    """What is wrong with an evidence row's stored bytes (missing, or no longer hashing to its SHA-256), or None;
    read straight from the store (the directory, or the database's chunks)."""
    found = evidence_store.stored_sha256(db, ev.sha256)
    if found is None:
        return f"{_what(ev)}: its file {ev.sha256[:16]}... is missing from the evidence store"
    if found != ev.sha256:
        return f"{_what(ev)}: {_CHANGED.format(sha=ev.sha256[:16])}"
    return None


@dataclass(frozen=True)
class EvidenceCheck:
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_evidence(db: Database, review_id: Any = None) -> EvidenceCheck:
    """Every evidence file (of one review, or all) is in the store and still hashes to what was recorded at upload."""
    with db.reading() as s:
        q = select(Evidence).order_by(col(Evidence.id))
        if review_id is not None:
            review, _product = get_review(s, review_id)
            q = q.where(Evidence.review_id == review.id)
        rows = list(s.exec(q).all())
    problems = [p for p in (blob_problem(db, ev) for ev in rows) if p is not None]
    return EvidenceCheck(len(rows), problems)


def verify(db: Database, review_id: Any, control_id: str, verdict: str, *, actor: str, rationale: str = "",
           expected_version: int | None = None) -> ControlRequirement:
    """A verdict on a control's evidence; ``expected_version``: the review version the person saw (Conflict if it moved)."""
    v = verdict.strip().lower()
    if v not in ("pass", "fail"):
        raise InvalidInput(f"verdict {verdict!r} is not 'pass' or 'fail'")
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        assert review.id is not None  # a stored review
        req = _requirement(s, review.id, control_id)
        _judge_control(s, who, Act.VERIFY, review, product, req)
        if v == "fail" and len(rationale.strip()) < 3:
            raise InvalidInput("--rationale: a failed verification needs a rationale the product team can act on")
        before = _snap(req)
        req.status = "VERIFIED" if v == "pass" else "REJECTED"
        req.rationale = rationale.strip() or None
        req.updated_by, req.updated_at = who.username, utcnow()
        s.add(req)
        s.flush()
        audit.record(s, actor=who.username, action=f"verify:{v}", entity="review", entity_id=review.id, before=before, after=_snap(req))
        if v == "fail":
            notify_event(s, "control-rejected", review=review, product=product, body=req.rationale or "",
                         subject=f"{product.name}: control {req.control_id} rejected by {who.username}; add new evidence")
        return req


def _judge_control(s: Session, who: Actor, act: Act, review: Any, product: Any, req: ControlRequirement) -> None:
    """The rule book for one control: the person's refusals (as for the whole review), then this control's own."""
    sit = situation(s, review, product)
    verdict = rules.judge(who, act, sit)
    refusals = [r for r in verdict.refusals if r.error is Forbidden]  # "no control waiting" is about the others
    own = rules.control_refusal(act, rules.Control(req.control_id, req.verify_gate, req.status, req.updated_by, req.updated_at))
    if own is not None:
        refusals.append(own)
    rules.Verdict(act, refusals).raise_if_refused(review.id)


def waive(db: Database, review_id: Any, control_id: str, *, actor: str, rationale: str) -> ControlRequirement:
    if len((rationale or "").strip()) < 10:
        raise InvalidInput("--rationale: a waiver needs a rationale of at least a sentence (why the control does not apply or what replaces it)")
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        who = load_actor(s, actor)
        assert review.id is not None  # a stored review
        req = _requirement(s, review.id, control_id)
        _judge_control(s, who, Act.WAIVE, review, product, req)
        before = _snap(req)
        req.status, req.rationale, req.updated_by, req.updated_at = "WAIVED", rationale.strip(), who.username, utcnow()
        s.add(req)
        s.flush()
        audit.record(s, actor=who.username, action="waive", entity="review", entity_id=review.id, before=before, after=_snap(req))
        return req
