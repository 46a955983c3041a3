"""``ethics-review bench filter``: the content filter's quality and speed, on the path an audit runs.

- **Recall per evasion class** (``review.domain.content.evasion``): every term of the shipped default pack's
  keyword library under every everyday evasion that applies to it, in a sentence, written as JSONL records
  and scanned as the audit scans a chunk (the raw-bytes prefilter, then the decoded candidates, with the
  whole pack: keywords, rules, knowledge base, classifier). A case is caught when a finding of the term's
  category covers the record.
- **Dictionary false fires**: every word of Debian's ``wamerican`` list (``/usr/share/dict/american-english``,
  about 100,000 words; ``apt-get install wamerican``) as its own record, through the same path; a word fires
  when the keyword scanner reports anything in it. Target: at most 0.1% of the words.
- **Speed**: ``filter_mb_s`` and ``ratio_pyahocorasick`` on the realistic corpus with a 10,000-term library
  (``review.bench.realistic``, as ``bench audit``: the audit's chunk path against pyahocorasick, raw Hyperscan and
  ahocorasick_rs over the same texts, same run), the older synthetic corpus beside it as ``synthetic_*``; and
  ``compile_s_50k``: compiling a 50,000-term keyword filter.

Prints, last, one JSON object with ``recall_min_class``, ``recall_by_class``, ``dictionary_false_fire_rate``,
``filter_mb_s``, ``ratio_pyahocorasick`` and ``compile_s_50k``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

DICTIONARY = Path("/usr/share/dict/american-english")


def register(bench: Any) -> None:
    p = bench.add_parser("filter", help="content filter recall per evasion class, dictionary false fires, MB/s vs pyahocorasick, "
                                        "compile time at 50k terms")
    p.add_argument("--pack", default="default", help="the pack whose library and filter are measured (default: default)")
    p.add_argument("--dictionary", default=str(DICTIONARY), help="a word list, one word a line (default: wamerican)")
    p.add_argument("--speed-items", type=int, default=50_000, help="records in the realistic throughput corpus (0 skips)")
    p.add_argument("--compile-terms", type=int, default=50_000, help="terms compiled for compile_s (0 skips)")
    p.set_defaults(func=cmd_bench_filter)


def cmd_bench_filter(ctx: Any) -> int:
    a = ctx.args
    out = run(pack=a.pack, dictionary=Path(a.dictionary), speed_items=a.speed_items, compile_terms=a.compile_terms,
              echo=None if ctx.json else print)
    print(json.dumps(out))
    return 0


def _scan(filt: Any, texts: list[str]) -> dict[int, list[Any]]:
    """Findings per text index, through the audit's buffer path (records as JSONL bytes)."""
    from review.domain.content.benchmark import scan_buffer
    from review.domain.content.taxonomy import Record

    out: dict[int, list[Any]] = defaultdict(list)
    for lo in range(0, len(texts), 4096):
        batch = [Record(id=str(k), product="bench", prompt="", output=t) for k, t in enumerate(texts[lo:lo + 4096], lo)]
        buf = "".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in batch).encode()
        found = scan_buffer(filt, buf) if filt.hinted_only else filt.scan_many(batch)
        for f in found:
            out[int(f.record_id)].append(f)
    return out


