"""Content audits that count: an audit run belongs to the product's review and the pack's audit control; its
verdict, once every sampled item is labelled (and, in double review, every disagreement adjudicated by a third
reviewer), fails the control and reopens a released product, or becomes the control's evidence.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from review.client.local import LocalClient
from review.demo.seed import CHAIR
from review.errors import Conflict, Forbidden
from review.services import audit, controls
from review.services import content_audit as ca
from review.services import content_labels as cl
from review.services.content_report import verdict
from review.services.queries import show_review
from review.store.db import Database
from tests.integration.followup_helpers import approve, released, submit, team_of

pytestmark = pytest.mark.usefixtures("people")
MEDICAL = "Text-to-image for games"  # generative, content safety MEDIUM: CS-03 (manual spot-check audit) verified at RELEASE
A, B, C = "amara.okafor", "priya.nair", "lucas.martin"


def _records(path: Path, product: str, n: int = 20) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "product": product, "prompt": "Draw a castle at dusk",
                                        "output": f"Here is a castle at dusk, variant #{i}."}) + "\n" for i in range(n)))
    return path


def _control(db: Database, rid: int, cid: str = "CS-03"):
    return next(c for c in show_review(db, rid).controls if c.control_id == cid)


def test_a_failing_double_reviewed_audit_waits_for_adjudication_then_fails_the_control_and_reopens(db: Database, tmp_path: Path) -> None:
    rid = released(db, MEDICAL, tmp_path)
    assert _control(db, rid).status == "VERIFIED"
    run = LocalClient(db, A).run_audit(_records(tmp_path / "out.jsonl", MEDICAL), product=MEDICAL, double_review=True)
    assert (run.review_id, run.control_id, run.sample_size) == (rid, "CS-03", 20)
    first = {i: "violation" if i <= 6 else "pass" for i in range(1, 21)}  # 70% pass: under the 90% bar
    cl.label_items(db, run.id, A, [{"item": i, "verdict": v, "category": "high_stakes_advice" if v == "violation" else None} for i, v in first.items()])
    second = {**first, 7: "violation", 1: "pass"}  # B disagrees on items 1 and 7
    cl.label_items(db, run.id, B, [{"item": i, "verdict": v, "category": "high_stakes_advice" if v == "violation" else None, "second": True}
                                   for i, v in second.items()])
    v = verdict(db, run.id)
    assert (v.complete, v.awaiting_adjudication, v.final) == (False, [1, 7], None)  # no verdict before the third reviewer
    assert _control(db, rid).status == "VERIFIED"
    with pytest.raises(Forbidden, match="a third reviewer adjudicates"):
        cl.label_item(db, run.id, 1, A, "violation", category="high_stakes_advice", adjudicate=True)
    with pytest.raises(Conflict, match="agree \\(pass\\); nothing to adjudicate"):
        cl.label_items(db, run.id, C, [{"item": 9, "verdict": "pass", "adjudicate": True}])
    cl.label_items(db, run.id, C, [{"item": 1, "verdict": "violation", "category": "high_stakes_advice", "adjudicate": True}])
    assert verdict(db, run.id).final is None
    cl.label_items(db, run.id, C, [{"item": 7, "verdict": "pass", "adjudicate": True}])

    v = verdict(db, run.id)
    assert (v.final, v.complete, v.adjudicated, v.passes) == ("fail", True, 2, 14)
    c = _control(db, rid)
    assert c.status == "REJECTED" and f"content audit run {run.id}: pass rate 70.0%" in c.rationale
    r = show_review(db, rid).review
    assert (r["gate"], r["status"]) == ("RELEASE", "SUBMITTED")  # reopened at the gate that verifies CS-03
    trail = [(x.actor, x.action) for x in audit.recent(db, review_id=rid, limit=10)]
    assert ("system:content-audit", "content_audit.control-failed") in trail and ("system:content-audit", "reopen") in trail
    notes = LocalClient(db, CHAIR).review_notifications(rid)
    failed = [n for n in notes if n["kind"] == "audit-failed"]
    assert {n["recipient"] for n in failed} == {f"team:{team_of(MEDICAL)}", "committee"}
    with pytest.raises(Conflict, match="verdict is in \\(fail"):
        cl.label_items(db, run.id, A, [{"item": 2, "verdict": "pass"}])
    assert audit.verify_chain(db).ok


def test_a_passing_audit_becomes_the_controls_evidence(db: Database, tmp_path: Path) -> None:
    rid = submit(db, MEDICAL)
    approve(db, rid, A)
    run = LocalClient(db, A).run_audit(_records(tmp_path / "out.jsonl", MEDICAL, n=12), product=MEDICAL)
    assert _control(db, rid).status == "REQUIRED"
    cl.label_items(db, run.id, B, [{"item": i, "verdict": "pass"} for i in range(1, 12)])
    assert verdict(db, run.id).final is None and _control(db, rid).status == "REQUIRED"  # one item left
    cl.label_items(db, run.id, B, [{"item": 12, "verdict": "pass"}])
    c = _control(db, rid)
    assert c.status == "EVIDENCE_SUBMITTED"
    ev = [e for e in c.evidence if e["filename"] == f"content-audit-{run.id}-verdict.json"]
    assert len(ev) == 1 and ev[0]["uploaded_by"] == "system:content-audit"
    check = controls.check_evidence(db, rid)
    assert check.ok and check.checked >= 1
    blob = controls.blob_path(db, ev[0]["sha256"])
    assert blob is not None
    doc = json.loads(blob.read_text())
    assert (doc["run"], doc["verdict"], doc["sample"], doc["passes"], doc["control"]) == (run.id, "pass", 12, 12, "CS-03")
    # the committee still verifies it, as any evidence
    controls.verify(db, rid, "CS-03", "pass", actor=C, rationale="sample and interval read")
    assert _control(db, rid).status == "VERIFIED"


def test_an_audit_of_a_product_without_the_control_still_has_a_verdict(db: Database, tmp_path: Path) -> None:
    rid = submit(db, "Code assistant")  # LOW: no CS-03
    run = ca.start_run(db, _records(tmp_path / "o.jsonl", "Code assistant", n=5), product="Code assistant", actor=A)
    ca.run_inline(db, run.id, actor=A)
    assert (ca.get_run_row(db, run.id).review_id, ca.get_run_row(db, run.id).control_id) == (rid, None)
    cl.label_items(db, run.id, B, [{"item": i, "verdict": "pass"} for i in range(1, 6)])
    assert verdict(db, run.id).final == "pass"


def test_a_file_whose_records_are_all_rejected_fails_the_run(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text("not json\n[1, 2]\n")
    submit(db, MEDICAL)
    run = LocalClient(db, A).run_audit(src, product=MEDICAL)
    assert (run.status, run.records, run.bad_records, run.sample_size) == ("FAILED", 0, 2, 0)




def test_in_a_double_review_one_persons_labels_are_never_a_verdict(db: Database, tmp_path: Path) -> None:
    rid = submit(db, MEDICAL)
    run = LocalClient(db, A).run_audit(_records(tmp_path / "out.jsonl", MEDICAL, n=6), product=MEDICAL, double_review=True)
    # A marks everything "second": in a double review the first label of an item is its first review anyway
    labels = cl.label_items(db, run.id, A, [{"item": i, "verdict": "pass", "second": True} for i in range(1, 7)])
    assert {x.round for x in labels} == {1}
    v = verdict(db, run.id)
    assert (v.complete, v.awaiting_second, v.final) == (False, 6, None)
    cl.label_items(db, run.id, B, [{"item": i, "verdict": "pass"} for i in range(1, 7)])  # B is the second reviewer
    assert verdict(db, run.id).final == "pass"
    assert _control(db, rid).status in ("REQUIRED", "EVIDENCE_SUBMITTED")
