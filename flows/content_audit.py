"""``aigc_content_audit``: the content-safety audit of one planned run, as a Prefect flow.

Each task scans ONE chunk (thousands of records) from a small descriptor (file path,
byte range, first line): never a list of records as an argument. Writes are idempotent
(the findings and the chunk's done mark in one transaction; on PostgreSQL by COPY under a lock
on the chunk's row, a chunk already done skipped; on SQLite insert-or-ignore on the finding key),
so a retried task, a re-run flow or a resumed run gives exactly the findings of a clean run.
The same service functions run in-process for ``ethics-review audit run`` (no server).

The chunk tasks run in a pool of processes on this machine (the flow's task runner), or on
a Dask cluster (parameter ``cluster``, ``--cluster tcp://HOST:8786``) or a local one
(``dask_workers``, ``--dask-workers N``) through prefect-dask. A task reads its byte range
itself and writes its chunk to the database itself, so a cluster run needs a database every
worker reaches (PostgreSQL), and every worker reports to the Prefect API of this flow run
(``api_for_workers``: never a temporary server of its own). ``ethics-review serve`` deploys
this flow (``aigc-content-audit/on-demand``).
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any, Iterator
from urllib.parse import urlsplit

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner

from flows.settings import database
from review.errors import InvalidInput
from review.services import content_audit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PROCESSES: TaskRunner[Any] = ProcessPoolTaskRunner()  # the default: the chunk tasks are CPU-bound, threads would share one core


@task(name="scan-audit-chunk", task_run_name="scan chunk {descriptor[seq]} of run {descriptor[run_id]}", retries=1,
      retry_delay_seconds=2, cache_policy=NO_CACHE)
def scan_audit_chunk(descriptor: dict, database_url: str) -> dict:
    """Scan and persist one chunk (a chunk already done is skipped)."""
    quiet_task_runs()
    out = content_audit.process_chunk(database(database_url), descriptor)
    content_audit.freeze_once()  # the filter is compiled now (the first chunk): later chunks collect less
    return out


def quiet_task_runs() -> None:
    """In the process running chunk tasks: no "Finished in state Completed()" line per task. Each was a request to the
    Prefect API (about 50 ms a task on a two-core machine with the server beside it, a third of a chunk task's
    overhead) saying what the task run's state already says; a failed or retried task still logs (ERROR)."""
    import logging

    logging.getLogger("prefect.task_runs").setLevel(logging.WARNING)


@task(name="draw-spot-check", cache_policy=NO_CACHE)
def draw_spot_check(run_id: int, database_url: str, actor: str | None = None) -> dict:
    run = content_audit.finish_run(database(database_url), run_id, actor=actor)
    return {"run": run.id, "status": run.status, "records": run.records, "findings": run.findings, "bad_records": run.bad_records,
            "flagged_records": run.flagged_records, "sample_size": run.sample_size, "seed": run.seed}


@flow(name="aigc-content-audit", flow_run_name="aigc-content-audit run {run_id}", task_runner=PROCESSES)
def aigc_content_audit(run_id: int, database_url: str | None = None, actor: str | None = None, cluster: str | None = None,
                       dask_workers: int = 0, in_flight: int | None = None) -> dict[str, Any]:
    """Scan every pending chunk of run ``run_id``, then draw the spot-check sample.

    The chunk tasks run on the Dask cluster at ``cluster``, on a local one of ``dask_workers`` processes, else on
    the flow's task runner; at most ``in_flight`` at once (default: two per worker slot), each taken as it completes."""
    db = database(database_url)
    if cluster or dask_workers:
        check_cluster(cluster)
        content_audit.require_shared_database(db, "--cluster" if cluster else "--dask-workers")
    pending = content_audit.chunk_descriptors(db, run_id)
    log = get_run_logger()
    with ExitStack() as stack:
        ctx = FlowRunContext.get()
        runner = stack.enter_context(task_runner(cluster=cluster, dask_workers=dask_workers)) if cluster or dask_workers else \
            ctx.task_runner if ctx else None
        assert runner is not None  # in a flow run
        limit = in_flight or 2 * _slots(runner)
        log.info("run %s: %d chunk(s) to scan, up to %d at once", run_id, len(pending), limit)
        submit = partial(_submit, runner, db.url)
        for done in content_audit.in_flight(pending, submit, limit, as_completed):
            done.result()
    summary = draw_spot_check(run_id, db.url, actor)
    log.info("run %s: %s records, %s findings, %s bad, sample %s", run_id, summary["records"], summary["findings"],
             summary["bad_records"], summary["sample_size"])
    return summary


def _submit(runner: TaskRunner[Any], database_url: str, descriptor: dict) -> Any:
    return runner.submit(scan_audit_chunk, {"descriptor": descriptor, "database_url": database_url})


def _slots(runner: TaskRunner[Any]) -> int:
    """How many chunk tasks ``runner`` runs at once (Dask: the cluster's threads)."""
    client = getattr(runner, "client", None) if type(runner).__name__ == "DaskTaskRunner" else None
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return getattr(runner, "_max_workers", None) or os.cpu_count() or 1


def task_runner(*, workers: int = 1, cluster: str | None = None, dask_workers: int = 0) -> TaskRunner[Any]:
    """The runner of the chunk tasks: the Dask cluster at ``cluster``, a local one of ``dask_workers`` processes
    (one thread each: the scan is CPU-bound), else ``workers`` processes on this machine."""
    if cluster or dask_workers:
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
    return ProcessPoolTaskRunner(max_workers=workers, initializer=content_audit.die_with_parent, initargs=(os.getpid(),))


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
    flow_ = aigc_content_audit.with_options(task_runner=task_runner(workers=workers))
    with api_for_workers():
        return flow_(run_id=run_id, database_url=database_url, actor=actor, cluster=cluster, dask_workers=dask_workers)
