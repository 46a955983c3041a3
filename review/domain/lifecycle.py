"""The review-case lifecycle: gates, statuses and the one transition table.

A review case sits at a *gate* (INITIATION -> DEVELOPMENT -> RELEASE -> MONITORING, or
SUSPENDED / WITHDRAWN) with a *status* inside it. ``TRANSITIONS`` below is the only source
of truth for which moves exist; everything else (services, CLI, TUI, flows) asks
``allowed_actions`` / ``apply_action`` and never re-implements a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from review.errors import IllegalTransition, InvalidInput


class Gate(StrEnum):
    INITIATION = "INITIATION"
    DEVELOPMENT = "DEVELOPMENT"
    RELEASE = "RELEASE"
    MONITORING = "MONITORING"
    SUSPENDED = "SUSPENDED"
    WITHDRAWN = "WITHDRAWN"


class Status(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    IN_REVIEW = "IN_REVIEW"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Action(StrEnum):
    SUBMIT = "submit"
    START_REVIEW = "start-review"
    APPROVE = "approve"
    REQUEST_CHANGES = "request-changes"
    REJECT = "reject"
    ADVANCE = "advance"
    SUSPEND = "suspend"
    RESUME = "resume"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"


#: The gates a product team submits to, in order.
REVIEW_GATES: tuple[Gate, ...] = (Gate.INITIATION, Gate.DEVELOPMENT, Gate.RELEASE)
#: Gates from which a product can always be suspended ("the later gates"); a product that has
#: been released can be suspended at every gate (a follow-up finding may reopen it at INITIATION).
LATER_GATES: tuple[Gate, ...] = (Gate.DEVELOPMENT, Gate.RELEASE, Gate.MONITORING)
#: What a person types for each move (refusals name these, not the table's internal moves).
COMMAND: dict[Action, str] = {**{a: a.value for a in Action}, Action.START_REVIEW: "assign"}
#: Statuses in which a decision can be taken.
DECIDING = Status.IN_REVIEW
#: Statuses in which the committee's SLA clock runs (a review past its due date is overdue).
AWAITING_COMMITTEE: tuple[Status, ...] = (Status.SUBMITTED, Status.IN_REVIEW)

State = tuple[Gate, Status]


def _build_table() -> dict[tuple[Gate, Status, Action], tuple[State, ...]]:
    """Build the transition table.

    Each key (gate, status, action) maps to the target states the move may reach. Most
    moves have exactly one target; ``reopen`` and ``resume`` have several and the caller
    names the gate (the gate to reopen at; the gate the case was suspended from).
    """
    t: dict[tuple[Gate, Status, Action], tuple[State, ...]] = {}
    next_gate = {
        Gate.INITIATION: (Gate.DEVELOPMENT, Status.DRAFT),
        Gate.DEVELOPMENT: (Gate.RELEASE, Status.DRAFT),
        # Release approval puts the product on the market: it is monitored from then on.
        Gate.RELEASE: (Gate.MONITORING, Status.APPROVED),
    }
    for g in REVIEW_GATES:
        t[(g, Status.DRAFT, Action.SUBMIT)] = ((g, Status.SUBMITTED),)
        t[(g, Status.CHANGES_REQUESTED, Action.SUBMIT)] = ((g, Status.SUBMITTED),)
        t[(g, Status.SUBMITTED, Action.START_REVIEW)] = ((g, Status.IN_REVIEW),)
        t[(g, Status.IN_REVIEW, Action.APPROVE)] = ((g, Status.APPROVED),)
        t[(g, Status.IN_REVIEW, Action.REQUEST_CHANGES)] = ((g, Status.CHANGES_REQUESTED),)
        t[(g, Status.IN_REVIEW, Action.REJECT)] = ((g, Status.REJECTED),)
        t[(g, Status.APPROVED, Action.ADVANCE)] = (next_gate[g],)
    # A triggered risk in monitoring reopens the case at an earlier gate, already submitted.
    t[(Gate.MONITORING, Status.APPROVED, Action.REOPEN)] = tuple(
        (g, Status.SUBMITTED) for g in REVIEW_GATES
    )
    # A harmful product must always be stoppable: withdrawn from every state but WITHDRAWN itself.
    for g in (*REVIEW_GATES, Gate.MONITORING, Gate.SUSPENDED):
        for s in Status:
            t[(g, s, Action.WITHDRAW)] = ((Gate.WITHDRAWN, s),)
    for g in LATER_GATES:
        for s in Status:
            if s is not Status.REJECTED:
                t[(g, s, Action.SUSPEND)] = ((Gate.SUSPENDED, s),)
    for s in Status:
        if s is Status.REJECTED:
            continue
        t[(Gate.SUSPENDED, s, Action.RESUME)] = tuple((g, s) for g in (Gate.INITIATION, *LATER_GATES))
    return t


TRANSITIONS: dict[tuple[Gate, Status, Action], tuple[State, ...]] = _build_table()
#: Moves open only to a product that has been released (it has follow-up checks): suspending it at
#: INITIATION, where a follow-up finding reopens it.
AFTER_RELEASE: dict[tuple[Gate, Status, Action], tuple[State, ...]] = {
    (Gate.INITIATION, s, Action.SUSPEND): ((Gate.SUSPENDED, s),) for s in Status if s is not Status.REJECTED
}


def _targets(gate: Gate, status: Status, action: Action, released: bool) -> tuple[State, ...] | None:
    found = TRANSITIONS.get((gate, status, action))
    if found is None and released:
        found = AFTER_RELEASE.get((gate, status, action))
    return found


def allowed_actions(gate: Gate, status: Status, *, released: bool = False) -> list[Action]:
    """The moves the table allows from (gate, status), in a stable order (``released``: the
    product has been released, which opens suspension at every gate)."""
    return [a for a in Action if _targets(gate, status, a, released)]


def allowed_commands(gate: Gate, status: Status, released: bool = False) -> str:
    """The moves from (gate, status) as a person types them, for a refusal."""
    return ", ".join(COMMAND[a] for a in allowed_actions(gate, status, released=released)) or "none (final state)"


def parse_action(value: str) -> Action:
    try:
        return Action(value.strip().lower().replace("_", "-"))
    except ValueError:
        raise InvalidInput(
            f"unknown action {value!r}; expected one of: {', '.join(a.value for a in Action)}"
        ) from None


def apply_action(gate: Gate, status: Status, action: Action, *, to_gate: Gate | None = None, released: bool = False) -> State:
    """Return the state after ``action``, or raise ``IllegalTransition``.

    ``to_gate`` picks the target where a move has several (reopen, resume); it must be
    one of the targets the table lists. Refusals name the commands a person types.
    """
    targets = _targets(gate, status, action, released)
    if not targets:
        raise IllegalTransition(
            f"cannot {COMMAND[action]} a review at {gate.value}/{status.value}; allowed: {allowed_commands(gate, status, released)}"
        )
    if len(targets) == 1 and to_gate is None:
        return targets[0]
    if to_gate is None:
        options = ", ".join(g.value for g, _ in targets)
        raise IllegalTransition(f"{action.value} from {gate.value}/{status.value} needs a target gate: {options}")
    for target in targets:
        if target[0] == to_gate:
            return target
    options = ", ".join(g.value for g, _ in targets)
    raise IllegalTransition(
        f"cannot {action.value} from {gate.value}/{status.value} to {to_gate.value}; allowed targets: {options}"
    )


@dataclass(frozen=True)
class CaseState:
    """A review case's position; ``suspended_from`` is kept while SUSPENDED."""

    gate: Gate
    status: Status
    suspended_from: Gate | None = None
    released: bool = False  # the product has been on the market (it has follow-up checks)

    def apply(self, action: Action, *, to_gate: Gate | None = None) -> "CaseState":
        if action is Action.RESUME and to_gate is None:
            to_gate = self.suspended_from
        gate, status = apply_action(self.gate, self.status, action, to_gate=to_gate, released=self.released)
        suspended_from = self.gate if gate is Gate.SUSPENDED else None
        return CaseState(gate, status, suspended_from, self.released or gate is Gate.MONITORING)

    def allowed(self) -> list[Action]:
        return allowed_actions(self.gate, self.status, released=self.released)

    def refusal(self, action: Action) -> str | None:
        """Why ``action`` is not a move from here (naming the commands that are), or None when it is."""
        if _targets(self.gate, self.status, action, self.released):
            return None
        return f"the review is at {self.gate.value}/{self.status.value}; allowed there: {allowed_commands(self.gate, self.status, self.released)}"

    @property
    def is_final(self) -> bool:
        return not self.allowed()
