"""The split prefilter (literal database + cheap evasion flags on raw buffers, strict flags
and fold literals on candidate texts) and the batched plain-fold verification give exactly
the findings of verifying every text (the ``ahocorasick`` engine), on a corpus holding every
evasion kind, mixed separators, NULs, escapes and metadata."""

import json
import random
import re

import pytest

from review.domain.content.benchmark import _EVASIONS, _evade, generate_corpus, keyword_filter, scan_buffer, synthetic_library
from review.domain.content.matcher import (_leet_pattern_strict, _spaced_pattern, _spaced_pattern_utf8, leet_literals,
                                           suspicious_literals)
from review.domain.content.normalize import SEP_ASCII, tables
from review.domain.content.taxonomy import Record

WRAP = ["{}", " {} ", "x{}", "{}y", "中{}文", "“{}”", "({})", "a {} b", "{}，", "，{}", "{}!", "1{}2", "\u200b{}\u200b", "Σ{}ς", "İ{}"]
SEPS = [" ", ".", "-", "_", "  ", " . ", "，", "\u3000", "\u00a0", "·", "/", "\t"]
MISC = ["ﬁrearm", "\u13a0\u13a1 k i l l", "\U0001d424\U0001d422\U0001d425\U0001d425", "豈更車", "㍿", "a\x00b", 'q"uo\\te\n',
        "e.g. U.S. a b c", "I a m", "h4ck3r 2024 5 apples", "k1ll", "!kill!", "|<ill", "s p a c e d", "ΣΑΣ", "ǅ", "😀 emoji"]


def _variants(term: str, rng: random.Random) -> list[str]:
    out = [_evade(term, how) for how in _EVASIONS]
    t = term.replace(" ", "")
    if t.isascii():
        out += [s.join(t) for s in SEPS]
        out.append(t.translate(str.maketrans({"i": "1", "l": "|", "a": "@", "s": "$", "e": "3", "o": "0", "t": "7"})))
        out.append(t.upper().translate(str.maketrans({"A": "4", "E": "3"})))
        out.append("".join(chr(ord(c) + 0xFEE0) if c.isalnum() and rng.random() < .5 else c for c in t))
        out.append(t[:1] + "\u00ad" + t[1:])
        out.append(t[:2] + "\u202e" + t[2:])
    else:
        out += [" ".join(term), "\u200b".join(term)]
    return out


def stress_records(lib: list[str], n_base: int = 400, seed: int = 17) -> list[Record]:
    rng = random.Random(seed)
    recs = list(generate_corpus(n_base, lib, hit_share=0.4, seed=seed))
    k = 0
    for term in lib[:: max(1, len(lib) // 60)]:
        for v in _variants(term, rng):
            recs.append(Record(id=f"s{k}", prompt=rng.choice(WRAP).format(v), output=rng.choice(WRAP).format(v) + " tail"))
            k += 1
    for j, m in enumerate(MISC):
        recs.append(Record(id=f"m{j}", prompt=m, output=m + " " + lib[j % len(lib)]))
        recs.append(Record(id=f"md{j}", modality="image", metadata={"caption": m + " " + lib[-1 - j], "n": 3}))
    return recs


def _dump(findings):
    return [f.model_dump() for f in findings]


@pytest.fixture(scope="module")
def lib():
    return synthetic_library(300, 300, seed=5) + ["kill", "pipe bomb", "炸药", "洗钱", "fake passport"]


def test_prefiltered_equals_verify_everything(lib):
    recs = stress_records(lib)
    hs_f = keyword_filter(lib, engine="hyperscan", pack_hash="fast-path")
    ac_f = keyword_filter(lib, engine="ahocorasick", pack_hash="fast-path")
    got = hs_f.scan_many(recs)
    assert _dump(got) == _dump(ac_f.scan_many(recs))
    assert len(got) > 200
    # the raw-buffer path (one prefilter pass, only tagged/escaped lines decoded)
    buf = "".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in recs).encode()
    assert _dump(scan_buffer(hs_f, buf)) == _dump(got)


def test_audit_chunks_equal_verify_everything(lib, tmp_path):
    from review.domain.content.records_io import plan_chunks, scan_chunk

    recs = stress_records(lib, n_base=200)
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in recs),
                    encoding="utf-8")
    filt = keyword_filter(lib, engine="hyperscan", pack_hash="fast-path")
    got = []
    for spec in plan_chunks(path, "jsonl", 89):
        res = scan_chunk(filt, path, "jsonl", spec)
        assert not res.bad
        got += [f.model_dump() for _, f in res.findings]
    ref = _dump(keyword_filter(lib, engine="ahocorasick", pack_hash="fast-path").scan_many(recs))
    assert sorted(got, key=repr) == sorted(ref, key=repr)


def test_pack_filter_equals_verify_everything(policy, library, cfilter, cfilter_ac):
    terms = [k.term for k in library.keywords][::3]
    recs = stress_records(terms, n_base=200)
    assert _dump(cfilter.scan_many(recs)) == _dump(cfilter_ac.scan_many(recs))


def _py(pattern: str) -> re.Pattern:
    return re.compile(pattern.encode("ascii"), re.S)


def test_cheap_flags_are_supersets():
    rng = random.Random(3)
    alphabet = "abkilL1!|@$0 3.-_x\t\"" + "，\u3000中"
    strict_leet = _py(_leet_pattern_strict())
    leet = [bytes.fromhex(x.replace("\\x", "")) for x in leet_literals()]
    strict_spaced = re.compile(re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: re.escape(chr(int(m.group(1), 16))), _spaced_pattern_utf8()), re.S)
    loose_spaced = _py(_spaced_pattern())
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        b = s.encode()
        if strict_leet.search(b):
            assert any(x in b.lower() for x in leet), s
        if strict_spaced.search(s):
            assert loose_spaced.search(b), s
    lits = [bytes.fromhex(x.replace("\\x", "")) for x in suspicious_literals()]
    for c in tables().suspicious:
        assert any(x in c.encode() for x in lits), c
    assert set(SEP_ASCII) <= {chr(c) for c in range(128)}
