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
from review.domain import grading, rules
from review.domain.duties import COMMITTEE, Actor, Duty, Role, blockers
from review.domain.rules import Act
from review.services.common import active_users, actor_of, get_review, load_actor, product_context, situation
from review.store.db import Database
from review.store.models import ConflictDeclaration


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


#: The TUI's actions and the rule each asks (``assign-to-me`` is an assign with oneself as the assignee).
ACTIONS: dict[str, Act] = {"assign-to-me": Act.ASSIGN, **{a.value: a for a in Act}}


def permissions(db: Database, review_id: Any, username: str) -> Permissions:
    """Every action's verdict from ``review.domain.rules`` (the use cases raise the same refusals)."""
    with db.reading() as s:
        review, product = get_review(s, review_id)
        who = load_actor(s, username)
        sit = situation(s, review, product, controls=True, approvals=True, released=True)
        pack_id = review.policy_id
    assert review.id is not None  # a stored review
    out = Permissions(review.id, review.version, who.username)
    for name, act in ACTIONS.items():
        reasons = rules.judge(who, act, sit, target=who if name == "assign-to-me" else None).reasons
        out.actions[name] = ActionState(name, not reasons, tuple(reasons), _note(name, sit, who, pack_id))
    return out


def _note(name: str, sit: rules.Situation, who: Actor, pack_id: str) -> str:
    """What the TUI shows next to an action besides allowed or not (quorum progress, what is pending)."""
    if name == "verify":
        return ", ".join(c.control_id for c in sit.controls if c.status == "EVIDENCE_SUBMITTED")
    if name == "assign":
        return f"now {sit.assignee}" if sit.assignee else ""
    if name != "approve":
        return ""
    try:
        q = grading.quorum_progress(load_pack(pack_id).pack, sit.state.gate.value, sit.grade, list(sit.approvals))
    except Exception:  # a missing pack shows up when the decision is taken
        return ""
    if q.need <= 1 and not q.chair_required:
        return ""
    note = f"quorum: {len(q.approvers)} of {q.need} approvals" + ("; the chair must approve" if q.chair_required else "")
    if not q.met and q.with_approval(who.username, who.has(Role.CHAIR)).missing() == ["the chair's approval"]:
        note += " (yours will not complete it without the chair)"
    return note


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
