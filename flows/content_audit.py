"""``aigc_content_audit``: the content-safety audit of one planned run, as a Prefect flow.

A task scans chunks (thousands of records each) from small descriptors (file path, byte range,
first line): never a list of records as an argument. Each chunk is written on its own, idempotently
(the findings and the chunk's done mark in one transaction; on PostgreSQL by COPY under a lock
on the chunk's row, a chunk already done skipped; on SQLite insert-or-ignore on the finding key),
so a retried task, a re-run flow or a resumed run gives exactly the findings of a clean run.
The same service functions run in-process for ``ethics-review audit run`` (no server).

On this machine there is one task per chunk: a Prefect task run on the flow's threads, handing its
chunk to a pool of processes (``--workers``; the pool ``audit run --workers`` uses, see ``ChunkPool``):
the orchestration of one task overlaps the scans of the others, and the processes import no Prefect.
On a Dask cluster (parameter ``cluster``, ``--cluster tcp://HOST:8786``) or a local one
(``dask_workers``, ``--dask-workers N``), through prefect-dask, a task scans a few consecutive chunks
(``content_audit.chunk_groups``: a task run there costs about 0.2 s of CPU however small, two tasks a
worker thread at least). A task reads its byte ranges itself and writes its chunks to the database
itself, so a cluster run needs a database every worker reaches (PostgreSQL), and every worker reports
to the Prefect API of this flow run (``api_for_workers``: never a temporary server of its own).
``ethics-review serve`` deploys this flow (``aigc-content-audit/on-demand``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import urlsplit

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.settings import database
from review.errors import InvalidInput
from review.services import content_audit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
R = TypeVar("R")
THREADS: TaskRunner[Any] = ThreadPoolTaskRunner()  # the default: a chunk task waits for its chunk's process (ChunkPool)


class ChunkPool:
    """The processes scanning the chunks of a flow run on this machine: ``content_audit.scan_pool`` (the pool of
    ``audit run --workers``), started when the flow has planned, each process loading the pack's filter at once, while
    the first task runs are created. A chunk task (a Prefect task run on one of the flow's threads) hands its chunk to a
    process and waits: the scan is CPU-bound and needs a process, the orchestration does not. A process that dies
    breaks the pool: the pool is replaced and the task fails, so Prefect retries it on the new one (its writes are
    idempotent)."""

    def __init__(self, workers: int, pack_ref: str) -> None:
        self.workers = workers
        self._pack_ref = pack_ref
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = content_audit.scan_pool(self.workers)
        try:
            for _ in range(self.workers):  # each submission while none is idle spawns a process
                pool.submit(content_audit.warm_worker, self._pack_ref)  # a failure here shows again in the chunk, with its context
        except (BrokenProcessPool, OSError):
            # a process died while the next one was spawned (the pool's queue closed under the spawn): the pool is
            # broken, so the first chunk handed to it fails, ``run`` replaces it and Prefect retries that chunk
            pass
        return pool

    def process_chunk(self, database_url: str, descriptor: dict) -> dict:
        return self.run(content_audit.pool_process_chunk, database_url, descriptor)

    def run(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` in one of the processes (``fn``: importable by name)."""
        with self._lock:
            pool = self._pool
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool and not self._closed:
                    self._pool = self._start()
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)


def _scan_name(parameters: dict[str, Any]) -> str:
    descs = parameters["descriptors"]
    seqs = f"chunk {descs[0]['seq']}" if len(descs) == 1 else f"{len(descs)} chunks ({descs[0]['seq']}-{descs[-1]['seq']})"
    return f"scan {seqs} of run {descs[0]['run_id']}"


