"""Review use cases: assign, decide, advance, suspend/resume/withdraw, override grade, residual.

Submission lives in ``review.services.submissions`` (re-exported here: ``reviews.submit``).

Each public function is one use case and one transaction: it validates everything first,
asks the domain (state machine, grading, duties) and writes the change, its decision and
its audit rows together, or raises a ``ReviewError`` and leaves the database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from policies.loader import load_pack
from review.domain import grading
from review.domain.duties import Duty, Role, require
from review.domain.grades import Grade
from review.domain.lifecycle import Action, CaseState, Gate, Status
from review.errors import Conflict, Forbidden, InvalidInput, NotFound
from review.services import audit
from review.domain import rules
from review.domain.product import ProductProfile
from review.domain.rules import MET, Act, advance_gates  # noqa: F401  (MET, advance_gates re-exported)
from review.services.common import (  # noqa: F401  (round_approvals re-exported)
    expect_version,
    get_review,
    initiation_assessment,
    judge,
    lifecycle_state,
    load_actor,
    product_context,
    residual_for,
    review_snapshot,
    round_approvals,
    save_review,
)
from review.services.notifications import notify, notify_event
from review.services.submissions import Submission, prepare_submission, submit, sync_controls  # noqa: F401  (re-exported)
from review.services.tables import table_of
from review.store.db import Database, utcnow
from review.store.models import (
    Assessment,
    ControlRequirement,
    Decision,
    Product,
    Review,
)

# ---- committee actions -----------------------------------------------------------------------
def assign(db: Database, review_id: Any, assignee: str, *, actor: str, expected_version: int | None = None) -> Review:
    """Assign a reviewer; a SUBMITTED review moves to IN_REVIEW."""
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        target = load_actor(s, assignee)
        state = judge(s, who, Act.ASSIGN, review, product, target=target).state
        before = review_snapshot(review)
        changes: dict[str, Any] = {"assignee": target.username}
        if state.status is Status.SUBMITTED:
            new = state.apply(Action.START_REVIEW)
            changes.update(gate=new.gate.value, status=new.status.value)
        save_review(s, review, review.version, **changes)
        audit.record(s, actor=actor, action="assign", entity="review", entity_id=review.id, before=before, after=review_snapshot(review))
        if target.username != who.username:
            notify_event(s, "assigned", review=review, product=product,
                         subject=f"review R-{review.id} ({product.name}, {review.grade}) assigned to you by {who.username}",
                         body=f"{review.gate}/{review.status}; due {review.due_at:%Y-%m-%d}" if review.due_at else "")
        return review


@dataclass(frozen=True)
class DecisionOutcome:
    review: Review
    decision: Decision
    applied: bool
    message: str


def decide(
    db: Database,
    review_id: Any,
    action: str,
    *,
    actor: str,
    rationale: str,
    expected_version: int | None = None,
) -> DecisionOutcome:
    """Record a committee decision (approve / request-changes / reject) with its rationale.

    Approval moves the case only when the pack's quorum is met (e.g. HIGH at RELEASE needs
    two distinct approvers, one the chair); until then it is recorded and counted.
    ``expected_version``: the review version the decider saw (TUI); a mismatch is a Conflict.
    """
    act = _decision_action(action)
    rationale = (rationale or "").strip()
    if len(rationale) < 3:
        raise InvalidInput("--rationale: a decision needs a rationale (a sentence the audit trail can show)")
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        seen = review.version if expected_version is None else expected_version
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        approving = act is Action.APPROVE
        sit = judge(s, who, Act(act.value), review, product, approvals=approving, controls=approving and review.gate == Gate.DEVELOPMENT.value)
        state = sit.state
        new = state.apply(act)
        pack = load_pack(review.policy_id)
        grade = Grade(review.grade) if review.grade else Grade.LOW
        before = review_snapshot(review)
        assert review.id is not None  # a stored review
        decision = Decision(
            review_id=review.id, gate=review.gate, action=act.value, rationale=rationale, actor=who.username,
            actor_roles=",".join(sorted(r.value for r in who.roles)), grade=review.grade,
            pack_version=pack.version, round=review.round, created_at=utcnow(),
        )
        applied, message = True, f"review {review.id}: {act.value} recorded; now {new.gate.value}/{new.status.value}"
        if approving:
            q = grading.quorum_progress(pack.pack, state.gate.value, grade, list(sit.approvals)).with_approval(who.username, who.has(Role.CHAIR))
            if not q.met:
                applied = False
                message = (f"review {review.id}: approval {len(q.approvers)} of {q.need} recorded for a {grade.value} product "
                           f"at {state.gate.value}; still needs {' and '.join(q.missing())}")
        if applied:
            save_review(s, review, seen, gate=new.gate.value, status=new.status.value)
        else:
            save_review(s, review, seen)  # still bump the version: the quorum state changed
        # one Core INSERT; the row then joins the session as its own, so the audit images it without a SELECT
        decision.id = s.connection().execute(_DECISION_INSERT, decision.model_dump(exclude={"id"})).scalar_one()
        make_transient_to_detached(decision)
        s.add(decision)
        audit.touch(s, "decision", [decision.id])
        audit.record(s, actor=who.username, action=f"decide:{act.value}", entity="review", entity_id=review.id,
                     before=before, after={**review_snapshot(review), "rationale": rationale, "applied": applied},
                     policy_version=f"{pack.id}@{pack.version}")
        if applied:  # an approval short of the quorum is not news for the team yet
            notify_event(s, "decision", review=review, product=product, body=rationale, pack=pack,
                         subject=f"{product.name}: {act.value} by {who.username} at {state.gate.value}; now {review.gate}/{review.status}")
        return DecisionOutcome(review, decision, applied, message)


_DECISION_INSERT = sa.insert(table_of(Decision)).returning(table_of(Decision).c.id)


def _decision_action(action: str) -> Action:
    value = action.strip().lower().replace("_", "-")
    aliases = {"approve": Action.APPROVE, "request-changes": Action.REQUEST_CHANGES, "changes": Action.REQUEST_CHANGES, "reject": Action.REJECT}
    if value not in aliases:
        raise InvalidInput(f"decision {action!r} is not one of: approve, request-changes, reject")
    return aliases[value]


def unmet_controls(s: Session, review_id: int, *, gates: tuple[str, ...] = ("DEVELOPMENT", "RELEASE")) -> list[ControlRequirement]:
    rows = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review_id)).all()
    return [c for c in rows if c.verify_gate in gates and c.status not in MET]


def submit_gate(db: Database, review_id: Any, *, actor: str, expected_version: int | None = None) -> Review:
    """The product team submits the current gate (DEVELOPMENT / RELEASE) for review."""
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        new = judge(s, who, Act.SUBMIT_GATE, review, product).state.apply(Action.SUBMIT)
        before = review_snapshot(review)
        pack = load_pack(review.policy_id)
        g = Grade(review.grade) if review.grade else Grade.LOW
        save_review(s, review, review.version, status=new.status.value, round=review.round + 1,
                    due_at=utcnow() + timedelta(days=grading.sla_days(pack.pack, g)))
        audit.record(s, actor=who.username, action="submit-gate", entity="review", entity_id=review.id, before=before, after=review_snapshot(review))
        return review


def advance(db: Database, review_id: Any, *, actor: str, expected_version: int | None = None) -> Review:
    """Move an APPROVED review to the next gate; refused while controls of this gate are unmet."""
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        new = judge(s, who, Act.ADVANCE, review, product, controls=True).state.apply(Action.ADVANCE)
        before = review_snapshot(review)
        save_review(s, review, review.version, gate=new.gate.value, status=new.status.value, assignee=None)
        audit.record(s, actor=who.username, action="advance", entity="review", entity_id=review.id, before=before, after=review_snapshot(review))
        return review


def change_standing(db: Database, review_id: Any, action: str, *, actor: str, rationale: str, to_gate: str | None = None,
                    expected_version: int | None = None) -> Review:
    """Suspend, resume, withdraw or reopen a review (chair or admin; rationale required)."""
    act = {"suspend": Action.SUSPEND, "resume": Action.RESUME, "withdraw": Action.WITHDRAW, "reopen": Action.REOPEN}.get(action)
    if act is None:
        raise InvalidInput(f"{action!r} is not one of: suspend, resume, withdraw, reopen")
    rationale = (rationale or "").strip()
    if len(rationale) < 3:
        raise InvalidInput(f"--rationale: {action} needs a rationale")
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        if act is Action.REOPEN:
            require(who, Duty.SUSPEND)
        else:
            judge(s, who, Act(act.value), review, product, released=True)
        return apply_standing(s, review, act, actor=who.username, rationale=rationale, to_gate=to_gate)


def apply_standing(s: Session, review: Review, act: Action, *, actor: str, rationale: str, to_gate: str | None = None) -> Review:
    """The state change of suspend/resume/withdraw/reopen inside the caller's transaction."""
    target = None
    if to_gate:
        try:
            target = Gate(to_gate.upper())
        except ValueError:
            raise InvalidInput(f"--to {to_gate!r} is not a gate; gates: {', '.join(g.value for g in Gate)}") from None
    new: CaseState = lifecycle_state(s, review).apply(act, to_gate=target)
    before = review_snapshot(review)
    changes: dict[str, Any] = {"gate": new.gate.value, "status": new.status.value, "suspended_from": new.suspended_from.value if new.suspended_from else None}
    if act is Action.REOPEN:
        changes["round"] = review.round + 1
        changes["assignee"] = None
    save_review(s, review, review.version, **changes)
    audit.record(s, actor=actor, action=act.value, entity="review", entity_id=review.id, before=before,
                 after={**review_snapshot(review), "rationale": rationale})
    if act is Action.REOPEN:
        product = s.get(Product, review.product_id)
        assert product is not None  # the review's product (foreign key)
        notify_event(s, "reopened", review=review, product=product, body=rationale,
                     subject=f"{product.name}: review R-{review.id} reopened at {review.gate} by {actor}")
    return review


