"""``ethics-review list`` through the compiled-SQL cache (``review.services.listing.cached_page``): the statements
``queries.list_reviews`` compiled for a query shape, run by the sqlite3 module alone, give the same page and total
as the SQLAlchemy path for every shape; a changed source, a missing file or a missing entry fall back (None)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from itertools import product as combos

import pytest

from review.bench.core import bulk_reviews
from review.demo.seed import seed_people
from review.services import listing
from review.services.queries import ReviewFilter, list_reviews
from review.store.db import Database, utcnow
from tests.integration.test_name_search import NAMES, QUERIES, _insert

FILTERS = [
    ReviewFilter(),
    ReviewFilter(gate="development"),
    ReviewFilter(status="in-review", grade="HIGH"),
    ReviewFilter(assignee="amara.okafor", overdue=True),
    ReviewFilter(overdue=True),
    ReviewFilter(team="fin-risk", gate="INITIATION"),
    ReviewFilter(search="0042"),
    ReviewFilter(search="42", status="SUBMITTED"),
    ReviewFilter(search="ärzte", team="fin-risk"),
    ReviewFilter(search="é"),
    ReviewFilter(search="100%", overdue=True),
]


@pytest.fixture
def listed(sqlite_db: Database) -> Database:
    seed_people(sqlite_db)
    bulk_reviews(sqlite_db, 400, start=5000)  # names clear of the search test's
    _insert(sqlite_db, NAMES)
    listing._memo.clear()  # this process's view of the cache: as a fresh process has it
    return sqlite_db


def _both(db: Database, f: ReviewFilter, **kw) -> tuple[listing.Page, listing.Page | None]:
    slow = list_reviews(db, f, **kw)  # compiles the shape into the cache
    listing._memo.clear()  # read it back from the file, as the next `list` process does
    return slow, listing.cached_page(db.url, db.data_dir, f, **kw)


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in vars(f).items() if v))
def test_every_shape_gives_the_same_page_and_total_through_the_cache(listed: Database, f: ReviewFilter) -> None:
    for sort, descending, (limit, offset) in combos(["id", "product", "grade", "due", "updated"], [True, False], [(50, 0), (7, 30)]):
        slow, fast = _both(listed, f, sort=sort, descending=descending, limit=limit, offset=offset)
        assert fast == slow, (sort, descending, limit, offset)
    for kw in ({"with_total": False}, {"count_cap": 5}, {"count_cap": 10_000}):
        slow, fast = _both(listed, f, **kw)
        assert fast == slow, kw
    assert any(listing._entries(listed.data_dir))


def test_name_searches_agree_through_the_cache(listed: Database) -> None:
    for q in QUERIES:
        slow, fast = _both(listed, ReviewFilter(search=q), limit=100)
        assert fast == slow and fast is not None, q
    assert slow.rows == [] and fast.total == 0  # "no such product at all"


def test_times_come_back_as_aware_utc_as_sqlalchemy_gives_them(listed: Database) -> None:
    slow, fast = _both(listed, ReviewFilter(overdue=True), sort="due", limit=20)
    assert fast is not None and fast.rows and fast.total == slow.total > 0
    for a, b in zip(slow.rows, fast.rows, strict=True):
        assert a.due_at == b.due_at and b.due_at is not None and b.due_at.utcoffset() == timedelta(0)
        assert b.updated_at.tzinfo is not None and a.to_json() == b.to_json()
    assert all(r.overdue and r.due_at is not None and r.due_at < utcnow() for r in fast.rows)


def test_a_changed_source_missing_entry_or_missing_file_falls_back(listed: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    f = ReviewFilter(gate="DEVELOPMENT")
    listing._memo.clear()
    assert listing.cached_page(listed.url, listed.data_dir, f) is None  # never listed this shape: not cached
    list_reviews(listed, f)
    listing._memo.clear()
    assert listing.cached_page(listed.url, listed.data_dir, f) is not None
    assert listing.cached_page(listed.url, listed.data_dir, f, sort="product") is None  # another shape
    path = listed.data_dir / listing.CACHE_FILE
    doc = json.loads(path.read_text())
    monkeypatch.setattr(listing, "_fingerprint", lambda: doc["fingerprint"] + "|edited")  # e.g. queries.py changed
    listing._memo.clear()
    assert listing.cached_page(listed.url, listed.data_dir, f) is None
    monkeypatch.undo()
    listing._memo.clear()
    gone = listed.data_dir / "elsewhere.db"
    assert listing.cached_page(f"sqlite:///{gone}", listed.data_dir, f) is None and not gone.exists()  # not created
    assert listing.cached_page(listed.url + "?mode=ro", listed.data_dir, f) is None  # only plain file URLs
    path.write_text("{not json")
    listing._memo.clear()
    assert listing.cached_page(listed.url, listed.data_dir, f) is None  # a broken cache is no cache...
    list_reviews(listed, f)  # ...and is written afresh
    listing._memo.clear()
    assert listing.cached_page(listed.url, listed.data_dir, f) == list_reviews(listed, f)


def test_bad_arguments_are_refused_as_by_the_usual_path(listed: Database) -> None:
    from review.errors import InvalidInput

    for kw, needle in (({"sort": "nope"}, "--sort 'nope'"), ({"limit": 0}, "--limit 0"), ({"count_cap": 0}, "count_cap 0")):
        with pytest.raises(InvalidInput, match=needle):
            listing.cached_page(listed.url, listed.data_dir, ReviewFilter(), **kw)
    with pytest.raises(InvalidInput, match="--gate 'nowhere'"):
        listing.cached_page(listed.url, listed.data_dir, ReviewFilter(gate="nowhere"))


def test_the_cache_file_is_replaced_whole(listed: Database) -> None:
    list_reviews(listed, ReviewFilter())
    list_reviews(listed, ReviewFilter(search="x"))
    names = os.listdir(listed.data_dir / "cache")
    assert names == ["list-sql.json"]  # no temporary file left beside it
    assert len(json.loads((listed.data_dir / listing.CACHE_FILE).read_text())["entries"]) == 2
