"""Rows are chained when their transaction commits (on PostgreSQL the rows, the new head and the
COMMIT travel in one round trip): a transaction's rows are consecutive, a rolled-back use case
leaves no row, and an append that fails leaves the database exactly as it was."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.errors import Conflict
from review.services import audit, reviews
from review.store.db import Database
from review.store.models import AuditHead, AuditLog, Decision, Review
from tests.integration.followup_helpers import submit
from tests.integration.test_tamper import as_owner

pytestmark = pytest.mark.usefixtures("people")


def _rows(db: Database) -> list[AuditLog]:
    with db.reading() as s:
        return list(s.execute(sa.select(AuditLog).order_by(AuditLog.id)).scalars())


def test_a_transactions_rows_are_consecutive_and_chained(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    before = len(_rows(db))
    with db.transaction() as s:
        audit.record(s, actor="wei.chen", action="note", entity="review", entity_id=rid, after={"n": 1})
        audit.record(s, actor="wei.chen", action="note", entity="review", entity_id=rid, after={"n": 2, "text": "50% [b]x[/b] 'q'"})
    rows = _rows(db)
    new = rows[before:]
    assert [r.after for r in new] == [{"n": 1}, {"n": 2, "text": "50% [b]x[/b] 'q'"}]
    assert new[1].id == new[0].id + 1 and new[1].prev_hash == new[0].hash
    with db.reading() as s:
        head = s.get(AuditHead, 1)
    assert (head.last_id, head.last_hash) == (new[1].id, new[1].hash)
    assert audit.verify_chain(db).ok


def test_a_row_is_what_record_saw_even_if_the_caller_changes_its_dict_before_commit(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    with db.transaction() as s:
        detail = {"rationale": "as decided"}
        audit.record(s, actor="wei.chen", action="note", entity="review", entity_id=rid, after=detail)
        detail["rationale"] = "rewritten after logging"
    assert _rows(db)[-1].after == {"rationale": "as decided"}
    assert audit.verify_chain(db).ok


def test_a_rolled_back_use_case_leaves_no_row(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    before = len(_rows(db))
    with pytest.raises(RuntimeError):
        with db.transaction() as s:
            audit.record(s, actor="wei.chen", action="note", entity="review", entity_id=rid, after={"n": 1})
            raise RuntimeError("the use case failed after logging")
    assert len(_rows(db)) == before
    reviews.assign(db, rid, "lucas.martin", actor="wei.chen")  # the next use case chains on as usual
    assert len(_rows(db)) == before + 1
    assert audit.verify_chain(db).ok


def test_a_failed_append_leaves_the_database_as_it_was(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    reviews.assign(db, rid, "lucas.martin", actor="wei.chen")
    rows = _rows(db)
    with as_owner(db) as conn:  # the head points one row back: the next append collides with the last row's id
        conn.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(last_id=rows[-2].id, last_hash=rows[-2].hash))
    with db.reading() as s:
        version = s.get(Review, rid).version
    with pytest.raises(Conflict):  # a clean error (exit 6), not a crash
        reviews.decide(db, rid, "approve", actor="lucas.martin", rationale="looks right")
    with db.reading() as s:
        review = s.get(Review, rid)
        assert (review.version, review.status) == (version, "IN_REVIEW")
        assert s.execute(sa.select(sa.func.count()).select_from(Decision).where(Decision.review_id == rid)).scalar_one() == 0
    assert len(_rows(db)) == len(rows)
    with as_owner(db) as conn:
        conn.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(last_id=rows[-1].id, last_hash=rows[-1].hash))
    out = reviews.decide(db, rid, "approve", actor="lucas.martin", rationale="looks right")
    assert out.applied
    assert audit.verify_chain(db).ok


def test_an_empty_export_file_is_a_clear_error(db: Database, tmp_path) -> None:
    from review.errors import InvalidInput
    from review.services import checkpoints

    empty = tmp_path / "log.jsonl"
    empty.write_text("")
    with pytest.raises(InvalidInput, match="log.jsonl: empty"):
        checkpoints.verify_export(empty)
