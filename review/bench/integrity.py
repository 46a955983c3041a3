"""``ethics-review bench integrity``: verify a 1,000,000-row audit log with state checks (PostgreSQL),
and the time to sign a checkpoint.

The log is built set-based, as the application would have written it: 100,000 products and
100,000 reviews, each imaged by the row that created it, then rows that change reviews (each
re-imaging the review it changed, which is updated to match) and rows that carry no state
(reads, notifications of decisions), with valid hashes and MACs under the run's audit key.
Then ``audit.verify_chain`` runs exactly as ``audit-log verify`` does (chain, MACs, every
state row against its last image), and ``checkpoints.create`` is timed. A tampered review is
added last, to show the run really compares state: it must be the one problem found.

Targets: ``verify_s_1m_rows`` <= 30 s, ``checkpoint_ms`` <= 100. The last line printed is one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def register(bench: Any) -> None:
    p = bench.add_parser("integrity", help="verify a 1M-row audit log with state checks, and sign a checkpoint (PostgreSQL)")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--reviews", type=int, default=100_000)
    p.add_argument("--pg", default=os.environ.get("ETHICS_REVIEW_TEST_PG_URL", DEFAULT_PG))
    p.set_defaults(func=cmd_bench_integrity)


def cmd_bench_integrity(ctx: Any) -> int:
    a = ctx.args
    print(json.dumps(run(rows=a.rows, reviews=a.reviews, pg=a.pg, echo=None if ctx.json else print)))
    return 0


def run(*, rows: int, reviews: int, pg: str, echo: Callable[[str], None] | None = print) -> dict[str, Any]:

    from review.bench.scratch import scratch_schema

    say = echo or (lambda _t: None)
    with scratch_schema(pg, "bench_integrity") as (url, home):
        return _run(url, home, rows=rows, reviews=reviews, say=say)


def _run(url: str, home: Path, *, rows: int, reviews: int, say: Callable[[str], None]) -> dict[str, Any]:
    from review.bench.core import bulk_reviews
    from review.services import audit, checkpoints
    from review.services.signing import load_key
    from review.store.db import Database

    db = Database(url, data_dir=home)
    try:
        db.upgrade()
        t0 = time.perf_counter()
        bulk_reviews(db, reviews)
        key = load_key(db.data_dir)
        n = _build_log(db, rows, key)
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        say(f"built {n:,} audit rows over {reviews:,} products and reviews in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        rep = audit.verify_chain(db)
        verify_s = time.perf_counter() - t0
        say(f"verify: {rep.rows:,} rows, {rep.state_rows:,} state rows, MACs {'checked' if rep.macs_checked else 'not checked'}, "
            f"{len(rep.problems)} problem(s) in {verify_s:.1f} s")
        if not rep.ok:
            raise RuntimeError(f"the built log does not verify: {[p.detail for p in rep.problems[:3]]}")
        cp = []
        for _ in range(20):
            t1 = time.perf_counter()
            checkpoints.create(db)
            cp.append((time.perf_counter() - t1) * 1000)
        checkpoint_ms = statistics.median(cp)
        say(f"checkpoint: median {checkpoint_ms:.1f} ms over 20")
        victim = min(4242, max(1, reviews // 2))
        with db.engine.begin() as conn:  # one forged grade: the state check must name it
            conn.exec_driver_sql(f"UPDATE review SET grade = CASE WHEN grade = 'LOW' THEN 'HIGH' ELSE 'LOW' END WHERE id = {victim}")
        caught = audit.verify_chain(db)
        found = [p.detail for p in caught.problems]
        say(f"with review {victim}'s grade edited in SQL: {found[:1]}")
        return {"verify_s_1m_rows": round(verify_s, 2), "checkpoint_ms": round(checkpoint_ms, 2), "rows": rep.rows,
                "state_rows": rep.state_rows, "macs_checked": rep.macs_checked, "tamper_found": len(found),
                "backend": "postgresql"}
    finally:
        db.dispose()


def _build_log(db: Any, total: int, key: Any) -> int:
    """A valid chain of ``total`` rows: every product and review imaged once, then review changes and stateless rows."""
    import sqlalchemy as sa

    from review.services.audit import GENESIS, _sha, _tables, at_text, canonical, image_row, key_of, row_hash_v2
    from review.store.db import utcnow

    tables = _tables()
    rng = random.Random(7)
    now = utcnow() - timedelta(days=400)
    out = io.StringIO()
    prev = GENESIS
    n = 0
    last_img: dict[int, dict[str, Any]] = {}

    def emit(actor: str, action: str, entity: str, entity_id: str, after: Any, images: dict[str, Any] | None) -> None:
        nonlocal prev, n, now
        n += 1
        now += timedelta(milliseconds=30)
        state_text = canonical(images) if images else None
        keys = ";".join(f"{k}={_sha(canonical(v))}" for k, v in sorted(images.items())) if images else None
        after_text = canonical(after) if after is not None else None
        h = row_hash_v2(prev, n, at_text(now), actor, action, entity, entity_id, None, after_text, None, state_text, keys)
        cols = [str(n), now.isoformat(), actor, action, entity, entity_id, "\\N", after_text or "\\N", "\\N", prev, h, "2",
                state_text or "\\N", keys or "\\N", key.mac(h)]
        out.write("\t".join(_copy_escape(c) if c != "\\N" else c for c in cols) + "\n")
        prev = h

    with db.engine.connect() as conn:
        for name in ("product", "review"):
            t = tables[name]
            for r in conn.execute(sa.select(t).order_by(t.c.id)):
                img = image_row(t, r)
                if name == "review":
                    last_img[r.id] = img
                emit("bench", "submit" if name == "review" else "product-add", name, str(r.id), {"id": r.id}, {key_of(name, (r.id,)): img})
    ids = list(last_img)
    changes: list[tuple[int, str, int]] = []
    while n < total:
        if rng.random() < 0.4:  # a decision-like change of one review: its image follows
            rid = rng.choice(ids)
            img = dict(last_img[rid])
            img["version"] += 1
            img["assignee"] = rng.choice(["amara.okafor", "lucas.martin", "priya.nair"])
            last_img[rid] = img
            changes.append((rid, img["assignee"], img["version"]))
            emit(img["assignee"], "assign", "review", str(rid), {"assignee": img["assignee"]}, {key_of("review", (rid,)): img})
        else:  # a read of personal data, or another stateless row
            emit(rng.choice(["amara.okafor", "wei.chen"]), "read:audit-records", "audit_run", str(rng.randint(1, 500)),
                 {"items": [1, 50], "count": 50}, None)
        if out.tell() > 32 << 20:
            _copy(db, out)
            out = io.StringIO()
    _copy(db, out)
    with db.engine.begin() as conn:  # the reviews as the last images say
        final: dict[int, tuple[str, int]] = {}
        for rid, who, v in changes:
            final[rid] = (who, v)
        rows = [{"i": rid, "a": who, "v": v} for rid, (who, v) in final.items()]
        for k in range(0, len(rows), 5000):
            conn.execute(sa.text("UPDATE review SET assignee = :a, version = :v WHERE id = :i"), rows[k:k + 5000])
        conn.execute(sa.text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, :n, :h)"), {"n": n, "h": prev})
    return n


def _copy_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy(db: Any, buf: io.StringIO) -> None:
    data = buf.getvalue()
    if not data:
        return
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY audit_log (id, at, actor, action, entity, entity_id, before, after, policy_version, prev_hash, hash, fmt, "
                      "state, state_keys, mac) FROM STDIN") as cp:
            cp.write(data)
        raw.commit()
    finally:
        raw.close()
