"""Which automatic gate step follows which committee or team event, and running it here.

The one place for the rules "after X, run step Y". Two entry points use them:

* ``review.client.steps`` (the local client and the API server, so the CLI and the TUI
  alike) starts the step's Prefect deployment when a server is configured, else runs it
  here (``run_step``);
* the gate flows run the same step functions (``step_functions``).

The rules (``rule`` works on plain values, ``next_step`` reads them from the object the use
case returned):

=========  ==========================================  ===========  ================
event      when                                        step         refusal
=========  ==========================================  ===========  ================
submit     the review is at INITIATION                 initiation   reported
submit     the review is at DEVELOPMENT or RELEASE     development  reported
decide     an applied approval at RELEASE              release      reported
verify     always (the gate report changes)            development  quiet
waive      always (like a verdict)                     development  quiet
advance    the review reached MONITORING               release      reported
=========  ==========================================  ===========  ================

A "quiet" refusal: an ``IllegalTransition`` (the review is not at a gate where the step
applies, e.g. a control verified at INITIATION) is not worth telling anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from review.errors import IllegalTransition, ReviewError
from review.store.db import Database

EVENTS = ("submit", "decide", "verify", "waive", "advance")
STEPS = ("initiation", "development", "release")
_SUBMIT_STEP = {"INITIATION": "initiation", "DEVELOPMENT": "development", "RELEASE": "development"}


@dataclass(frozen=True)
class NextStep:
    """The automatic step to run for ``review_id`` (``step`` is one of ``STEPS``)."""

    step: str
    review_id: int
    quiet_refusal: bool = False


# ---- the rules (pure) ------------------------------------------------------------------------
def rule(event: str, *, gate: str | None, status: str | None = None, applied: bool = True) -> tuple[str, bool] | None:
    """(step, quiet_refusal) after ``event`` on a review now at ``gate``/``status``, or None.

    ``applied``: for ``decide``, whether the decision took effect (False while a quorum
    still waits for more approvals). Raises ``ValueError`` for an unknown event.
    """
    if event == "submit":
        step = _SUBMIT_STEP.get(gate or "")
        return (step, False) if step else None
    if event == "decide":
        return ("release", False) if applied and gate == "RELEASE" and status == "APPROVED" else None
    if event in ("verify", "waive"):
        return ("development", True)
    if event == "advance":
        return ("release", False) if gate == "MONITORING" else None
    raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")


def after_submit(review: Any) -> NextStep | None:
    """A product (or a gate) was submitted: queue it (initiation) or re-verify its controls."""
    return _make("submit", review.id, gate=review.gate)


def after_decide(outcome: Any) -> NextStep | None:
    """A committee decision (``reviews.DecisionOutcome``): an applied release approval releases the product."""
    r = outcome.review
    return _make("decide", r.id, gate=r.gate, status=r.status, applied=bool(outcome.applied))


def after_verify(requirement: Any) -> NextStep | None:
    """A control was verified or rejected (a ``ControlRequirement``): rewrite the gate's re-verification report."""
    return _make("verify", requirement.review_id, gate=None)


def after_waive(requirement: Any) -> NextStep | None:
    """A control was waived: the gate report changes like after a verdict."""
    return _make("waive", requirement.review_id, gate=None)


def after_advance(review: Any) -> NextStep | None:
    """A review moved to its next gate: a product that reached monitoring gets its first follow-up."""
    return _make("advance", review.id, gate=review.gate)


_RULES: dict[str, Callable[[Any], NextStep | None]] = {
    "submit": after_submit, "decide": after_decide, "verify": after_verify, "waive": after_waive, "advance": after_advance,
}


def next_step(event: str, obj: Any) -> NextStep | None:
    """The step after ``event`` for the object its use case returned (review, outcome, requirement)."""
    try:
        return _RULES[event](obj)
    except KeyError:
        raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}") from None


def _make(event: str, review_id: Any, **values: Any) -> NextStep | None:
    found = rule(event, **values)
    return None if found is None else NextStep(found[0], int(review_id), found[1])


# ---- running a step in this process ----------------------------------------------------------
@dataclass(frozen=True)
class StepRun:
    """What running a step did. ``result`` is the gates ``StepResult`` when it ran;
    ``message`` is one line for a person ("" for a quiet refusal); ``problem``: refused or failed."""

    step: NextStep
    result: Any | None
    message: str
    problem: str | None = None  # None | "refused" | "failed"
    delivery_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def step_functions() -> dict[str, Callable[..., Any]]:
    from review.services import gates

    return {"initiation": gates.initiation_step, "development": gates.development_step, "release": gates.release_step}


def run_step(db: Database, step: NextStep, *, deliver: bool = True) -> StepRun:
    """Run ``step`` through ``review.services.gates`` (one transaction), then deliver notifications.

    Never raises: the event that led here is already committed, so a refusal (e.g. the
    release gate waiting for a second approval, unmet controls) or a failure is returned
    in ``StepRun.problem`` / ``message`` for the caller to show.
    """
    try:
        result = step_functions()[step.step](db, step.review_id)
    except ReviewError as exc:
        quiet = step.quiet_refusal and isinstance(exc, IllegalTransition)
        return StepRun(step, None, "" if quiet else f"{step.step} step: {exc.message}", "refused")
    except Exception as exc:  # reported, never raised (see docstring)
        return StepRun(step, None, f"{step.step} step failed ({type(exc).__name__}: {exc}); run it again "
                                   "(it is idempotent) from the CLI or the Prefect UI", "failed")
    delivery_error = None
    if deliver:
        from review.services.notifications import deliver_pending

        try:
            deliver_pending(db)
        except Exception as exc:  # queued rows are retried by the next delivery
            delivery_error = str(exc)
    return StepRun(step, result, f"{step.step} step: {result.message}", None, delivery_error)

