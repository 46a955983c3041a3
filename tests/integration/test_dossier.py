"""A review's dossier: every part an auditor asks for, and untrusted text kept as text in both formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.client.local import LocalClient
from review.demo.seed import CHAIR
from review.services import checkpoints, reviews
from review.store.db import Database
from tests.integration.followup_helpers import released

pytestmark = pytest.mark.usefixtures("people")
GEO = "Remote-sensing platform"
HOSTILE = "<script>alert(1)</script> [click](http://evil.example) \x1b]8;;http://evil\x07link\x1b]8;;\x07 \x1b[31mred"


def test_the_dossier_has_every_part_and_escapes_untrusted_text(db: Database, tmp_path: Path) -> None:
    rid = released(db, GEO, tmp_path)
    reviews.change_standing(db, rid, "reopen", actor=CHAIR, rationale="a follow-up found harm", to_gate="INITIATION")
    reviews.assign(db, rid, "amara.okafor", actor=CHAIR)
    reviews.decide(db, rid, "request-changes", actor="amara.okafor", rationale=HOSTILE)
    checkpoints.create(db)
    rep = LocalClient(db, "priya.nair").review_report(rid)
    for section in ("## Review", "## Profile", "## Answers", "## Dimension scores", "## How the grade was reached", "## Controls",
                    "## Decisions", "## Gate reports", "## Follow-up checks", "## Content audits of the product",
                    "## Audit trail (this review)", "## Audit chain"):
        assert section in rep.markdown, section
    assert "HCT-01" in rep.markdown and "last signed checkpoint | row" in rep.markdown
    assert "release" in rep.markdown.lower() and "reopen" in rep.markdown  # gate report and the reopening on the trail
    for text in (rep.markdown, rep.html):
        assert "\x1b" not in text and "\x07" not in text
    assert "<script>" not in rep.html and "&lt;script&gt;alert(1)" in rep.html
    assert "](http" not in rep.markdown and "\\[click\\]" in rep.markdown  # no live link in Markdown
    assert "request-changes" in rep.markdown


def test_bench_reports_runs_the_user_path() -> None:
    from review.bench.reports import run

    out = run(controls=12, trail=20, runs=2, echo=None)
    assert out["dossier_ms"] > 0 and out["controls"] == 12


def test_bench_process_report_seeds_history_and_runs_the_user_path() -> None:
    from review.bench.reports import run_process

    out = run_process(reviews=300, runs=1, echo=None)
    assert out["process_report_s"] > 0 and out["process_reviews"] == 300
    assert out["process_trail"] >= 600 and out["process_decisions"] >= 300


def test_bench_filter_measures_recall_false_fires_and_speed(tmp_path) -> None:
    from review.bench.filter import run

    words = tmp_path / "words"
    words.write_text("apple\nkill\nskillful\nMongolia\nheroine\n")
    out = run(dictionary=words, speed_items=2000, compile_terms=2000, echo=None)
    assert out["recall_by_class"]["plain"] == 1.0 and out["recall_by_class"]["diacritics"] == 1.0
    assert 0 <= out["recall_min_class"] < 1  # the classes not handled yet show, honestly
    assert out["dictionary_false_fires"] == 1 and out["dictionary_examples"] == ["kill"]
    assert out["filter_mb_s"] > 0 and out["ratio_pyahocorasick"] > 0 and out["compile_s"] > 0
    assert out["speed_corpus"] == "review.bench.realistic" and out["speed_records"] == 2000 and out["synthetic_ratio_pyahocorasick"] > 0
