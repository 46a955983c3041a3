"""Growing a keyword library, no database: normalization, deduplication, collisions, near-duplicates,
the import file formats and their errors, the version bump, and counting terms per risk once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from policies.content_schema import ContentLibraryError, lint_library, split_keyword_line
from policies.keyword_import import bump_patch, keyword_line, read_import, resolve_category
from review.domain.content.library import (Incoming, deletions, loose_key, plan_import, risk_of, terms_per_risk,
                                           within_one_edit)
from review.domain.content.normalize import canonical_term


@dataclass(frozen=True)
class Kw:
    term: str
    category: str
    severity: int = 4
    subcode: str | None = None
    source: str = "lib.txt:1"
    glued: bool = False


def _plan(existing, incoming):
    return plan_import(existing, incoming, default_severity=lambda c: 4, file_name="in.csv")


def test_terms_compare_in_the_filters_normalized_form() -> None:
    existing = [Kw("pipe bomb", "weapons", 7, source="weapons.txt:4")]
    incoming = [Incoming("Pipe-Bomb", "weapons", 2, 7), Incoming("pïpe  bomb", "weapons", 3, 7), Incoming("ＰＩＰＥ bomb", "weapons", 4, 7),
                Incoming("nail bomb", "weapons", 5), Incoming("Nail_Bomb", "weapons", 6)]
    plan = _plan(existing, incoming)
    assert [t.term for t in plan.added] == ["nail bomb"]
    dupes = plan.of_kind("duplicate")
    assert [(s.incoming.line, s.where) for s in dupes] == [(2, "weapons.txt:4"), (3, "weapons.txt:4"), (4, "weapons.txt:4"), (6, "in.csv:5")]
    assert all(s.note == "" for s in dupes[:3])  # same severity, same glued marking
    assert plan.skipped[0].existing_term == "pipe bomb"


def test_duplicates_say_what_differs_and_collisions_name_the_other_category() -> None:
    existing = [Kw("heroin", "illegal_cyber", 5, source="illegal_cyber.txt:4"), Kw("fentanyl", "illegal_cyber", 6, glued=True)]
    incoming = [Incoming("HEROIN", "weapons", 1), Incoming("fentanyl", "illegal_cyber", 2, 7), Incoming("new term", "weapons", 3),
                Incoming("new term", "privacy", 4)]
    plan = _plan(existing, incoming)
    col = plan.of_kind("collision")
    assert [(s.incoming.term, s.existing_category, s.where) for s in col] == [("HEROIN", "illegal_cyber", "illegal_cyber.txt:4"),
                                                                             ("new term", "weapons", "in.csv:3")]
    (dup,) = plan.of_kind("duplicate")
    assert dup.note == "severity 6 there, 7 here; glued (*term*) there only"
    assert [t.term for t in plan.added] == ["new term"] and plan.added_per_category() == {"weapons": 1}


def test_near_duplicates_by_spelling_and_by_one_edit() -> None:
    existing = [Kw("ransomware", "illegal_cyber", source="c.txt:11"), Kw("pipe bomb", "weapons", source="w.txt:4"),
                Kw("kill", "harassment"), Kw("自杀", "self_harm")]
    incoming = [Incoming("pipebomb", "weapons", 2), Incoming("ransomwore", "illegal_cyber", 3), Incoming("ransomwrae", "illegal_cyber", 4),
                Incoming("pill", "x", 5), Incoming("自殺方法", "self_harm", 6), Incoming("r4ns0mware kit", "illegal_cyber", 7)]
    plan = _plan(existing, incoming)
    assert len(plan.added) == 6
    near = {n.incoming.term: n.neighbours for n in plan.near}
    assert near["pipebomb"] == (("pipe bomb", "weapons", "w.txt:4", "same without spaces, separators or leetspeak"),)
    assert ("ransomware", "illegal_cyber", "c.txt:11", "one edit apart") in near["ransomwore"]  # a letter replaced
    assert ("ransomware", "illegal_cyber", "c.txt:11", "one edit apart") in near["ransomwrae"]  # two letters swapped
    assert "pill" not in near  # shorter than five letters: "kill"/"pill" are different words
    assert "r4ns0mware kit" not in near and "自殺方法" not in near


def test_one_edit_and_deletion_neighbourhood() -> None:
    assert within_one_edit("heroin", "heroine") and within_one_edit("heroine", "heroin")
    assert within_one_edit("abcdef", "abdcef") and within_one_edit("abcdef", "abcxef") and within_one_edit("abcdef", "abcdef")
    assert not within_one_edit("abcdef", "badcef") and not within_one_edit("abcdef", "abcdefgh") and not within_one_edit("abcd", "abdc" + "x")
    assert deletions("abc") == {"abc", "bc", "ac", "ab"}
    assert loose_key(canonical_term("Pipe_B0mb")) == loose_key(canonical_term("pipebomb"))


def test_near_duplicates_agree_with_the_pairwise_definition() -> None:
    """The index finds exactly the pairs a quadratic scan would (on a few hundred random terms)."""
    rng = random.Random(5)
    words = sorted({"".join(rng.choice("abcde") for _ in range(rng.randint(4, 7))) for _ in range(400)})
    plan = _plan([], [Incoming(w, "c", k) for k, w in enumerate(words)])
    found = {(n.incoming.term, t) for n in plan.near for t, *_ in n.neighbours}
    assert all(len(n.neighbours) <= 3 for n in plan.near)
    key = {w: loose_key(canonical_term(w)) for w in words}
    expected = {(a, b) for a in words for b in words
                if a != b and len(key[a]) >= 5 and len(key[b]) >= 5 and within_one_edit(key[a], key[b])}
    assert found <= expected
    # every term with a neighbour is reported (up to three neighbours each)
    assert {a for a, _ in found} == {a for a, _ in expected}


def test_plan_at_fifty_thousand_terms_folds_each_term_once() -> None:
    """Not a timing test (the bench times it): 50,000 terms plan in one pass, each term folded once."""
    from review.domain.content.benchmark import synthetic_library

    words = synthetic_library(n_en=25_000, n_zh=25_000, seed=13)
    calls = {"n": 0}

    def fold(t: str) -> str:
        calls["n"] += 1
        return canonical_term(t)

    plan = plan_import([Kw(w, "x") for w in words[:1000]], [Incoming(w, "x", k) for k, w in enumerate(words)],
                       default_severity=lambda c: 4, fold=fold)
    assert len(plan.added) == 49_000 and len(plan.of_kind("duplicate")) == 1000
    assert calls["n"] == 51_000  # each term folded once
    assert plan.near and all(len(n.neighbours) <= 3 for n in plan.near)


# ---------------------------------------------------------------- files


def test_txt_import_reads_keyword_file_lines(policy, tmp_path: Path) -> None:
    f = tmp_path / "new.txt"
    f.write_text("# a comment\n\npipe bomb\n*nailbomb*\t6\nmolotov\t\t\n", encoding="utf-8")
    got = read_import(f, policy, "weapons")
    assert [(t.term, t.category, t.severity, t.glued, t.line) for t in got] == [
        ("pipe bomb", "weapons", None, False, 3), ("nailbomb", "weapons", 6, True, 4), ("molotov", "weapons", None, False, 5)]
    assert [keyword_line(t) for t in got] == ["pipe bomb", "*nailbomb*\t6", "molotov"]
    for t in got:  # what is written reads back the same
        assert split_keyword_line(keyword_line(t), "x:1", {}, "weapons") == (t.term, t.glued, t.severity, t.subcode)


def test_csv_import_category_column_overrides_and_tc260_codes_resolve(policy, tmp_path: Path) -> None:
    f = tmp_path / "new.csv"
    f.write_text("\ufeffTerm,Category,Severity,subcode\nalpha one,,5,\nbeta two,self_harm,,\ngamma three,A.2.5,4,\n"
                 "\"delta, four\",hate_discrimination,3,age\n", encoding="utf-8")
    got = read_import(f, policy, "weapons")
    assert [(t.term, t.category, t.severity, t.subcode) for t in got] == [
        ("alpha one", "weapons", 5, None), ("beta two", "self_harm", None, None), ("gamma three", "hate_discrimination", 4, "gender"),
        ("delta, four", "hate_discrimination", 3, "age")]
    assert resolve_category(policy, "A.4.1", "--category")[0].code == "self_harm"


@pytest.mark.parametrize("name,content,category,message", [
    ("a.csv", "word,category\nx,weapons\n", None, "a.csv:1: header 'word, category': unknown column 'word'"),
    ("a.csv", "category,severity\nweapons,3\n", None, "no 'term' column"),
    ("a.csv", "term,category\nx,nonsense\n", None, "a.csv:2: field category: 'nonsense' is not a category of this pack; use one of political"),
    ("a.csv", "term,category\nx,A.1.8\n", None, "'A.1.8' is a TC260 risk several categories answer for (weapons, child_safety, illegal_cyber)"),
    ("a.csv", "term,severity\nx,9\n", "weapons", "a.csv:2: field severity '9' for 'x' must be an integer 0-7"),
    ("a.csv", "term,severity\nx,high\n", "weapons", "a.csv:2: field severity 'high'"),
    ("a.csv", "term,category\nok,weapons\n ,weapons\n", None, "a.csv:3: field term is empty; fill it in or remove the row"),
    ("a.csv", "term\nx\n", None, "a.csv:2: field category is empty and no --category was given"),
    ("a.csv", "term,category\n\"two\nlines\",weapons\n", None, "holds a control character"),
    ("a.csv", "term,category\n#hashtag,weapons\n", None, "starts with '#'"),
    ("a.csv", "term,category\n\u200b\u200b,weapons\n", None, "is empty once normalized"),
    ("a.csv", "term,category\n*half,weapons\n", None, "write *term* (a star on both sides)"),
    ("a.txt", "fine\n\t5\n", "weapons", "a.txt:2: empty term before a tab"),
    ("a.txt", "fine\n", None, "a .txt file has no category column; pass --category CODE"),
    ("a.txt", "fine\n", "bogus", "--category: 'bogus' is not a category of this pack"),
    ("a.txt", "fine\tx\n", "weapons", "a.txt:1: severity 'x'"),
    ("a.json", "[]", "weapons", "expected a .txt file (one term a line) or a .csv file"),
    ("a.txt", "# only a comment\n", "weapons", "no terms in the file"),
])
def test_bad_input_names_file_line_field_and_value(policy, tmp_path: Path, name, content, category, message) -> None:
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ContentLibraryError) as exc:
        read_import(f, policy, category, name=name)
    assert message in str(exc.value)


def test_not_utf8_names_line_and_byte(policy, tmp_path: Path) -> None:
    f = tmp_path / "latin1.txt"
    f.write_bytes("ok\nfine\ncaf\xe9 bomb\n".encode("latin-1"))
    with pytest.raises(ContentLibraryError, match=r"latin1.txt:3: not UTF-8 \(byte 0xe9 at column 4\); save the file as UTF-8"):
        read_import(f, policy, "weapons", name="latin1.txt")


def test_version_bump_keeps_the_file_as_it_was() -> None:
    text = '# pack\nid: x\nversion: "1.0.9"   # bumped by imports\ntitle: T\n  version: nested\n'
    new, old, bumped = bump_patch(text, "pack.yaml")
    assert (old, bumped) == ("1.0.9", "1.0.10")
    assert new == text.replace('"1.0.9"', '"1.0.10"')
    assert bump_patch("version: '2.3'\n", "p")[0] == "version: '2.3.1'\n"
    with pytest.raises(ContentLibraryError, match="expected one top-level line"):
        bump_patch("id: x\n", "pack.yaml")


# ---------------------------------------------------------------- stats


def test_each_term_counts_once_toward_one_risk(policy, library) -> None:
    counts, contributors, distinct = terms_per_risk(policy.categories, library.keywords)
    assert sum(counts.values()) == distinct == len({canonical_term(k.term) for k in library.keywords})
    assert counts["A.1.1"] == sum(1 for k in library.keywords if k.category == "political")  # political -> its first risk only
    assert "A.1.2" not in counts and "A.1.3" not in counts
    assert counts["A.2.5"] == sum(1 for k in library.keywords if k.subcode == "gender")
    assert risk_of(policy.category("hate_discrimination"), None) == "A.1.5"
    assert contributors["A.1.6"] == {"sexual", "child_safety"}  # both list A.1.6 first
    # lint, by contrast, counts a political term toward A.1.1, A.1.2 and A.1.3
    short = {i.scope: i.have for i in lint_library(policy, library)}
    assert short["A.1.2"] == short["A.1.1"] == counts["A.1.1"]
