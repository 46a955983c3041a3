import pytest

from review.domain.content.normalize import match_view
from review.domain.content.taxonomy import Record

CASES = [
    ("plain", "how do I kill him", "kill"),
    ("upper", "how do I KILL him", "KILL"),
    ("homoglyph", "how do I \u043a\u0456ll him", "\u043a\u0456ll"),  # Cyrillic ka + i
    ("greek", "buy c\u03bfcaine now", "buy c\u03bfcaine"),
    ("fullwidth", "how do I \uff4b\uff49\uff4c\uff4c him", "\uff4b\uff49\uff4c\uff4c"),
    ("zero-width", "how do I ki\u200bl\u200dl him", "ki\u200bl\u200dl"),
    ("bidi", "how do I k\u202eill him", "k\u202eill"),
    ("spaced", "how do I k i l l him", "k i l l"),
    ("dotted", "then k.i.l.l him", "k.i.l.l"),
    ("dashed", "then k-i-l-l him", "k-i-l-l"),
    ("leet", "make a p1p3 b0mb", "p1p3 b0mb"),
    ("leet-symbols", "sell h3r0!n here", "h3r0!n"),
    ("traditional", "如何製造炸藥？", "炸藥"),
    ("traditional2", "他想殺人", "殺人"),
    ("math-bold", "\U0001d424\U0001d422\U0001d425\U0001d425 it", "\U0001d424\U0001d422\U0001d425\U0001d425"),
    ("diacritics", "make a p\u00efpe b\u00f6mb", "p\u00efpe b\u00f6mb"),
    ("double-space", "make a pipe  bomb", "pipe  bomb"),
    ("tab", "make a pipe\tbomb", "pipe\tbomb"),
    ("newline", "make a pipe\n\nbomb", "pipe\n\nbomb"),
    ("hyphenated", "make a pipe-bomb", "pipe-bomb"),
    ("underscored", "make a pipe_bomb", "pipe_bomb"),
    ("spaced-hyphen", "make a pipe - bomb", "pipe - bomb"),
    ("glued", "#buyfentanylnow", "fentanyl"),
    ("glued-phrase", "where2buycocaine.com", "buycocaine"),
    ("spaced-cjk", "我想 自 杀 怎么办", "自 杀"),
    ("hyphenated-cjk", "我想自-杀怎么办", "自-杀"),
    ("ideographic-space-cjk", "我想自\u3000杀怎么办", "自\u3000杀"),
    ("diacritics-combining", "how do I ki\u0301ll him", "ki\u0301ll"),
]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("engine", ["hyperscan", "ahocorasick"])
def test_evasions_caught_with_original_span(name, text, expected, engine, cfilter, cfilter_ac):
    f = cfilter if engine == "hyperscan" else cfilter_ac
    findings = [x for x in f.scan(Record(id="r", output=text)) if x.scanner == "keyword"]
    spans = {text[x.start:x.end] for x in findings}
    assert expected in spans, (name, [(x.matched, x.rule_id) for x in findings])
    for x in findings:
        assert text[x.start:x.end] == x.matched


def test_word_boundaries_and_benign_numbers(cfilter):
    for text in ["a skillful class", "the skill tree", "scampi and grenadine", "the heroine wins",
                 "2024 budget", "5 apples and 7 pears", "killer app of the year"]:
        assert [x for x in cfilter.scan(Record(id="r", prompt=text)) if x.scanner == "keyword"] == [], text
    v = match_view("2024 and 5 apples")
    assert v.text.startswith("2024 and 5 a")


def test_allow_list_suppresses(cfilter):
    assert not [x for x in cfilter.scan(Record(id="r", prompt="please kill the process now")) if x.scanner == "keyword"]
    assert [x for x in cfilter.scan(Record(id="r", prompt="please kill the guard now")) if x.scanner == "keyword"]


def test_metadata_is_scanned_for_media(cfilter):
    r = Record(id="img", modality="image", metadata={"caption": "a photo of a pipe bomb", "width": 3})
    hits = [x for x in cfilter.scan(r) if x.scanner == "keyword"]
    assert hits and hits[0].field == "metadata"
    assert r.field_text("metadata")[hits[0].start:hits[0].end] == "pipe bomb"


def test_deterministic_and_engines_agree(cfilter, cfilter_ac):
    from review.domain.content.benchmark import generate_corpus

    lib = ["kill", "pipe bomb", "炸药", "洗钱", "buy cocaine", "fake passport"]
    recs = list(generate_corpus(300, lib, hit_share=0.5, seed=5))
    a = [f.key() for f in cfilter.scan_many(recs)]
    assert a == [f.key() for f in cfilter.scan_many(recs)]
    b = [f.key() for f in cfilter_ac.scan_many(recs)]
    assert a == b
    assert len(a) > 50


TRAILING = ["!", "!!", "!?", "$", "|", "!!!1"]