def override_grade(db: Database, review_id: Any, new_grade: str, *, actor: str, rationale: str, expected_version: int | None = None) -> Review:
    """The chair overrides the computed grade: rationale required, stored as an assessment, on the trail, and the
    control requirements follow the new grade (verdicts already given stay).

    Lowering the grade by more than one level, from a level that blocks approval or needs extra sign-off (the
    default pack: UNACCEPTABLE), or below what a hard trigger set needs a
    second signature (``rules.second_signature``): the first chair's override is stored as *proposed* (the
    grade does not change; the chair is notified), and the same override by another chair or an admin
    applies it. Both signatures are on the trail. The returned review's grade says which happened."""
    try:
        g = Grade(new_grade.upper())
    except ValueError:
        raise InvalidInput(f"grade {new_grade!r} is not one of: {', '.join(x.value for x in Grade)}") from None
    rationale = (rationale or "").strip()
    if len(rationale) < 3:
        raise InvalidInput("--rationale: a grade override needs a rationale")
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        expect_version(review, expected_version)
        who = load_actor(s, actor)
        assert review.id is not None  # a stored review
        initial = initiation_assessment(s, review.id)
        if initial is None:
            raise NotFound(f"review {review.id} has no assessment to override")
        current = Grade(review.grade) if review.grade else Grade.LOW
        pack = load_pack(initial.pack_id)
        levels = pack.pack.all_levels()
        if g.rank >= len(levels):
            raise InvalidInput(f"grade {g.value} is not one of pack {pack.id}'s levels: "
                               + ", ".join(f"{lvl.grade.value} ({lvl.label})" for lvl in levels))
        needs = rules.second_signature(current, g, Grade(initial.grade), tuple(initial.triggers_fired), pack.pack.level(current))
        proposal = _open_proposal(s, review, g) if needs else None
        if proposal is not None and proposal.created_by != who.username:
            refusals = rules.second_signer_refusals(who, proposal.created_by, product_context(product, review))
            if refusals:
                raise Forbidden(f"cannot sign the override of review {review.id} to {g.value}: " + "; ".join(refusals))
            signers = [proposal.created_by, who.username]
        else:
            judge(s, who, Act.OVERRIDE_GRADE, review, product)
            if proposal is not None:
                raise Conflict(f"{who.username} already proposed lowering review {review.id} to {g.value}; another chair or an admin "
                               f"gives the second signature with: ethics-review override-grade {review.id} {g.value} -m REASON")
            signers = [who.username]
        result = grading.overridden(_result_of(initial), g)
        before = review_snapshot(review)
        kind = "override-pending" if needs and len(signers) == 1 else "override"
        s.add(Assessment(
            review_id=review.id, gate=review.gate, kind=kind, pack_id=initial.pack_id, pack_version=initial.pack_version,
            pack_hash=initial.pack_hash, answers=initial.answers, dimension_scores=initial.dimension_scores,
            dimension_levels={k: v.value for k, v in result.dimension_levels.items()}, base_grade=result.base_grade.value, grade=g.value,
            triggers_fired=initial.triggers_fired, mitigation=initial.mitigation, rationale=rationale,
            created_by=who.username, created_at=utcnow(),
        ))
        if kind == "override-pending":
            s.flush()
            notify(s, kind="override-second-signature", recipient="chair", review_id=review.id,
                   subject=f"review {review.id}: {who.username} proposes lowering the grade from {current.value} to {g.value}; a second signature is needed",
                   body=f"{'; '.join(needs)}. Reason given: {rationale}")
            audit.record(s, actor=who.username, action="override-grade:proposed", entity="review", entity_id=review.id, before=before,
                         after={**review_snapshot(review), "proposed_grade": g.value, "rationale": rationale, "needs_second_signature": needs})
            return review
        profile = ProductProfile.model_validate(product.profile)
        wanted = grading.required_controls(pack.pack, profile, initial.answers, result)
        sync_controls(s, review, wanted, who.username)
        save_review(s, review, review.version, grade=g.value, grade_label=pack.pack.label(g), priority=g.rank)
        audit.record(s, actor=who.username, action="override-grade", entity="review", entity_id=review.id, before=before,
                     after={**review_snapshot(review), "rationale": rationale, "computed_grade": initial.grade, "signed_by": signers,
                            "required_controls": sorted(c.id for c in wanted)})
        return review


