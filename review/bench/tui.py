"""TUI benchmark: first paint, filter latency and peak memory with N reviews (headless, SQLite).

``ethics-review bench tui --reviews 100000`` prints, last, one JSON object:
``first_paint_ms`` (app start to the queue's first rows shown), ``filter_ms`` (median of
keystrokes in the search box to updated rows; ``filter_max_ms`` the worst), ``peak_rss_mb``
(this process: the app and its workers; the database is seeded in a child process so the
seeding does not count), ``count_ms`` (last keystroke to the total shown: counted once typing
pauses, capped at 10,000), ``filter_each_ms`` (every keystroke, in order). Targets: <= 1000, <= 150
(also at 1,000,000 reviews), <= 500. The temporary database is removed afterwards, unless
``--keep DIR`` names a directory to keep it in: a later run with the same ``--keep DIR`` and
``--reviews N`` reuses it instead of seeding again (a million reviews take minutes to seed).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def register(bench: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = bench.add_parser("tui", help="TUI first paint, filter latency and peak RSS with N reviews (headless)")
    p.add_argument("--reviews", type=int, default=100_000)
    p.add_argument("--query", default="0042", help="typed into the search box, one key at a time")
    p.add_argument("--keep", metavar="DIR", default=None,
                   help="keep the seeded database in DIR, and reuse the one there when it holds --reviews reviews")
    p.set_defaults(func=cmd_bench_tui)


def _seed(url: str, data_dir: str, n: int) -> None:
    from review.bench.core import bulk_reviews
    from review.demo.seed import seed_people
    from review.store.db import Database

    db = Database(url, data_dir=Path(data_dir))
    db.upgrade()
    seed_people(db)
    bulk_reviews(db, n)
    db.dispose()


async def _drive(db: Any, query: str) -> dict[str, Any]:
    import asyncio

    from tui.app import EthicsReviewApp
    from tui.messages import QueuePainted

    painted: list[tuple[float, QueuePainted]] = []

    def hook(message: Any) -> None:
        if isinstance(message, QueuePainted):
            painted.append((time.perf_counter(), message))

    async def wait_paint(after: int, timeout: float = 30.0) -> float:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if len(painted) > after and painted[-1][1].reason == "page":
                return painted[-1][0]
            await asyncio.sleep(0.001)
        raise TimeoutError(f"the queue did not repaint (focused: {app.focused}; painted: {[m for _, m in painted]})")

    t0 = time.perf_counter()
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=(160, 50), message_hook=hook) as pilot:
        first = await wait_paint(0)
        rows = painted[-1][1].rows
        await app.workers.wait_for_complete()
        await pilot.press("slash")
        await pilot.pause(0.05)
        timings = []
        for ch in query:
            before = len(painted)
            t = time.perf_counter()
            await pilot.press(ch)
            timings.append((await wait_paint(before) - t) * 1000)
            await app.workers.wait_for_complete()
        result_rows = painted[-1][1].rows
        queue = app.screen
        while queue.total is None and time.perf_counter() - t < 60:  # counted once typing pauses
            await asyncio.sleep(0.005)
        count_ms = (time.perf_counter() - t) * 1000
    return {"first_paint_ms": round((first - t0) * 1000, 1), "filter_ms": round(statistics.median(timings), 1),
            "filter_max_ms": round(max(timings), 1), "filter_each_ms": [round(x, 1) for x in timings], "first_page_rows": rows, "rows_after_search": result_rows,
            "keystrokes": len(timings), "count_ms": round(count_ms, 1), "total_after_search": queue.total,
            "total_capped": queue.total_capped}


def _seeded(tmp: Path, reviews: int) -> bool:
    """``tmp`` holds a database a run with ``--keep`` seeded with ``reviews`` reviews (its marker is written last)."""
    marker = tmp / "seeded.json"
    try:
        return bool(json.loads(marker.read_text())["reviews"] == reviews and (tmp / "bench.db").is_file())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def run(*, reviews: int = 100_000, query: str = "0042", keep: str | None = None, echo: Any = print) -> dict[str, Any]:
    import asyncio  # here, not at the top: `bench --help` imports this module
    import contextlib
    import multiprocessing

    from review.bench.scratch import scratch_dir
    from review.errors import InvalidInput
    from review.store.db import Database

    if keep is not None:
        kept = Path(keep)
        if kept.exists() and not kept.is_dir():
            raise InvalidInput(f"--keep {keep}: not a directory; name a directory for the benchmark's database")
        kept.mkdir(parents=True, exist_ok=True)
    where = contextlib.nullcontext(kept) if keep is not None else scratch_dir("ethics-review-bench-tui-")
    with where as tmp:
        url = f"sqlite:///{tmp / 'bench.db'}"
        t = time.perf_counter()
        if keep is not None and _seeded(tmp, reviews):
            if echo:
                echo(f"reusing the {reviews:,} reviews in {tmp / 'bench.db'}")
        else:
            if keep is not None:  # a database of another size, or a seeding that did not finish: start afresh
                for leftover in tmp.glob("bench.db*"):
                    leftover.unlink()
                (tmp / "seeded.json").unlink(missing_ok=True)
            proc = multiprocessing.get_context("spawn").Process(target=_seed, args=(url, str(tmp), reviews))
            proc.start()
            proc.join()
            if proc.exitcode:
                raise RuntimeError(f"seeding failed (exit {proc.exitcode})")
            if keep is not None:
                (tmp / "seeded.json").write_text(json.dumps({"reviews": reviews}))
            if echo:
                echo(f"seeded {reviews:,} reviews in {time.perf_counter() - t:.1f} s (child process)")
        db = Database(url, data_dir=tmp)
        out = asyncio.run(_drive(db, query))
        db.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["peak_rss_mb"] = round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1)
    out["reviews"] = reviews
    return out


def cmd_bench_tui(ctx: Any) -> int:
    result = run(reviews=ctx.args.reviews, query=ctx.args.query, keep=ctx.args.keep, echo=None if ctx.json else print)
    print(json.dumps(result))
    return 0
