"""`ethics-review bench ...`: benchmarks that print one JSON object as their last line."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bench = sub.add_parser("bench", help="benchmarks (last line: one JSON object)").add_subparsers(dest="bench_cmd", required=True, metavar="WHAT")
    p = bench.add_parser("core", help="submit p95 and list latency with 100k reviews (SQLite)")
    p.add_argument("--reviews", type=int, default=100_000, help="reviews in the database for the list benchmark")
    p.add_argument("--submits", type=int, default=300, help="submissions timed for the p95")
    p.add_argument("--database", dest="bench_db", default=None, help="database URL (default: a temporary SQLite file)")
    p.add_argument("--pack", action="append", dest="packs", metavar="PACK",
                   help="a pack the timed submissions name (repeat to time several in the same run, e.g. --pack default "
                        "--pack canada-aia for additive grading); default: default")
    p.set_defaults(func=cmd_bench_core)
    _extensions(bench)


def _extensions(bench: Any) -> None:
    """Benchmarks contributed by other modules (flows, content audit, TUI)."""
    import importlib

    for name in ("review.bench.followups", "review.bench.audit", "review.bench.tui", "review.bench.api", "review.bench.integrity", "review.bench.reports", "review.bench.filter",
                 "review.bench.keywords", "review.bench.scanners", "review.bench.cli", "review.bench.cluster",
                 "review.bench.eval"):
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        mod.register(bench)


def cmd_bench_core(ctx: Any) -> int:
    from review.bench.core import run

    result = run(reviews=ctx.args.reviews, submits=ctx.args.submits, url=ctx.args.bench_db, packs=tuple(ctx.args.packs or ["default"]), echo=None if ctx.json else print)
    print(json.dumps(result))
    return 0
