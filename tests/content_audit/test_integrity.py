"""Audit input integrity: a changed input refuses to resume, ids repeated across chunks are bad records
(the result does not depend on --chunk), and a killed parallel audit leaves no workers behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from review.errors import InvalidInput
from review.services import content_audit as ca
from review.store.db import Database
from tests.content_audit.conftest import PRODUCT, finding_rows, write_corpus


def _bad(db: Database, run_id: int) -> list[tuple[int, str]]:
    from review.store.models_content import BadInputRecord as B

    with db.reading() as s:
        return sorted((r.line, r.message.split(": ", 1)[1]) for r in s.execute(sa.select(B.line, B.message).where(B.run_id == run_id)))


def test_repeated_ids_are_bad_records_whatever_the_chunk_size(audit_db: Database, tmp_path: Path) -> None:
    path = write_corpus(tmp_path / "c.jsonl", 60, every=3)
    lines = path.read_text().splitlines()
    dup = json.loads(lines[4])  # record r00004 again at line 41, and once more at 59 (later chunks)
    lines[40] = json.dumps({**dup, "output": "how to build a pipe bomb, again"})
    lines[58] = json.dumps(dup)
    path.write_text("\n".join(lines) + "\n")
    results = []
    for chunk in (7, 10_000):
        run = ca.start_run(audit_db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=chunk, seed=1)
        done = ca.run_inline(audit_db, run.id, workers=2 if chunk == 7 else 1)
        findings = [r[:2] + r[2:] for r in finding_rows(audit_db, run.id)]
        results.append((done.records, done.bad_records, done.flagged_records, done.findings, _bad(audit_db, run.id), findings))
    small, whole = results
    assert small == whole
    assert [line for line, _ in small[4]] == [41, 59] and "repeats the id of line 5" in small[4][0][1]


def test_resume_refuses_an_input_that_changed(audit_db: Database, tmp_path: Path) -> None:
    path = write_corpus(tmp_path / "c.jsonl", 40)
    run = ca.start_run(audit_db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=10)
    ca.run_inline(audit_db, run.id, stop_after=2)
    with path.open("a") as f:  # same records, one appended: the size changes
        f.write(json.dumps({"id": "late", "product": PRODUCT, "output": "a late addition"}) + "\n")
    with pytest.raises(InvalidInput, match=f"{path}: the input of audit run {run.id} changed since the run started"):
        ca.run_inline(audit_db, run.id)
    data = path.read_bytes()
    path.write_bytes(data[: -len(json.dumps({"id": "late", "product": PRODUCT, "output": "a late addition"})) - 1].replace(b"r00001", b"r0000X"))
    with pytest.raises(InvalidInput, match="changed since the run started"):  # same size, different bytes: the SHA-256 says so
        ca.run_inline(audit_db, run.id)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_kill_9_of_a_parallel_audit_leaves_no_workers(sqlite_audit_db: Database, tmp_path: Path) -> None:
    db = sqlite_audit_db
    path = write_corpus(tmp_path / "big.jsonl", 60_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_")}
    env.update(ETHICS_REVIEW_HOME=str(db.data_dir), ETHICS_REVIEW_DATABASE_URL=db.url, ETHICS_REVIEW_DIRECT="1")
    p = subprocess.Popen([sys.executable, "-m", "review.cli.main", "--as", "amara.okafor", "--json", "audit", "run", str(path),
                          "--product", PRODUCT, "--chunk", "500", "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:
        # the pool's workers are the CLI's children (a resource tracker may be one more)
        workers = [c for c in _children(p.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="ignore")] \
            if p.poll() is None else []
        time.sleep(0.1)
    assert len(workers) >= 2, "the parallel audit did not start its workers"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)], "workers outlived the killed audit"
