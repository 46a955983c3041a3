"""``ethics-review bench keywords``: grow a copy of the default pack by a 50,000-term CSV, as a committee would.

In a temporary directory: a copy of the shipped default pack, a SQLite database with one admin, and a CSV
of ``--terms`` synthetic terms (``benchmark.synthetic_library``: half English two-word terms, many one
edit apart, half Chinese) spread over the pack's categories. Timed, in one run: the dry run, the import
(read, normalize, dedupe, near-duplicates, files written, version bumped, pack loaded back, trail entry),
``keywords stats`` on the grown library, compiling the grown pack's whole content filter, and scanning
records through it (MB/s: UTF-8 prompt+output bytes per second, one core). The shipped pack is untouched.

The last line printed is one JSON object: ``import_s``, ``dry_run_s`` (wall) and ``import_cpu_s``, ``dry_run_cpu_s``
(this process's CPU time: the figure that holds on a shared machine), ``stats_s``, ``compile_s``,
``scan_mb_s`` (and ``scan_mb_s_shipped``: the shipped pack's filter on the same records, same run), with the counts (terms read, added, near-duplicates, terms in the grown library).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def register(bench: Any) -> None:
    p = bench.add_parser("keywords", help="import a 50,000-term CSV into a copy of the default pack; compile and run its filter")
    p.add_argument("--terms", type=int, default=50_000, help="terms in the CSV (default: 50,000)")
    p.add_argument("--scan-items", type=int, default=20_000, help="records scanned through the grown filter (0 skips)")
    p.set_defaults(func=cmd_bench_keywords)


def cmd_bench_keywords(ctx: Any) -> int:
    out = run(terms=ctx.args.terms, scan_items=ctx.args.scan_items, echo=None if ctx.json else print)
    print(json.dumps(out))
    return 0


def run(*, terms: int = 50_000, scan_items: int = 20_000, echo: Any = print) -> dict[str, Any]:
    from review.domain.content.benchmark import synthetic_library
    from review.domain.content.matcher import ENV_CACHE

    words = synthetic_library(n_en=terms // 2, n_zh=terms - terms // 2, seed=13)
    saved = os.environ.get(ENV_CACHE)
    with tempfile.TemporaryDirectory(prefix="bench-keywords-") as tmp:
        root = Path(tmp)
        os.environ[ENV_CACHE] = str(root / "matchers")  # a cold compile, and no 50,000-term database left in the user's cache
        try:
            return _run(root, words, scan_items, echo or (lambda _t: None))
        finally:
            if saved is None:
                os.environ.pop(ENV_CACHE, None)
            else:
                os.environ[ENV_CACHE] = saved


def _run(root: Path, words: list[str], scan_items: int, say: Any) -> dict[str, Any]:
    from policies.loader import PACKS_DIR, load_pack
    from review.domain.content.benchmark import generate_corpus
    from review.domain.content.normalize import canonical_term
    from review.services.content_audit import pack_filter
    from review.services.keyword_library import import_keywords, library_stats
    from review.services.users import add_user
    from review.store.db import Database

    pack = root / "default"
    shutil.copytree(PACKS_DIR / "default", pack)
    cats = [c.code for c in load_pack(pack).content_policy.categories if c.keywords]
    src = root / "terms.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["term", "category", "severity"])
        for k, t in enumerate(words):
            w.writerow([t, cats[k % len(cats)], 3 + k % 5])
    db = Database(f"sqlite:///{root / 'bench.db'}", data_dir=root)
    db.upgrade()
    add_user(db, "bench.admin", team="ethics-office", roles="admin", actor=None)
    out: dict[str, Any] = {"terms": len(words)}
    canonical_term("warm up")  # the fold tables, built once per process, are not the import's cost

    t0, c0 = time.perf_counter(), time.process_time()
    dry = import_keywords(None, str(pack), src, category=None, actor=None, dry_run=True)
    out.update(dry_run_s=round(time.perf_counter() - t0, 2), dry_run_cpu_s=round(time.process_time() - c0, 2))
    t0, c0 = time.perf_counter(), time.process_time()
    rep = import_keywords(db, str(pack), src, category=None, actor="bench.admin")
    out.update(import_s=round(time.perf_counter() - t0, 2), import_cpu_s=round(time.process_time() - c0, 2))
    assert rep.version_after is not None and len(rep.plan.added) == len(dry.plan.added)
    out.update(read=rep.read, added=len(rep.plan.added), near_duplicates=len(rep.plan.near),
               skipped=len(rep.plan.skipped), version=f"{rep.version_before} -> {rep.version_after}")
    say(f"import of {rep.read:,} terms: {out['import_s']} s, CPU {out['import_cpu_s']} s ({out['added']:,} added, {out['near_duplicates']:,} near-duplicates "
        f"reported, {out['skipped']} skipped); dry run {out['dry_run_s']} s")
    t0 = time.perf_counter()
    stats = library_stats(str(pack))
    out["stats_s"] = round(time.perf_counter() - t0, 2)
    out["library_terms"] = stats.terms
    t0 = time.perf_counter()
    _lp, filt = pack_filter(str(pack))
    out["compile_s"] = round(time.perf_counter() - t0, 2)
    say(f"library now {stats.terms:,} distinct terms (stats {out['stats_s']} s); compiling its content filter (cold): {out['compile_s']} s")
    if scan_items:
        records = list(generate_corpus(scan_items, words))
        size = sum(len(r.prompt.encode()) + len(r.output.encode()) for r in records)
        _lp, shipped = pack_filter("default")
        for name, cf in (("scan_mb_s_shipped", shipped), ("scan_mb_s", filt)):
            t0 = time.perf_counter()
            found = [x for lo in range(0, len(records), 4096) for x in cf.scan_many(records[lo:lo + 4096])]
            out[name] = round(size / 1e6 / (time.perf_counter() - t0), 1)
        out.update(scan_records=len(records), scan_records_flagged=len({x.record_id for x in found if x.scanner == "keyword"}))
        say(f"scanning {len(records):,} records ({size / 1e6:.1f} MB), the whole pack filter (Record path): grown "
            f"{out['scan_mb_s']} MB/s, shipped pack {out['scan_mb_s_shipped']} MB/s; "
            f"{out['scan_records_flagged']:,} records with a keyword finding (grown)")
    db.dispose()
    return out
