"""`ethics-review bench scanners`: what batching, concurrency and the answer cache buy a remote scanner.

A local server (``moderation_server``, 127.0.0.1) answers both APIs after ``--latency`` seconds, as a
model would. Timed over the same records: the moderation adapter one text a request and one request
at a time (``moderation_seq_texts_s``) against its batches and threads (``moderation_texts_s``);
Llama Guard one conversation at a time against ``--concurrency`` at once; then the same scan again
with the answers in the database cache (SQLite, the audit's ``AnswerCache``): no request, and the
lookups' cost (``cached_texts_s``).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


def register(bench: Any) -> None:
    p = bench.add_parser("scanners", help="remote scanners: texts/s sequential vs batched and concurrent, and from the answer cache")
    p.add_argument("--records", type=int, default=1000, help="records (two texts each: prompt and output)")
    p.add_argument("--latency", type=float, default=0.02, help="seconds the local endpoint takes per request (default 0.02)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--batch", type=int, default=32, help="texts per moderation request")
    p.set_defaults(func=cmd_bench_scanners)


def cmd_bench_scanners(ctx: Any) -> int:
    a = ctx.args
    out = run(records=a.records, latency=a.latency, concurrency=a.concurrency, batch=a.batch, echo=None if ctx.json else print)
    print(json.dumps(out))
    return 0


def run(*, records: int, latency: float, concurrency: int, batch: int, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    from policies.loader import load_pack
    from review.bench.moderation_server import ModerationServer
    from review.domain.content.scanners import RESULT_CACHE, ScannerContext
    from review.domain.content.taxonomy import Record
    from review.plugins.moderation import LlamaGuard, OpenAIModeration
    from review.services.content_audit import AnswerCache
    from review.store.db import Database

    policy = load_pack("default").content_policy
    assert policy is not None  # the default pack has its content section
    ctx = ScannerContext("bench", policy.level_of, policy.categories)
    recs = [Record(f"r{k}", prompt=f"question {k} about the garden", output=f"answer {k}: " + ("the ATTACKPLAN" if k % 20 == 0 else "water daily"))
            for k in range(records)]
    texts = [t for r in recs for t in (r.prompt, r.output, "")]
    out: dict[str, Any] = {"records": records, "texts": 2 * records, "latency_s": latency, "concurrency": concurrency, "batch": batch}

    def timed(name: str, scanner: Any, srv: ModerationServer) -> float:
        asked = len(srv.requests)
        t0 = time.perf_counter()
        found = scanner.scan_batch(recs, texts, None)
        dt = time.perf_counter() - t0
        out[f"{name}_texts_s"] = round(2 * records / dt, 1)
        out[f"{name}_requests"] = len(srv.requests) - asked
        out[f"{name}_findings"] = len(found)
        if echo:
            echo(f"{name}: {2 * records / dt:,.0f} texts/s, {len(srv.requests) - asked} requests, {len(found)} findings")
        return dt

    base = {"model": "bench", "retries": 0, "timeout": 30}
    with ModerationServer(latency) as srv, tempfile.TemporaryDirectory() as tmp:
        seq = timed("moderation_seq", OpenAIModeration(ctx, {**base, "url": srv.url, "batch_size": 1, "concurrency": 1}), srv)
        fast = timed("moderation", OpenAIModeration(ctx, {**base, "url": srv.url, "batch_size": batch, "concurrency": concurrency}), srv)
        gseq = timed("guard_seq", LlamaGuard(ctx, {**base, "url": srv.url, "concurrency": 1}), srv)
        gfast = timed("guard", LlamaGuard(ctx, {**base, "url": srv.url, "concurrency": concurrency}), srv)
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}", data_dir=Path(tmp))
        db.upgrade()
        token = RESULT_CACHE.set(AnswerCache(db))
        try:
            scanner = OpenAIModeration(ctx, {**base, "url": srv.url, "batch_size": batch, "concurrency": concurrency})
            timed("first_with_cache", scanner, srv)
            timed("cached", scanner, srv)
        finally:
            RESULT_CACHE.reset(token)
            db.dispose()
    out["ratio_moderation_batched"] = round(seq / fast, 1)
    out["ratio_guard_concurrent"] = round(gseq / gfast, 1)
    return out
