"""``ethics-review show`` through the compiled-SQL cache (``review.services.showing.cached_detail``): the statements
``queries.show_review`` compiled, run by the sqlite3 module alone, give the same ``ReviewDetail`` (and the same JSON)
for every review of the demo database, reviews with evidence, decisions, gate reports, an override and no grade label
among them; a bad id is refused alike; a database at another schema revision, a cache compiled for other sources or
another revision, a broken cache fall back (None). The packs' crosswalks and question labels are kept per installed
packs and read afresh when a pack changes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

from policies.crosswalk import coverage, verified_evidence
from policies.loader import available_packs
from policies.loader import question_labels as load_labels
from review.bench.core import bulk_reviews
from review.demo.seed import run_demo
from review.errors import InvalidInput, NotFound
from review.services import queries, showing
from review.services.queries import show_review
from review.store.db import Database


@pytest.fixture(scope="module")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    db = Database(f"sqlite:///{home / 'ethics-review.db'}", data_dir=home)
    db.upgrade()
    run_demo(db, evidence_dir=home / "evidence-sources")
    bulk_reviews(db, 3, start=9000)  # rows written by bulk SQL: no grade label (the grade shows instead)
    db.dispose()
    return home


@pytest.fixture
def demo(_demo_template: Path, tmp_path: Path) -> Iterator[Database]:
    home = tmp_path / "home"
    shutil.copytree(_demo_template, home)
    shutil.rmtree(home / "cache", ignore_errors=True)
    db = Database(f"sqlite:///{home / 'ethics-review.db'}", data_dir=home)
    showing._memo.clear()
    queries._show_tried.clear()
    yield db
    db.dispose()
    showing._memo.clear()


def _ids(db: Database) -> list[int]:
    with sqlite3.connect(db.url.removeprefix("sqlite:///")) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM review ORDER BY id")]


def _both(db: Database, rid: object, frameworks: str = "") -> tuple[showing.ReviewDetail, showing.ReviewDetail | None]:
    slow = show_review(db, rid)  # compiles the statements into the cache
    showing._memo.clear()  # read it back from the file, as the next `show` process does
    return slow, showing.cached_detail(db.url, db.data_dir, rid, frameworks=frameworks)


def test_every_review_of_the_demo_gives_the_same_detail_through_the_cache(demo: Database) -> None:
    seen = {"evidence": 0, "decisions": 0, "gate_reports": 0, "override": 0, "met": 0, "no_label": 0, "trail": 0, "answers": 0}
    ids = _ids(demo)
    assert len(ids) >= 16
    for rid in ids:
        slow, fast = _both(demo, rid)
        assert fast is not None, rid
        assert fast == slow, rid
        assert json.dumps(fast.to_json()) == json.dumps(slow.to_json()), rid  # the same text, key order included
        seen["evidence"] += sum(len(c.evidence) for c in slow.controls)
        seen["decisions"] += len(slow.decisions)
        seen["gate_reports"] += len(slow.gate_reports)
        seen["override"] += sum(a["kind"] == "override" for a in slow.assessments)
        seen["met"] += sum(len(f["met"]) for f in slow.frameworks)
        seen["trail"] += len(slow.trail)
        seen["answers"] += bool(slow.assessments and slow.assessments[0]["answers"])
    with sqlite3.connect(demo.url.removeprefix("sqlite:///")) as conn:  # the grade shows where the label is missing
        seen["no_label"] = conn.execute("SELECT count(*) FROM review WHERE grade_label IS NULL AND grade IS NOT NULL").fetchone()[0]
    assert all(seen.values()), seen  # every kind of part was compared, not just empty lists
    # times as the ORM path writes them: pydantic's form in the rows, Python's isoformat for the product and evidence
    slow, fast = _both(demo, ids[0])
    assert fast is not None and fast.review["created_at"].endswith("Z") and fast.product["created_at"].endswith("+00:00")


def test_the_frameworks_setting_is_followed_as_by_the_usual_path(demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHICS_REVIEW_FRAMEWORKS", "nist-ai-rmf,iso-42001")
    for rid in _ids(demo):
        slow, fast = _both(demo, rid, frameworks="nist-ai-rmf,iso-42001")
        assert fast == slow and [f["framework"] for f in slow.frameworks] in ([], ["nist-ai-rmf", "iso-42001"]), rid
    with pytest.raises(InvalidInput, match="'no-such-pack' is not an installed pack"):
        showing.cached_detail(demo.url, demo.data_dir, _ids(demo)[0], frameworks="no-such-pack")


def test_a_bad_review_id_is_refused_as_by_the_usual_path(demo: Database) -> None:
    show_review(demo, 1)
    showing._memo.clear()
    for bad, error in (("abc", InvalidInput), ("-4", InvalidInput), ("R-999999", NotFound), (999999, NotFound)):
        with pytest.raises(error) as slow:
            show_review(demo, bad)
        with pytest.raises(error) as fast:
            showing.cached_detail(demo.url, demo.data_dir, bad)
        assert fast.value.message == slow.value.message and fast.value.exit_code == slow.value.exit_code, bad
    assert showing.compiled(demo.data_dir) is not None  # the refusals came from the cached path


def _set_revision(db: Database, revision: str) -> None:
    with sqlite3.connect(db.url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def test_a_database_at_another_revision_or_a_stale_cache_falls_back(demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _ids(demo)[0]
    slow, fast = _both(demo, rid)
    assert fast == slow
    path = demo.data_dir / showing.SQL_CACHE
    doc = json.loads(path.read_text())
    (head,) = doc["heads"]

    _set_revision(demo, "0012_grade_label")  # e.g. another database file, not upgraded yet
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) is None
    path.unlink()
    queries._show_tried.clear()
    show_review(demo, rid)  # the usual path reads it as it always did...
    assert not path.exists()  # ...and compiles nothing for a database that is not at head
    _set_revision(demo, head)

    doc["heads"] = ["0012_grade_label"]  # a cache compiled at another revision
    path.write_text(json.dumps(doc))
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) is None

    doc["heads"] = [head]
    path.write_text(json.dumps(doc))
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) == slow
    monkeypatch.setattr(showing, "_sql_fingerprint", lambda: doc["fingerprint"] + "|edited")  # e.g. models.py changed
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) is None
    monkeypatch.undo()

    edited = {**doc, "tables": {**doc["tables"], "review": doc["tables"]["review"][:3]}}  # hand-edited, fingerprint kept
    path.write_text(json.dumps(edited))
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) is None

    path.write_text("{not json")
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) is None  # a broken cache is no cache...
    queries._show_tried.clear()
    show_review(demo, rid)  # ...and is written afresh
    showing._memo.clear()
    assert showing.cached_detail(demo.url, demo.data_dir, rid) == slow

    gone = demo.data_dir / "elsewhere.db"
    assert showing.cached_detail(f"sqlite:///{gone}", demo.data_dir, rid) is None and not gone.exists()  # not created
    assert showing.cached_detail(demo.url + "?mode=ro", demo.data_dir, rid) is None  # only plain file URLs
    assert showing.cached_detail("postgresql+psycopg://nobody@127.0.0.1/none", demo.data_dir, rid) is None


def test_the_packs_are_kept_and_read_afresh_when_one_changes(demo: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for pack in available_packs():
        assert showing.question_labels(pack, demo.data_dir) == load_labels(pack), pack
    showing._memo.clear()
    assert showing.question_labels("default", demo.data_dir) == load_labels("default")  # from the file
    assert showing.question_labels("no-such-pack", demo.data_dir) == ({}, {})

    rid = _ids(demo)[0]
    detail = show_review(demo, rid)
    verified = verified_evidence(detail.controls)
    own = detail.review["policy_id"]
    assert showing.framework_coverage(own, detail.controls, "", demo.data_dir) == coverage(own, verified, "")

    # a pack installed on the policy path shadows the shipped one: the crosswalks are read afresh
    from policies.installed import PACKS_DIR

    extra = tmp_path / "packs"
    shutil.copytree(PACKS_DIR / "nist-ai-rmf", extra / "nist-ai-rmf")
    pack_yaml = extra / "nist-ai-rmf" / "pack.yaml"
    text = pack_yaml.read_text()
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    pack_yaml.write_text(text.replace(title, "title: Local edition of the NIST AI RMF", 1))
    monkeypatch.setenv("ETHICS_REVIEW_POLICY_PATH", str(extra))
    got = showing.framework_coverage(own, detail.controls, "", demo.data_dir)
    assert got == coverage(own, verified, "") and "Local edition of the NIST AI RMF" in {f["title"] for f in got}
    pack_yaml.write_text(text.replace(title, "title: Second local edition", 1))  # edited in place
    got = showing.framework_coverage(own, detail.controls, "", demo.data_dir)
    assert "Second local edition" in {f["title"] for f in got} and got == coverage(own, verified, "")
