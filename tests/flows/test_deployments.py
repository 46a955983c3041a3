"""The served deployments: names, cron schedules from config, tags; and the CLI hook that starts them."""

from __future__ import annotations

import pytest

from flows.serve import build_deployments


def by_name(deps):
    return {f"{d.flow_name}/{d.name}": d for d in deps}


def test_deployments_and_their_cron_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETHICS_REVIEW_FOLLOWUP_CRON", raising=False)
    deps = by_name(build_deployments())
    assert set(deps) == {"followup-scan/nightly", "followup-escalation/hourly", "audit-checkpoint/hourly", "initiation-review/on-demand",
                         "development-verification/on-demand", "release-gate/on-demand", "aigc-content-audit/on-demand"}
    assert [s.schedule.cron for s in deps["audit-checkpoint/hourly"].schedules] == ["30 * * * *"]
    assert deps["audit-checkpoint/hourly"].entrypoint == "flows.checkpoint.audit_checkpoint"
    assert [s.schedule.cron for s in deps["followup-scan/nightly"].schedules] == ["0 2 * * *"]
    assert [s.schedule.cron for s in deps["followup-escalation/hourly"].schedules] == ["0 * * * *"]
    assert all(not deps[n].schedules for n in deps if n.endswith("/on-demand"))
    assert deps["release-gate/on-demand"].entrypoint == "flows.gates.release_gate"
    assert "gate:release" in deps["release-gate/on-demand"].tags
    audit = deps["aigc-content-audit/on-demand"]
    assert audit.entrypoint == "flows.content_audit.aigc_content_audit"
    assert {"run_id", "cluster", "dask_workers"} <= set(audit._parameter_openapi_schema.properties)


def test_followup_cron_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHICS_REVIEW_FOLLOWUP_CRON", "30 3 * * 1-5")
    deps = by_name(build_deployments())
    assert deps["followup-scan/nightly"].schedules[0].schedule.cron == "30 3 * * 1-5"


@pytest.mark.usefixtures("prefect_harness")
def test_a_write_starts_the_deployment_without_waiting(sqlite_people, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PREFECT_API_URL set, `submit` creates a flow run of the on-demand deployment and returns at once."""
    import time
    from types import SimpleNamespace

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from review.client import steps
    from tests.integration.followup_helpers import submit

    deps = by_name(build_deployments())
    deps["initiation-review/on-demand"].apply()
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    rid = submit(sqlite_people, "Code assistant")
    t0 = time.perf_counter()
    report = steps.after(sqlite_people, "submit", SimpleNamespace(id=rid, gate="INITIATION"))
    assert time.perf_counter() - t0 < 5
    assert report is not None and report.ok and report.where == "prefect" and "started on the Prefect server" in report.message
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if r.name == f"initiation-review R-{rid}"]
    assert runs and f"review:R-{rid}" in runs[0].tags and runs[0].parameters == {"review_id": rid}
