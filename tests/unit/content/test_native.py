"""The compiled fold (``_native.c``) against the Python reference it replaces: the same match
views (text, offsets, joints), the batch form's byte map, the SIMD spaced-run scan against
a plain Python statement of its rule, and whole filters giving the same findings."""

import os
import random
from bisect import bisect_left
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review.domain.content.benchmark import generate_corpus, keyword_filter, scan_buffer, synthetic_library
from review.domain.content.normalize import match_view_py, native, native_view, python_reference

from test_fast_path import _dump, stress_records  # same directory (rootdir import mode)

nat = native()
pytestmark = pytest.mark.skipif(nat is None, reason="the C extension is not built here")

# Characters chosen to hit every branch: ASCII letters/digits/leet symbols/separators,
# upper case, homoglyphs, full width, zero-width and bidi (deleted), expansions (ß, ﬁ, ﷺ),
# Traditional Chinese, astral math letters, CJK punctuation, combining marks.
ALPHABET = list("abcdefghijklmnopqrstuvwxyzIL0123456789@$!| .,-_*\t\n'\"#") + [
    "\u200b", "\u202e", "\u00ad", "а", "е", "о", "Ａ", "ｋ", "ｌ", "１", "藥", "販", "賣", "ß", "ﬁ", "ﷺ", "\u3000", "，", "。",
    "²", "İ", "ǅ", "Σ", "ς", "\U0001d400", "\U0001d42a", "の", "天", "\u0301", "\x00", "😀"]
texts = st.text(alphabet=st.sampled_from(ALPHABET), max_size=40)
# Dense in the characters the contextual folds look at (leetspeak runs, single-letter runs).
dense = st.text(alphabet=st.sampled_from(list("ab1@9 .x|$!k l-3") + ["\u200b", "ｌ"]), max_size=24)


def _norm(mv):
    n = len(mv.text)
    starts = list(mv.starts) if mv.starts is not None else list(range(n))
    ends = list(mv.ends) if mv.ends is not None else list(range(1, n + 1))
    return mv.text, starts, ends, sorted(mv.joints)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(texts, dense))
def test_fold_equals_reference(text):
    assert _norm(native_view(text, nat.fold)) == _norm(match_view_py(text))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(texts, dense), max_size=6))
def test_fold_batch_is_the_views_as_utf8_with_a_byte_map(batch):
    buf, starts, omap, joints = nat.fold_batch(batch)
    st_ = list(memoryview(starts).cast("i"))
    om = list(memoryview(omap).cast("i"))
    assert len(st_) == len(batch) + 1 and st_[-1] == len(buf) == len(om)
    want_joints = []
    for k, text in enumerate(batch):
        view, starts_k, _, joints_k = _norm(match_view_py(text))
        seg = buf[st_[k]:st_[k + 1]]
        assert seg[-1:] == b"\x00" and om[st_[k + 1] - 1] == -1
        assert seg[:-1] == view.encode("utf-8", "surrogatepass")
        expect = [s for ch, s in zip(view, starts_k, strict=True) for _ in ch.encode("utf-8", "surrogatepass")]
        assert om[st_[k]:st_[k + 1] - 1] == expect
        want_joints += [st_[k] + len(view[:j].encode("utf-8", "surrogatepass")) for j in joints_k]
    assert joints == want_joints


def _spaced_reference(buf: bytes) -> list[int]:
    """The rule in plain Python: a token byte [A-Za-z0-9@$!|] with no token neighbour is a
    single; the third (and each later) single in a row, with no other token between, is
    reported."""
    def tok(i):
        return 0 <= i < len(buf) and (chr(buf[i]).isascii() and (chr(buf[i]).isalnum() or chr(buf[i]) in "@$!|"))

    out, count = [], 0
    for i in range(len(buf)):
        if not tok(i):
            continue
        if tok(i - 1) or tok(i + 1):
            count = 0
            continue
        count += 1
        if count >= 3:
            out.append(i)
    return out


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"K", b"7", b"@", b"|", b" ", b".", b"\n", b"\x00", b"ab", b"\xe4\xb8\xad", b"\xef\xbc\x8c"]),
                max_size=200))
def test_spaced_hits_equals_its_rule(parts):
    buf = b"".join(parts)
    assert nat.spaced_hits(buf) == _spaced_reference(buf)


def test_spaced_hits_across_block_edges():
    for pad in range(60, 70):
        buf = b"x" * pad + b" k i l l " + b"y" * 70
        assert nat.spaced_hits(buf) == _spaced_reference(buf)


