"""Optimistic locking on PostgreSQL with two real connections: exactly one decision applies."""

from __future__ import annotations

import threading

from sqlmodel import Session, select

from review.demo.seed import CHAIR
from review.errors import Conflict
from review.services import reviews
from review.services.common import save_review
from review.store.models import Decision, Review
from tests.integration.test_store import submit


def test_two_connections_race_on_one_review(pg_db) -> None:
    from review.demo.seed import seed_people

    seed_people(pg_db)
    rid = submit(pg_db, "Code assistant")
    reviews.assign(pg_db, rid, "amara.okafor", actor=CHAIR)
    s1, s2 = Session(pg_db.engine), Session(pg_db.engine)
    try:
        r1, r2 = s1.get(Review, rid), s2.get(Review, rid)
        assert r1.version == r2.version  # both transactions saw the same version
        seen = r1.version
        save_review(s1, r1, seen, status="APPROVED")  # row locked by connection 1, not committed yet
        outcome: dict[str, object] = {}

        def second() -> None:
            try:
                save_review(s2, r2, seen, status="CHANGES_REQUESTED")  # blocks on the row lock
                outcome["second"] = "applied"
            except Conflict as exc:
                outcome["second"] = exc

        t = threading.Thread(target=second)
        t.start()
        t.join(0.5)
        assert t.is_alive(), "the second UPDATE should wait for the first transaction"
        s1.commit()
        t.join(10)
        assert isinstance(outcome["second"], Conflict)
        assert "changed by someone else" in str(outcome["second"])
    finally:
        s1.close()
        s2.close()
    with pg_db.reading() as s:
        r = s.get(Review, rid)
        assert (r.status, r.version) == ("APPROVED", seen + 1)


def test_concurrent_decisions_exactly_one_applies(pg_db) -> None:
    from review.demo.seed import seed_people

    seed_people(pg_db)
    rid = submit(pg_db, "Code assistant")
    reviews.assign(pg_db, rid, "amara.okafor", actor=CHAIR)
    with pg_db.reading() as s:
        seen = s.get(Review, rid).version
    barrier = threading.Barrier(2)
    results: list[object] = []

    def decide(actor: str, action: str) -> None:
        barrier.wait()
        try:
            results.append(reviews.decide(pg_db, rid, action, actor=actor, rationale=f"{actor} decides", expected_version=seen))
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=decide, args=a) for a in (("amara.okafor", "approve"), ("priya.nair", "request-changes"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert sum(not isinstance(r, Conflict) for r in results) == 1
    with pg_db.reading() as s:
        assert len(s.exec(select(Decision).where(Decision.review_id == rid)).all()) == 1
