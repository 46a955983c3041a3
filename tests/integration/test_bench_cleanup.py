"""The benchmarks leave nothing behind: their temporary databases (gigabytes at a million rows) and
scratch PostgreSQL schemas are removed, and they still report what they measured."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the benchmarks' temporary directories go (empty to start with)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp


def test_core_and_followups_benches_remove_their_databases(private_tmp: Path) -> None:
    from review.bench import core, followups

    out = core.run(reviews=400, submits=12, echo=None)
    assert out["reviews"] == 400 and out["search_ms"] >= 0 and out["submit_p95_ms"] > 0
    fu = followups.run(products=300, prefect=False, echo=None)
    assert fu["opened"] == fu["due"] > 0
    assert list(private_tmp.iterdir()) == []


def test_tui_bench_removes_its_database(private_tmp: Path) -> None:
    from review.bench import tui

    out = tui.run(reviews=300, query="0042", echo=None)
    assert out["rows_after_search"] == 1 and out["total_after_search"] == 1 and out["filter_ms"] > 0
    assert list(private_tmp.iterdir()) == []
    assert len(out["filter_each_ms"]) == 4 and max(out["filter_each_ms"]) == out["filter_max_ms"]


def test_tui_bench_keeps_and_reuses_its_database_when_asked(private_tmp: Path, tmp_path: Path) -> None:
    from review.bench import tui

    kept = tmp_path / "kept"
    said: list[str] = []
    first = tui.run(reviews=300, query="0042", keep=str(kept), echo=said.append)
    assert (kept / "bench.db").is_file() and "seeded 300" in said[0]
    stamp = (kept / "bench.db").stat().st_mtime_ns
    said.clear()
    again = tui.run(reviews=300, query="0042", keep=str(kept), echo=said.append)
    assert "reusing" in said[0] and again["total_after_search"] == first["total_after_search"] == 1
    said.clear()
    tui.run(reviews=200, query="0042", keep=str(kept), echo=said.append)  # another size: seeded afresh, not reused
    assert "seeded 200" in said[0] and (kept / "bench.db").stat().st_mtime_ns != stamp
    assert list(private_tmp.iterdir()) == []


def test_scratch_schema_removes_its_schema_and_directory(private_tmp: Path) -> None:
    from review.bench.scratch import scratch_schema

    with scratch_schema(PG_URL, "cleanup") as (url, home):
        (home / "server.log").write_text("x")
        schema = home.name
    assert not home.exists() and list(private_tmp.iterdir()) == [] and os.environ["TMPDIR"] == str(private_tmp)
    engine = sa.create_engine(PG_URL)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}).scalar_one() == 0
    engine.dispose()
