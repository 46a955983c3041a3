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
from review.domain.duties import Duty, Role, blockers
from review.domain.grades import Grade
from review.domain.lifecycle import Action, Gate, Status, allowed_actions
from review.services.common import case_state, get_review, load_actor, product_context
from review.store.db import Database
from review.store.models import ControlRequirement, Decision



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
        state = case_state(review)
        legal = set(allowed_actions(state.gate, state.status))
        grade = Grade(review.grade) if review.grade else Grade.LOW
        unmet = [c.control_id for c in s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id)).all()
                 if c.verify_gate == "DEVELOPMENT" and c.status not in ("VERIFIED", "WAIVED")]
        prior = s.exec(select(Decision).where(Decision.review_id == review.id, Decision.gate == review.gate,
                                              Decision.round == review.round, Decision.action == "approve")).all()
        pending_verification = [c.control_id for c in s.exec(select(ControlRequirement).where(
            ControlRequirement.review_id == review.id, ControlRequirement.status == "EVIDENCE_SUBMITTED")).all()]
    out = Permissions(review.id, review.version, who.username)
    here = f"{state.gate.value}/{state.status.value}"

    def put(name: str, reasons: list[str], note: str = "") -> None:
        out.actions[name] = ActionState(name, not reasons, tuple(reasons), note)

    def legal_or(action: Action) -> list[str]:
        return [] if action in legal else [f"the review is at {here}; {action.value} is not allowed there"]

    # assign to me
    r = blockers(who, Duty.ASSIGN) + blockers(who, Duty.DECIDE, ctx)
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
            if any(d.actor == who.username for d in prior):
                r.append("you already approved in this round; a quorum needs distinct reviewers")
            try:
                need, chair = grading.quorum_for(load_pack(review.policy_id).pack, state.gate.value, grade)
            except Exception:
                need, chair = 1, False
            if need > 1 or chair:
                have = len({d.actor for d in prior})
                note = f"quorum: {have} of {need} approvals" + ("; the chair must approve" if chair else "")
                if chair and not who.has(Role.CHAIR) and not any("chair" in d.actor_roles.split(",") for d in prior) and have + 1 >= need:
                    note += " (yours will not complete it without the chair)"
        put(name, r, note)
    r = blockers(who, Duty.VERIFY, ctx)
    if not pending_verification:
        r.append("no control has evidence waiting for verification")
    put("verify", r, ", ".join(pending_verification))
    put("waive", blockers(who, Duty.WAIVE, ctx))
    put("override-grade", blockers(who, Duty.OVERRIDE_GRADE, ctx))
    r = blockers(who, Duty.DECLARE_CONFLICT)
    if product.name in who.conflicts:
        r.append("you already declared a conflict on this product")
    put("declare-conflict", r)
    r = blockers(who, Duty.ADVANCE) + legal_or(Action.ADVANCE)
    if state.gate is Gate.DEVELOPMENT and unmet:
        r.append(f"required controls unmet: {', '.join(unmet)}")
    put("advance", r)
    put("submit-gate", blockers(who, Duty.ADD_EVIDENCE, ctx) + legal_or(Action.SUBMIT))
    for name, act in (("suspend", Action.SUSPEND), ("resume", Action.RESUME), ("withdraw", Action.WITHDRAW)):
        put(name, blockers(who, Duty.SUSPEND) + legal_or(act))
    return out
