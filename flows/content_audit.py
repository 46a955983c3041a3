"""``aigc_content_audit``: the content-safety audit of one planned run, as a Prefect flow.

Each task scans ONE chunk (thousands of records) from a small descriptor (file path,
byte range, first line): never a list of records as an argument. Writes are idempotent
(insert-or-ignore on the finding key, chunk marked done in the same transaction), so a
retried task, a re-run flow or a resumed run gives exactly the findings of a clean run.
The same service functions run in-process for ``ethics-review audit run`` (no server).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.settings import database
from review.services import content_audit

WAVE = 4  # chunks in flight at once (bounded memory; SQLite serializes the writes anyway)


@task(name="scan-audit-chunk", task_run_name="scan chunk {descriptor[seq]} of run {descriptor[run_id]}", retries=1,
      retry_delay_seconds=2, cache_policy=NO_CACHE)
def scan_audit_chunk(descriptor: dict, database_url: str) -> dict:
    """Scan and persist one chunk (a chunk already done is skipped)."""
    return content_audit.process_chunk(database(database_url), descriptor)


@task(name="draw-spot-check", cache_policy=NO_CACHE)
def draw_spot_check(run_id: int, database_url: str, actor: str | None = None) -> dict:
    run = content_audit.finish_run(database(database_url), run_id, actor=actor)
    return {"run": run.id, "status": run.status, "records": run.records, "findings": run.findings, "bad_records": run.bad_records,
            "flagged_records": run.flagged_records, "sample_size": run.sample_size, "seed": run.seed}


@flow(name="aigc-content-audit", flow_run_name="aigc-content-audit run {run_id}")
def aigc_content_audit(run_id: int, database_url: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Scan every pending chunk of run ``run_id``, then draw the spot-check sample."""
    db = database(database_url)
    pending = content_audit.chunk_descriptors(db, run_id)
    log = get_run_logger()
    log.info("run %s: %d chunk(s) to scan", run_id, len(pending))
    for lo in range(0, len(pending), WAVE):
        futures = [scan_audit_chunk.submit(d, db.url) for d in pending[lo:lo + WAVE]]
        for f in futures:
            f.result()
    summary = draw_spot_check(run_id, db.url, actor)
    log.info("run %s: %s records, %s findings, %s bad, sample %s", run_id, summary["records"], summary["findings"],
             summary["bad_records"], summary["sample_size"])
    return summary