@pytest.mark.parametrize("mark", TRAILING)
@pytest.mark.parametrize("engine", ["hyperscan", "ahocorasick"])
def test_a_term_followed_by_punctuation_is_found(mark, engine, cfilter, cfilter_ac):
    """A mark right after a word may be punctuation or leetspeak: both readings count (it was never found)."""
    f = cfilter if engine == "hyperscan" else cfilter_ac
    text = f"then kill him{mark} now"
    assert "kill" in {text[x.start:x.end] for x in f.scan(Record(id="r", output=text)) if x.scanner == "keyword"}, text
    text = f"make a pipe bomb{mark}"
    assert "pipe bomb" in {text[x.start:x.end] for x in f.scan(Record(id="r", output=text)) if x.scanner == "keyword"}, text


def test_a_trailing_dollar_still_reads_as_a_letter() -> None:
    from review.domain.content.normalize import python_reference

    assert match_view("cla$$ act").text == "ciass act"  # (l folds to i, as the terms do)
    with python_reference():
        assert match_view("cla$$ act").text == "ciass act"


def test_the_python_and_native_folds_agree_on_trailing_marks() -> None:
    from review.domain.content.normalize import native, python_reference

    if native() is None:
        pytest.skip("the compiled fold is not built")
    for text in ["kill yourself!", "kill!! now", "k i l l !", "I will kill| you", "cla$$ act", "a$$hole", "h3r0!n", "k i l l ! x"]:
        fast = match_view(text)
        with python_reference():
            ref = match_view(text)
        assert (fast.text, set(fast.joints)) == (ref.text, set(ref.joints)), text


def test_diacritics_fold_the_same_in_both_folds_and_leave_other_scripts_composed() -> None:
    from review.domain.content.normalize import fold_text, native, python_reference

    for text in ["pïpe bömb", "ki\u0301ll", "Crème brûlée", "ΆΈΉ", "한국어 텍스트", "自杀"]:
        fast = match_view(text)
        with python_reference():
            ref = match_view(text)
        assert fast.text == ref.text, text
        for k in range(len(fast.text)):  # every view character maps back into the original
            s, e = fast.span(k, k + 1)
            assert 0 <= s < e <= len(text)
    assert fold_text("pïpe bömb") == "pipe bomb" and fold_text("Crème brûlée") == "creme bruiee"
    assert fold_text("한국어") == "한국어"  # Hangul is not taken apart into jamo
    assert native() is None or fold_text("ki\u0301ll") == "kiii"


def test_the_evasion_suite_covers_every_class_that_applies() -> None:
    import random

    from review.domain.content.evasion import CLASSES, suite, variants

    v = variants("pipe bomb", random.Random(1))
    assert {"plain", "trailing_punct", "whitespace", "separators", "diacritics", "greek", "glued", "typo_swap", "typo_drop"} <= set(v)
    assert v["whitespace"].split() == ["pipe", "bomb"] and v["whitespace"] != "pipe bomb"
    assert "spaced_cjk" in variants("自杀", random.Random(1)) and "glued" not in variants("自杀", random.Random(1))
    cases = suite([("pipe bomb", "weapons"), ("自杀", "self_harm")])
    assert {c.cls for c in cases} <= set(CLASSES) and all(c.category in ("weapons", "self_harm") for c in cases)
    assert suite([("pipe bomb", "weapons")]) == suite([("pipe bomb", "weapons")])  # seeded: the same suite every run


def test_space_runs_collapse_the_same_in_both_folds_with_exact_offsets() -> None:
    from review.domain.content.normalize import python_reference

    for text in ["pipe  bomb", "pipe - bomb", "e.g. the  end...  ok", "k  i  l  l it", "a\u3000 b", "x \t\n y", "  lead", "trail  ",
                 "自 杀", "自 - 杀", "中文 text 中文", "今天 天气  很好", "a 自 b"]:
        fast = match_view(text)
        with python_reference():
            ref = match_view(text)
        assert fast.text == ref.text and "  " not in fast.text and "自 杀" not in fast.text, text
        assert [fast.span(i, i + 1) for i in range(len(fast.text))] == [ref.span(i, i + 1) for i in range(len(ref.text))], text


def test_only_terms_marked_glued_are_found_inside_longer_words(cfilter) -> None:
    from policies.content_schema import ContentLibraryError, load_content_library
    from policies.loader import load_pack

    lp = load_pack("default")
    lib = load_content_library(lp.content_policy, lp.directory)
    glued = {k.term for k in lib.keywords if k.glued}
    assert "fentanyl" in glued and "heroin" not in glued  # "heroine" holds it
    for text in ["the heroine wins", "a skillful class", "murderous intent"]:
        assert [x for x in cfilter.scan(Record(id="r", output=text)) if x.scanner == "keyword"] == [], text
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        bad = pathlib.Path(d) / "k.txt"
        bad.write_text("*half\n")
        policy = lp.content_policy.model_copy(update={"categories": [c.model_copy(update={"keywords": "k.txt"}) for c in lp.content_policy.categories[:1]],
                                                      "allow_list": None, "knowledge_base": None, "classifier": None})
        with pytest.raises(ContentLibraryError, match="k.txt:1: '\\*half': write \\*term\\*"):
            load_content_library(policy, pathlib.Path(d))
