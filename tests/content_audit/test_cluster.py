"""One audit over a real Dask cluster (``distributed.LocalCluster``, two worker processes) through the Prefect
flow, on PostgreSQL: the same findings and spot-check sample as the inline run, also when a worker process is
killed in the middle of a chunk (Dask runs the chunk again elsewhere; the writes are idempotent)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from review.cli.main import main
from review.services import content_audit as ca
from review.store.models_content import AuditRun, SpotCheckItem
from tests.content_audit.conftest import PRODUCT, add_product, finding_rows, write_corpus

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow
USER = "amara.okafor"


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each (the scan is CPU-bound), as `--dask-workers 2` starts them."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with distributed.Client(c, set_as_default=False) as client:  # prefect-dask would take a default client's cluster for any run
            yield c, client


@pytest.fixture
def pg_audit_db(pg_db):
    from review.demo.seed import seed_people

    seed_people(pg_db)
    add_product(pg_db)
    return pg_db


def _cli(db, capsys, *args):
    code = main(["--database", db.url, "--as", USER, "--json", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _sample(db, run_id: int) -> list[tuple]:
    with db.reading() as s:
        return list(s.execute(sa.select(SpotCheckItem.seq, SpotCheckItem.record_id, SpotCheckItem.stratum, SpotCheckItem.line)
                              .where(SpotCheckItem.run_id == run_id).order_by(SpotCheckItem.seq)).all())


def _inline(db, path: Path):
    return ca.run_inline(db, ca.start_run(db, path, product=PRODUCT, actor=USER, chunk_lines=150, seed=11).id)


def _same_as_inline(db, capsys, path: Path, *where: str, source: str | None = None) -> tuple[dict, dict]:
    """Audit ``path`` inline and (as ``source``, default the path) with the CLI options ``where``: the same findings and sample."""
    inline = _inline(db, path)
    code, out, err = _cli(db, capsys, "audit", "run", source or str(path), "--product", PRODUCT, "--chunk", "150", "--seed", "11", *where)
    assert code == 0, err
    got = json.loads(out)
    assert got["status"] == "SCANNED" and got["records"] == inline.records == 1200 and got["bad_records"] == inline.bad_records == 1
    assert finding_rows(db, got["run"]) == finding_rows(db, inline.id) != []
    assert _sample(db, got["run"]) != [] and [r[1:] for r in _sample(db, got["run"])] == [r[1:] for r in _sample(db, inline.id)]
    return got, {"findings": inline.findings, "flagged": inline.flagged_records, "sample": inline.sample_size}


def test_dask_workers_run_equals_inline(prefect_harness, pg_audit_db, http_files, capsys):
    """`--dask-workers 2` starts its own LocalCluster of two worker processes for the run; the input is a URL
    (a real HTTP server on 127.0.0.1): each worker reads its chunks' byte ranges itself."""
    root, base = http_files
    path = write_corpus(root / "in.jsonl", 1200, bad={3: "{broken"})
    got, inline = _same_as_inline(pg_audit_db, capsys, path, "--dask-workers", "2", source=f"{base}/in.jsonl")
    assert (got["findings"], got["flagged_records"], got["sample_size"]) == (inline["findings"], inline["flagged"], inline["sample"])
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:  # the workers reported to this session's server, not to servers of their own
        flow_run = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"aigc-content-audit run {got['run']}"])),
                                         sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        runs = [r for r in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
                if r.name.startswith("scan ")]
    # 9 chunks, 2 worker threads: 4 task runs of consecutive chunks (3, 2, 2, 2), each chunk written on its own
    assert ca.get_run_row(pg_audit_db, got["run"]).chunks_total == 9 and {r.state_type.value for r in runs} == {"COMPLETED"}
    assert sorted(r.name for r in runs) == sorted(f"scan {n} chunks ({a}-{b}) of run {got['run']}" for n, a, b in ((3, 0, 2), (2, 3, 4), (2, 5, 6), (2, 7, 8)))


class KillFirstChunk(distributed.WorkerPlugin):
    """Kill the worker process (SIGKILL) a moment after the first chunk task starts on it, once per marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish != "executing":
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, f"{os.getpid()} {key}".encode())
        os.close(fd)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGKILL)).start()


def test_cluster_run_survives_a_killed_worker(prefect_harness, pg_audit_db, cluster, tmp_path, capsys):
    c, client = cluster
    marker = tmp_path / "killed"
    client.register_plugin(KillFirstChunk(str(marker)), name="kill-first-chunk")
    try:
        path = write_corpus(tmp_path / "in.jsonl", 1200, bad={3: "{broken"})
        with distributed.get_task_stream(client) as stream:
            got, _ = _same_as_inline(pg_audit_db, capsys, path, "--cluster", c.scheduler_address)
    finally:
        client.unregister_worker_plugin("kill-first-chunk")
    chunks = ca.get_run_row(pg_audit_db, got["run"]).chunks_total
    # 9 chunks in 4 tasks (3, 2, 2, 2): each completed on the cluster (the one on the killed worker ran again elsewhere)
    assert chunks == 9 and len({t["key"] for t in stream.data}) == 4
    pid, key = marker.read_text().split(" ", 1)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)  # that worker process is gone
    lost = [msg for _, msg in (e for events in client.get_events().values() for e in events)
            if isinstance(msg, dict) and msg.get("action") == "remove-worker" and not msg["expected"]]
    assert key in {k for m in lost for k in m["processing-tasks"]}  # it died in the middle of that chunk, which ran again
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for whoever comes next


def test_cluster_refuses_sqlite_and_bad_addresses(sqlite_audit_db, tmp_path, capsys):
    db = sqlite_audit_db
    path = write_corpus(tmp_path / "in.jsonl", 20)
    code, _, err = _cli(db, capsys, "audit", "run", str(path), "--product", PRODUCT, "--dask-workers", "2")
    assert code == 2 and "must be shared" in err and "SQLite" in err and "PostgreSQL" in err
    code, _, err = _cli(db, capsys, "audit", "run", str(path), "--product", PRODUCT, "--cluster", "localhost")
    assert code == 2 and "give the Dask scheduler's address, e.g. tcp://HOST:8786" in err
    from review.bench.scratch import free_port

    code, _, err = _cli(db, capsys, "audit", "run", str(path), "--product", PRODUCT, "--cluster", f"tcp://127.0.0.1:{free_port()}")
    assert code == 2 and "no Dask scheduler answers there" in err
    with db.reading() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(AuditRun)).scalar_one() == 0
    run = ca.start_run(db, path, product=PRODUCT, actor=USER, chunk_lines=10)
    ca.run_inline(db, run.id, stop_after=1)
    code, _, err = _cli(db, capsys, "audit", "resume", str(run.id), "--dask-workers", "2")
    assert code == 2 and "must be shared" in err
    assert ca.run_progress(db, run.id)["chunks_done"] == 1 and ca.get_run_row(db, run.id).status == "RUNNING"
