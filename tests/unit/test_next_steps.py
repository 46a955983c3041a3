"""The event -> gate step rules (pure) and the in-process runner's error handling (fakes, no database)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from review.errors import GateBlocked, IllegalTransition
from review.services import next_steps
from review.services.next_steps import NextStep, next_step, rule


@pytest.mark.parametrize(("gate", "step"), [("INITIATION", "initiation"), ("DEVELOPMENT", "development"),
                                            ("RELEASE", "development"), ("MONITORING", None), ("SUSPENDED", None)])
def test_submit_queues_or_reverifies(gate, step):
    assert rule("submit", gate=gate) == (None if step is None else (step, False))
    assert next_step("submit", NS(id=7, gate=gate)) == (None if step is None else NextStep(step, 7, False))


@pytest.mark.parametrize(("gate", "status", "applied", "expected"), [
    ("RELEASE", "APPROVED", True, NextStep("release", 3)),
    ("RELEASE", "IN_REVIEW", False, None),  # quorum not reached yet
    ("RELEASE", "APPROVED", False, None),
    ("RELEASE", "CHANGES_REQUESTED", True, None),
    ("DEVELOPMENT", "APPROVED", True, None),
    ("INITIATION", "APPROVED", True, None),
])
def test_only_an_applied_release_approval_releases(gate, status, applied, expected):
    outcome = NS(applied=applied, review=NS(id=3, gate=gate, status=status))
    assert next_step("decide", outcome) == expected
    assert next_steps.after_decide(outcome) == expected


@pytest.mark.parametrize("event", ["verify", "waive"])
def test_a_verdict_or_waiver_rewrites_the_gate_report_quietly(event):
    assert next_step(event, NS(review_id="12")) == NextStep("development", 12, quiet_refusal=True)


@pytest.mark.parametrize(("gate", "expected"), [("MONITORING", NextStep("release", 5)), ("DEVELOPMENT", None), ("RELEASE", None)])
def test_advance_to_monitoring_schedules_the_first_followup(gate, expected):
    assert next_step("advance", NS(id=5, gate=gate)) == expected


def test_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown event 'approve'"):
        next_step("approve", NS(id=1))
    with pytest.raises(ValueError, match="expected one of submit"):
        rule("close", gate="RELEASE")


def _fake_steps(monkeypatch, fn):
    monkeypatch.setattr(next_steps, "step_functions", lambda: {"initiation": fn, "development": fn, "release": fn})


def test_run_step_reports_result(monkeypatch):
    calls = []

    def step(db, rid):
        calls.append((db, rid))
        return NS(message=f"review {rid} released")

    _fake_steps(monkeypatch, step)
    run = next_steps.run_step("DB", next_steps.next_step("decide", NS(applied=True, review=NS(id=9, gate="RELEASE", status="APPROVED"))), deliver=False)
    assert calls == [("DB", 9)]
    assert run.ok and run.message == "release step: review 9 released" and run.result.message == "review 9 released"


def test_no_step_no_run(monkeypatch):
    _fake_steps(monkeypatch, lambda db, rid: pytest.fail("no step should run"))
    assert next_steps.next_step("decide", NS(applied=False, review=NS(id=9, gate="RELEASE", status="IN_REVIEW"))) is None


def test_refusals_and_failures_are_returned_not_raised(monkeypatch):
    def illegal(db, rid):
        raise IllegalTransition(f"review {rid} is at INITIATION/IN_REVIEW, not at DEVELOPMENT or RELEASE")

    _fake_steps(monkeypatch, illegal)
    quiet = next_steps.run_step("DB", next_steps.next_step("verify", NS(review_id=4)), deliver=False)
    assert (quiet.problem, quiet.message) == ("refused", "")  # nothing to say to a verifier at INITIATION
    loud = next_steps.run_step("DB", NextStep("development", 4), deliver=False)
    assert loud.problem == "refused" and "not at DEVELOPMENT" in loud.message

    def blocked(db, rid):
        raise GateBlocked("cannot release while required controls are unmet: TR-01 (required)")

    _fake_steps(monkeypatch, blocked)
    run = next_steps.run_step("DB", NextStep("release", 4, quiet_refusal=True), deliver=False)
    assert run.problem == "refused" and "TR-01" in run.message  # quiet only silences IllegalTransition

    def broken(db, rid):
        raise RuntimeError("database is locked")

    _fake_steps(monkeypatch, broken)
    run = next_steps.run_step("DB", NextStep("release", 4), deliver=False)
    assert not run.ok and run.problem == "failed" and "RuntimeError: database is locked" in run.message
