"""A word split by a separator (``mur-der``, ``be.head``, ``kill_er``) is found (issue 11): the view reads it as two
words, so the tokens around such a split are matched again with the separators taken out."""

from __future__ import annotations

import random

import pytest

from review.domain.content.benchmark import keyword_filter
from review.domain.content.normalize import native, python_reference, split_words
from review.domain.content.taxonomy import Record

LIB = ["murder", "behead", "pipe bomb", "kill", "*fentanyl*", "ak47"]


def _found(filt, text: str) -> list[tuple[str, int, int]]:
    return [(f.matched, f.start, f.end) for f in filt.scan_many([Record(id="r", output=text)])]


def test_split_words_compiled_equals_reference():
    nat = native()
    if nat is None:
        pytest.skip("compiled fold not built")
    rng = random.Random(3)
    alphabet = "ab-._ Z9é-"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    # every string kind (Latin-1, two-byte, four-byte) takes its own compiled loop
    texts += ["".join(rng.choice(alphabet + extra) for _ in range(rng.randint(0, 30))) for extra in ("中", "😀") for _ in range(1000)]
    texts += ["mur-der", "U.S.A", "-a-", "a-", "a--b", "x.y--z", "www.ex.com/a-b", "3.14 2024-05-06", "ak-47 v1.2.3"]
    got = nat.split_words(texts)
    with python_reference():
        assert got == split_words(texts)
    assert [texts[j][s:e] for j, s, e in got[-7:]] == ["mur-der", "U.S.A", "x.y--z", "www.ex.com", "a-b", "ak-47", "v1.2.3"]


def test_split_tokens_from_the_folds_candidates_equal_split_words():
    """``split_tokens`` finds the split words from the places the fold noted (no second pass over every text): the
    same words as ``split_words``, each with its separators taken out, on every string kind and in long texts."""
    nat = native()
    if nat is None:
        pytest.skip("compiled fold not built")
    rng = random.Random(5)
    alphabet = "ab-._ Z9é-1K"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    texts += ["".join(rng.choice(alphabet + extra) for _ in range(rng.randint(0, 40))) for extra in ("中", "😀", "\u200b", "Ａ") for _ in range(800)]
    texts += ["see mur-der and www.ex.com/a-b, U.S.A. " * 40, "-a-", "a.-b", "3.14 2024-05-06", "x" * 300 + "-" + "y" * 300]
    buf, views = nat.fold_views(texts)
    toks, spans = nat.split_tokens(texts, views)
    ints = list(memoryview(spans).cast("i"))
    got = [tuple(ints[k:k + 3]) for k in range(0, len(ints), 3)]
    want = nat.split_words(texts)
    assert got == want and len(want) > 3000
    assert toks == [texts[j][s:e].replace("-", "").replace(".", "").replace("_", "") for j, s, e in want]
    with pytest.raises(ValueError, match="texts and views differ"):
        nat.split_tokens(texts[:-1], views)


@pytest.mark.parametrize("engine", ["hyperscan", "ahocorasick"])
def test_split_words_are_found_with_their_original_span(engine):
    lib = [t.strip("*") for t in LIB]
    filt = keyword_filter(lib, engine=engine, pack_hash="split")
    assert _found(filt, "how to mur-der him") == [("mur-der", 7, 14)]
    assert _found(filt, "be.head them, mur_der") == [("be.head", 0, 7), ("mur_der", 14, 21)]
    assert _found(filt, "a pipe-bomb") == [("pipe-bomb", 2, 11)]  # found once
    assert _found(filt, "see www.killers.com or the skill-set") == []  # still whole words only
    assert _found(filt, "kill-switch") == [("kill", 0, 4)]  # the view's own reading stands
    # letters and digits make one word too (issue 11: ak-47 was missed); a number alone is no word
    assert _found(filt, "an ak-47 and an ak.47, not 2024-05-06 or 3.14") == [("ak-47", 3, 8), ("ak.47", 16, 21)]


def test_same_findings_compiled_prefiltered_and_reference():
    lib = [t.strip("*") for t in LIB]
    texts = ["how to mur-der him", "be.head", "x mur.d-er y", "pipe-bomb", "nothing-here.at_all", "be-head-ed"]
    recs = [Record(id=str(k), output=t) for k, t in enumerate(texts)]
    want = [f.key() for f in keyword_filter(lib, engine="hyperscan", pack_hash="split-cmp").scan_many(recs)]
    assert [f.key() for f in keyword_filter(lib, engine="ahocorasick", pack_hash="split-cmp").scan_many(recs)] == want
    with python_reference():
        assert [f.key() for f in keyword_filter(lib, engine="ahocorasick", pack_hash="split-ref").scan_many(recs)] == want
    assert len(want) == 4  # mur-der, be.head, mur.d-er, pipe-bomb ("be-head-ed" is another word)