def _open_proposal(s: Session, review: Review, grade: Grade) -> Assessment | None:
    """The latest proposed override of ``review`` to ``grade`` at its gate that no override has applied since."""
    rows = s.exec(select(Assessment).where(Assessment.review_id == review.id, col(Assessment.kind).in_(("override", "override-pending")))
                  .order_by(col(Assessment.id).desc())).all()
    for a in rows:
        if a.kind == "override":
            return None
        if a.grade == grade.value and a.gate == review.gate:
            return a
    return None


def _result_of(a: Assessment) -> grading.GradeResult:
    return grading.GradeResult(dict(a.dimension_scores), {k: Grade(v) for k, v in a.dimension_levels.items()}, Grade(a.base_grade),
                               Grade(a.grade), tuple(a.triggers_fired), dict(a.mitigation or {}))


def compute_residual(db: Database, review_id: Any, *, actor: str = "system") -> grading.GradeResult:
    """Residual grade: initiation answers regraded with credit for VERIFIED controls only."""
    with db.transaction() as s:
        review, product = get_review(s, review_id)
        res = residual_for(s, review, product)
        if res is None:
            raise NotFound(f"review {review.id} has no initiation assessment")
        initial, pack, verified, result = res.initial, res.pack, res.verified, res.result
        assert review.id is not None  # a stored review
        s.add(Assessment(
            review_id=review.id, gate=review.gate, kind="residual", pack_id=pack.id, pack_version=pack.version,
            pack_hash=pack.content_hash, answers=initial.answers, dimension_scores=result.dimension_scores,
            dimension_levels={k: v.value for k, v in result.dimension_levels.items()}, base_grade=result.base_grade.value,
            grade=result.grade.value, triggers_fired=list(result.triggers_fired), mitigation=result.mitigation,
            created_by=actor, created_at=utcnow(),
        ))
        audit.record(s, actor=actor, action="residual-grade", entity="review", entity_id=review.id, before={"grade": review.grade},
                     after={"residual_grade": result.grade.value, "verified_controls": sorted(verified)}, policy_version=f"{pack.id}@{pack.version}")
        return result