def test_spaced_hits_cover_the_former_hyperscan_pattern():
    hs = pytest.importorskip("hyperscan")
    from review.domain.content.matcher import _spaced_pattern

    db = hs.Database()
    db.compile(expressions=[_spaced_pattern().encode()], flags=[0])
    recs = list(generate_corpus(3000, synthetic_library(50, 50), hit_share=0.3, seed=3))
    buf = "\n".join(f"{r.prompt} k i l l {r.output} s.p.a.c.e 中 a 文 b c" for r in recs).encode()
    newlines = [i for i, b in enumerate(buf) if b == 10]
    lines_hs: set[int] = set()
    db.scan(buf, match_event_handler=lambda pid, s, e, f, c: lines_hs.add(bisect_left(newlines, max(e - 1, 0))))
    lines_c = {bisect_left(newlines, p + 1) for p in nat.spaced_hits(buf)}
    assert lines_hs and lines_hs <= lines_c


@pytest.mark.parametrize("engine", ["hyperscan", "ahocorasick"])
def test_filters_give_the_reference_findings(engine):
    lib = synthetic_library(300, 300, seed=5) + ["kill", "pipe bomb", "炸药", "洗钱", "fake passport"]
    recs = stress_records(lib)
    fast = keyword_filter(lib, engine=engine, pack_hash="native-eq")
    got = _dump(fast.scan_many(recs))
    with python_reference():
        ref_filter = keyword_filter(lib, engine=engine, pack_hash="native-eq")
        assert ref_filter is not fast and (ref_filter.prefilter is None or not ref_filter.prefilter.native)
        want = _dump(ref_filter.scan_many(recs))
    assert got == want and len(want) > 500


def test_buffer_fast_path_gives_the_reference_findings():
    import json

    lib = synthetic_library(300, 300, seed=5) + ["kill", "pipe bomb", "炸药", "洗钱", "fake passport"]
    recs = stress_records(lib)
    buf = "".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in recs).encode()
    got = _dump(scan_buffer(keyword_filter(lib, pack_hash="native-buf"), buf))
    with python_reference():
        want = _dump(scan_buffer(keyword_filter(lib, pack_hash="native-buf"), buf))
    assert got == want and len(want) > 500


def test_env_var_turns_the_extension_off():
    code = "from review.domain.content.normalize import native; print(native() is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "ETHICS_REVIEW_NATIVE": "0"}).stdout.strip()
    assert out == "True"