def run(*, pack: str = "default", dictionary: Path = DICTIONARY, speed_items: int = 100_000, compile_terms: int = 50_000,
        echo: Any = print) -> dict[str, Any]:
    from policies.content_schema import load_content_library
    from review.domain.content.benchmark import synthetic_library
    from review.domain.content.evasion import CLASSES, suite
    from review.services.content_audit import pack_filter

    say = echo or (lambda _t: None)
    lp, filt = pack_filter(pack)
    lib = load_content_library(lp.content_policy, lp.directory)
    terms = [(k.term, k.category) for k in lib.keywords]
    typo_categories = {c.code for c in lp.content_policy.categories if c.typos}
    cases = suite(terms, typo_categories=typo_categories)
    found = _scan(filt, [c.text for c in cases])
    # a glued spelling counts where the pack asks for it (``*term*``, ``boundary: none``); for the other terms the
    # pack keeps word boundaries on purpose ("kill" is not in "skill"), so it is reported apart, not as a miss
    glued_terms = {(k.term, k.category) for k in lib.keywords if k.glued}
    total: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    missed: dict[str, list[str]] = defaultdict(list)
    for k, c in enumerate(cases):
        cls = c.cls if c.cls != "glued" or (c.term, c.category) in glued_terms else "glued_word_bounded"
        total[cls] += 1
        if any(f.category == c.category for f in found.get(k, [])):
            caught[cls] += 1
        elif len(missed[cls]) < 5:
            missed[cls].append(c.term)
    recall = {cls: round(caught[cls] / total[cls], 4) for cls in CLASSES if total[cls]}
    for cls in (*recall, "glued_word_bounded"):
        if total[cls]:
            say(f"recall {cls:<18} {caught[cls] / total[cls]:7.1%}  ({caught[cls]}/{total[cls]})"
                + (f"  missed e.g. {', '.join(missed[cls][:3])}" if missed[cls] else ""))
    out: dict[str, Any] = {"pack": lp.id, "terms": len(terms), "cases": len(cases), "recall_by_class": recall,
                           "recall_min_class": min(recall.values()) if recall else None,
                           "glued_word_bounded_found": round(caught["glued_word_bounded"] / total["glued_word_bounded"], 4)
                           if total["glued_word_bounded"] else None}

    if dictionary.is_file():
        words = sorted({w.strip() for w in dictionary.read_text(encoding="utf-8", errors="replace").splitlines() if w.strip()})
        fired = _scan(filt, words)
        keyword_fired = [words[k] for k, fs in fired.items() if any(f.scanner == "keyword" for f in fs)]
        rate = len(keyword_fired) / len(words)
        say(f"dictionary false fires: {len(keyword_fired)} of {len(words):,} words ({rate:.3%}); e.g. {', '.join(keyword_fired[:8])}")
        out.update(dictionary_words=len(words), dictionary_false_fires=len(keyword_fired), dictionary_false_fire_rate=round(rate, 5),
                   dictionary_examples=keyword_fired[:20])
    else:
        say(f"{dictionary}: not found (apt-get install wamerican); dictionary false fires not measured")
        out.update(dictionary_false_fire_rate=None)

    out.update(_chinese(filt, say))

    if speed_items:
        out.update(_speed(speed_items, say))
    if compile_terms:
        import tempfile

        from review.bench.realistic import compile_times

        big = synthetic_library(n_en=compile_terms // 2, n_zh=compile_terms - compile_terms // 2, seed=13)
        with tempfile.TemporaryDirectory(prefix="ethics-review-bench-matchers-") as cache:  # cold: an empty matcher cache
            times = compile_times(big, Path(cache))
        key = "compile_s_50k" if compile_terms == 50_000 else "compile_s"
        out[key], out[key + "_cached"] = times["cold"], times["cached"]
        say(f"compiling a {len(big):,}-term keyword filter: {times['cold']} s cold, {times['cached']} s from the matcher cache")
    return out


def _speed(items: int, say: Any) -> dict[str, Any]:
    """Throughput on the corpus that looks like real traffic (``review.bench.realistic``: words by real frequency in
    English and Chinese, sentence case, digits, URLs, e-mails, tables, emoji) with its 10,000-term library, as
    ``bench audit`` measures it: the audit's chunk path against pyahocorasick, raw Hyperscan and ahocorasick_rs over
    the same texts in the same run. Then the older synthetic corpus (60 lowercase English words, a 50-character
    Chinese alphabet: most lines skip the prefilter), reported as ``synthetic_*`` beside it, never alone."""
    import tempfile

    from review.bench import realistic
    from review.bench.corpus import realistic_library
    from review.domain.content.benchmark import generate_corpus, measure_filter, synthetic_library

    library = realistic_library()
    with tempfile.TemporaryDirectory(prefix="ethics-review-bench-filter-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        realistic.write_corpus(corpus, items, library)
        m = realistic.measure(corpus, library)
    r = m["mb_s"]
    say(f"realistic corpus ({m['records']:,} records, {m['mb']} MB of text, {len(library):,} terms): filter {r['filter']} MB/s vs "
        f"pyahocorasick {r['pyahocorasick']}: x{m['ratio_pyahocorasick']}; raw Hyperscan {r['raw_hyperscan']} "
        f"(x{m['ratio_raw_hyperscan']}), ahocorasick_rs {r['ahocorasick_rs']} (x{m['ratio_ahocorasick_rs']})")
    out: dict[str, Any] = {"filter_mb_s": r["filter"], "pyahocorasick_mb_s": r["pyahocorasick"], "ratio_pyahocorasick": m["ratio_pyahocorasick"],
                           "ratio_raw_hyperscan": m["ratio_raw_hyperscan"], "ratio_ahocorasick_rs": m["ratio_ahocorasick_rs"],
                           "speed_corpus": "review.bench.realistic", "speed_records": m["records"]}
    synthetic = synthetic_library()
    s = measure_filter(generate_corpus(min(items, 100_000), synthetic), synthetic)
    base = s["baseline_mb_s"]["pyahocorasick"]
    ratio = round(s["filter_mb_s"] / base, 2) if s["filter_mb_s"] and base else None
    say(f"synthetic corpus: filter {s['filter_mb_s']} MB/s vs pyahocorasick {base} MB/s: x{ratio}")
    out.update(synthetic_filter_mb_s=s["filter_mb_s"], synthetic_pyahocorasick_mb_s=base, synthetic_ratio_pyahocorasick=ratio)
    return out


def _chinese(filt: Any, say: Any) -> dict[str, Any]:
    """False fires on ordinary Chinese: the 30,000 most frequent Chinese words (wordfreq), one text each, and 2,000
    paragraphs of Chinese drawn by real word frequency (``review.bench.corpus``). A fire on a word or a paragraph
    made of common words is a fire a committee would have to dismiss."""
    try:
        from review.bench.corpus import _zh, _zh_sentence
    except ImportError:  # pragma: no cover - wordfreq is a dev dependency
        say("wordfreq is not installed: Chinese false fires not measured")
        return {"chinese_word_false_fire_rate": None}
    import random

    words = [w for w in _zh().words if any("\u4e00" <= c <= "\u9fff" for c in w)]
    fired = _scan(filt, words)
    word_fires = [words[k] for k, fs in fired.items() if any(f.scanner == "keyword" for f in fs)]
    rng = random.Random(3)
    paragraphs = [" ".join(_zh_sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(2000)]
    fired = _scan(filt, paragraphs)
    para_fires = [k for k, fs in fired.items() if any(f.scanner == "keyword" for f in fs)]
    say(f"Chinese false fires: {len(word_fires)} of {len(words):,} common words ({len(word_fires) / len(words):.3%}; e.g. "
        f"{', '.join(word_fires[:8])}); {len(para_fires)} of {len(paragraphs):,} ordinary paragraphs")
    return {"chinese_words": len(words), "chinese_word_false_fires": len(word_fires),
            "chinese_word_false_fire_rate": round(len(word_fires) / len(words), 5), "chinese_word_examples": word_fires[:20],
            "chinese_paragraph_fire_rate": round(len(para_fires) / len(paragraphs), 4)}
