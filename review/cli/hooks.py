"""What the CLI does after a use case succeeds: start the next gate's automatic step.

WHICH step follows which event is decided by ``review.services.next_steps`` (shared with
the TUI); this module only decides WHERE it runs:

* With a Prefect server configured (``PREFECT_API_URL`` set in the environment), the
  step's deployment is started with ``run_deployment(..., timeout=0)``: the command
  answers at once and the run shows in the Prefect UI, named and tagged by review/gate.
* Otherwise the same step runs in-process through ``review.services.gates`` (one
  transaction, milliseconds); no ephemeral Prefect server is ever started here.

The use case is already committed when a hook runs, so a hook never fails the command: a
refusal (e.g. the release gate waiting for a second approval) or an unreachable server is
reported on one line and, for the server, the step falls back to running in-process.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from review.services import next_steps
from review.services.next_steps import NextStep

API_ENV = "PREFECT_API_URL"
DEPLOYMENTS = {
    "initiation": "initiation-review/on-demand",
    "development": "development-verification/on-demand",
    "release": "release-gate/on-demand",
}


def after_submit(ctx: Any, review: Any) -> None:
    """A product (or a gate) was submitted: queue it (initiation) or re-verify its controls (development, release)."""
    _dispatch(ctx, next_steps.after_submit(review))


def after_decide(ctx: Any, outcome: Any) -> None:
    """A committee decision was recorded: an applied release approval releases the product."""
    _dispatch(ctx, next_steps.after_decide(outcome))


def after_verify(ctx: Any, requirement: Any) -> None:
    """A control was verified or rejected: rewrite the gate's re-verification report."""
    _dispatch(ctx, next_steps.after_verify(requirement))


def after_waive(ctx: Any, requirement: Any) -> None:
    """A control was waived: the gate report changes like after a verdict."""
    _dispatch(ctx, next_steps.after_waive(requirement))


def after_advance(ctx: Any, review: Any) -> None:
    """A review moved to its next gate: a product that reached monitoring gets its first follow-up."""
    _dispatch(ctx, next_steps.after_advance(review))


def _dispatch(ctx: Any, step: NextStep | None) -> None:
    if step is not None:
        start_step(ctx, step.step, step.review_id, quiet_refusal=step.quiet_refusal)


# ---- dispatch ----------------------------------------------------------------------------------
def _say(ctx: Any, text: str) -> None:
    if getattr(ctx, "json", False):
        print(text, file=sys.stderr)  # stdout stays one JSON object
    else:
        from review.cli import output

        output.say(text, style="dim")


def start_step(ctx: Any, step: str, review_id: int, *, quiet_refusal: bool = False) -> None:
    """Start ``step`` for ``review_id`` on the Prefect server if one is configured, else run it in-process."""
    if os.environ.get(API_ENV):
        try:
            run = _start_deployment(ctx, step, review_id)
            _say(ctx, f"{step} step: flow run {run.name!r} started on the Prefect server ({run.id})")
            return
        except Exception as exc:  # the server is optional; the in-process step is the same logic
            _say(ctx, f"{step} step: could not start it on the Prefect server ({type(exc).__name__}: {exc}); running it here")
    run_in_process(ctx, step, review_id, quiet_refusal=quiet_refusal)


def _start_deployment(ctx: Any, step: str, review_id: int) -> Any:
    from prefect.deployments import run_deployment

    params: dict[str, Any] = {"review_id": int(review_id)}
    explicit = getattr(ctx.args, "database", None)
    if explicit and "@" not in explicit.split("//", 1)[-1].split("/", 1)[0]:
        params["database_url"] = explicit  # never send a URL with credentials into Prefect's database
    return run_deployment(DEPLOYMENTS[step], parameters=params, timeout=0,
                          flow_run_name=f"{DEPLOYMENTS[step].split('/')[0]} R-{int(review_id)}",
                          tags=[f"review:R-{int(review_id)}", f"gate:{step}", "ethics-review"])


def run_in_process(ctx: Any, step: str, review_id: int, *, quiet_refusal: bool = False) -> Any:
    """The step's logic in this process, through the services (then deliver notifications)."""
    run = next_steps.run_step(ctx.db, NextStep(step, int(review_id), quiet_refusal))
    if run.delivery_error:
        _say(ctx, f"notifications not delivered now ({run.delivery_error}); they stay queued")
    if run.message:
        _say(ctx, run.message)
    return run.result