def _seed_texts() -> list[str]:
    import json
    from pathlib import Path

    pack = Path(__file__).resolve().parents[3] / "policies" / "packs" / "default" / "content"
    out = []
    for name in ("classifier_seed.jsonl", "knowledge_base.jsonl"):
        for line in (pack / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.append(json.loads(line)["text"])
    return out


def _mutations(text: str) -> list[str]:
    words = text.split()
    return [text, text.upper(), " ".join(words[: len(words) // 2]), " ".join(words[1:]), text + " 今天天气很好",
            text.replace("a", "4").replace("e", "3"), "  ".join(words), text[: len(text) // 3], "x " * 3 + text]


def test_classifier_scores_equal_reference(library):
    from review.domain.content.classifier import SoftmaxRegression, features

    model = SoftmaxRegression(library.classifier_weights)
    assert model._model is not None  # the shipped weights are integers: the compiled path is used
    recs = generate_corpus(300, synthetic_library(100, 100), hit_share=0.3, seed=9)
    texts = [m for t in _seed_texts() for m in _mutations(t)] + [x for r in recs for x in (r.prompt, r.output)]
    texts += ["", " ", "x", "don't stop rock'n'roll", "a" * 5000, "藥" * 3000, "\u200bk i l l\u200b"]
    for text in texts:
        feats, units = features(text, model.max_chars)
        assert model.scores(text) == (model.logits(feats), units), text


@settings(max_examples=800, deadline=None)
@given(st.one_of(texts, dense, st.text(max_size=60)))
def test_classifier_features_equal_reference_on_any_text(library, text):
    from review.domain.content.classifier import SoftmaxRegression, features

    model = _model_cache.get("m") or _model_cache.setdefault("m", SoftmaxRegression(library.classifier_weights))
    feats, units = features(text, model.max_chars)
    sums, n, units_c = nat.model_sums(model._model, text, model.max_chars)
    assert (list(sums), n, units_c) == (model.sums(feats), len(feats), units)


_model_cache: dict = {}


def test_knowledge_base_prefilter_equals_reference(policy, library):
    from review.domain.content.knowledge import SLACK, KnowledgeBase, shingles

    kbp = policy.knowledge_base
    kb = KnowledgeBase(library.exemplars, kbp.shingle, kbp.num_perm, kbp.bands, kbp.threshold)
    assert kb._native is not None
    recs = generate_corpus(300, synthetic_library(100, 100), hit_share=0.3, seed=9)
    texts = [m for t in _seed_texts() for m in _mutations(t)] + [x for r in recs for x in (r.prompt, r.output)]
    texts += ["", " ", "abcd", "abcde", "\u3000x\u3000", "ab  cd\tef"]
    seen_true = 0
    for text in texts:
        sh = shingles(text, kb.k)
        want = bool(sh) and kb.could_match(sh)
        got = nat.kb_could_match(kb._native, text, kb.k, kb.threshold * SLACK)
        assert got == want, text
        seen_true += want
    assert seen_true >= len(library.exemplars)  # the exemplars and their near copies pass


def test_full_pack_filter_gives_the_reference_findings(policy, library):
    from review.domain.content.engine import ContentFilter

    recs = stress_records(synthetic_library(100, 100, seed=5) + ["kill", "炸药"], n_base=200)
    recs += [type(recs[0])(id=f"kb{i}", output=m) for i, t in enumerate(_seed_texts()) for m in _mutations(t)[:3]]
    recs.append(type(recs[0])(id="pii", prompt="mail jane.doe@example.com, card 4111 1111 1111 1111, 身份证 11010519491231002X"))
    got = _dump(ContentFilter.from_policy(policy, library, "test", "native-full").scan_many(recs))
    with python_reference():
        want = _dump(ContentFilter.from_policy(policy, library, "test", "native-full").scan_many(recs))
    scanners = {f["scanner"] for f in want}
    assert got == want and {"keyword", "regex", "knowledge_base", "classifier"} <= scanners


def test_classifier_predict_many_equals_predict(library):
    """The batch the scanner uses gives exactly what predict gives text by text (compiled and reference)."""
    from review.domain.content.classifier import SoftmaxRegression

    model = SoftmaxRegression(library.classifier_weights)
    rng = random.Random(11)
    words = ["kill", "bomb", "buy", "cheap", "pills", "hello", "the", "你好", "炸弹", "🙂", "!", "1", "you", "hate"]
    texts = ["", "a", *(" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))) for _ in range(400))]
    got = model.predict_many(texts)
    assert got == [model.predict(t) for t in texts]
    assert sum(label != "safe" for label, _ in got) > 0  # some texts are judged harmful: the comparison covers both branches
    with python_reference():
        assert SoftmaxRegression(library.classifier_weights).predict_many(texts) == got


def test_fold_scan_is_one_fold_for_every_scanner(policy, library):
    """fold_scan's views, classifier sums and knowledge-base answers are fold_views', model_sums' and
    kb_could_match's, text by text (a text longer than the classifier's max_chars included)."""
    from review.domain.content.classifier import SoftmaxRegression
    from review.domain.content.knowledge import KnowledgeBase

    model = SoftmaxRegression(library.classifier_weights)
    spec = policy.knowledge_base
    kb = KnowledgeBase(library.exemplars, spec.shingle, spec.num_perm, spec.bands, spec.threshold)
    base, k, bound = kb.native_check
    rng = random.Random(5)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    texts += [ex.text for ex in library.exemplars[:20]] + ["kill " * 600, "自杀" * 1500]
    buf, views, sums, could = nat.fold_scan(texts, model.native_model, model.max_chars, base, k, bound)
    assert buf == nat.fold_views(texts)[0]
    assert sums == [nat.model_sums(model.native_model, t, model.max_chars) for t in texts]
    assert could == [nat.kb_could_match(base, t, k, bound) for t in texts]
    assert any(could) and not all(could)
    assert nat.fold_scan(texts, None, 0, None, 1, 1.0)[2:] == (None, None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(-10**6, 10**6), min_size=4, max_size=4), st.integers(0, 500),
                          st.floats(0, 50, allow_nan=False)), min_size=1, max_size=30),
       st.lists(st.floats(-3, 3, allow_nan=False), min_size=4, max_size=4), st.sampled_from([0.5, 1.0, 1.7]))
def test_softmax_many_is_predict_on_any_sums(rows, bias, temperature):
    """The compiled softmax gives predict's class and probability bit for bit, ties between harmful classes included
    (to the later name, as decide's max over (p, name))."""
    from review.domain.content.classifier import KIND, SoftmaxRegression, decide

    rows = [(tuple(s), n, u) for s, n, u in rows] + [((10**6, 10**6, 0, 0), 30, 9.0), ((0, 0, 0, 0), 0, 0.0)]  # a tie; no evidence
    m = SoftmaxRegression({"kind": KIND, "classes": ["b_harm", "a_harm", "safe", "c_harm"], "bias": [bias[0], bias[0], *bias[2:]],
                           "scale": 0.01, "weights": {}, "temperature": temperature, "min_norm": 24.0, "min_evidence": 3.0})
    want = []
    for sums, n, units in rows:
        p = m._proba(m._logits(sums, n)) if units >= m.min_evidence else [1.0 if k == m.safe_index else 0.0 for k in range(4)]
        want.append(decide(m.classes, p))
    assert m.predict_many([""] * len(rows), rows=rows) == want
    with python_reference():
        assert m.predict_many([""] * len(rows), rows=rows) == want
