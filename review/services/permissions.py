"""What the acting user may do on a review right now, and why not.

The TUI shows every action; the ones refused here are disabled with the reason (roles,
segregation of duties, recusal, the state machine, quorum, unmet controls). The use cases
enforce the same rules; this module only asks the same domain functions ahead of time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from policies.loader import load_pack
from review.domain import grading
from review.domain.duties import COMMITTEE, Duty, Role, blockers
from review.domain.grades import Grade
from review.domain.lifecycle import COMMAND, Action, Gate, Status
from review.services.common import active_users, actor_of, get_review, lifecycle_state, load_actor, product_context
from review.services.controls import WAIVABLE
from review.services.reviews import MET, advance_forbidden, advance_gates, assign_forbidden, assigner_forbidden, round_approvals
from review.store.db import Database
from review.store.models import ConflictDeclaration, ControlRequirement


@dataclass(frozen=True)
class ActionState:
    action: str
    allowed: bool
    reasons: tuple[str, ...] = ()
    note: str = ""


@dataclass
class Permissions:
    review_id: int
    version: int
    actor: str
    actions: dict[str, ActionState] = field(default_factory=dict)

    def allowed(self, action: str) -> bool:
        return self.actions[action].allowed

    def why_not(self, action: str) -> str:
        return "; ".join(self.actions[action].reasons)


def permissions(db: Database, review_id: Any, username: str) -> Permissions:
    with db.reading() as s:
        review, product = get_review(s, review_id)
        who = load_actor(s, username)
        ctx = product_context(product, review)
        state = lifecycle_state(s, review)
        legal = set(state.allowed())
        grade = Grade(review.grade) if review.grade else Grade.LOW
        controls = s.exec(select(ControlRequirement.control_id, ControlRequirement.verify_gate, ControlRequirement.status)
                          .where(ControlRequirement.review_id == review.id)).all()
        unmet = [cid for cid, gate, status in controls if gate == "DEVELOPMENT" and status not in MET]
        advance_controls = [cid for cid, gate, status in controls if gate in advance_gates(review.gate) and status not in MET]
        pending_verification = [cid for cid, _gate, status in controls if status == "EVIDENCE_SUBMITTED"]
        prior = round_approvals(s, review)
    out = Permissions(review.id, review.version, who.username)
    here = f"{state.gate.value}/{state.status.value}"

    def put(name: str, reasons: list[str], note: str = "") -> None:
        out.actions[name] = ActionState(name, not reasons, tuple(reasons), note)

    def legal_or(action: Action) -> list[str]:
        return [] if action in legal else [f"the review is at {here}; {COMMAND[action]} is not allowed there"]

    # assign to me
    r = assign_forbidden(who, who, product, review)
    if state.status is not Status.SUBMITTED and not (state.status is Status.IN_REVIEW):
        r.append(f"the review is at {here}; only SUBMITTED or IN_REVIEW reviews are assigned")
    if review.assignee == who.username:
        r.append("already assigned to you")
    put("assign-to-me", r)
    # decisions
    decide_reasons = blockers(who, Duty.DECIDE, ctx)
    for name, act in (("approve", Action.APPROVE), ("request-changes", Action.REQUEST_CHANGES), ("reject", Action.REJECT)):
        r = decide_reasons + legal_or(act)
        note = ""
        if act is Action.APPROVE:
            if grade is Grade.UNACCEPTABLE:
                r.append("graded UNACCEPTABLE: cannot be approved (reject, request changes, or the chair overrides the grade)")
            if state.gate is Gate.DEVELOPMENT and unmet:
                r.append(f"required controls unmet: {', '.join(unmet)}")
            if any(actor == who.username for actor, _ in prior):
                r.append("you already approved in this round; a quorum needs distinct reviewers")
            try:
                q = grading.quorum_progress(load_pack(review.policy_id).pack, state.gate.value, grade, prior)
            except Exception:  # a missing pack shows up when the decision is taken
                q = grading.QuorumProgress(1, False)
            if q.need > 1 or q.chair_required:
                note = f"quorum: {len(q.approvers)} of {q.need} approvals" + ("; the chair must approve" if q.chair_required else "")
                if not q.met and q.with_approval(who.username, who.has(Role.CHAIR)).missing() == ["the chair's approval"]:
                    note += " (yours will not complete it without the chair)"
        put(name, r, note)
    r = blockers(who, Duty.VERIFY, ctx)
    if not pending_verification:
        r.append("no control has evidence waiting for verification")
    put("verify", r, ", ".join(pending_verification))
    # assign to someone else (the chair or an admin; reviewers take reviews themselves)
    r = assigner_forbidden(who, product, review, to_self=False)
    if state.status not in (Status.SUBMITTED, Status.IN_REVIEW):
        r.append(f"the review is at {here}; only SUBMITTED or IN_REVIEW reviews are assigned")
    put("assign", r, f"now {review.assignee}" if review.assignee else "")
    r = blockers(who, Duty.WAIVE, ctx)
    waivable = [cid for cid, _gate, status in controls if status in WAIVABLE]
    if not waivable:
        r.append("no control is open (required, with evidence, or rejected)")
    put("waive", r)
    put("override-grade", blockers(who, Duty.OVERRIDE_GRADE, ctx))
    r = blockers(who, Duty.DECLARE_CONFLICT)
    if product.name in who.conflicts:
        r.append("you already declared a conflict on this product")
    put("declare-conflict", r)
    r = advance_forbidden(who, product) + legal_or(Action.ADVANCE)
    if advance_controls:
        r.append(f"required controls unmet: {', '.join(advance_controls)}")
    put("advance", r)
    put("submit-gate", blockers(who, Duty.ADD_EVIDENCE, ctx) + legal_or(Action.SUBMIT))
    for name, act in (("suspend", Action.SUSPEND), ("resume", Action.RESUME), ("withdraw", Action.WITHDRAW)):
        put(name, blockers(who, Duty.SUSPEND) + legal_or(act))
    return out


@dataclass(frozen=True)
class Candidate:
    username: str
    display_name: str
    why_not: str  # empty when the review may be assigned to them


def assignees(db: Database, review_id: Any) -> list[Candidate]:
    """Committee members (reviewers and the chair) and whether each may take the review:
    the same rule ``reviews.assign`` applies (roles, segregation of duties, recusal)."""
    with db.reading() as s:
        review, product = get_review(s, review_id)
        ctx = product_context(product, review)
        recused = set(s.exec(select(ConflictDeclaration.username).where(ConflictDeclaration.product_id == product.id)).all())
        out = []
        for u in active_users(s):
            who = actor_of(u, [product.name] if u.username in recused else [])
            if who.roles & COMMITTEE:
                out.append(Candidate(u.username, u.display_name, "; ".join(blockers(who, Duty.DECIDE, ctx))))
    return out
