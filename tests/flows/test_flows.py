"""The flows run with the Prefect engine (one session-wide test harness); outcomes asserted in the database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from flows.followups import followup_escalation, post_release_followups
from flows.gates import development_verification, release_gate, run_gate_flow
from review.demo.seed import CHAIR
from review.services import reviews
from review.store.db import Database, utcnow
from review.store.models import Review
from review.store.models_followup import FollowupCheck, FollowupVisit, GateReport, Notification
from tests.integration.followup_helpers import approve, released, submit, to_release_gate

pytestmark = pytest.mark.usefixtures("prefect_harness")


def one(db: Database, model, *where):
    with db.reading() as s:
        return s.exec(select(model).where(*where)).all()


def test_gate_flows_write_their_outcomes(people: Database, tmp_path: Path) -> None:
    rid = submit(people, "Medical LLM assistant")
    out = run_gate_flow("initiation", rid, database_url=people.url)
    assert out["outcome"] == "queued" and out["details"]["grade"] == "HIGH"
    run_gate_flow("initiation", rid, database_url=people.url)  # idempotent
    assert len(one(people, Notification, Notification.kind == "review-queued", Notification.review_id == rid)) == 1

    rid2 = to_release_gate(people, "Text-to-image for games", tmp_path)
    out = development_verification(rid2, database_url=people.url)
    assert out["outcome"] == "passed"
    [rep] = one(people, GateReport, GateReport.review_id == rid2, GateReport.gate == "RELEASE")
    assert rep.passed and rep.report["summary"]["missing"] == 0

    approve(people, rid2, "amara.okafor")
    out = release_gate(rid2, database_url=people.url)
    assert out["outcome"] == "released"
    with people.reading() as s:
        assert s.get(Review, rid2).gate == "MONITORING"
    [check] = one(people, FollowupCheck, FollowupCheck.review_id == rid2)
    assert check.status == "SCHEDULED"


def test_release_gate_flow_waits_for_the_quorum(people: Database, tmp_path: Path) -> None:
    rid = to_release_gate(people, "Medical LLM assistant", tmp_path)
    approve(people, rid, "amara.okafor")
    out = release_gate(rid, database_url=people.url)
    assert out["outcome"] == "waiting" and "chair" in out["message"]
    assert one(people, FollowupCheck, FollowupCheck.review_id == rid) == []
    reviews.decide(people, rid, "approve", actor=CHAIR, rationale="chair concurs")
    assert release_gate(rid, database_url=people.url)["outcome"] == "released"


def test_scan_flow_opens_due_checks_over_id_ranges_and_escalates(people: Database, tmp_path: Path) -> None:
    t0 = utcnow()
    a = released(people, "Remote-sensing platform", tmp_path, now=t0)
    b = released(people, "Text-to-image for games", tmp_path, now=t0)  # MEDIUM: every 90 days
    out = post_release_followups(now=t0 + timedelta(days=100), chunk=1, database_url=people.url)
    assert (out["opened"], out["ranges"], out["reaudits"]) == (1, 1, 1)
    [cb] = one(people, FollowupCheck, FollowupCheck.review_id == b)
    assert cb.status == "OPEN" and len(one(people, FollowupVisit, FollowupVisit.check_id == cb.id)) == 3
    assert one(people, FollowupCheck, FollowupCheck.review_id == a)[0].status == "SCHEDULED"
    out = followup_escalation(now=t0 + timedelta(days=90 + 14), database_url=people.url)
    assert out["escalated"] == 1
    assert one(people, FollowupCheck, FollowupCheck.review_id == b)[0].escalated_at is not None


def test_flow_runs_are_named_and_tagged_by_review_and_gate(sqlite_people: Database) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    rid = submit(sqlite_people, "Code assistant")
    run_gate_flow("initiation", rid, database_url=sqlite_people.url)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"review:R-{rid}", "gate:initiation"])))
    assert runs and all(r.name == f"initiation-review R-{rid}" for r in runs)
    # (other tests may leave a scheduled run with the same review id: the hook test never executes its run)
    assert any(r.state.is_completed() and r.deployment_id is None for r in runs)


@pytest.mark.usefixtures("prefect_harness")
def test_the_checkpoint_flow_signs_the_head_and_keeps_a_copy(sqlite_people, tmp_path, monkeypatch) -> None:
    import json

    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(sqlite_people.data_dir))  # the flow's process shares the server's data dir (and key)
    from flows.checkpoint import audit_checkpoint
    from review.services import audit, checkpoints

    doc = audit_checkpoint(database_url=sqlite_people.url, out_dir=str(tmp_path / "kept"))
    kept = json.loads((tmp_path / "kept" / f"checkpoint-{doc['head_id']}.json").read_text())
    rep = audit.verify_chain(sqlite_people, checkpoints=[kept])
    assert rep.ok and rep.checkpoints and checkpoints.stored(sqlite_people)[0]["head_hash"] == kept["head_hash"]
