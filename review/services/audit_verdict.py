"""A content audit's verdict counts: stored once it is in, and applied to the review it was run for.

The verdict is in when every sampled item is labelled and, in double review, second-reviewed with every
disagreement settled by a third reviewer (``content_report.compute``). It is settled inside the labelling
transaction that completes it, once:

- stored on the run (``verdict``, ``verdict_at``) and on the trail (``content_audit.verdict``);
- a **fail** (pass rate under the pack's bar) rejects the pack's audit control on the review, reopens a
  released product at the gate that verifies the control, and notifies the product team and the committee
  (``audit-failed``, routed by the pack);
- a **pass** becomes the control's evidence: a verdict document (run, input hash, pack hash, sample,
  rate and interval, kappa, adjudications) in the evidence store, for the committee to verify;
- a re-audit request from a follow-up, served by this run, closes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sqlmodel import Session, col, select

from review.domain.lifecycle import Action, Gate, Status
from review.services import audit
from review.services.content_report import VerdictView, compute
from review.store.db import utcnow
from review.store.models import ControlRequirement, Evidence, Product, Review
from review.store.models_content import AuditRun, SpotCheckLabel

#: who the trail names for what the verdict does on its own (the labeller who completed it signs the verdict)
SYSTEM = "system:content-audit"


def summary(run: AuditRun, v: VerdictView) -> str:
    return (f"content audit run {run.id}: pass rate {v.rate:.1%} ({v.passes}/{v.labelled}), {v.confidence:.0%} interval "
            f"{v.lower:.1%}-{v.upper:.1%}, bar {v.threshold:.0%}")


def settle(s: Session, run: AuditRun, actor: str) -> VerdictView | None:
    """Store and apply the verdict if this transaction completed it; None while it is not in (or already was)."""
    if run.verdict is not None:
        return None
    s.flush()
    v = compute(s, run)
    if not v.complete:
        return None
    word = "pass" if v.passed else "fail"
    run.verdict, run.verdict_at = word, utcnow()
    s.add(run)
    audit.record(s, actor=actor, action="content_audit.verdict", entity="audit_run", entity_id=run.id,
                 after={"verdict": word, "rate": round(v.rate, 6), "lower": round(v.lower, 6), "upper": round(v.upper, 6),
                        "threshold": v.threshold, "items": v.items, "adjudicated": v.adjudicated, "review": run.review_id,
                        "control": run.control_id}, policy_version=f"{run.pack_id}@{run.pack_version}")
    if run.review_id is not None:
        review = s.get(Review, run.review_id)
        if review is not None:
            product = s.get(Product, review.product_id)
            assert product is not None  # the review's product (foreign key)
            _apply(s, run, v, review, product, actor)
    if run.reaudit_id is not None:
        from review.services.followups import close_reaudit

        close_reaudit(s, run.reaudit_id, actor=actor, note=f"{summary(run, v)}: {word}")
    return v


def _apply(s: Session, run: AuditRun, v: VerdictView, review: Review, product: Product, actor: str) -> None:
    req = None
    if run.control_id:
        req = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id,
                                                      ControlRequirement.control_id == run.control_id)).first()
    text = summary(run, v)
    if v.passed:
        if req is not None and req.status in ("REQUIRED", "REJECTED", "EVIDENCE_SUBMITTED"):
            _evidence(s, run, v, review, req)
        return
    fail_control(s, review, product, req, text=text, action="content_audit.control-failed", run_id=run.id,
                 dedupe_key=f"audit-failed:{run.id}", subject=f"{product.name}: content audit run {run.id} failed",
                 body=f"{text}. Labels: `ethics-review audit show {run.id} --items`; report: `ethics-review audit report {run.id}`.")


def fail_control(s: Session, review: Review, product: Product, req: ControlRequirement | None, *, text: str, action: str,
                 run_id: int | None, dedupe_key: str, subject: str, body: str, event: str = "audit-failed") -> None:
    """A run below the bar: its control rejected (unless waived), a released product reopened at the gate that verifies
    it, the audiences the pack routes ``event`` to told (``audit-failed``, or ``eval-failed`` for a model evaluation)."""
    from review.services.notifications import notify_event
    from review.services.reviews import apply_standing

    if req is not None and req.status != "WAIVED":
        before = {"control": req.control_id, "status": req.status}
        req.status, req.rationale, req.updated_by, req.updated_at = "REJECTED", f"{text}: below the bar", SYSTEM, utcnow()
        s.add(req)
        audit.record(s, actor=SYSTEM, action=action, entity="review", entity_id=review.id, before=before,
                     after={"control": req.control_id, "status": "REJECTED", "run": run_id})
    reopened = None
    if review.gate == Gate.MONITORING.value and review.status == Status.APPROVED.value:
        to = req.verify_gate if req is not None else Gate.DEVELOPMENT.value
        apply_standing(s, review, Action.REOPEN, actor=SYSTEM, to_gate=to, rationale=f"{text}: below the bar")
        reopened = to
    s.flush()
    notify_event(s, event, review=review, product=product, dedupe_key=dedupe_key,
                 subject=subject + (f" ({req.control_id} rejected)" if req is not None else "")
                 + (f"; review R-{review.id} reopened at {reopened}" if reopened else ""), body=body)


def _evidence(s: Session, run: AuditRun, v: VerdictView, review: Review, req: ControlRequirement) -> None:
    """The verdict document, attached to the control."""
    reviewers = sorted(set(s.exec(select(SpotCheckLabel.reviewer).where(SpotCheckLabel.run_id == run.id)).all()))
    doc = {"kind": "content-audit-verdict", "run": run.id, "product_id": run.product_id, "review": review.id, "control": req.control_id,
           "verdict": "pass", "source_sha256": run.settings.get("source_sha256"), "records": run.records, "bad_records": run.bad_records,
           "pack": f"{run.pack_id} {run.pack_version}", "pack_hash": run.pack_hash, "seed": run.seed, "sample": v.items,
           "passes": v.passes, "rate": round(v.rate, 6), "interval": [round(v.lower, 6), round(v.upper, 6)], "confidence": v.confidence,
           "threshold": v.threshold, "double_review": run.double_review, "kappa": v.kappa, "disagreements": v.disagreements,
           "adjudicated": v.adjudicated, "reviewers": reviewers, "at": utcnow().isoformat()}
    assert run.id is not None
    attach_document(s, review, req, doc, f"content-audit-{run.id}-verdict.json", run.id)


def attach_document(s: Session, review: Review, req: ControlRequirement, doc: dict, filename: str, run_id: int) -> None:
    """A run's result document, content-addressed in the evidence store, attached to its control for the committee to
    verify (the control goes to EVIDENCE_SUBMITTED)."""
    from review.services.controls import store_blob

    db = s.info["db"]
    fd, tmp = tempfile.mkstemp(suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        digest, size = store_blob(db, s, Path(tmp))
    finally:
        Path(tmp).unlink(missing_ok=True)
    before = {"control": req.control_id, "status": req.status}
    assert review.id is not None  # a stored review
    s.add(Evidence(review_id=review.id, control_id=req.control_id, sha256=digest, filename=filename,
                   size=size, uploaded_by=SYSTEM, uploaded_at=utcnow()))
    req.status, req.updated_by, req.updated_at = "EVIDENCE_SUBMITTED", SYSTEM, utcnow()
    s.add(req)
    audit.record(s, actor=SYSTEM, action="evidence-add", entity="review", entity_id=review.id, before=before,
                 after={"control": req.control_id, "status": req.status, "sha256": digest, "file": filename,
                        "size": size, "run": run_id})


def link(s: Session, product: Product, control: str | None) -> tuple[int | None, str | None]:
    """The review an audit of ``product`` counts for (its newest, not withdrawn) and the pack's audit control when
    the review requires it."""
    review = s.exec(select(Review).where(Review.product_id == product.id, Review.gate != Gate.WITHDRAWN.value)
                    .order_by(col(Review.id).desc())).first()
    if review is None:
        return None, None
    if control and s.exec(select(ControlRequirement.id).where(ControlRequirement.review_id == review.id,
                                                             ControlRequirement.control_id == control)).first() is not None:
        return review.id, control
    return review.id, None

