"""The rule book: may this person do this to this review now, and if not, why.

Every entry point asks here: the use cases (``check`` raises the refusal), the TUI's action bar
and the API's ``/permissions`` (``refusals`` lists the reasons, shown next to a disabled
action). One function per question, so what the TUI enables is exactly what a command
accepts, with the same words. Pure: the services read a ``Situation`` from the database
(``review.services.permissions.situation``) and pass it in.

A refusal carries the error class a command exits with: ``Forbidden`` (4) for roles,
segregation of duties and recusal; ``IllegalTransition`` (5) for a move the lifecycle does not
have; ``GateBlocked`` (7) for a gate rule (unmet controls, an UNACCEPTABLE grade);
``InvalidInput`` (2) / ``Conflict`` (6) for a request that cannot apply (nothing to verify, an
approval given twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Iterable

from review.domain.duties import Actor, Duty, ProductContext, Role, blockers
from review.domain.grades import Grade
from review.domain.lifecycle import Action, CaseState, Gate, Status
from review.errors import Conflict, Forbidden, GateBlocked, IllegalTransition, InvalidInput, ReviewError

if TYPE_CHECKING:  # the pack's level meanings load when a rule looks at them, not with every listing
    from policies.schema import Level

#: Control statuses that count as met at a gate.
MET = frozenset({"VERIFIED", "WAIVED"})
#: Control statuses a waiver can close.
WAIVABLE = ("REQUIRED", "EVIDENCE_SUBMITTED", "REJECTED")
#: Review statuses in which a reviewer is assigned.
ASSIGNABLE = (Status.SUBMITTED, Status.IN_REVIEW)


class Act(StrEnum):
    """What a person asks to do to a review (the TUI's actions; the CLI's commands)."""

    ASSIGN = "assign"
    APPROVE = "approve"
    REQUEST_CHANGES = "request-changes"
    REJECT = "reject"
    VERIFY = "verify"
    WAIVE = "waive"
    OVERRIDE_GRADE = "override-grade"
    DECLARE_CONFLICT = "declare-conflict"
    ADVANCE = "advance"
    SUBMIT_GATE = "submit-gate"
    SUSPEND = "suspend"
    RESUME = "resume"
    WITHDRAW = "withdraw"


DECISIONS: dict[Act, Action] = {Act.APPROVE: Action.APPROVE, Act.REQUEST_CHANGES: Action.REQUEST_CHANGES, Act.REJECT: Action.REJECT}
_STANDING: dict[Act, Action] = {Act.SUSPEND: Action.SUSPEND, Act.RESUME: Action.RESUME, Act.WITHDRAW: Action.WITHDRAW}


@dataclass(frozen=True)
class Control:
    control_id: str
    verify_gate: str  # DEVELOPMENT | RELEASE
    status: str  # REQUIRED | EVIDENCE_SUBMITTED | VERIFIED | REJECTED | WAIVED
    by: str | None = None  # who gave the standing verdict (or waiver), and when
    at: Any = None

    def verdict_by(self) -> str:
        """`` by wei.chen (2026-03-14)`` when the rows say who gave the standing verdict, else ``""``."""
        if not self.by:
            return ""
        when = self.at.strftime("%Y-%m-%d") if hasattr(self.at, "strftime") else str(self.at or "")[:10]
        return f" by {self.by}" + (f" ({when})" if when else "")


@dataclass(frozen=True)
class Situation:
    """What the rules need to know about one review, read in one go."""

    review_id: int
    state: CaseState
    grade: Grade
    product: ProductContext
    assignee: str | None = None
    controls: tuple[Control, ...] = ()
    #: (approver, approved as chair) at the review's gate in its current round
    approvals: tuple[tuple[str, bool], ...] = ()
    #: What the grade means under the review's pack (``None``: the default levels' meaning).
    level: Level | None = None

    @property
    def meaning(self) -> Level:
        from policies.schema import DEFAULT_LEVELS  # loaded when a rule asks, not by a listing

        return self.level or DEFAULT_LEVELS[self.grade.rank]

    @property
    def here(self) -> str:
        return f"{self.state.gate.value}/{self.state.status.value}"

    def unmet(self, gates: tuple[str, ...]) -> list[Control]:
        return [c for c in self.controls if c.verify_gate in gates and c.status not in MET]


@dataclass(frozen=True)
class Refusal:
    reason: str
    error: type[ReviewError] = Forbidden


@dataclass
class Verdict:
    """The answer for one action: allowed when there is no refusal."""

    act: Act
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.refusals)

    def raise_if_refused(self, review_id: int, *, to: str = "") -> None:
        """The first refusal's error class, with every reason (the TUI shows the same words); ``to``: an assignee."""
        if self.refusals:
            raise self.refusals[0].error(f"cannot {self.act.value} review {review_id}{f' to {to}' if to else ''}: " + "; ".join(self.reasons))


