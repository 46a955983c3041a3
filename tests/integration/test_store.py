"""Store and services on SQLite and PostgreSQL: persistence, gates, locking, audit chain, replay."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
from review.demo.seed import CHAIR
from review.errors import Conflict, Forbidden, GateBlocked, IllegalTransition, InvalidInput, NotFound
from review.services import audit, controls, evidence_store, reviews, users
from review.services.queries import ReviewFilter, list_reviews, show_review
from review.services.replay import replay
from review.store.db import Database
from review.store.models import Assessment, AuditLog, ControlRequirement, Decision, Evidence, Review


def doc(name: str) -> dict[str, Any]:
    return submission(copy.deepcopy(next(p for p in PRODUCTS if p["product"]["name"] == name)))


def submit(db: Database, name: str) -> int:
    d = doc(name)
    return reviews.submit(db, d, actor=TEAM_SUBMITTERS[d["product"]["owner_team"]]).id


def counts(db: Database) -> dict[str, int]:
    with db.reading() as s:
        return {m.__name__: s.exec(sa.select(sa.func.count()).select_from(m)).one()[0]
                for m in (Review, Assessment, ControlRequirement, Decision, Evidence, AuditLog)}


def test_submit_persists_review_assessment_controls_and_audit(people: Database) -> None:
    rid = submit(people, "Medical LLM assistant")
    d = show_review(people, rid)
    assert (d.review["gate"], d.review["status"], d.review["grade"]) == ("INITIATION", "SUBMITTED", "HIGH")
    a = d.assessments[0]
    assert a["pack_id"] == "default" and len(a["pack_hash"]) == 64 and a["answers"]["domain"] == ["healthcare"]
    assert {c.control_id for c in d.controls} >= {"PRV-01", "SAF-02", "CS-01"}
    assert all(c.status == "REQUIRED" for c in d.controls)
    assert [t["action"] for t in d.trail] == ["submit"]


def walk_to_development(db: Database, rid: int, reviewer: str = "amara.okafor") -> None:
    reviews.assign(db, rid, reviewer, actor=CHAIR)
    reviews.decide(db, rid, "approve", actor=reviewer, rationale="initiation ok")
    reviews.advance(db, rid, actor=CHAIR)


def test_development_gate_refuses_unmet_controls_and_lists_them(people: Database, tmp_path: Path) -> None:
    rid = submit(people, "Remote-sensing platform")
    walk_to_development(people, rid)
    reviews.submit_gate(people, rid, actor="geo.lead")
    reviews.assign(people, rid, "priya.nair", actor=CHAIR)
    with pytest.raises(GateBlocked, match=r"unmet: HCT-01 \(required\)"):
        reviews.decide(people, rid, "approve", actor="priya.nair", rationale="too early")
    f = tmp_path / "raci.md"
    f.write_text("owner: Jane")
    controls.add_evidence(people, rid, "HCT-01", f, actor="geo.lead")
    with pytest.raises(GateBlocked, match=r"HCT-01 \(evidence submitted\)"):
        reviews.decide(people, rid, "approve", actor="priya.nair", rationale="still early")
    controls.verify(people, rid, "HCT-01", "pass", actor="priya.nair")
    out = reviews.decide(people, rid, "approve", actor="priya.nair", rationale="verified")
    assert out.applied and out.review.status == "APPROVED"
    assert reviews.advance(people, rid, actor="geo.lead").gate == "RELEASE"


def test_release_of_high_product_needs_two_distinct_approvers_one_the_chair(people: Database, tmp_path: Path) -> None:
    rid = submit(people, "Warehouse picking robot")
    walk_to_development(people, rid)
    for c in show_review(people, rid).controls:
        f = tmp_path / f"{c.control_id}.md"
        f.write_text(c.title)
        controls.add_evidence(people, rid, c.control_id, f, actor="logistics.lead")
        controls.verify(people, rid, c.control_id, "pass", actor="lucas.martin")
    reviews.submit_gate(people, rid, actor="logistics.lead")
    reviews.assign(people, rid, "lucas.martin", actor=CHAIR)
    reviews.decide(people, rid, "approve", actor="lucas.martin", rationale="dev ok")
    reviews.advance(people, rid, actor="logistics.lead")
    reviews.submit_gate(people, rid, actor="logistics.lead")
    reviews.assign(people, rid, "lucas.martin", actor=CHAIR)
    first = reviews.decide(people, rid, "approve", actor="lucas.martin", rationale="release ok")
    assert not first.applied and "still needs 1 more approval(s) from distinct reviewers and the chair's approval" in first.message
    with pytest.raises(Conflict, match="already approved"):
        reviews.decide(people, rid, "approve", actor="lucas.martin", rationale="again")
    second_reviewer = reviews.decide(people, rid, "approve", actor="priya.nair", rationale="me too")
    assert not second_reviewer.applied and "the chair's approval" in second_reviewer.message
    chair = reviews.decide(people, rid, "approve", actor=CHAIR, rationale="chair approves")
    assert chair.applied and chair.review.status == "APPROVED"
    assert reviews.advance(people, rid, actor="logistics.lead").gate == "MONITORING"


def test_segregation_of_duties_and_recusal_are_enforced(people: Database) -> None:
    rid = submit(people, "City video analytics")
    users.declare_conflict(people, "City video analytics", actor="lucas.martin", reason="ex-vendor")
    with pytest.raises(Forbidden, match="recused"):  # not allowed (exit 4), like every segregation refusal
        reviews.assign(people, rid, "lucas.martin", actor=CHAIR)
    reviews.assign(people, rid, "amara.okafor", actor=CHAIR)
    with pytest.raises(Forbidden, match="recused"):
        reviews.decide(people, rid, "approve", actor="lucas.martin", rationale="x" * 5)
    with pytest.raises(Forbidden, match="lacks the role"):
        reviews.decide(people, rid, "approve", actor="city.lead", rationale="own product")


def test_unacceptable_cannot_be_approved(people: Database) -> None:
    rid = submit(people, "Elderly companion app")
    reviews.assign(people, rid, "amara.okafor", actor=CHAIR)
    with pytest.raises(GateBlocked, match="UNACCEPTABLE"):
        reviews.decide(people, rid, "approve", actor="amara.okafor", rationale="looks fine")


def test_refused_use_cases_change_nothing(people: Database) -> None:
    rid = submit(people, "Code assistant")
    before = counts(people)
    version = show_review(people, rid).review["version"]
    for call, exc in [
        (lambda: reviews.decide(people, rid, "approve", actor="amara.okafor", rationale="not in review yet"), IllegalTransition),
        (lambda: reviews.decide(people, 999, "approve", actor="amara.okafor", rationale="no such"), NotFound),
        (lambda: reviews.advance(people, rid, actor="dev.lead"), IllegalTransition),
        (lambda: reviews.assign(people, rid, "dev.lead", actor=CHAIR), Forbidden),
        (lambda: controls.verify(people, rid, "CS-01", "pass", actor="amara.okafor"), InvalidInput),
        (lambda: reviews.submit(people, {"product": {}, "answers": {}}, actor="dev.lead"), InvalidInput),
    ]:
        with pytest.raises(exc):
            call()
    # nothing changed but the trail's one row of the refused segregation attempt (written after the rollback)
    assert counts(people) == {**before, "AuditLog": before["AuditLog"] + 1}
    assert [r.action for r in audit.recent(people, review_id=rid, limit=1)] == ["refused:assign"]
    assert show_review(people, rid).review["version"] == version


def test_optimistic_lock_stale_version_is_a_conflict(people: Database) -> None:
    rid = submit(people, "Code assistant")
    reviews.assign(people, rid, "amara.okafor", actor=CHAIR)
    seen = show_review(people, rid).review["version"]
    reviews.decide(people, rid, "request-changes", actor="amara.okafor", rationale="add detail", expected_version=seen)
    with pytest.raises(Conflict, match="changed since you opened it"):
        reviews.decide(people, rid, "approve", actor="priya.nair", rationale="fine", expected_version=seen)
    with people.reading() as s:
        assert [d.action for d in s.exec(select(Decision).where(Decision.review_id == rid)).all()] == ["request-changes"]


def test_evidence_is_content_addressed(people: Database, tmp_path: Path) -> None:
    rid = submit(people, "Code assistant")
    f = tmp_path / "filter-report.md"
    f.write_bytes(b"keyword + classifier filtering, 99.1% recall")
    ev = controls.add_evidence(people, rid, "CS-01", f, actor="dev.lead")
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    assert ev.sha256 == digest
    stored = evidence_store.locate(people, digest)  # the directory (SQLite) or the database (PostgreSQL)
    assert stored is not None and stored.read_bytes() == f.read_bytes()
    with pytest.raises(InvalidInput, match="no such file"):
        controls.add_evidence(people, rid, "CS-01", tmp_path / "missing.pdf", actor="dev.lead")
    with pytest.raises(NotFound, match="control 'XX-9' is not required on review"):
        controls.add_evidence(people, rid, "XX-9", f, actor="dev.lead")
    with pytest.raises(Forbidden, match="not in dev-tools"):
        controls.add_evidence(people, rid, "CS-01", f, actor="geo.lead")


def test_replay_matches_and_detects_a_tampered_assessment(people: Database) -> None:
    rid = submit(people, "SME credit scoring")
    rep = replay(people, rid)
    assert rep.matches and rep.replayed_grade == rep.stored_grade == "HIGH" and rep.current_matches
    with people.engine.begin() as conn:
        conn.execute(sa.update(Assessment).where(Assessment.review_id == rid).values(grade="LOW"))
    rep = replay(people, rid)
    assert not rep.matches and "grade LOW -> HIGH" in rep.detail


def test_grade_override_is_logged_with_rationale(people: Database) -> None:
    rid = submit(people, "Text-to-image for games")
    with pytest.raises(Forbidden):
        reviews.override_grade(people, rid, "HIGH", actor="amara.okafor", rationale="reviewers cannot")
    r = reviews.override_grade(people, rid, "HIGH", actor=CHAIR, rationale="public outputs planned")
    assert r.grade == "HIGH"
    d = show_review(people, rid)
    assert d.assessments[-1]["kind"] == "override" and d.assessments[-1]["rationale"] == "public outputs planned"
    assert d.trail[-1]["action"] == "override-grade"


def test_list_filters_and_sorts(people: Database) -> None:
    ids = [submit(people, p["product"]["name"]) for p in PRODUCTS[:6]]
    page = list_reviews(people, ReviewFilter(grade="HIGH"))
    assert page.total == sum(1 for r in page.rows) and all(r.grade == "HIGH" for r in page.rows)
    assert [r.id for r in list_reviews(people, sort="id", descending=False).rows] == ids
    reviews.assign(people, ids[0], "priya.nair", actor=CHAIR)
    mine = list_reviews(people, ReviewFilter(assignee="priya.nair", status="in-review"))
    assert [r.id for r in mine.rows] == [ids[0]]
    with pytest.raises(InvalidInput, match="--grade 'SEVERE' is not one of"):
        list_reviews(people, ReviewFilter(grade="SEVERE"))


def test_policy_preview_lists_reviews_whose_grade_would_change(people: Database, tmp_path: Path) -> None:
    import yaml

    from policies.loader import load_pack
    from review.services.replay import preview_pack

    ids = {n: submit(people, n) for n in ("Remote-sensing platform", "Code assistant", "Customer-service copilot")}
    raw = yaml.safe_load(Path(load_pack("default").path).read_text())
    raw.pop("content_safety")
    # Candidate: make the human-control dimension MEDIUM from 1 point (every product names an owner -> 0 points),
    # and any generative product floor MEDIUM.
    raw["triggers"].append({"id": "generative_floor", "title": "generative", "floor": "MEDIUM",
                            "when": {"profile": "capabilities", "any_of": ["generative_content"]}})
    d = tmp_path / "candidate"
    d.mkdir()
    (d / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    examined, changes = preview_pack(people, str(d))
    assert examined == 3
    assert {c.review_id: c.candidate_grade for c in changes} == {ids["Code assistant"]: "MEDIUM", ids["Customer-service copilot"]: "MEDIUM"}


def test_a_connection_dropped_while_idle_is_replaced_not_reported(pg_db) -> None:
    """No ping on every checkout (a round trip per use case), but a pooled connection idle for a while
    is checked first: one killed meanwhile (a restarted server) is replaced without an error."""
    import time

    from review.store import db as store_db
    from review.demo.seed import seed_people
    from review.services import users

    seed_people(pg_db)
    with pg_db.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    pool = pg_db.engine.pool
    assert pool.checkedin() == 1
    other = sa.create_engine(pg_db.url)
    with other.connect() as killer:  # another connection kills the pooled one, as a server restart would
        killer.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    other.dispose()
    for rec in list(pool._pool.queue):  # both sat idle longer than the threshold
        rec.info["idle_since"] = time.monotonic() - store_db.IDLE_PING_SECONDS - 1
    assert [u.username for u in users.list_users(pg_db)]  # no OperationalError: the dead one was replaced
    with pg_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
