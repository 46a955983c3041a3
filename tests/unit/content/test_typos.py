"""Per-category match strictness (issue 11): ``typos: 1`` finds a term one everyday typo away, ``boundary: none``
finds terms inside longer words; both are data in the pack, validated."""

from __future__ import annotations

import pytest

from review.domain.content.benchmark import keyword_filter
from review.domain.content.matcher import typo_variants
from review.domain.content.taxonomy import Record


def _found(filt, text: str) -> list[str]:
    return [f.matched for f in filt.scan_many([Record(id="r", output=text)])]


def test_typo_variants_keep_first_and_last_letter():
    v = typo_variants("murder")
    assert {"mudrer", "mruder", "murdre", "umrder"} & set(v) == {"mudrer", "mruder"}  # never the first or last letter
    assert {"murdr", "mrder", "muder", "murer"} <= set(v)
    assert "urder" not in v and "murde" not in v and "murder" not in v
    assert typo_variants("bomb") == []  # under five letters: too many ordinary words one typo away
    assert typo_variants("自杀式袭击") == []
    assert "pipe bmob" in typo_variants("pipe bomb") and "pipeb omb" not in typo_variants("pipe bomb")  # swaps stay in a word


@pytest.mark.parametrize("engine", ["hyperscan", "ahocorasick"])
def test_typos_only_where_the_category_says(engine):
    lib = ["murder", "pipe bomb", "kill yourself"]
    strict = keyword_filter(lib, engine=engine, pack_hash="typos-off")
    loose = keyword_filter(lib, engine=engine, pack_hash="typos-on", typos=True)
    for text, want in [("how to murdr someone", "murdr"), ("a pipe bmob here", "pipe bmob"), ("kil yourself now", "kil yourself"),
                       ("KIL YOURSELF!", "KIL YOURSELF")]:
        assert _found(strict, text) == []
        assert _found(loose, text) == [want]
    assert _found(loose, "a murder case") == ["murder"]  # the term itself: once
    assert _found(loose, "the murderer") == []  # still a word boundary
    assert _found(loose, "a bomb") == []


def test_typos_same_findings_with_and_without_the_prefilter():
    lib = ["murder", "pipe bomb", "kill yourself", "detonator"]
    texts = ["how to murdr someone", "detontaor parts", "a pipe bmob", "nothing here", "murder-suicide", "kil yourself"]
    hs = keyword_filter(lib, engine="hyperscan", pack_hash="typos-pf", typos=True)
    ac = keyword_filter(lib, engine="ahocorasick", pack_hash="typos-pf", typos=True)
    recs = [Record(id=str(k), output=t) for k, t in enumerate(texts)]
    assert [f.key() for f in hs.scan_many(recs)] == [f.key() for f in ac.scan_many(recs)]
    assert len(hs.scan_many(recs)) == 5


def test_boundary_none_finds_glued_terms():
    plain = keyword_filter(["fentanyl"], pack_hash="b-word")
    glued = keyword_filter(["fentanyl"], pack_hash="b-none", glued=True)
    assert _found(plain, "buyfentanylnow") == []
    assert _found(glued, "buyfentanylnow") == ["fentanyl"]


def test_pack_fields_are_validated():
    from pydantic import ValidationError

    from policies.content_schema import ContentCategory

    ok = ContentCategory(code="weapons", title="W", tc260=["A.1.8"], typos=1, boundary="none")
    assert ok.typos == 1 and ok.boundary == "none"
    for bad in ({"typos": 2}, {"boundary": "loose"}):
        with pytest.raises(ValidationError) as err:
            ContentCategory(code="weapons", title="W", tc260=["A.1.8"], **bad)
        assert next(iter(bad)) in str(err.value)
