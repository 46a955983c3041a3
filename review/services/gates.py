"""The automatic step of each gate, idempotent, one transaction each (the gate flows and ``review.client.steps`` call these).

* ``initiation_step``: make sure the review is graded (assessment) and its control
  requirements exist, put it in the committee queue (priority from the grade, due date
  from the pack's SLA), notify the committee.
* ``development_step``: the re-verification gate: every control required at initiation,
  met / missing / rejected / waived, the residual grade (credit for VERIFIED controls
  only), stored as a ``gate_report`` row per review, gate and round.
* ``release_step``: once the committee's approval is recorded (quorum is enforced by
  ``reviews.decide``), release the product (RELEASE -> MONITORING; refused while a
  control is unmet) and schedule its first follow-up by the pack's cadence. Without the
  approval it records what is missing and changes nothing else.

A step that runs twice writes nothing twice: reports are upserted by (review, gate,
round), notifications carry dedupe keys, a follow-up is scheduled only when none is active.
Errors: ``NotFound`` for an unknown review; ``IllegalTransition`` when the review is not
at the step's gate; ``GateBlocked`` when an approved release still has unmet controls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from policies.loader import load_pack
from review.domain import grading
from review.domain.grades import Grade
from review.domain.lifecycle import Action, Gate, Status
from review.domain.product import ProductProfile
from review.errors import GateBlocked, IllegalTransition, NotFound
from review.domain import rules
from review.services import audit
from review.services.common import case_state, get_review, initiation_assessment, residual_for, review_snapshot, save_review
from review.services.followups import active_check, schedule_next
from review.services.notifications import notify
from review.services.reviews import round_approvals, unmet_controls
from review.services.submissions import add_missing_controls
from review.store.db import Database, utcnow
from review.store.models import Assessment, ControlRequirement, Review
from review.store.models_followup import GateReport

SYSTEM = "system:gates"
#: How each control status reads in a gate report.
VERDICT = {"VERIFIED": "met", "WAIVED": "waived", "REJECTED": "rejected", "REQUIRED": "missing", "EVIDENCE_SUBMITTED": "missing"}


@dataclass(frozen=True)
class StepResult:
    review_id: int
    gate: str
    outcome: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def named(pack: Any, grade: str) -> str:
    """The grade as ``pack`` names it, the stored grade beside a label of the pack's own: "Level IV (very high impact)
    (UNACCEPTABLE)"; "HIGH" under the default pack."""
    label = pack.label(grade)
    return grade if label == grade else f"{label} ({grade})"


def _expect_gate(review: Review, *gates: Gate) -> None:
    if review.gate not in {g.value for g in gates}:
        raise IllegalTransition(f"review {review.id} is at {review.gate}/{review.status}, not at {' or '.join(g.value for g in gates)}")


# ---- initiation --------------------------------------------------------------------------------
def initiation_step(db: Database, review_id: Any, *, now: datetime | None = None) -> StepResult:
    """Ensure grade + controls exist, queue the review for the committee with priority and SLA due date, notify."""
    now = now or utcnow()
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        _expect_gate(review, Gate.INITIATION)
        assert review.id is not None  # a stored review
        a = initiation_assessment(s, review.id)
        if a is None:
            raise NotFound(f"review {review.id} has no initiation assessment; the product team submits it with `ethics-review submit PRODUCT.yaml`")
        loaded = load_pack(a.pack_id)
        g = Grade(review.grade or a.grade)
        added = _ensure_controls(s, review, loaded.pack, ProductProfile.model_validate(product.profile), a)
        changes: dict[str, Any] = {}
        if review.priority != g.rank:
            changes["priority"] = g.rank
        if review.due_at is None:
            changes["due_at"] = (review.updated_at or now) + timedelta(days=grading.sla_days(loaded.pack, g))
        if changes:
            save_review(s, review, review.version, **changes)
        due = review.due_at
        assert due is not None  # set above when it was missing
        notify(s, kind="review-queued", recipient="committee", review_id=review.id, now=now,
               dedupe_key=f"queued:{review.id}:{review.gate}:{review.round}",
               subject=f"{product.name} ({named(loaded.pack, g.value)}) is in the committee queue: initiation review {review.id}, due {due:%Y-%m-%d}",
               body=f"priority {g.rank}; controls required: {_count_controls(s, review.id)}")
        if added or changes:
            audit.record(s, actor=SYSTEM, action="queue", entity="review", entity_id=review.id, before=None,
                         after={**review_snapshot(review), "controls_added": added})
        return StepResult(review.id, Gate.INITIATION.value, "queued",
                          f"review {review.id} queued for the committee: grade {named(loaded.pack, g.value)}, priority {g.rank}, "
                          f"due {due:%Y-%m-%d}",
                          {"grade": g.value, "grade_label": loaded.pack.label(g), "priority": g.rank, "due_at": due.isoformat(), "controls_added": added})


