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


def test_the_fold_maps_are_cached_as_data_and_equal_the_computed_ones(tmp_path, monkeypatch):
    """The per-character fold (65,000 characters, 0.4-0.7 s a process) is stored once as JSON (never pickle: a cache
    file runs no code) and read back equal; a damaged or foreign file is computed again and replaced."""
    from review.domain.content import normalize

    monkeypatch.setenv(matcher.ENV_CACHE, "off")
    want = normalize._fold_maps()
    monkeypatch.setenv(matcher.ENV_CACHE, str(tmp_path))
    assert normalize._fold_maps() == want
    (path,) = tmp_path.glob("fold-*.json")
    calls = []
    monkeypatch.setattr(normalize, "_fold_raw", lambda *a: calls.append(a))
    assert normalize._fold_maps() == want and calls == []  # read, not computed
    monkeypatch.undo()
    monkeypatch.setenv(matcher.ENV_CACHE, str(tmp_path))
    for damage in (b"\x80not json", b'{"one": []}', b"[]"):
        path.write_bytes(damage)
        assert normalize._fold_maps() == want
        assert path.read_bytes() != damage  # stored again
    assert want[0][ord("A")] == "a" and want[0][ord("Ｋ")] == "k" and want[1][0x200B] == ""  # and the maps are the fold


def test_fold_maps_of_other_versions_sharing_the_cache_are_kept_up_to_a_few(tmp_path, monkeypatch):
    """Two installed versions sharing one cache directory each keep their own fold maps (neither recomputes the
    other's away); only the least recently used beyond ``FOLD_MAPS_KEPT`` go."""
    import os

    from review.domain.content import normalize

    monkeypatch.setenv(matcher.ENV_CACHE, str(tmp_path))
    others = []
    for k in range(normalize.FOLD_MAPS_KEPT + 1):  # other versions' files, oldest first
        p = tmp_path / f"fold-{k:032d}.json"
        p.write_text("{}")
        os.utime(p, (1_000_000 + k, 1_000_000 + k))
        others.append(p)
    normalize._fold_maps()  # computes and stores this version's
    (mine,) = [p for p in tmp_path.glob("fold-*.json") if p not in others]
    kept = sorted(p.name for p in tmp_path.glob("fold-*.json"))
    assert kept == sorted([mine.name] + [p.name for p in others[-(normalize.FOLD_MAPS_KEPT - 1):]])
    os.utime(mine, (1, 1))  # long unused, then read: used again, so not the next to go
    normalize._fold_maps()
    assert mine.stat().st_mtime > 1_000_000


def test_the_fold_of_each_character_takes_its_shortcut_only_where_the_full_fold_is_the_identity():
    """``_fold_raw`` returns most characters as they are without folding them (cold compiles 0.4 s faster): on every
    character the fold maps cover it equals the full fold."""
    from review.domain.content import normalize

    t2s = normalize._t2s()
    cps = [cp for lo, hi in normalize._RANGES for cp in range(lo, hi)] + [ord(k) for k in t2s if ord(k) >= 0x10000]
    cps += list(range(0x80))
    differ = [hex(cp) for cp in cps if normalize._fold_raw(chr(cp), t2s) != normalize._fold_full(chr(cp), t2s)]
    assert differ == []
    assert normalize._fold_raw("가", t2s) == "가" and normalize._fold_raw("ḁ", t2s) == "a" and normalize._fold_raw("Ａ", t2s) == "a"
