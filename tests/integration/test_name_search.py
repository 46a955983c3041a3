"""Product-name search on SQLite (FTS5 trigram index, migration 0010) and PostgreSQL (pg_trgm): exactly the
names that hold the query as a substring, case-insensitively, every character literal; the index follows
inserts, renames and deletes; capped counts; an interrupted SQLite query."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
from review.services import reviews
from review.services.queries import ReviewFilter, list_reviews
from review.store.db import Database, interrupt_when, utcnow
from review.store.migrate import alembic_config
from review.store.models import Product, Review

NAMES = [
    "Bench product 0000042", "Bench product 0004200", "bench PRODUCT 42",
    "Ärzte-Assistent", "ärzte assistant", "ÄRZTE", "Café Crème", "CAFÉ CRÈME deluxe", "cafe creme",
    "Straße 5", "Москва бот", "МОСКВА", "中文助手", "中文", "Ab", "x", "É",
    "100% sure", "100 percent", "a_b", "aXb", "a\\b", "O'Brien \"quoted\"", "it's", "Mixed CASE Name",
]
QUERIES = [
    "0042", "42", "4", "bench product", "BENCH PRODUCT 0", "ärzte", "ÄRZTE", "rzte-a", "café", "CRÈME", "é", "É",
    "straße", "STRASSE", "москва", "МОСК", "бот", "中文", "中", "助手", "ab", "AB", "a", "x", "X",
    "%", "100%", "0%", "%s", "_", "a_b", "A_B", "_b", "\\", "a\\b", "'", "o'b", "'s", '"', '"quoted"', 'n "q',
    "mixed case name", "zzz", " ", "e c", "no such product at all",
]


def _insert(db: Database, names: list[str]) -> dict[str, int]:
    """One product and one review per name, set-based as the benchmarks do (the triggers must index them)."""
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Product), [{"name": n, "owner_team": "t", "business_line": "b", "description": "", "profile": {},
                                           "policy_id": "default", "created_by": "test", "created_at": now} for n in names])
        ids = dict(conn.execute(sa.select(Product.name, Product.id).where(Product.name.in_(names))).all())
        conn.execute(sa.insert(Review), [{"product_id": ids[n], "gate": "INITIATION", "status": "SUBMITTED", "submitted_by": "test",
                                          "policy_id": "default", "policy_version": "1", "priority": 0, "round": 1, "version": 1,
                                          "created_at": now, "updated_at": now} for n in names])
    return ids


def found(db: Database, q: str) -> list[str]:
    page = list_reviews(db, ReviewFilter(search=q), limit=1000)
    names = sorted(r.product for r in page.rows)
    assert page.total == len(names), q
    return names


def expected(q: str, names: list[str] = NAMES) -> list[str]:
    return sorted(n for n in names if q.lower() in n.lower())


def test_name_search_finds_exactly_the_substring_matches(db: Database) -> None:
    _insert(db, NAMES)
    for q in QUERIES:
        assert found(db, q) == expected(q), f"search {q!r}"
    # the oracle is not trivially empty or full: short, non-ASCII and special-character queries all match something
    assert expected("%") == ["100% sure"] and expected("_") == ["a_b"] and expected("中") == ["中文", "中文助手"]
    assert len(expected("é")) == 3 and expected("ab") == ["Ab"] and len(expected("a")) > 10


def test_the_index_follows_submit_rename_and_delete(people: Database) -> None:
    d = submission(copy.deepcopy(PRODUCTS[0]))
    d["product"]["name"] = "Zürich Übersetzer"
    rid = reviews.submit(people, d, actor=TEAM_SUBMITTERS[d["product"]["owner_team"]]).id
    assert [r.id for r in list_reviews(people, ReviewFilter(search="ZÜRICH ü")).rows] == [rid]
    with people.engine.begin() as conn:  # there is no rename use case; whatever renames a product, the index follows
        conn.execute(sa.update(Product).where(Product.name == "Zürich Übersetzer").values(name="Genève traducteur"))
    assert found(people, "zürich") == [] and found(people, "übersetzer") == []
    assert found(people, "GENÈVE") == ["Genève traducteur"]
    ids = _insert(people, ["Gone tomorrow"])
    assert found(people, "gone tom") == ["Gone tomorrow"]
    with people.engine.begin() as conn:
        conn.execute(sa.delete(Review).where(Review.product_id == ids["Gone tomorrow"]))
        conn.execute(sa.delete(Product).where(Product.id == ids["Gone tomorrow"]))
    assert found(people, "gone tom") == [] and found(people, "GENÈVE") == ["Genève traducteur"]


def test_migration_0010_indexes_the_names_already_there(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}", data_dir=tmp_path)
    cfg = alembic_config(db)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009_scanners")
        conn.commit()
    _insert(db, NAMES)
    db.upgrade()
    for q in ("0042", "ärzte", "МОСК", "%", "中文助"):
        assert found(db, q) == expected(q), q
    with db.reading() as s:  # the FTS5 table really answers (not a fallback scan)
        phrase = s.execute(sa.text("SELECT count(*) FROM product_name_fts WHERE name MATCH '\"ärzte\"'")).one()[0]
    assert phrase == 3
    db.dispose()


def test_capped_count_says_it_stopped(db: Database) -> None:
    _insert(db, [f"Capped {i:03d}" for i in range(30)])
    page = list_reviews(db, ReviewFilter(search="capped"), limit=5, count_cap=10)
    assert (page.total, page.total_capped, len(page.rows)) == (10, True, 5)
    page = list_reviews(db, ReviewFilter(search="capped 01"), limit=5, count_cap=10)
    assert (page.total, page.total_capped) == (10, False)
    exact = list_reviews(db, ReviewFilter(search="capped"), limit=5)
    assert (exact.total, exact.total_capped) == (30, False)


def test_a_cancelled_sqlite_query_stops_midway(sqlite_db: Database) -> None:
    """What the TUI relies on to drop a stale search: the statement ends within milliseconds of the cancel."""
    cancelled = threading.Event()
    threading.Timer(0.2, cancelled.set).start()
    slow = sa.text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000000) SELECT count(*) FROM n")
    t0 = time.perf_counter()
    with pytest.raises(sa.exc.OperationalError) as info, interrupt_when(cancelled.is_set), sqlite_db.reading() as s:
        s.execute(slow).one()
    assert "interrupted" in str(info.value.orig) and 0.2 <= time.perf_counter() - t0 < 2
    with sqlite_db.reading() as s:  # the pooled connection is usable again, with no stale handler
        assert s.execute(sa.text("SELECT 1")).one()[0] == 1

