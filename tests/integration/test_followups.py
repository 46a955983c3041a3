"""Gate steps, follow-ups, feedback and notifications on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from review.demo.seed import CHAIR
from review.errors import Conflict, Forbidden, GateBlocked, InvalidInput, NotFound
from review.services import feedback, followups, gates, reviews
from review.services.notifications import deliver_pending
from review.store.db import Database, canonical_json, utcnow
from review.store.models import ControlRequirement, Review
from review.store.models_followup import Feedback, FollowupCheck, FollowupVisit, GateReport, Notification, ReauditRequest
from tests.integration.followup_helpers import approve, evidence, released, submit, to_release_gate, verify

CLEAN = {"answers": {"q1": "no", "q2": "no", "q3": "yes"}, "finding": "none"}


def rows(db: Database, model, *where):
    with db.reading() as s:
        return s.exec(select(model).where(*where)).all()


def review(db: Database, rid: int) -> Review:
    with db.reading() as s:
        return s.get(Review, rid)


# ---- gates -------------------------------------------------------------------------------------
def test_initiation_step_queues_once_and_restores_missing_controls(people: Database) -> None:
    rid = submit(people, "Medical LLM assistant")
    with people.transaction() as s:
        s.execute(sa.delete(ControlRequirement).where(ControlRequirement.review_id == rid, ControlRequirement.control_id == "PRV-01"))
    first = gates.initiation_step(people, rid)
    again = gates.initiation_step(people, rid)
    assert first.details["controls_added"] == ["PRV-01"] and again.details["controls_added"] == []
    r = review(people, rid)
    assert (r.priority, r.grade) == (2, "HIGH") and r.due_at is not None
    assert r.due_at - r.created_at >= timedelta(days=4)  # HIGH: 5-day SLA from the pack
    queued = rows(people, Notification, Notification.kind == "review-queued", Notification.review_id == rid)
    assert len(queued) == 1 and queued[0].recipient == "committee"


def test_development_report_lists_met_missing_rejected_and_residual(people: Database, tmp_path: Path) -> None:
    rid = submit(people, "Medical LLM assistant")
    approve(people, rid, "amara.okafor")
    reviews.advance(people, rid, actor="health.lead")
    evidence(people, rid, "Medical LLM assistant", tmp_path, ("DEVELOPMENT",))
    devs = [c.control_id for c in rows(people, ControlRequirement, ControlRequirement.review_id == rid) if c.verify_gate == "DEVELOPMENT"]
    verify(people, rid, "amara.okafor", ("DEVELOPMENT",), fail=devs[0])
    res = gates.development_step(people, rid)
    gates.development_step(people, rid)  # idempotent: same report row
    reps = rows(people, GateReport, GateReport.review_id == rid)
    assert len(reps) == 1 and reps[0].gate == "DEVELOPMENT" and not reps[0].passed
    verdicts = {c["control"]: c["verdict"] for c in reps[0].report["controls"]}
    assert verdicts[devs[0]] == "rejected" and all(verdicts[c] == "met" for c in devs[1:])
    assert res.outcome == "gaps" and res.details["blocking"] == [devs[0]]
    assert reps[0].residual_grade in ("LOW", "MEDIUM", "HIGH")
    reviews.submit_gate(people, rid, actor="health.lead")
    reviews.assign(people, rid, "amara.okafor", actor=CHAIR)
    with pytest.raises(GateBlocked, match=devs[0]):
        reviews.decide(people, rid, "approve", actor="amara.okafor", rationale="not yet")


def test_release_refuses_with_gaps(people: Database, tmp_path: Path) -> None:
    rid = to_release_gate(people, "Text-to-image for games", tmp_path, verify_all=False)
    out = approve(people, rid, "amara.okafor")
    assert out.applied  # MEDIUM: one approval is the quorum, but the RELEASE controls are still unverified
    with pytest.raises(GateBlocked, match=r"cannot release while required controls are unmet: CS-03 \(evidence submitted\), CS-06"):
        gates.release_step(people, rid)
    r = review(people, rid)
    assert (r.gate, r.status) == ("RELEASE", "APPROVED")
    assert rows(people, FollowupCheck, FollowupCheck.review_id == rid) == []


def test_release_refuses_one_approval_where_two_are_needed(people: Database, tmp_path: Path) -> None:
    rid = to_release_gate(people, "Medical LLM assistant", tmp_path)
    out = approve(people, rid, "amara.okafor")
    assert not out.applied
    res = gates.release_step(people, rid)
    assert res.outcome == "waiting" and "chair" in res.message and "1 more approval" in res.message
    r = review(people, rid)
    assert (r.gate, r.status) == ("RELEASE", "IN_REVIEW")
    assert rows(people, FollowupCheck, FollowupCheck.review_id == rid) == []
    reviews.decide(people, rid, "approve", actor=CHAIR, rationale="chair concurs")
    now = utcnow()
    res = gates.release_step(people, rid, now=now)
    assert res.outcome == "released" and review(people, rid).gate == "MONITORING"
    [check] = rows(people, FollowupCheck, FollowupCheck.review_id == rid)
    assert check.status == "SCHEDULED" and check.due_at == now + timedelta(days=30)  # HIGH cadence
    again = gates.release_step(people, rid, now=now)
    assert again.outcome == "monitoring" and len(rows(people, FollowupCheck, FollowupCheck.review_id == rid)) == 1


# ---- follow-ups with an injected clock -----------------------------------------------------------
@pytest.fixture
def monitored(people: Database, tmp_path: Path) -> tuple[Database, int, object]:
    t0 = utcnow()
    rid = released(people, "Remote-sensing platform", tmp_path, now=t0)  # LOW: every 365 days, 3 visits, escalate after 14
    return people, rid, t0


def test_not_yet_due_then_due_opens_visits_once(monitored) -> None:
    db, rid, t0 = monitored
    assert followups.scan(db, now=t0 + timedelta(days=364)).opened == 0
    res = followups.scan(db, now=t0 + timedelta(days=365))
    assert (res.opened, res.visits, res.escalated) == (1, 3, 0)
    [check] = rows(db, FollowupCheck, FollowupCheck.review_id == rid)
    assert check.status == "OPEN"
    visits = rows(db, FollowupVisit, FollowupVisit.check_id == check.id)
    assert len(visits) == 3 and all(len(v.questionnaire) == 3 and v.status == "PENDING" for v in visits)
    assert followups.sample_customers(check.id, ["a", "b", "c", "d", "e"], 3) == followups.sample_customers(check.id, ["e", "d", "c", "b", "a"], 3)
    assert followups.scan(db, now=t0 + timedelta(days=366)).opened == 0  # idempotent
    assert len(rows(db, FollowupVisit, FollowupVisit.check_id == check.id)) == 3


def test_overdue_check_escalates_to_chair_once(monitored) -> None:
    db, rid, t0 = monitored
    followups.scan(db, now=t0 + timedelta(days=365))
    assert followups.scan(db, now=t0 + timedelta(days=365 + 13)).escalated == 0
    assert followups.scan(db, now=t0 + timedelta(days=365 + 14)).escalated == 1
    assert followups.scan(db, now=t0 + timedelta(days=365 + 20)).escalated == 0
    [n] = rows(db, Notification, Notification.kind == "followup-overdue")
    assert n.recipient == "chair" and n.review_id == rid
    assert [c["id"] for c in followups.list_checks(db, which="overdue", now=t0 + timedelta(days=380))]


def _open(db: Database, rid: int, t0):
    followups.scan(db, now=t0 + timedelta(days=365))
    [check] = rows(db, FollowupCheck, FollowupCheck.review_id == rid, FollowupCheck.status == "OPEN")
    return check, [v.customer for v in rows(db, FollowupVisit, FollowupVisit.check_id == check.id)]


def test_new_risk_reopens_at_initiation_and_notifies_committee(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    doc = {"answers": {"q1": "yes", "q2": True, "q3": "yes"}, "finding": "new_risk", "notes": "Imagery resolution now identifies individual farmers"}
    out = followups.record_visit(db, check.id, customers[0], doc, actor="amara.okafor", now=t0 + timedelta(days=366))
    assert out.reopened_at == "INITIATION" and out.check_status == "TRIGGERED"
    r = review(db, rid)
    assert (r.gate, r.status) == ("INITIATION", "SUBMITTED")
    assert rows(db, Notification, Notification.kind == "followup-triggered")[0].recipient == "committee"
    assert [c["id"] for c in followups.list_checks(db, which="triggered")] == [check.id]


def test_a_triggered_check_still_records_its_other_visits(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    doc = {"answers": {"q1": "yes", "q2": True, "q3": "yes"}, "finding": "new_risk", "notes": "Imagery now identifies individual farmers"}
    assert followups.record_visit(db, check.id, customers[0], doc, actor="amara.okafor").check_status == "TRIGGERED"
    ctrl = rows(db, ControlRequirement, ControlRequirement.review_id == rid)[0].control_id
    second = {"answers": {"q1": "no", "q2": "no", "q3": "no"}, "finding": "failed-control", "controls": [ctrl.lower()], "notes": "The accountability owner left and nobody replaced them"}
    out = followups.record_visit(db, check.id, customers[1], second, actor="amara.okafor")
    assert out.check_status == "TRIGGERED" and out.finding == "failed_control" and out.reopened_at is None  # already reopened once
    assert rows(db, ControlRequirement, ControlRequirement.review_id == rid, ControlRequirement.control_id == ctrl)[0].status == "REJECTED"
    [c] = rows(db, FollowupCheck, FollowupCheck.id == check.id)
    assert c.finding == "new_risk"  # the first finding stands
    assert len(rows(db, Notification, Notification.kind == "followup-triggered")) == 2
    out = followups.record_visit(db, check.id, customers[2], CLEAN, actor="priya.nair")
    assert "triggered earlier" in out.message and out.check_status == "TRIGGERED"
    with pytest.raises(Conflict, match="every planned visit is recorded"):
        followups.record_visit(db, check.id, customers[2], CLEAN, actor="priya.nair")


def test_failed_control_reopens_at_development_and_rejects_it(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    ctrl = rows(db, ControlRequirement, ControlRequirement.review_id == rid)[0].control_id
    doc = {"answers": {"q1": "no", "q2": "no", "q3": "no"}, "finding": "failed-control", "controls": [ctrl.lower()],
           "notes": "The accountability owner left and was not replaced"}
    out = followups.record_visit(db, check.id, customers[0], doc, actor="amara.okafor")
    assert out.reopened_at == "DEVELOPMENT"
    assert review(db, rid).gate == "DEVELOPMENT"
    assert rows(db, ControlRequirement, ControlRequirement.review_id == rid, ControlRequirement.control_id == ctrl)[0].status == "REJECTED"


def test_clean_check_completes_and_schedules_next(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    done = t0 + timedelta(days=370)
    for c in customers:
        out = followups.record_visit(db, check.id, c, CLEAN, actor="priya.nair", now=done)
    assert out.check_status == "COMPLETED" and out.next_check_due == done + timedelta(days=365)
    assert review(db, rid).gate == "MONITORING"
    assert [c.status for c in rows(db, FollowupCheck, FollowupCheck.review_id == rid)] == ["COMPLETED", "SCHEDULED"]


@pytest.mark.parametrize("doc, needle", [
    ({"answers": {"q1": "no", "q2": "no"}, "finding": "none"}, "answers.q3: missing"),
    ({"answers": {"q1": "maybe", "q2": "no", "q3": "yes"}, "finding": "none"}, "answers.q1: bad value 'maybe'"),
    ({"answers": {"q1": "no", "q2": "no", "q3": "yes", "q9": "no"}, "finding": "none"}, "answers.q9"),
    ({"answers": {"q1": "no", "q2": "no", "q3": "yes"}, "finding": "bad"}, "finding: bad value 'bad'"),
    ({"answers": {"q1": "no", "q2": "no", "q3": "no"}, "finding": "failed_control", "notes": "long enough notes"}, "controls: finding failed_control needs"),
    ({"answers": {"q1": "no", "q2": "no", "q3": "no"}, "finding": "failed_control", "controls": ["NOPE-1"], "notes": "long enough notes"}, "controls[0]: 'NOPE-1'"),
    ({"answers": {"q1": "yes", "q2": "no", "q3": "yes"}, "finding": "new_risk"}, "notes: a reported new_risk needs notes"),
    ([1, 2], "expected a mapping"),
    ({"answers": {"q1": "yes", "q2": "no", "q3": "yes"}, "finding": "none"}, "answers.q1: 'yes' to 'Was any ethics risk triggered"),
    ({"answers": {"q1": "no", "q2": "no", "q3": "no"}, "finding": "none"}, "set finding: failed_control"),
    ({"answers": {"q1": "no", "q2": "no", "q3": "no"}, "notes": "the owner left the company"}, "controls: finding failed_control needs"),
])
def test_bad_answers_name_file_and_field_and_change_nothing(monitored, doc, needle) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    with pytest.raises(InvalidInput) as exc:
        followups.record_visit(db, check.id, customers[0], doc, actor="amara.okafor", source="visit.yaml")
    assert exc.value.message.startswith("visit.yaml: ") and needle in exc.value.message
    assert all(v.status == "PENDING" for v in rows(db, FollowupVisit, FollowupVisit.check_id == check.id))
    assert review(db, rid).gate == "MONITORING"


def test_finding_is_derived_from_adverse_answers_when_left_out(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    out = followups.record_visit(db, check.id, customers[0], {"answers": {"q1": "no", "q2": "no", "q3": "yes"}}, actor="amara.okafor")
    assert out.finding == "none" and out.reopened_at is None
    doc = {"answers": {"q1": "no", "q2": "yes", "q3": "yes"}, "notes": "A regulator asked about farmer identification"}
    out = followups.record_visit(db, check.id, customers[1], doc, actor="amara.okafor")
    assert out.finding == "new_risk" and out.reopened_at == "INITIATION"


def test_derived_failed_control_reopens_at_development(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    ctrl = rows(db, ControlRequirement, ControlRequirement.review_id == rid)[0].control_id
    doc = {"answers": {"q1": "no", "q2": "no", "q3": "no"}, "controls": [ctrl], "notes": "The accountable owner left; nobody replaced them"}
    out = followups.record_visit(db, check.id, customers[0], doc, actor="amara.okafor")
    assert out.finding == "failed_control" and out.reopened_at == "DEVELOPMENT"


def test_only_reviewers_outside_the_team_record_visits(monitored) -> None:
    db, rid, t0 = monitored
    check, customers = _open(db, rid, t0)
    with pytest.raises(Forbidden):
        followups.record_visit(db, check.id, customers[0], CLEAN, actor="geo.lead")
    with pytest.raises(InvalidInput, match="not a planned visit"):
        followups.record_visit(db, check.id, "Somebody else", CLEAN, actor="amara.okafor")


def test_generative_product_gets_a_content_reaudit_request(people: Database, tmp_path: Path) -> None:
    t0 = utcnow()
    rid = released(people, "Medical LLM assistant", tmp_path, now=t0)
    res = followups.scan(people, now=t0 + timedelta(days=30))
    assert (res.opened, res.reaudits) == (1, 1)
    [req] = rows(people, ReauditRequest, ReauditRequest.review_id == rid)
    assert req.status == "PENDING" and "content audit" in req.reason
    assert len(rows(people, FollowupVisit)) == 4  # HIGH: 10 visits, but the profile lists 4 customers
    assert [r["id"] for r in followups.pending_reaudits(people)] == [req.id]
    followups.complete_reaudit(people, req.id, actor="system:content-audit")
    assert followups.pending_reaudits(people) == []


def test_reopened_review_cancels_its_scheduled_check(monitored) -> None:
    db, rid, t0 = monitored
    reviews.change_standing(db, rid, "reopen", actor=CHAIR, rationale="regulator letter", to_gate="INITIATION")
    res = followups.scan(db, now=t0 + timedelta(days=400))
    assert (res.opened, res.cancelled) == (0, 1)


# ---- feedback ------------------------------------------------------------------------------------
def test_credible_feedback_opens_an_adhoc_check(monitored) -> None:
    db, rid, _t0 = monitored
    fb = feedback.submit_feedback(db, "Remote-sensing platform", "Field boundaries reveal where individual smallholders live", contact="x@example.org")
    with pytest.raises(Forbidden):
        feedback.triage(db, fb.id, "credible", actor="geo.lead", rationale="own product")
    out = feedback.triage(db, fb.id, "credible", actor="priya.nair", rationale="Plausible re-identification risk")
    [adhoc] = rows(db, FollowupCheck, FollowupCheck.kind == "adhoc")
    assert out.check_id == adhoc.id and adhoc.status == "OPEN" and adhoc.feedback_id == fb.id
    assert len(rows(db, FollowupVisit, FollowupVisit.check_id == adhoc.id)) == 3
    with pytest.raises(Conflict, match="already triaged"):  # someone else triaged it first
        feedback.triage(db, fb.id, "not-credible", actor="amara.okafor", rationale="second opinion")
    fb2 = feedback.submit_feedback(db, str(rid), "I do not like satellites at all, please stop")
    assert feedback.triage(db, fb2.id, "not-credible", actor="amara.okafor", rationale="No ethics risk described").check_id is None
    assert len(rows(db, FollowupCheck, FollowupCheck.kind == "adhoc")) == 1
    with pytest.raises(InvalidInput, match="--message"):
        feedback.submit_feedback(db, "Remote-sensing platform", "bad")


def test_credible_feedback_on_an_unreleased_product_goes_to_its_review(people: Database) -> None:
    rid = submit(people, "Remote-sensing platform")  # at INITIATION: no customers to visit yet
    reviews.assign(people, rid, "amara.okafor", actor=CHAIR)
    fb = feedback.submit_feedback(people, "Remote-sensing platform", "Field boundaries reveal where individual smallholders live")
    out = feedback.triage(people, fb.id, "credible", actor="priya.nair", rationale="Plausible re-identification risk")
    assert out.check_id is None and "not released" in out.message and f"R-{rid} at INITIATION" in out.message
    assert rows(people, FollowupCheck) == []
    sent = {(n.recipient, n.review_id) for n in rows(people, Notification, Notification.kind == "feedback-credible")}
    assert sent == {("committee", rid), ("amara.okafor", rid), ("team:geo-insight", rid)}  # the team hears of it too (pack routes)
    with people.reading() as s:
        trail = s.execute(sa.text("SELECT action FROM audit_log WHERE entity = 'review' AND entity_id = :r"), {"r": str(rid)}).scalars().all()
    assert "feedback-concern" in trail


# ---- notifications -------------------------------------------------------------------------------
def test_failed_webhook_keeps_state_and_retries(people: Database) -> None:
    rid = submit(people, "Code assistant")
    gates.initiation_step(people, rid)
    d = deliver_pending(people, webhook_url="json://127.0.0.1:9/hook")  # nothing listens on port 9: Apprise fails locally
    assert d.failed >= 1 and d.sent == 0
    assert review(people, rid).gate == "INITIATION"
    assert {n.delivery for n in rows(people, Notification)} == {"FAILED"}
    sent: list[str] = []
    d = deliver_pending(people, sender=lambda title, body: sent.append(title) or True)
    assert d.sent >= 1 and sent and {n.delivery for n in rows(people, Notification)} == {"SENT"}
    assert deliver_pending(people, webhook_url="").logged == 0


def test_group_notifications_reach_their_people(people: Database) -> None:
    from review.services import notifications
    from review.store.models import User

    rid = submit(people, "Code assistant")  # team dev-tools
    gates.initiation_step(people, rid)  # "review-queued" to the committee
    with people.transaction() as s:
        notifications.notify(s, kind="released", recipient="team:dev-tools", review_id=rid, subject="released")
        notifications.notify(s, kind="followup-overdue", recipient="chair", review_id=rid, subject="overdue")
    users = {u.username: u for u in rows(people, User)}
    committee = sorted(n for n, u in users.items() if {"reviewer", "chair"} & set(u.roles.split(",")))
    chair = [n for n, u in users.items() if "chair" in u.roles.split(",")]
    devs = sorted(n for n, u in users.items() if u.team == "dev-tools")
    assert committee and chair and devs
    for name in committee:
        assert "review-queued" in {n["kind"] for n in notifications.inbox(people, name)}
    assert {n["kind"] for n in notifications.inbox(people, chair[0])} >= {"review-queued", "followup-overdue"}
    dev = notifications.inbox(people, devs[0])
    assert [(n["kind"], n["via"]) for n in dev] == [("released", "team:dev-tools")]
    bodies: list[str] = []
    notifications.deliver_pending(people, sender=lambda title, body: bodies.append(body) or True)
    assert any(b.startswith(f"to committee ({', '.join(committee)}):") for b in bodies)
    assert any(b.startswith(f"to team:dev-tools ({', '.join(devs)}):") for b in bodies)
    with pytest.raises(NotFound):
        notifications.inbox(people, "nobody")


def test_feedback_finds_the_product_in_any_case_and_suggests_only_products_on_the_market(monitored) -> None:
    db, rid, _t0 = monitored
    fb = feedback.submit_feedback(db, "remote-sensing PLATFORM", "The imagery shows my farm and my name next to it")
    with db.reading() as s:
        assert s.get(Review, rid).product_id == s.get(Feedback, fb.id).product_id
    with pytest.raises(NotFound, match="did you mean 'Remote-sensing platform'"):
        feedback.submit_feedback(db, "Remote-sensing platfrom", "The imagery shows my farm and my name next to it")
    submit(db, "Code assistant")  # in review, not on the market: its name is not given away
    with pytest.raises(NotFound) as exc:
        feedback.submit_feedback(db, "Code asistant", "It suggested code that leaks secrets")
    assert "Code assistant" not in str(exc.value) and "did you mean" not in str(exc.value)


def test_scan_stores_visit_json_as_the_orm_does(monitored) -> None:
    """The scan writes the visits' JSON columns as text encoded once per plan: the stored text must be what the engine's
    encoder writes for a visit added through the ORM (an ad-hoc check from credible feedback), so the audit images agree."""
    db, _rid, t0 = monitored
    assert followups.scan(db, now=t0 + timedelta(days=365)).visits == 3
    fb = feedback.submit_feedback(db, "Remote-sensing platform", "Field boundaries reveal where individual smallholders live")
    feedback.triage(db, fb.id, "credible", actor="priya.nair", rationale="Plausible re-identification risk")
    t = FollowupVisit.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        stored = conn.execute(sa.select(t.c.check_id, sa.cast(t.c.questionnaire, sa.Text), sa.cast(t.c.answers, sa.Text),
                                        t.c.answers.is_(None)).order_by(t.c.id)).all()
    assert len({r[0] for r in stored}) == 2 and len(stored) == 6  # 3 visits by the scan, 3 by the ORM
    assert len({(q, a, null) for _c, q, a, null in stored}) == 1, stored
    _c, q, a, null = stored[0]
    assert q == canonical_json(json.loads(q)) and len(json.loads(q)) == 3
    assert a == "null" and null is False  # JSON null, as the engine writes None into a JSON column