def _count_controls(s: Session, review_id: int) -> int:
    return s.exec(select(sa.func.count()).select_from(ControlRequirement).where(ControlRequirement.review_id == review_id)).one()


def _ensure_controls(s: Session, review: Review, pack: Any, profile: ProductProfile, a: Assessment) -> list[str]:
    """Add the control requirements the stored assessment calls for and the review lacks (none after a normal submit)."""
    result = grading.grade(pack, profile, a.answers)
    return add_missing_controls(s, review, grading.required_controls(pack, profile, a.answers, result), SYSTEM)


# ---- development: re-verification ----------------------------------------------------------------
def build_report(s: Session, review: Review, product: Any) -> tuple[dict[str, Any], str | None]:
    """Per control required at initiation: met / missing / rejected / waived; and the residual grade."""
    rows = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id).order_by(ControlRequirement.control_id)).all()
    controls = [{"control": c.control_id, "title": c.title, "verify_gate": c.verify_gate, "status": c.status,
                 "verdict": VERDICT.get(c.status, "missing"), "note": c.rationale} for c in rows]
    gates = ("DEVELOPMENT",) if review.gate == Gate.DEVELOPMENT.value else ("DEVELOPMENT", "RELEASE")
    blocking = [c["control"] for c in controls if c["verify_gate"] in gates and c["verdict"] in ("missing", "rejected")]
    res = residual_for(s, review, product)
    initial = res.initial if res else None
    residual = res.result.grade.value if res else None
    summary = {v: sum(1 for c in controls if c["verdict"] == v) for v in ("met", "missing", "rejected", "waived")}
    return {"controls": controls, "summary": summary, "blocking": blocking, "checked_gates": list(gates),
            "initial_grade": initial.grade if initial else None, "grade": review.grade}, residual


def _save_report(s: Session, review: Review, report: dict[str, Any], residual: str | None, passed: bool, now: datetime) -> GateReport:
    row = s.exec(select(GateReport).where(GateReport.review_id == review.id, GateReport.gate == review.gate,
                                          GateReport.round == review.round)).first()
    if row is None:
        assert review.id is not None  # a stored review
        row = GateReport(review_id=review.id, gate=review.gate, round=review.round, passed=passed, residual_grade=residual,
                         report=report, created_at=now, updated_at=now)
    else:
        row.passed, row.residual_grade, row.report, row.updated_at = passed, residual, report, now
    s.add(row)
    s.flush()
    return row


def development_step(db: Database, review_id: Any, *, now: datetime | None = None) -> StepResult:
    """Re-verify the controls against initiation's requirements, compute the residual grade, store the gate report."""
    now = now or utcnow()
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        _expect_gate(review, Gate.DEVELOPMENT, Gate.RELEASE)
        assert review.id is not None  # a stored review
        report, residual = build_report(s, review, product)
        residual_name = named(load_pack(review.policy_id).pack, residual) if residual else residual
        passed = not report["blocking"]
        prior = s.exec(select(GateReport).where(GateReport.review_id == review.id, GateReport.gate == review.gate,
                                                GateReport.round == review.round)).first()
        changed = prior is None or prior.report != report or prior.residual_grade != residual
        row = _save_report(s, review, report, residual, passed, now)
        if changed:
            audit.record(s, actor=SYSTEM, action="gate-report", entity="review", entity_id=review.id, before=None,
                         after={"gate": review.gate, "round": review.round, "passed": passed, "residual_grade": residual,
                                "summary": report["summary"], "blocking": report["blocking"]})
        if passed and review.status in (Status.SUBMITTED.value, Status.IN_REVIEW.value):
            notify(s, kind="controls-verified", recipient="committee", review_id=review.id, now=now,
                   dedupe_key=f"verified:{review.id}:{review.gate}:{review.round}",
                   subject=f"{product.name}: every control required at initiation is verified or waived; residual grade {residual_name}",
                   body=f"review {review.id} at {review.gate} is ready for a decision")
        msg = (f"review {review.id} {review.gate} re-verification: " + ", ".join(f"{v} {n}" for v, n in report["summary"].items())
               + f"; residual grade {residual_name}" + ("" if passed else f"; unmet: {', '.join(report['blocking'])}"))
        return StepResult(review.id, review.gate, "passed" if passed else "gaps", msg,
                          {"report_id": row.id, "residual_grade": residual, **report["summary"], "blocking": report["blocking"]})


