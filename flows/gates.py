"""The three gate flows. Each is a thin, idempotent wrapper around one step in ``review.services.gates``.

Runs are named and tagged by review and gate (``initiation-review R-12``; tags
``review:R-12``, ``gate:initiation``), so the Prefect UI reads as each review's history.
Committee decisions live in the app database, never in paused flow runs: a decision
recorded in the CLI or TUI starts the next flow (``review.client.steps``).
"""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow, get_run_logger, tags

from flows.settings import database
from review.services import gates
from review.services.notifications import deliver_pending

DEPLOYMENT = "on-demand"


def review_tags(review_id: int, gate: str) -> list[str]:
    """The tags that make a flow run findable by review and gate."""
    return [f"review:R-{int(review_id)}", f"gate:{gate}", "ethics-review"]


def _finish(db: Any, result: gates.StepResult) -> dict[str, Any]:
    get_run_logger().info(result.message)
    deliver_pending(db)  # after the commit: a failed webhook never loses the state change
    return result.to_json()


@flow(name="initiation-review", flow_run_name="initiation-review R-{review_id}", retries=1, retry_delay_seconds=10)
def initiation_review(review_id: int, database_url: str | None = None) -> dict[str, Any]:
    """Grade (ensure assessment and controls), queue for the committee with priority and SLA due date, notify."""
    db = database(database_url)
    return _finish(db, gates.initiation_step(db, review_id))


@flow(name="development-verification", flow_run_name="development-verification R-{review_id}", retries=1, retry_delay_seconds=10)
def development_verification(review_id: int, database_url: str | None = None) -> dict[str, Any]:
    """Re-verify every control required at initiation, compute the residual grade, store the gate report."""
    db = database(database_url)
    return _finish(db, gates.development_step(db, review_id))


@flow(name="release-gate", flow_run_name="release-gate R-{review_id}")
def release_gate(review_id: int, database_url: str | None = None) -> dict[str, Any]:
    """Release an approved product and schedule its first follow-up; fails (GateBlocked) while controls are unmet."""
    db = database(database_url)
    return _finish(db, gates.release_step(db, review_id))


#: Gate name -> flow, for hooks and the demo.
GATE_FLOWS: dict[str, Flow[..., dict[str, Any]]] = {
    "initiation": initiation_review,
    "development": development_verification,
    "release": release_gate,
}


def run_gate_flow(gate: str, review_id: int, *, database_url: str | None = None) -> dict[str, Any]:
    """Run a gate flow in this process with the Prefect engine, tagged by review and gate."""
    with tags(*review_tags(review_id, gate)):
        return GATE_FLOWS[gate](review_id, database_url=database_url)
