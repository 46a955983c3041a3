"""``ethics-review bench api``: the review server over HTTP with 100,000 reviews in PostgreSQL.

What users run is timed: ``ethics-review server`` as its own process (uvicorn, ``--workers``),
called over 127.0.0.1 with personal tokens, every request authenticated.

* ``list_p95_ms``: ``GET /api/v1/reviews`` (a page of 50 with its total) over a mix of filters,
  sorts, a search and a deep page, one request at a time.
* ``submit_p95_ms``: ``POST /api/v1/reviews`` with a product file (validate, grade, controls,
  audit row, the initiation step), one at a time.
* ``decisions_per_s``: 16 concurrent clients, each approving its own reviews (distinct
  reviews, four reviewers' tokens); then the database is checked: every 2xx has exactly one
  decision row, no review decided twice (``lost``, ``doubled``), no 5xx or transport error
  (``unclean_errors``).

The same three figures in direct mode (the services in this process, 16 threads) are under
``direct``. Targets: list <= 50 ms, submit <= 100 ms, >= 200 decisions/s. The last line
printed is one JSON object.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REVIEWERS = ("amara.okafor", "lucas.martin", "priya.nair", "wei.chen")


def register(bench: Any) -> None:
    p = bench.add_parser("api", help="the review server over HTTP: list/submit p95 and decisions/s with 16 clients (PostgreSQL)")
    p.add_argument("--reviews", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=200, help="timed list and submit requests each")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--per-client", type=int, default=100, help="reviews each client decides")
    p.add_argument("--workers", type=int, default=2, help="server worker processes")
    p.add_argument("--threads", type=int, default=4, help="requests each server worker handles at once (server --threads)")
    p.add_argument("--pg", default=os.environ.get("ETHICS_REVIEW_TEST_PG_URL", DEFAULT_PG), help="PostgreSQL URL (a schema is created and dropped)")
    p.set_defaults(func=cmd_bench_api)


def cmd_bench_api(ctx: Any) -> int:
    a = ctx.args
    result = run(reviews=a.reviews, requests=a.requests, clients=a.clients, per_client=a.per_client, workers=a.workers, threads=a.threads, pg=a.pg,
                 echo=None if ctx.json else print)
    print(json.dumps(result))
    return 0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q * (len(s) - 1))))]


def _decision_targets(db: Any, n: int, tag: str) -> dict[str, list[int]]:
    """``n`` reviews at INITIATION/IN_REVIEW (LOW), spread over the reviewers: reviewer -> review ids."""
    import sqlalchemy as sa

    from review.demo.catalog import TEAM_SUBMITTERS
    from review.store.db import utcnow
    from review.store.models import Product, Review

    now = utcnow()
    teams = [t for t in TEAM_SUBMITTERS]
    out: dict[str, list[int]] = {r: [] for r in REVIEWERS}
    with db.engine.begin() as conn:
        for i in range(n):
            team = teams[i % len(teams)]
            pid = conn.execute(sa.insert(Product).values(name=f"Decide {tag} {i:05d}", owner_team=team, business_line="Bench", description="",
                                                         profile={}, policy_id="default", created_by=TEAM_SUBMITTERS[team], created_at=now)
                               .returning(Product.id)).scalar_one()
            who = REVIEWERS[i % len(REVIEWERS)]
            rid = conn.execute(sa.insert(Review).values(product_id=pid, gate="INITIATION", status="IN_REVIEW", grade="LOW", assignee=who,
                                                        submitted_by=TEAM_SUBMITTERS[team], policy_id="default", policy_version="1.1.0",
                                                        priority=0, due_at=now, round=1, version=1, created_at=now, updated_at=now)
                               .returning(Review.id)).scalar_one()
            out[who].append(rid)
    return out


def _split(targets: dict[str, list[int]], clients: int) -> list[tuple[str, list[int]]]:
    """One (reviewer, distinct review ids) per client."""
    jobs: list[tuple[str, list[int]]] = []
    per_reviewer = max(1, clients // len(REVIEWERS))
    for who, ids in targets.items():
        for k in range(per_reviewer):
            jobs.append((who, ids[k::per_reviewer]))
    return jobs[:clients]


def _race(jobs: list[tuple[str, list[int]]], decide: Callable[[str, int], int]) -> tuple[float, dict[str, int]]:
    """Every job in its own thread, all at once; returns (seconds, counts by outcome)."""
    counts = {"ok": 0, "refused": 0, "unclean": 0}
    lock = threading.Lock()
    start = threading.Barrier(len(jobs) + 1)

    def work(who: str, ids: list[int]) -> None:
        start.wait()
        for rid in ids:
            code = decide(who, rid)
            kind = "ok" if 200 <= code < 300 else ("refused" if 400 <= code < 500 else "unclean")
            with lock:
                counts[kind] += 1

    threads = [threading.Thread(target=work, args=job) for job in jobs]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, counts


def _check(db: Any, targets: dict[str, list[int]], ok: int) -> dict[str, int]:
    import sqlalchemy as sa

    from review.store.models import Decision

    ids = [i for v in targets.values() for i in v]
    with db.reading() as s:
        rows = s.execute(sa.select(Decision.review_id, sa.func.count()).where(Decision.review_id.in_(ids)).group_by(Decision.review_id)).all()
    decided = sum(1 for _, n in rows if n >= 1)
    return {"lost": max(0, ok - decided), "doubled": sum(n - 1 for _, n in rows if n > 1), "decided": decided}


def _list_cases() -> list[dict[str, Any]]:
    return [{}, {"gate": "INITIATION", "status": "SUBMITTED"}, {"assignee": "amara.okafor", "overdue": "true"},
            {"sort": "due", "asc": "true"}, {"search": "0042"}, {"offset": 50_000}, {"grade": "HIGH", "sort": "updated"}]


def _docs(n: int, tag: str) -> list[tuple[str, dict[str, Any]]]:
    from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission

    base = [submission(p) for p in PRODUCTS]
    out = []
    for i in range(n):
        doc = copy.deepcopy(base[i % len(base)])
        doc["product"]["name"] = f"{doc['product']['name']} {tag} #{i}"
        out.append((TEAM_SUBMITTERS[doc["product"]["owner_team"]], doc))
    return out


def run(*, reviews: int, requests: int, clients: int, per_client: int, workers: int, pg: str, threads: int = 4,
        echo: Callable[[str], None] | None = print) -> dict[str, Any]:


    from review.bench.scratch import scratch_schema

    say = echo or (lambda _t: None)
    with scratch_schema(pg, "bench_api") as (url, home):
        return _run(url, home, reviews=reviews, requests=requests, clients=clients, per_client=per_client, workers=workers,
                    threads=threads, say=say)


def _run(url: str, home: Path, *, reviews: int, requests: int, clients: int, per_client: int, workers: int, threads: int,
         say: Callable[[str], None]) -> dict[str, Any]:
    import httpx

    from review.bench.core import bulk_reviews
    from review.bench.scratch import free_port, stop, wait_until_up
    from review.client.local import LocalClient
    from review.demo.seed import seed_people
    from review.services import tokens
    from review.services.queries import ReviewFilter
    from review.store.db import Database

    db = Database(url, data_dir=home)
    proc = None
    try:
        db.upgrade()
        seed_people(db)
        token = {u: tokens.create_token(db, u, actor="admin", name="bench").token for u in (*REVIEWERS, *_submitters())}
        t0 = time.perf_counter()
        bulk_reviews(db, reviews)
        with db.engine.connect() as conn:  # what autovacuum does to a live database: statistics, GIN pending lists merged
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        say(f"seeded {reviews:,} reviews in PostgreSQL in {time.perf_counter() - t0:.1f} s (then VACUUM ANALYZE)")
        n = clients * per_client
        http_targets, direct_targets = _decision_targets(db, n, "http"), _decision_targets(db, n, "direct")

        # -- the server, as users run it: its own process(es), called over 127.0.0.1
        port = free_port()
        env = {**os.environ, "ETHICS_REVIEW_DATABASE_URL": url, "ETHICS_REVIEW_HOME": str(home), "ETHICS_REVIEW_DIRECT": "1"}
        env.pop("PREFECT_API_URL", None)
        log = (home / "server.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "review.cli.main", "server", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(workers), "--threads", str(threads)], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz", proc, log=home / "server.log")
        say(f"server up on {base} ({workers} worker(s), {threads} thread(s) each)")
        http = {u: httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {t}"}, timeout=60) for u, t in token.items()}

        cases = _list_cases()
        for k in range(20):  # warm-up: connections, caches, the pack
            http["priya.nair"].get("/reviews", params=cases[k % len(cases)])
        lat = []
        for k in range(requests):
            t1 = time.perf_counter()
            r = http["priya.nair"].get("/reviews", params={**cases[k % len(cases)], "limit": 50})
            lat.append((time.perf_counter() - t1) * 1000)
            r.raise_for_status()
        list_p95 = _pct(lat, 0.95)
        say(f"HTTP list: p50 {statistics.median(lat):.1f} ms, p95 {list_p95:.1f} ms over {requests} requests")
        lat = []
        for who, doc in _docs(requests, "http"):
            t1 = time.perf_counter()
            r = http[who].post("/reviews", json=doc)
            lat.append((time.perf_counter() - t1) * 1000)
            r.raise_for_status()
        submit_p95 = _pct(lat, 0.95)
        say(f"HTTP submit: p50 {statistics.median(lat):.1f} ms, p95 {submit_p95:.1f} ms over {requests} requests")

        jobs = _split(http_targets, clients)
        local = threading.local()  # one connection per client thread, as 16 separate clients would have

        body = json.dumps({"decision": "approve", "rationale": "bench: no personal data"})

        def http_decide(who: str, rid: int) -> int:
            # A lean keep-alive HTTP/1.1 client per thread (http.client): the load generator shares the two
            # cores with the server and PostgreSQL, so it should cost as little as it can.
            import http.client

            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                local.headers = {"Authorization": f"Bearer {token[who]}", "Content-Type": "application/json"}
            try:
                local.conn.request("POST", f"/api/v1/reviews/{rid}/decisions", body=body, headers=local.headers)
                r = local.conn.getresponse()
                r.read()
                return r.status
            except (OSError, http.client.HTTPException):
                local.conn.close()
                del local.conn
                return 599

        secs, counts = _race(jobs, http_decide)
        checked = _check(db, http_targets, counts["ok"])
        rate = counts["ok"] / secs
        say(f"HTTP decisions: {counts['ok']} in {secs:.2f} s with {len(jobs)} clients = {rate:.0f}/s; refused {counts['refused']}, "
            f"unclean {counts['unclean']}, lost {checked['lost']}, doubled {checked['doubled']}")
        for c in http.values():
            c.close()

        # -- the same in direct mode: the services in this process
        lat = []
        reader = LocalClient(db, "priya.nair", deliver=False)
        for k in range(requests):
            c = dict(cases[k % len(cases)])
            sort, asc, offset = c.pop("sort", "id"), c.pop("asc", None) == "true", int(c.pop("offset", 0))
            c["overdue"] = c.get("overdue") == "true"
            t1 = time.perf_counter()
            reader.list_reviews(ReviewFilter(**c), sort=sort, descending=not asc, limit=50, offset=offset)
            lat.append((time.perf_counter() - t1) * 1000)
        d_list = _pct(lat, 0.95)
        lat = []
        for who, doc in _docs(requests, "direct"):
            t1 = time.perf_counter()
            LocalClient(db, who, deliver=False).submit(doc, source="bench")
            lat.append((time.perf_counter() - t1) * 1000)
        d_submit = _pct(lat, 0.95)
        d_jobs = _split(direct_targets, clients)
        d_secs, d_counts = _race(d_jobs, lambda who, rid: _direct_decide(db, who, rid))
        d_checked = _check(db, direct_targets, d_counts["ok"])
        d_rate = d_counts["ok"] / d_secs
        say(f"direct: list p95 {d_list:.1f} ms, submit p95 {d_submit:.1f} ms, {d_rate:.0f} decisions/s "
            f"(lost {d_checked['lost']}, doubled {d_checked['doubled']}, unclean {d_counts['unclean']})")
        return {
            "list_p95_ms": round(list_p95, 2), "submit_p95_ms": round(submit_p95, 2), "decisions_per_s": round(rate, 1),
            "decisions": counts["ok"], "refused": counts["refused"], "unclean_errors": counts["unclean"], "lost": checked["lost"],
            "doubled": checked["doubled"], "clients": len(jobs), "workers": workers, "threads": threads, "reviews": reviews, "backend": "postgresql",
            "direct": {"list_p95_ms": round(d_list, 2), "submit_p95_ms": round(d_submit, 2), "decisions_per_s": round(d_rate, 1),
                       "lost": d_checked["lost"], "doubled": d_checked["doubled"], "unclean_errors": d_counts["unclean"]},
        }
    finally:
        if proc is not None:
            stop(proc)
        db.dispose()


def _direct_decide(db: Any, who: str, rid: int) -> int:
    from review.client.local import LocalClient
    from review.errors import ReviewError

    try:
        LocalClient(db, who, deliver=False).decide(rid, "approve", rationale="bench: no personal data")
        return 200
    except ReviewError:
        return 409
    except Exception:
        return 599



def _submitters() -> list[str]:
    from review.demo.catalog import TEAM_SUBMITTERS

    return sorted(set(TEAM_SUBMITTERS.values()))