@task(name="scan-audit-chunks", task_run_name=_scan_name,  # type: ignore[arg-type]  # a function of the parameters (its Protocol has a classmethod)
      retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def scan_audit_chunks(descriptors: list[dict], database_url: str, pool: ChunkPool | None = None) -> list[dict]:
    """Scan and persist chunks one after the other, each in its own transaction (a chunk already done, by an earlier
    try of this task or anyone else, is skipped): in a process of ``pool`` (a run on this machine: one chunk a task),
    else in this process (a Dask worker: consecutive chunks, ``content_audit.chunk_groups``)."""
    if pool is not None:
        return [pool.process_chunk(database_url, d) for d in descriptors]
    quiet_task_runs()
    db = database(database_url)
    out = []
    for d in descriptors:
        out.append(content_audit.process_chunk(db, d))
        content_audit.freeze_once()  # the filter is compiled now (the first chunk): later chunks collect less
    return out


def quiet_task_runs() -> None:
    """In the process running chunk tasks: no "Finished in state Completed()" line per task. Each was a request to the
    Prefect API (about 50 ms a task on a two-core machine with the server beside it, a third of a chunk task's
    overhead) saying what the task run's state already says; a failed or retried task still logs (ERROR)."""
    logging.getLogger("prefect.task_runs").setLevel(logging.WARNING)


@contextmanager
def quiet_task_runs_here() -> Iterator[None]:
    """``quiet_task_runs`` in the flow's own process, for the flow run only."""
    logger = logging.getLogger("prefect.task_runs")
    level = logger.level
    quiet_task_runs()
    try:
        yield
    finally:
        logger.setLevel(level)


@task(name="draw-spot-check", cache_policy=NO_CACHE)
def draw_spot_check(run_id: int, database_url: str, actor: str | None = None) -> dict:
    run = content_audit.finish_run(database(database_url), run_id, actor=actor)
    return {"run": run.id, "status": run.status, "records": run.records, "findings": run.findings, "bad_records": run.bad_records,
            "flagged_records": run.flagged_records, "sample_size": run.sample_size, "seed": run.seed}


@flow(name="aigc-content-audit", flow_run_name="aigc-content-audit run {run_id}", task_runner=THREADS)
def aigc_content_audit(run_id: int, database_url: str | None = None, actor: str | None = None, cluster: str | None = None,
                       dask_workers: int = 0, in_flight: int | None = None, workers: int | None = None) -> dict[str, Any]:
    """Scan every pending chunk of run ``run_id``, then draw the spot-check sample.

    The chunk tasks run on the Dask cluster at ``cluster``, on a local one of ``dask_workers`` processes, else on
    the flow's threads, each scanning its chunk in one of ``workers`` processes (default: one per core); at most
    ``in_flight`` at once (default: two per worker slot), each taken as it completes."""
    db = database(database_url)
    on_cluster = bool(cluster or dask_workers)
    if on_cluster:
        check_cluster(cluster)
        content_audit.require_shared_database(db, "--cluster" if cluster else "--dask-workers")
    pending = content_audit.chunk_descriptors(db, run_id)
    log = get_run_logger()
    with ExitStack() as stack:
        pool: ChunkPool | None = None
        if on_cluster:
            runner = stack.enter_context(task_runner(cluster=cluster, dask_workers=dask_workers))
            slots = _slots(runner)
        else:
            ctx = FlowRunContext.get()
            assert ctx is not None and ctx.task_runner is not None  # in a flow run
            runner = ctx.task_runner
            if workers is not None and workers < 1:
                raise InvalidInput(f"workers {workers}: give 1 or more processes")
            slots = min(workers or os.cpu_count() or 1, max(1, len(pending)))
            if pending:
                pool = ChunkPool(slots, content_audit.get_run_row(db, run_id).settings["pack_ref"])
                stack.callback(pool.close)
                stack.enter_context(quiet_task_runs_here())
        groups = content_audit.chunk_groups(pending, slots) if on_cluster else [[d] for d in pending]
        limit = in_flight or 2 * slots
        log.info("run %s: %d chunk(s) to scan in %d task(s), up to %d at once", run_id, len(pending), len(groups), limit)
        submit = partial(_submit, runner, db.url, pool)
        for done in content_audit.in_flight(groups, submit, limit, as_completed):
            done.result()
    summary = draw_spot_check(run_id, db.url, actor)
    log.info("run %s: %s records, %s findings, %s bad, sample %s", run_id, summary["records"], summary["findings"],
             summary["bad_records"], summary["sample_size"])
    return summary


def _submit(runner: TaskRunner[Any], database_url: str, pool: ChunkPool | None, descriptors: list[dict]) -> Any:
    params: dict[str, Any] = {"descriptors": descriptors, "database_url": database_url}
    if pool is not None:
        params["pool"] = pool
    return runner.submit(scan_audit_chunks, params)


def _slots(runner: TaskRunner[Any]) -> int:
    """How many chunk tasks the Dask ``runner`` runs at once (the cluster's threads)."""
    client = getattr(runner, "client", None)
    return max(1, sum(client.nthreads().values())) if client is not None else 1


def task_runner(*, cluster: str | None = None, dask_workers: int = 0) -> TaskRunner[Any]:
    """The runner of the chunk tasks on a cluster: the Dask cluster at ``cluster``, else a local one of ``dask_workers``
    processes (one thread each: the scan is CPU-bound)."""
    try:
        from prefect_dask import DaskTaskRunner
    except ModuleNotFoundError:
        raise InvalidInput("--cluster/--dask-workers need prefect-dask and distributed: "
                           "pip install 'ethics-review[cluster]'") from None
    if cluster:
        return DaskTaskRunner(address=cluster)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": ":0"})  # no fixed port (8787 may be taken)


def check_cluster(cluster: str | None) -> None:
    """Refuse a ``--cluster`` address before a run is planned: its form, a scheduler answering there, and a Prefect API
    its workers can reach (a cluster on this machine may use the temporary one ``api_for_workers`` starts)."""
    if not cluster:
        return
    from prefect.settings import PREFECT_API_URL

    where = urlsplit(cluster)
    if where.scheme not in ("tcp", "tls") or not where.hostname or not where.port:
        raise InvalidInput(f"--cluster {cluster!r}: give the Dask scheduler's address, e.g. tcp://HOST:8786")
    try:
        socket.create_connection((where.hostname, where.port), timeout=5).close()
    except OSError as exc:
        raise InvalidInput(f"--cluster {cluster}: no Dask scheduler answers there ({exc.strerror or exc}); start one "
                           "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or fix the address") from None
    if where.hostname not in LOOPBACK and not PREFECT_API_URL.value():
        raise InvalidInput(f"--cluster {cluster}: the cluster's workers report their task runs to the Prefect API, and PREFECT_API_URL "
                           "is not set; start a server they can reach (`prefect server start --host 0.0.0.0`) and set "
                           "PREFECT_API_URL=http://THIS-HOST:4200/api")


@contextmanager
def api_for_workers() -> Iterator[None]:
    """Make sure the task runs in other processes report to THIS flow run's Prefect API.

    With no ``PREFECT_API_URL`` Prefect boots a temporary server per process (about 28 s each);
    here one is started for the run and its URL set, so the workers (which get this process's
    settings with each task) use it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same default instance a client without an API URL would start
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


def run_audit(run_id: int, database_url: str, actor: str | None = None, *, workers: int = 1, cluster: str | None = None,
              dask_workers: int = 0) -> dict[str, Any]:
    """``audit run|resume --engine prefect`` (``--workers``, ``--cluster``, ``--dask-workers``) in this process."""
    with api_for_workers():
        return aigc_content_audit(run_id=run_id, database_url=database_url, actor=actor, cluster=cluster, dask_workers=dask_workers,
                                  workers=workers)
