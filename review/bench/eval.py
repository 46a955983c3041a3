"""`ethics-review bench eval`: how fast an evaluation run questions a model, against a local server (``chat_server``,
127.0.0.1) that takes ``--latency`` seconds an answer, as a model's inference would. The whole use case is timed
(SQLite), once the pack's filter is compiled (``filter_compile_s``, once per process): questions sent ``--concurrency`` at once, each answer judged (refusal patterns, the pack's content filter)
and stored as it arrives, the rates at the end. ``endpoint_bound_items_s`` (concurrency / latency) is what the
endpoint allows; ``share_of_bound`` how close the tool comes to it."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


def register(bench: Any) -> None:
    p = bench.add_parser("eval", help="model evaluation: items/s against a local chat endpoint answering in --latency s")
    p.add_argument("--latency", type=float, default=0.2, help="seconds the local endpoint takes per answer (default 0.2)")
    p.add_argument("--concurrency", type=int, default=16, help="questions in flight (default 16)")
    p.add_argument("--runs", type=int, default=10, help="eval runs over the default pack's whole banks (156 questions each)")
    p.add_argument("--audited", type=int, default=1_000_000,
                   help="records of the audit run seeded for conformance_s (findings on 5%% of them; default 1,000,000)")
    p.set_defaults(func=cmd_bench_eval)


def cmd_bench_eval(ctx: Any) -> int:
    a = ctx.args
    print(json.dumps(run(latency=a.latency, concurrency=a.concurrency, runs=a.runs, audited=a.audited, echo=None if ctx.json else print)))
    return 0


def run(*, latency: float, concurrency: int, runs: int, audited: int = 1_000_000, echo: Callable[[str], None] | None = None
        ) -> dict[str, Any]:
    import copy

    from review.bench.chat_server import ChatServer
    from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
    from review.demo.seed import seed_people
    from review.services import eval_runs, reviews
    from review.services.content_audit import pack_filter
    from review.store.db import Database

    with ChatServer(latency) as srv, tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}", data_dir=Path(tmp))
        db.upgrade()
        seed_people(db)
        d = submission(copy.deepcopy(PRODUCTS[0]))
        rid = reviews.submit(db, d, actor=TEAM_SUBMITTERS[d["product"]["owner_team"]]).id
        t0 = time.perf_counter()
        pack_filter("default")  # compiled once per process (the audit's cache): timed apart
        compile_s = time.perf_counter() - t0
        items = 0
        t0 = time.perf_counter()
        for _ in range(runs):
            ev = eval_runs.start_run(db, review=rid, endpoint=srv.url, model="bench", bank="all", actor="amara.okafor",
                                     concurrency=concurrency, timeout=30)
            eval_runs.run(db, ev.id)
            items += len(ev.items)
        dt = time.perf_counter() - t0
        conformance_s = _conformance(db, d["product"]["name"], audited) if audited else None
        db.dispose()
    bound = concurrency / latency if latency else None
    out = {"runs": runs, "items": items, "latency_s": latency, "concurrency": concurrency, "filter_compile_s": round(compile_s, 2),
           "seconds": round(dt, 2),
           "eval_items_per_s": round(items / dt, 1), "endpoint_bound_items_s": round(bound, 1) if bound else None,
           "share_of_bound": round(items / dt / bound, 3) if bound else None, "requests": srv.requests,
           "audited_records": audited, "conformance_s": conformance_s}
    if echo:
        echo(f"{items} questions in {dt:.2f} s: {items / dt:.1f} items/s (the endpoint allows {bound or 0:.0f}/s)")
        if conformance_s is not None:
            echo(f"conformance over {runs} eval runs and an audit of {audited:,} records: {conformance_s} s")
    return out


def _conformance(db: Any, product: str, audited: int) -> float:
    """``conformance`` timed over the deployment as it stands plus one finished, judged audit run of ``audited``
    records (findings on 5% of them, a 1,000-item sample all labelled), seeded with set-based SQL."""
    import sqlalchemy as sa

    from review.services.conformance import conformance
    from review.store.db import utcnow
    from review.store.models import Product
    from review.store.models_content import AuditRun, ContentFinding, SpotCheckItem, SpotCheckLabel

    now = utcnow()
    with db.engine.begin() as conn:
        pid = conn.execute(sa.select(Product.id).where(Product.name == product)).scalar_one()
        run_id = conn.execute(sa.insert(AuditRun).values(
            product_id=pid, source="bench.jsonl", fmt="jsonl", pack_id="default", pack_version="bench", pack_hash="bench",
            status="SCANNED", engine="inline", seed=1, settings={"scanners": [{"use": "keyword"}, {"use": "classifier"}],
                      "sampling": {"confidence": 0.95, "interval_confidence": 0.95, "margin": None, "min_per_stratum": 5,
                                   "min_sample": 1000, "pass_threshold": 0.9, "seed": None, "stratify_by": ["flagged", "category"]}},
            records=audited, flagged_records=audited // 20, findings=audited // 20, sample_size=1000, started_by="bench",
            created_at=now, finished_at=now, verdict="pass", verdict_at=now)).inserted_primary_key[0]
        step = 20
        rows = [{"run_id": run_id, "record_id": f"r{i}", "line": i + 1, "field": "output", "scanner": "keyword" if i % 3 else "classifier",
                 "span_start": 0, "span_end": 4, "category": "weapons", "severity": 5, "level": "high", "matched": "bomb",
                 "rule_id": "bomb"} for i in range(0, audited, step)]
        for lo in range(0, len(rows), 10_000):
            conn.execute(sa.insert(ContentFinding), rows[lo:lo + 10_000])
        conn.execute(sa.insert(SpotCheckItem), [{"run_id": run_id, "seq": k + 1, "stratum": "clean", "record_id": f"s{k}", "line": k + 1,
                                                 "flagged": False, "categories": "", "prompt": "p", "output": "o", "modality": "text",
                                                 "meta": {}} for k in range(1000)])
        conn.execute(sa.insert(SpotCheckLabel), [{"run_id": run_id, "seq": k + 1, "reviewer": "amara.okafor", "round": 1,
                                                  "verdict": "pass", "note": "", "labelled_at": now} for k in range(1000)])
    t0 = time.perf_counter()
    conformance(db, "default", product)
    return round(time.perf_counter() - t0, 3)
