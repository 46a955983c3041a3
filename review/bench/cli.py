"""CLI latency benchmark: wall clock of fresh ``ethics-review`` processes on a demo database.

``ethics-review bench cli`` seeds a temporary demo database (the ``ethics-review demo`` data,
removed afterwards), then runs ``--help``, ``list`` and ``show ID`` as a person does (a new
process each time, direct mode via ``$ETHICS_REVIEW_HOME``) and prints, last, one JSON object
with the medians ``help_ms``, ``list_ms``, ``show_ms`` and ``python_startup_ms`` (a bare
``python -c pass``: the floor), plus ``store_import_ms``: a process that only imports the
settings, the store's tables and Rich, the floor of a command that reads the database.
Targets: ``help_ms`` <= 150, ``list_ms`` and ``show_ms`` <= 300. Each figure has a ``*_cpu_ms``
twin (user + system time of the process), which other work on a shared machine disturbs less
than the wall clock; the commands run interleaved for the same reason.

The processes run as Python does by default, with cached bytecode (``PYTHONDONTWRITEBYTECODE``
is dropped, so the untimed warm-up run writes it): compiling the sources on every start would
time the compiler, not the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from review.errors import InvalidInput

ACTOR = "wei.chen"  # the demo's hint (`ethics-review --as wei.chen list`)
#: what `list` cannot go below while it reads through the settings, SQLModel tables and Rich
STORE_IMPORT = "import review.settings, review.store.db, review.store.models, rich.console, rich.table"


def register(bench: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = bench.add_parser("cli", help="wall clock of `--help`, `list` and `show` as fresh processes on a demo database")
    p.add_argument("--repeat", type=int, default=7, help="timed runs of each command (the median is reported)")
    p.set_defaults(func=cmd_bench_cli)


def _seed(home: Path) -> int:
    """The demo database in ``home``; returns the id of the first review (the one ``show`` prints)."""
    from review.demo.seed import run_demo
    from review.store.db import Database

    db = Database(f"sqlite:///{home / 'ethics-review.db'}", data_dir=home)
    try:
        db.upgrade()
        return min(run_demo(db, evidence_dir=home / "evidence-sources").values())
    finally:
        db.dispose()


def _entry_point() -> list[str]:
    """The installed ``ethics-review`` script next to this interpreter, else ``python -m review.cli.main``."""
    script = Path(sys.executable).with_name("ethics-review")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "review.cli.main"]


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall clock, CPU time) of one run of ``cmd`` in ms; a failing run is an error."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def run(*, repeat: int = 7, echo: Any = print) -> dict[str, Any]:
    if repeat < 1:
        raise InvalidInput(f"--repeat {repeat}: must be at least 1")
    home = Path(tempfile.mkdtemp(prefix="ethics-review-bench-cli-"))
    try:
        t = time.perf_counter()
        review_id = _seed(home)
        if echo:
            echo(f"seeded the demo database in {time.perf_counter() - t:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(ETHICS_REVIEW_HOME=str(home), ETHICS_REVIEW_USER=ACTOR)
        cli = _entry_point()
        commands = {"python_startup": [sys.executable, "-c", "pass"], "store_import": [sys.executable, "-c", STORE_IMPORT],
                    "help": [*cli, "--help"], "list": [*cli, "list"], "show": [*cli, "show", str(review_id)]}
        samples: dict[str, list[tuple[float, float]]] = {key: [] for key in commands}
        for i in range(repeat + 1):  # interleaved, so a change in the machine's load touches every command alike
            for key, cmd in commands.items():
                sample = _timed(cmd, env)
                if i:  # run 0 warms the caches (and writes the bytecode)
                    samples[key].append(sample)
        out: dict[str, Any] = {}
        for key, runs in samples.items():
            out[f"{key}_ms"] = round(statistics.median(w for w, _ in runs), 1)
            out[f"{key}_cpu_ms"] = round(statistics.median(c for _, c in runs), 1)
            if echo:
                echo(f"{key}: {out[f'{key}_ms']} ms wall clock, {out[f'{key}_cpu_ms']} ms CPU (median of {repeat})")
        out["repeat"] = repeat
        return out
    finally:
        shutil.rmtree(home, ignore_errors=True)


def cmd_bench_cli(ctx: Any) -> int:
    result = run(repeat=ctx.args.repeat, echo=None if ctx.json else print)
    print(json.dumps(result))
    return 0
