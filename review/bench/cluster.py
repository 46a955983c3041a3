"""``ethics-review bench cluster``: one audit (the shipped default pack, realistic records, PostgreSQL) scanned
five ways, each a new audit run over the same file, in the same chunks (byte ranges), each chunk written on its own:

- ``inline``: ``audit run --workers W`` (W processes, no Prefect): the main process hands each chunk to a process;
- ``prefect``: the ``aigc-content-audit`` flow (``--engine prefect``): one Prefect task run per chunk, on the flow's
  threads, each handing its chunk to one of W processes (the pool ``inline`` uses, started when the flow starts);
- ``prefect_dask_local``: the same flow on a local Dask cluster of W processes it starts (``--dask-workers W``);
- ``dask_1w`` / ``dask_2w``: the flow on a Dask ``LocalCluster`` of one, then two worker processes
  (``--cluster``): long-lived clusters, started and warmed (modules imported, the pack's filter loaded)
  before any clock (``dask_Nw_cluster_start_s``).

On a Dask cluster a task run scans a few consecutive chunks (``content_audit.chunk_groups``: two tasks a worker
thread at least, four chunks a task at most; 10 chunks are 3 tasks on one worker, 4 on two, ``dask_tasks``), because
a task run there costs about 0.2 s of CPU however small (the flow's context and Prefect settings serialized, then
rebuilt on the worker).

``dask_speedup_2w`` = dask_1w / dask_2w; ``prefect_over_inline`` = prefect / inline (both start their W processes
cold); ``first_chunk_s``: from the flow's start to the first chunk written, on the warm two-worker cluster with a
Prefect server already running (``first_chunk_prefect_s``: the same with cold processes). The five runs are repeated
``--repeat`` times, interleaved, and each figure is the variant's best run (a busy machine only slows runs down).
Every run must give the same findings and sample (``identical``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def register(bench: Any) -> None:
    p = bench.add_parser("cluster", help="one audit inline, through Prefect (a task run per chunk, scanned in W processes), and on a Dask "
                       "cluster of 1 and 2 workers (a task run per few chunks) (PostgreSQL)")
    p.add_argument("--items", type=int, default=100_000, help="realistic records in the corpus (default 100,000)")
    p.add_argument("--chunk", type=int, default=10_000, help="records per chunk (default 10,000, `audit run`'s; on this machine "
                   "each chunk is a Prefect task run, on a Dask cluster a task run scans up to four consecutive chunks)")
    p.add_argument("--workers", type=int, default=2, help="processes for the inline and Prefect runs (default 2)")
    p.add_argument("--repeat", type=int, default=2, help="rounds of the five runs, interleaved; each figure is its best (default 2)")
    p.add_argument("--pg", default=os.environ.get("ETHICS_REVIEW_TEST_PG_URL", DEFAULT_PG), help="PostgreSQL URL (a schema is created and dropped)")
    p.set_defaults(func=cmd_bench_cluster)


def cmd_bench_cluster(ctx: Any) -> int:
    a = ctx.args
    print(json.dumps(run(items=a.items, chunk=a.chunk, workers=a.workers, pg=a.pg, repeat=max(1, a.repeat), echo=None if ctx.json else print)))
    return 0


def _corpus(path: Path, items: int) -> int:
    from review.bench.corpus import realistic_library, realistic_records

    library = realistic_library()
    size = 0
    with path.open("w", encoding="utf-8") as f:
        for r in realistic_records(items, library):
            line = json.dumps(r, ensure_ascii=False) + "\n"
            size += len(line.encode())
            f.write(line)
    return size


def warm(pack_ref: str) -> None:
    """On a worker of a long-lived cluster: the flow's modules imported and the pack's filter loaded, as after its first audit."""
    import flows.content_audit  # noqa: F401
    from review.services import content_audit as ca

    ca.pack_filter(pack_ref)


def _outcome(db: Any, run_id: int, started: Any) -> tuple[tuple, float | None]:
    """What must not depend on where the chunks ran (findings, sample), and the first chunk's latency."""
    import sqlalchemy as sa  # here, not at the top: `bench --help` imports this module

    from review.store.models_content import AuditChunk, ContentFinding, SpotCheckItem

    with db.reading() as s:
        f = ContentFinding
        rows = s.execute(sa.select(f.line, f.field, f.scanner, f.span_start, f.span_end, f.category, f.matched)
                         .where(f.run_id == run_id).order_by(f.line, f.field, f.scanner, f.span_start, f.category)).all()
        found = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
        sample = s.execute(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == run_id).order_by(SpotCheckItem.seq)).scalars().all()
        first = s.execute(sa.select(sa.func.min(AuditChunk.finished_at)).where(AuditChunk.run_id == run_id)).scalar_one()
    return (found, tuple(sample)), ((first - started).total_seconds() if first and started else None)