def advance_gates(gate: str) -> tuple[str, ...]:
    """The controls (by the gate that verifies them) that must be met before a review leaves ``gate``."""
    return {Gate.DEVELOPMENT.value: ("DEVELOPMENT",), Gate.RELEASE.value: ("DEVELOPMENT", "RELEASE")}.get(gate, ())


def list_gaps(gaps: Iterable[Any]) -> str:
    """``SAF-03 (evidence submitted), ...``: controls (rule-book ``Control`` or stored rows) and their status."""
    return ", ".join(f"{c.control_id} ({c.status.lower().replace('_', ' ')})" for c in gaps)


def _forbidden(reasons: list[str]) -> list[Refusal]:
    return [Refusal(r, Forbidden) for r in reasons]


def _move(sit: Situation, action: Action) -> list[Refusal]:
    why = sit.state.refusal(action)
    return [] if why is None else [Refusal(why, IllegalTransition)]


def assigner_forbidden(who: Actor, sit: Situation, *, to_self: bool) -> list[str]:
    """Why ``who`` may not assign the review (to themselves, or to someone else): the role; reviewers take
    reviews themselves, and not one another reviewer holds; a recused chair assigns nobody."""
    reasons = blockers(who, Duty.ASSIGN)
    chair = who.has(Role.CHAIR) or who.has(Role.ADMIN)
    if not to_self:
        if not chair:
            reasons.append("reviewers assign reviews to themselves only; the chair or an admin assigns others")
        elif sit.product.name in who.conflicts:
            reasons.append(f"recused: {who.username} declared a conflict of interest on {sit.product.name}; another chair or an admin assigns it")
    elif sit.assignee and sit.assignee != who.username and sit.state.status is Status.IN_REVIEW and not chair:
        reasons.append(f"{sit.assignee} holds this review; the chair reassigns it")
    return reasons


def advance_forbidden(who: Actor, product: ProductContext) -> list[str]:
    """Why ``who`` may not advance a review of ``product``: the role, and a product team advances its own products only."""
    reasons = blockers(who, Duty.ADVANCE)
    if who.has(Role.SUBMITTER) and not (who.has(Role.CHAIR) or who.has(Role.ADMIN)) and who.team != product.owner_team:
        reasons.append(f"{who.username} is not in {product.owner_team}, the team that owns {product.name}")
    return reasons


def judge(who: Actor, act: Act, sit: Situation, *, target: Actor | None = None) -> Verdict:
    """May ``who`` do ``act`` to the review in ``sit`` now? ``target``: the assignee of an ``assign``; None there
    means someone else, not chosen yet (the TUI's assign dialog then lists who may take it)."""
    v = Verdict(act)
    out = v.refusals
    product = sit.product
    if act is Act.ASSIGN:
        to_self = target is not None and target.username == who.username
        out += _forbidden(assigner_forbidden(who, sit, to_self=to_self) + (blockers(target, Duty.DECIDE, product) if target else []))
        if sit.state.gate not in (Gate.INITIATION, Gate.DEVELOPMENT, Gate.RELEASE) or sit.state.status not in ASSIGNABLE:
            out.append(Refusal(f"the review is at {sit.here}; only SUBMITTED or IN_REVIEW reviews at a gate are assigned", IllegalTransition))
        elif target is not None and sit.assignee == target.username and sit.state.status is Status.IN_REVIEW:
            out.append(Refusal(f"{target.username} already holds this review", Conflict))
    elif act in DECISIONS:
        action = DECISIONS[act]
        out += _forbidden(blockers(who, Duty.DECIDE, product)) + _move(sit, action)
        if action is Action.APPROVE:
            if sit.meaning.blocks_approval:
                out.append(Refusal(f"graded {sit.meaning.label}: it cannot be approved; reject it, request changes, or have the chair "
                                   "override the grade with a rationale", GateBlocked))
            gaps = sit.unmet(("DEVELOPMENT",)) if sit.state.gate is Gate.DEVELOPMENT else []
            if gaps:
                out.append(Refusal(f"cannot approve the development gate while required controls are unmet: {list_gaps(gaps)}", GateBlocked))
            if any(a == who.username for a, _ in sit.approvals):
                out.append(Refusal(f"{who.username} already approved in this round; a quorum needs distinct reviewers", Conflict))
    elif act is Act.VERIFY:
        out += _forbidden(blockers(who, Duty.VERIFY, product))
        if not any(c.status == "EVIDENCE_SUBMITTED" for c in sit.controls):
            out.append(Refusal("no control has evidence waiting for verification", InvalidInput))
    elif act is Act.WAIVE:
        out += _forbidden(blockers(who, Duty.WAIVE, product))
        if not any(c.status in WAIVABLE for c in sit.controls):
            out.append(Refusal(f"no control is open ({', '.join(WAIVABLE)})", InvalidInput))
    elif act is Act.OVERRIDE_GRADE:
        out += _forbidden(blockers(who, Duty.OVERRIDE_GRADE, product))
    elif act is Act.DECLARE_CONFLICT:
        out += _forbidden(blockers(who, Duty.DECLARE_CONFLICT))
        if product.name in who.conflicts:
            out.append(Refusal(f"{who.username} already declared a conflict on {product.name}", Conflict))
    elif act is Act.ADVANCE:
        out += _forbidden(advance_forbidden(who, product)) + _move(sit, Action.ADVANCE)
        if not out:
            gaps = sit.unmet(advance_gates(sit.state.gate.value))
            if gaps:
                out.append(Refusal(f"cannot advance from {sit.state.gate.value} while required controls are unmet: {list_gaps(gaps)}", GateBlocked))
    elif act is Act.SUBMIT_GATE:
        out += _forbidden(blockers(who, Duty.ADD_EVIDENCE, product)) + _move(sit, Action.SUBMIT)
    elif act in _STANDING:
        out += _forbidden(blockers(who, Duty.SUSPEND)) + _move(sit, _STANDING[act])
    return v


