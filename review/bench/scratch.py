"""What the benchmarks (and end-to-end tests) share: a scratch directory or PostgreSQL schema (both
removed afterwards: a benchmark at a million rows leaves gigabytes otherwise), and a server process
on a free port (waiting for it to answer, stopping it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A new temporary directory (for a SQLite database and its evidence), removed with its contents afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def scratch_schema(pg: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """A new schema in ``pg`` (dropped afterwards): yields (database URL with it on the search path, a data dir)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    home = Path(os.environ.get("TMPDIR", "/tmp")) / schema
    home.mkdir(parents=True, exist_ok=True)
    try:
        yield f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}", home
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
        shutil.rmtree(home, ignore_errors=True)


def wait_until_up(url: str, proc: subprocess.Popen, *, timeout: float = 60, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 200; fail with the process's log if it exits or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{url} did not come up: {tail}")
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, *, timeout: float = 15) -> None:
    """Terminate ``proc``; kill it if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