def run(*, items: int, chunk: int, workers: int, pg: str, repeat: int = 2, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    import distributed
    from prefect.testing.utilities import prefect_test_harness

    from flows.content_audit import run_audit
    from flows.settings import fast_engine
    from review.bench.audit import _setup_db
    from review.bench.scratch import scratch_schema
    from review.services import content_audit as ca
    from review.store.db import Database, utcnow

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    say = echo or (lambda _t: None)
    tmp = Path(tempfile.mkdtemp(prefix="ethics-review-bench-cluster-"))
    result: dict[str, Any] = {"items": items, "chunk": chunk, "workers": workers, "cores": os.cpu_count(), "pack": "default", "repeat": repeat}
    try:
        corpus = tmp / "corpus.jsonl"
        result["corpus_mb"] = round(_corpus(corpus, items) / 1e6, 1)
        say(f"corpus: {items:,} realistic records, {result['corpus_mb']} MB")
        ca.pack_filter("default")  # compiled (and cached on disk) once, before any clock: every variant loads it alike
        with scratch_schema(pg, "bench_cluster") as (url, _home), prefect_test_harness(server_startup_timeout=120), fast_engine():
            _setup_db(url)
            db = Database(url)
            outcomes: dict[str, tuple] = {}
            best: dict[str, tuple[float, float | None]] = {}

            def timed(name: str, scan: Callable[[int], Any]) -> None:
                run_id = ca.start_run(db, corpus, product="bench", actor="bench", chunk_lines=chunk, seed=7).id
                started = utcnow()
                t0 = time.perf_counter()
                scan(run_id)
                took = time.perf_counter() - t0
                outcomes[f"{name}#{run_id}"], first = _outcome(db, run_id, started)
                result["chunks"] = ca.get_run_row(db, run_id).chunks_total
                best[name] = min(best.get(name, (took, first)), (took, first), key=lambda b: b[0])
                say(f"{name}: {took:.2f} s" + (f", first chunk after {first:.2f} s" if first is not None else ""))

            with ExitStack() as stack:
                clusters = {}
                for n in (1, 2):
                    t0 = time.perf_counter()
                    c = stack.enter_context(distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None))
                    with distributed.Client(c) as client:  # closed at once: prefect-dask would take a live default client's cluster
                        client.run(warm, "default")      # instead of the address it is given
                    clusters[n] = c.scheduler_address
                    result[f"dask_{n}w_cluster_start_s"] = round(time.perf_counter() - t0, 2)
                for _ in range(repeat):  # interleaved, the best of each: a busy machine slows some runs, never speeds one up
                    timed("inline", lambda rid: ca.run_inline(db, rid, workers=workers))
                    timed("prefect", lambda rid: run_audit(rid, url, "bench", workers=workers))
                    timed("prefect_dask_local", lambda rid: run_audit(rid, url, "bench", dask_workers=workers))
                    for n, address in clusters.items():
                        timed(f"dask_{n}w", lambda rid, a=address: run_audit(rid, url, "bench", cluster=a))
            db.dispose()
        for name, (took, first) in best.items():
            result[f"{name}_s"] = round(took, 2)
            if first is not None and name != "inline":
                result[f"first_chunk_{name}_s"] = round(first, 2)
        result["dask_tasks"] = {f"{n}w": len(ca.chunk_groups(list(range(result["chunks"])), n)) for n in (1, 2)}
        result["identical"] = len(set(outcomes.values())) == 1
        result["findings"] = next(iter(outcomes.values()))[0][0]
        result["dask_speedup_2w"] = round(result["dask_1w_s"] / result["dask_2w_s"], 2)
        result["prefect_over_inline"] = round(result["prefect_s"] / result["inline_s"], 2)
        result["first_chunk_s"] = result.get("first_chunk_dask_2w_s")
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
