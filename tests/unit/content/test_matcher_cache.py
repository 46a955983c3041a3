"""Compiled Hyperscan databases are cached by what they were compiled from (issue 15)."""

from __future__ import annotations

import pytest

from review.domain.content import matcher

hs = pytest.importorskip("hyperscan")


def _hits(db, data: bytes) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    db.scan(data, match_event_handler=lambda pid, s, e, f, c: out.append((pid, e)))
    return out


def test_second_compile_loads_the_stored_database(tmp_path, monkeypatch):
    monkeypatch.setenv(matcher.ENV_CACHE, str(tmp_path))
    exprs, flags = [b"pipe bomb", b"\\x6b\\x69ll"], [hs.HS_FLAG_CASELESS, 0]
    first = matcher.compile_db(exprs, flags)
    stored = list(tmp_path.glob("*.hsdb"))
    assert len(stored) == 1
    calls = []
    monkeypatch.setattr(hs, "Database", lambda: calls.append(1))  # a compile now would be visible (and fail)
    second = matcher.compile_db(exprs, flags)
    assert calls == []
    text = b"a PIPE BOMB and kill"
    assert _hits(second, text) == _hits(first, text) == [(0, 11), (1, 20)]


def test_other_flags_or_patterns_are_another_database(tmp_path, monkeypatch):
    monkeypatch.setenv(matcher.ENV_CACHE, str(tmp_path))
    matcher.compile_db([b"bomb"], [0])
    caseless = matcher.compile_db([b"bomb"], [hs.HS_FLAG_CASELESS])
    matcher.compile_db([b"bombs"], [0])
    assert len(list(tmp_path.glob("*.hsdb"))) == 3
    assert _hits(caseless, b"BOMB") == [(0, 4)]


def test_a_damaged_file_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv(matcher.ENV_CACHE, str(tmp_path))
    matcher.compile_db([b"bomb"], [0])
    (path,) = tmp_path.glob("*.hsdb")
    path.write_bytes(b"not a database")
    db = matcher.compile_db([b"bomb"], [0])
    assert _hits(db, b"a bomb") == [(0, 6)]
    assert path.read_bytes() != b"not a database"  # stored again


def test_cache_off_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv(matcher.ENV_CACHE, "off")
    assert matcher.cache_dir() is None
    assert _hits(matcher.compile_db([b"bomb"], [0]), b"bomb") == [(0, 4)]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(matcher.ENV_CACHE, str(blocker / "sub"))  # cannot be created: still compiles
    assert _hits(matcher.compile_db([b"bomb"], [0]), b"bomb") == [(0, 4)]
