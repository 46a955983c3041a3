"""Where a gate's automatic step runs after a write (the local client and the server use this).

WHICH step follows which event is decided by ``review.services.next_steps``; this module
decides WHERE it runs:

* With a Prefect server configured (``PREFECT_API_URL``), the step's deployment is started
  with ``run_deployment(..., timeout=0)``: the call answers at once and the run shows in
  the Prefect UI, named and tagged by review and gate.
* Otherwise the same step runs in this process through ``review.services.gates`` (one
  transaction, milliseconds); no ephemeral Prefect server is ever started here.

The write is already committed when a step runs, so a step never fails the write: a
refusal (the release gate waiting for a second approval) or an unreachable Prefect server
is reported in the ``StepReport``; for the server, the step then runs in this process.
"""

from __future__ import annotations

import os
from typing import Any

from review.client.base import StepReport
from review.services import next_steps
from review.services.next_steps import NextStep
from review.store.db import Database

PREFECT_API_ENV = "PREFECT_API_URL"
DEPLOYMENTS = {
    "initiation": "initiation-review/on-demand",
    "development": "development-verification/on-demand",
    "release": "release-gate/on-demand",
}


def after(db: Database, event: str, obj: Any, *, database_param: str | None = None) -> StepReport | None:
    """Run (or start) the step that follows ``event`` on ``obj``; None when none follows.

    ``database_param``: a database URL to hand the Prefect deployment (an explicit
    ``--database``); the deployment's own environment names the database otherwise."""
    step = next_steps.next_step(event, obj)
    return None if step is None else dispatch(db, step, database_param=database_param)


def dispatch(db: Database, step: NextStep, *, database_param: str | None = None) -> StepReport:
    notes: list[str] = []
    if os.environ.get(PREFECT_API_ENV):
        try:
            run = _start_deployment(step, database_param)
            return StepReport(step.step, step.review_id, True, None,
                              f"{step.step} step: flow run {run.name!r} started on the Prefect server ({run.id})", "prefect")
        except Exception as exc:  # the Prefect server is optional; the in-process step is the same logic
            notes.append(f"{step.step} step: could not start it on the Prefect server ({type(exc).__name__}: {exc}); running it here")
    run = next_steps.run_step(db, step)
    if run.delivery_error:
        notes.append(f"notifications not delivered now ({run.delivery_error}); they stay queued")
    if run.message:
        notes.append(run.message)
    return StepReport(step.step, step.review_id, run.ok, run.problem, "\n".join(notes))


def _start_deployment(step: NextStep, database_param: str | None) -> Any:
    from prefect.deployments import run_deployment

    params: dict[str, Any] = {"review_id": int(step.review_id)}
    if database_param and "@" not in database_param.split("//", 1)[-1].split("/", 1)[0]:
        params["database_url"] = database_param  # never send a URL with credentials into Prefect's database
    name = DEPLOYMENTS[step.step]
    return run_deployment(name, parameters=params, timeout=0, flow_run_name=f"{name.split('/')[0]} R-{int(step.review_id)}",
                          tags=[f"review:R-{int(step.review_id)}", f"gate:{step.step}", "ethics-review"])
