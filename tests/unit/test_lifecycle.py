"""The transition table: every legal move works, every other move is refused with a useful message."""

from __future__ import annotations

import itertools

import pytest

from review.domain.lifecycle import (
    COMMAND,
    TRANSITIONS,
    Action,
    CaseState,
    Gate,
    Status,
    allowed_actions,
    apply_action,
)
from review.errors import IllegalTransition

ALL = list(itertools.product(Gate, Status, Action))


@pytest.mark.parametrize("gate,status,action", [k for k in ALL if k in TRANSITIONS], ids=str)
def test_every_legal_transition(gate: Gate, status: Status, action: Action) -> None:
    targets = TRANSITIONS[(gate, status, action)]
    for to_gate, to_status in targets:
        got = apply_action(gate, status, action, to_gate=to_gate if len(targets) > 1 else None)
        assert got == (to_gate, to_status)


@pytest.mark.parametrize("gate,status,action", [k for k in ALL if k not in TRANSITIONS], ids=str)
def test_every_illegal_transition_names_state_move_and_allowed(gate: Gate, status: Status, action: Action) -> None:
    with pytest.raises(IllegalTransition) as exc:
        apply_action(gate, status, action)
    msg = exc.value.message
    assert f"{gate.value}/{status.value}" in msg
    assert f"cannot {COMMAND[action]} " in msg  # what a person types, never an internal move
    assert "start-review" not in msg
    allowed = allowed_actions(gate, status)
    if allowed:
        assert msg.endswith("allowed: " + ", ".join(COMMAND[a] for a in allowed))
    else:
        assert "none (final state)" in msg


def test_happy_path_through_all_gates() -> None:
    s = CaseState(Gate.INITIATION, Status.DRAFT)
    for gate in (Gate.INITIATION, Gate.DEVELOPMENT, Gate.RELEASE):
        assert s.gate is gate
        s = s.apply(Action.SUBMIT).apply(Action.START_REVIEW).apply(Action.APPROVE).apply(Action.ADVANCE)
    assert (s.gate, s.status) == (Gate.MONITORING, Status.APPROVED)


def test_suspend_and_resume_returns_to_the_gate_it_left() -> None:
    s = CaseState(Gate.RELEASE, Status.IN_REVIEW).apply(Action.SUSPEND)
    assert (s.gate, s.suspended_from) == (Gate.SUSPENDED, Gate.RELEASE)
    back = s.apply(Action.RESUME)
    assert (back.gate, back.status, back.suspended_from) == (Gate.RELEASE, Status.IN_REVIEW, None)


def test_suspension_at_initiation_only_once_released() -> None:
    with pytest.raises(IllegalTransition, match="cannot suspend a review at INITIATION/SUBMITTED; allowed: assign, withdraw"):
        CaseState(Gate.INITIATION, Status.SUBMITTED).apply(Action.SUSPEND)
    # released, then reopened at INITIATION by a follow-up finding: still stoppable, and resumable where it was
    s = CaseState(Gate.INITIATION, Status.SUBMITTED, released=True).apply(Action.SUSPEND)
    assert (s.gate, s.suspended_from, s.released) == (Gate.SUSPENDED, Gate.INITIATION, True)
    assert s.apply(Action.RESUME) == CaseState(Gate.INITIATION, Status.SUBMITTED, None, True)
    for g in (Gate.DEVELOPMENT, Gate.RELEASE, Gate.MONITORING):
        assert CaseState(g, Status.APPROVED).apply(Action.SUSPEND).gate is Gate.SUSPENDED


def test_a_product_can_be_withdrawn_from_every_state_but_withdrawn() -> None:
    for gate, status in itertools.product(Gate, Status):
        s = CaseState(gate, status)
        if gate is Gate.WITHDRAWN:
            assert s.is_final
        else:
            assert s.apply(Action.WITHDRAW).gate is Gate.WITHDRAWN, (gate, status)


def test_reaching_monitoring_marks_the_case_released() -> None:
    s = CaseState(Gate.RELEASE, Status.APPROVED).apply(Action.ADVANCE)
    assert s.released and s.apply(Action.REOPEN, to_gate=Gate.INITIATION).released


def test_withdrawn_is_final() -> None:
    s = CaseState(Gate.DEVELOPMENT, Status.DRAFT).apply(Action.WITHDRAW)
    assert s.is_final
    with pytest.raises(IllegalTransition, match="none \\(final state\\)"):
        s.apply(Action.RESUME)


def test_reopen_needs_a_target_gate_from_the_table() -> None:
    s = CaseState(Gate.MONITORING, Status.APPROVED)
    with pytest.raises(IllegalTransition, match="needs a target gate"):
        apply_action(s.gate, s.status, Action.REOPEN)
    assert s.apply(Action.REOPEN, to_gate=Gate.DEVELOPMENT) == CaseState(Gate.DEVELOPMENT, Status.SUBMITTED)
    with pytest.raises(IllegalTransition, match="allowed targets"):
        s.apply(Action.REOPEN, to_gate=Gate.MONITORING)


def test_a_rejected_initiation_can_only_be_withdrawn() -> None:
    assert CaseState(Gate.INITIATION, Status.REJECTED).allowed() == [Action.WITHDRAW]
