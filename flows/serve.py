"""``ethics-review serve``: register and serve the deployments with Prefect's ``serve()``.

* ``followup-scan/nightly``: cron ``$ETHICS_REVIEW_FOLLOWUP_CRON`` (default ``0 2 * * *``)
* ``followup-escalation/hourly``: cron ``$ETHICS_REVIEW_ESCALATION_CRON`` (default ``0 * * * *``)
* ``audit-checkpoint/hourly``: cron ``$ETHICS_REVIEW_CHECKPOINT_CRON`` (default ``30 * * * *``): sign the audit chain's head
* ``initiation-review/on-demand``, ``development-verification/on-demand``,
  ``release-gate/on-demand``: no schedule; the CLI starts them with ``run_deployment``.
* ``aigc-content-audit/on-demand``: scan a planned audit run (``run_id``), its chunk tasks on the Dask
  cluster at ``cluster`` (e.g. ``tcp://HOST:8786``; PostgreSQL only) or in processes where it is served.

Schedules fire only while ``prefect server start`` runs and this process serves them.
"""

from __future__ import annotations

from typing import Any

from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from flows import gates
from flows.checkpoint import audit_checkpoint
from flows.content_audit import aigc_content_audit
from flows.followups import followup_escalation, post_release_followups
from flows.settings import checkpoint_cron, escalation_cron, followup_cron, schedule_timezone


def build_deployments(*, followup: str | None = None, escalation: str | None = None) -> list[Any]:
    """The deployments to serve (RunnerDeployment objects; nothing is sent to the server here)."""
    tz = schedule_timezone()
    by_module = EntrypointType.MODULE_PATH  # the flows are found by module path, not by file
    out = [
        post_release_followups.to_deployment(name="nightly", schedule=Cron(followup or followup_cron(), timezone=tz),
                                             tags=["ethics-review", "followups"], description="Open due follow-up checks; escalate overdue ones.", entrypoint_type=by_module),
        followup_escalation.to_deployment(name="hourly", schedule=Cron(escalation or escalation_cron(), timezone=tz),
                                          tags=["ethics-review", "followups"], description="Escalate overdue follow-up checks to the chair.", entrypoint_type=by_module),
        audit_checkpoint.to_deployment(name="hourly", schedule=Cron(checkpoint_cron(), timezone=tz), tags=["ethics-review", "audit-log"],
                                       description="Sign the audit chain's head; keep a copy outside the database.", entrypoint_type=by_module),
    ]
    out.append(aigc_content_audit.to_deployment(name="on-demand", tags=["ethics-review", "content-audit"], entrypoint_type=by_module,
                                                description="Scan a planned audit run's chunks (cluster=tcp://HOST:8786: on that Dask "
                                                            "cluster), then draw the spot-check sample."))
    for gate, fl in gates.GATE_FLOWS.items():
        out.append(fl.to_deployment(name=gates.DEPLOYMENT, tags=["ethics-review", f"gate:{gate}"],
                                    description=f"The {gate} gate's automatic step, started by the CLI / TUI.", entrypoint_type=by_module))
    return out


def serve_all(*, limit: int | None = None) -> None:
    """Serve every deployment until interrupted (needs PREFECT_API_URL pointing at a running server)."""
    from prefect import serve

    serve(*build_deployments(), limit=limit)