# ---- release ------------------------------------------------------------------------------------
def release_step(db: Database, review_id: Any, *, now: datetime | None = None) -> StepResult:
    """Release an approved product (RELEASE/APPROVED -> MONITORING) and schedule its first follow-up.

    Idempotent: a review already at MONITORING only gets its follow-up scheduled if none is
    active. Not approved yet (or short of the quorum): records what is missing, outcome
    ``waiting``. Approved but with unmet controls: ``GateBlocked`` listing them.
    """
    now = now or utcnow()
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        _expect_gate(review, Gate.RELEASE, Gate.MONITORING)
        assert review.id is not None  # a stored review
        released_now = False
        if review.gate == Gate.RELEASE.value:
            state = case_state(review)
            report, residual = build_report(s, review, product)
            if state.status is not Status.APPROVED:
                missing = _missing_approvals(s, review) if state.status is Status.IN_REVIEW else [f"the review is {state.status.value}"]
                missing += [f"unmet controls: {', '.join(report['blocking'])}"] if report["blocking"] else []
                _save_report(s, review, {**report, "waiting_for": missing}, residual, False, now)
                return StepResult(review.id, review.gate, "waiting",
                                  f"review {review.id} is not released: still needs {'; '.join(missing)}", {"missing": missing})
            gaps = unmet_controls(s, review.id, gates=("DEVELOPMENT", "RELEASE"))
            if gaps:
                raise GateBlocked(f"review {review.id}: cannot release while required controls are unmet: {rules.list_gaps(gaps)}")
            _save_report(s, review, report, residual, True, now)
            new = state.apply(Action.ADVANCE)
            before = review_snapshot(review)
            save_review(s, review, review.version, gate=new.gate.value, status=new.status.value, assignee=None)
            audit.record(s, actor=SYSTEM, action="release", entity="review", entity_id=review.id, before=before,
                         after={**review_snapshot(review), "residual_grade": residual})
            released_now = True
        check = active_check(s, review.id)
        if check is None:
            check = schedule_next(s, review, now=now)
            audit.record(s, actor=SYSTEM, action="followup-schedule", entity="review", entity_id=review.id, before=None,
                         after={"check": check.id, "sequence": check.sequence, "due_at": check.due_at.isoformat()})
        notify(s, kind="released", recipient=f"team:{product.owner_team}", review_id=review.id, now=now,
               dedupe_key=f"released:{review.id}:{review.round}",
               subject=f"{product.name} is released and monitored; first follow-up due {check.due_at:%Y-%m-%d}")
        return StepResult(review.id, Gate.MONITORING.value, "released" if released_now else "monitoring",
                          f"review {review.id} {'released' if released_now else 'is monitored'}; follow-up check {check.id} due {check.due_at:%Y-%m-%d}",
                          {"check_id": check.id, "followup_due": check.due_at.isoformat()})


def _missing_approvals(s: Session, review: Review) -> list[str]:
    q = grading.quorum_progress(load_pack(review.policy_id).pack, review.gate, Grade(review.grade or "LOW"), round_approvals(s, review))
    return q.missing() or ["the committee's decision"]


def gate_reports(db: Database, review_id: Any) -> list[dict[str, Any]]:
    """The stored gate reports of a review, oldest first."""
    with db.reading() as s:
        review, _ = get_review(s, review_id)
        rows = s.exec(select(GateReport).where(GateReport.review_id == review.id).order_by(col(GateReport.id))).all()
        return [r.model_dump(mode="json") for r in rows]