def second_signature(current: Grade, new: Grade, computed: Grade, triggers_fired: tuple[str, ...], level: Level | None = None) -> list[str]:
    """Why an override from ``current`` to ``new`` needs a second signature (another chair or an admin), or []:
    lowering by more than one level, lowering from a level that blocks approval or asks for extra sign-off
    (``level``: what ``current`` means under the pack; the default: UNACCEPTABLE), or lowering below a grade
    hard triggers set."""
    if new >= current:
        return []
    from policies.schema import DEFAULT_LEVELS

    meaning = level or DEFAULT_LEVELS[current.rank]
    out = []
    if current.rank - new.rank > 1:
        out.append(f"it lowers the grade by more than one level ({current.value} to {new.value})")
    if meaning.blocks_approval or meaning.extra_sign_off:
        why = "which blocks approval" if meaning.blocks_approval else "whose approval needs extra sign-off"
        out.append(f"it lowers the grade from {meaning.label}" + ("" if meaning.label == current.value else f" ({current.value}), {why}"))
    if triggers_fired and new < computed:
        out.append(f"it lowers the grade below the {computed.value} that hard trigger(s) {', '.join(triggers_fired)} set")
    return out


def second_signer_refusals(who: Actor, proposer: str, product: ProductContext) -> list[str]:
    """Why ``who`` may not give the second signature on ``proposer``'s override: another person, a chair or an
    admin, and (as for any judgement of the product) not of its team, not its submitter, not recused."""
    out = []
    if who.username == proposer:
        out.append(f"{who.username} proposed this override; the second signature is another chair's or an admin's")
    if not (who.has(Role.CHAIR) or who.has(Role.ADMIN)):
        out.append(f"{who.username} is neither a chair nor an admin; one of them gives the second signature")
    out += [r for r in blockers(who, Duty.OVERRIDE_GRADE, product) if "lacks the role" not in r]
    return out


#: Follow-up check statuses on which a visit is recorded (a triggered check's other visits still count).
RECORDING_CHECKS = ("OPEN", "TRIGGERED")


def visit_refusal(check_id: int, status: str, pending: int) -> str | None:
    """Why no visit can be recorded on this follow-up check now (``pending``: its visits not yet recorded), or None."""
    if status not in RECORDING_CHECKS:
        return f"follow-up check {check_id} is {status}: visits are recorded on OPEN or TRIGGERED checks only"
    if not pending:
        return f"follow-up check {check_id}: every planned visit is recorded"
    return None


def control_refusal(act: Act, control: Control, *, verdict: str = "pass") -> Refusal | None:
    """Why ``act`` (verify or waive) cannot apply to this one control now, or None."""
    cid, status = control.control_id, control.status
    if act is Act.VERIFY:
        if status == "REQUIRED":
            return Refusal(f"control {cid} has no evidence yet; the product team adds it with: ethics-review evidence add REVIEW {cid} FILE", InvalidInput)
        if status == "WAIVED":
            return Refusal(f"control {cid} was waived{control.verdict_by()}; nothing to verify", Conflict)
        if status in ("VERIFIED", "REJECTED"):
            return Refusal(f"control {cid} is already {status}{control.verdict_by()}: a verdict stands until new evidence is added", Conflict)
    if act is Act.WAIVE:
        if status == "WAIVED":
            return Refusal(f"control {cid} is already waived{control.verdict_by()}", Conflict)
        if status not in WAIVABLE:
            return Refusal(f"control {cid} is {status}: only an open control ({', '.join(WAIVABLE)}) can be waived", InvalidInput)
    return None
