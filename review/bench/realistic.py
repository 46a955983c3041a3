"""The keyword filter on realistic traffic against baselines doing the same work at the same granularity.

Every method sees the same chunks (``chunk_lines`` JSONL records each) and is called once per chunk:

* ``filter``: the audit's own chunk path (``records_io.scan_jsonl``: the JSONL bytes decoded and checked
  line by line, the prefilter or not, the match view, matching, word boundaries, the allow-list and findings
  with original spans);
* ``raw_hyperscan``: one Hyperscan literal database of the library's canonical terms over the chunk's
  normalized text (the views, folded beforehand and not timed), a callback per match;
* ``ahocorasick_rs``: the same literals, an ahocorasick_rs DFA over the same normalized bytes;
* ``pyahocorasick``: an automaton of the terms as written over the chunk's raw texts joined by NUL.

MB are 10^6 bytes of UTF-8 prompt + output. Rounds alternate the methods and each keeps its best round, so a
busy neighbour slows all of them alike. Ratios are the filter's rate over each baseline's, from the same run.
"""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path
from typing import Any, Callable


def write_corpus(path: Path, n: int, library: list[str], hit_share: float = 0.03) -> int:
    """``n`` realistic records to ``path`` as JSONL; returns the bytes written."""
    from review.bench.corpus import realistic_records

    size = 0
    with path.open("w", encoding="utf-8") as f:
        for r in realistic_records(n, library, hit_share=hit_share):
            line = json.dumps(r, ensure_ascii=False) + "\n"
            size += len(line.encode())
            f.write(line)
    return size


def compile_times(library: list[str], cache: Path) -> dict[str, float]:
    """Compiling the library's filter with an empty matcher cache, then again (loaded from the cache)."""
    from review.domain.content.benchmark import keyword_filter
    from review.domain.content.matcher import ENV_CACHE

    saved = os.environ.get(ENV_CACHE)
    os.environ[ENV_CACHE] = str(cache)
    try:
        out = {}
        for key in ("cold", "cached"):
            t0 = time.perf_counter()
            keyword_filter(library, pack_hash=f"compile-{key}-{time.time_ns()}")
            out[key] = round(time.perf_counter() - t0, 2)
        return out
    finally:
        if saved is None:
            os.environ.pop(ENV_CACHE, None)
        else:
            os.environ[ENV_CACHE] = saved


def measure(path: Path, library: list[str], *, chunk_lines: int = 10_000, rounds: int = 3) -> dict[str, Any]:
    import ahocorasick
    import ahocorasick_rs
    import hyperscan
    import orjson

    from review.domain.content.benchmark import keyword_filter
    from review.domain.content.normalize import canonical_term, native
    from review.domain.content.records_io import scan_jsonl

    filt = keyword_filter(library, pack_hash="realistic")
    data = path.read_bytes()
    lines = data.split(b"\n")
    chunks: list[bytes] = []
    texts: list[list[str]] = []
    for lo in range(0, len(lines), chunk_lines):
        part = [ln for ln in lines[lo:lo + chunk_lines] if ln]
        if part:
            chunks.append(b"\n".join(part) + b"\n")
            recs = [orjson.loads(ln) for ln in part]
            texts.append([t for r in recs for t in (r.get("prompt", ""), r.get("output", ""))])
    mb = sum(len(t.encode()) for ts in texts for t in ts) / 1e6
    nat = native()
    views = [nat.fold_batch(ts)[0] for ts in texts] if nat is not None else [("\x00".join(ts)).lower().encode() for ts in texts]
    canons = sorted({c for c in (canonical_term(t) for t in library) if c})
    lits = [c.encode() for c in canons]
    hs_db = hyperscan.Database()
    hs_db.compile(expressions=["".join(f"\\x{b:02x}" for b in w).encode() for w in lits], ids=list(range(len(lits))),
                  flags=[0] * len(lits))
    ac = ahocorasick_rs.BytesAhoCorasick(lits, implementation=ahocorasick_rs.Implementation.DFA)
    auto = ahocorasick.Automaton()
    for k, term in enumerate(library):
        auto.add_word(term, k)
    auto.make_automaton()
    joined = ["\x00".join(ts) for ts in texts]
    gc.freeze()  # as the audit does after compiling its filter
    counts: dict[str, int] = {}
    flagged: list[int] = []

    def run_filter() -> int:
        n = 0
        flagged.clear()
        for k, c in enumerate(chunks):
            res = scan_jsonl(filt, c, path, seq=k)
            n += len(res.findings)
            flagged.append(res.flagged_lines)
        return n

    def run_hs() -> int:
        hits: list[tuple[int, int]] = []
        append = hits.append

        def on_match(pid: int, _s: int, end: int, _f: int, _c: object) -> None:
            append((pid, end))

        for v in views:
            hs_db.scan(v, match_event_handler=on_match)
        return len(hits)

    def run_acrs() -> int:
        return sum(len(ac.find_matches_as_indexes(v, overlapping=True)) for v in views)

    def run_pyac() -> int:
        return sum(1 for j in joined for _ in auto.iter(j))

    methods: dict[str, Callable[[], int]] = {"filter": run_filter, "raw_hyperscan": run_hs, "ahocorasick_rs": run_acrs,
                                             "pyahocorasick": run_pyac}
    best = {name: float("inf") for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            counts[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    gc.unfreeze()
    rate = {name: round(mb / t, 1) for name, t in best.items()}
    records = sum(len(ts) for ts in texts) // 2
    return {
        "records": records, "mb": round(mb, 1), "terms": len(library), "chunk_lines": chunk_lines,
        "mb_s": rate, "findings": counts["filter"], "records_flagged_share": round(sum(flagged) / records, 3),
        "raw_matches": counts["raw_hyperscan"],
        "ratio_raw_hyperscan": round(rate["filter"] / rate["raw_hyperscan"], 3),
        "ratio_ahocorasick_rs": round(rate["filter"] / rate["ahocorasick_rs"], 3),
        "ratio_pyahocorasick": round(rate["filter"] / rate["pyahocorasick"], 2),
    }
