"""Use cases of AIGC content-safety audits: start a run, scan its chunks (idempotent,
resumable), draw the spot-check sample, label items, the verdict. One transaction each.

A run is planned up front (chunk descriptors: byte range + first line of the input file);
``process_chunk`` scans one chunk outside any transaction, then writes its findings and
bad records with INSERT ... ON CONFLICT DO NOTHING and marks the chunk done, in ONE
transaction: a killed run resumes at the first chunk not done, with no duplicate and no
missing finding. ``finish_run`` draws the stratified sample (seed stored on the run).
The TUI labelling screen calls ``list_runs``, ``get_run``, ``sample_items``,
``label_item`` and ``verdict``.
"""

from __future__ import annotations

import dataclasses

import gc

import hashlib
import os
import secrets
from bisect import bisect_left
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from policies.loader import load_pack
from review.domain import sampling
from review.domain.content import records_io as rio
from review.domain.content import sources
from review.errors import Conflict, InvalidInput, NotFound
from review.limits import RECORD_ENV, record_bytes
from review.hashing import stream_sha256
from review import plugins
from review.services import audit
from review.services.common import load_actor, parse_id
from review.services.tables import table_of
from review.store.db import Database, utcnow
from review.store.db import shared as shared_database
from review.store.models import Product
from review.store.models_content import (AuditChunk, AuditRun, BadInputRecord, ContentFinding, ScannerAnswer, SpotCheckItem,
                                         SpotCheckLabel)

DEFAULT_CHUNK_LINES = 10_000
VERDICTS = ("pass", "violation")
_FILTERS: dict[str, Any] = {}
_END = object()
F = TypeVar("F")


# ---- runs ------------------------------------------------------------------------------------
def start_run(db: Database, source: str | Path, *, product: str, actor: str, fmt: str | None = None,
              chunk_lines: int = DEFAULT_CHUNK_LINES, double_review: bool = False, engine: str = "inline",
              pack: str | None = None, seed: int | None = None, reaudit: int | None = None) -> AuditRun:
    """Plan a run over ``source`` (streaming: only chunk boundaries are kept). The run counts for the product's
    review and the pack's audit control (``audit_verdict``); ``reaudit``: the follow-up's request it serves."""
    path: str | Path = str(source) if sources.is_url(source) else Path(source)
    try:
        size = sources.size(path)
        if size is None:
            raise InvalidInput(f"{source}: no such file; give a JSONL or CSV file of records (id, product, prompt, output, modality, "
                               "metadata), as a path or a URL (file://, http(s)://; s3://, gs:// with s3fs, gcsfs)")
        fmt = rio.detect_format(path, fmt)
        columns = rio.csv_header(path) if fmt == "csv" else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if chunk_lines < 1:
        raise InvalidInput(f"--chunk {chunk_lines}: must be at least 1 (e.g. {DEFAULT_CHUNK_LINES})")
    with db.reading() as s:
        prod = _product(s, product)
        load_actor(s, actor)
    ref = pack or prod.policy_id
    lp = _checked_pack(ref)  # validated (library files included); compiled later, where the scanning happens
    plan = lp.content_policy.sampling
    digest = stream_sha256(sources.open_source(path))
    limit = record_bytes()
    with db.transaction() as s:
        from review.services.audit_verdict import link

        review_id, control_id = link(s, prod, lp.content_policy.audit_control)
        assert prod.id is not None  # a stored product
        run = AuditRun(product_id=prod.id, review_id=review_id, control_id=control_id, reaudit_id=reaudit,
                       source=str(path.resolve() if isinstance(path, Path) else path), fmt=fmt, source_bytes=size, pack_id=lp.id,
                       pack_version=lp.version, pack_hash=lp.content_hash, status="RUNNING", engine=engine,
                       seed=seed if seed is not None else (plan.seed if plan.seed is not None else secrets.randbits(31)),
                       double_review=double_review, started_by=actor, created_at=utcnow(),
                       settings={"pack_ref": str(ref), "chunk_lines": chunk_lines, "columns": columns, "product": prod.name,
                                 "sampling": plan.model_dump(mode="json"), "source_sha256": digest, "max_record_bytes": limit,
                                 "scanners": [{"use": u.use, **({"model": u.model, "url": u.url} if u.model else {})}
                                              for u in lp.content_policy.scanner_uses()]})
        s.add(run)
        s.flush()
        n = 0
        batch: list[dict] = []
        oversized: list[dict] = []
        for spec in rio.plan_chunks(path, fmt, chunk_lines, limit):
            if isinstance(spec, rio.Oversized):
                oversized.append({"run_id": run.id, "line": spec.line, "field": "(line)", "value": f"{spec.size} bytes",
                                  "message": f"{path}:{spec.line}: the record is {spec.size:,} bytes, over the {limit // 1024:,} KiB limit; "
                                             f"split it, or raise {RECORD_ENV}"})
                continue
            batch.append({"run_id": run.id, "seq": spec.seq, "byte_start": spec.byte_start, "byte_end": spec.byte_end,
                          "line_start": spec.line_start, "lines": spec.lines, "done": False, "records": 0, "bad": 0,
                          "flagged": 0, "findings": 0})
            n += 1
            if len(batch) >= 1000:
                s.execute(sa.insert(table_of(AuditChunk)), batch)
                batch = []
        if batch:
            s.execute(sa.insert(table_of(AuditChunk)), batch)
        if oversized:
            s.execute(sa.insert(table_of(BadInputRecord)), oversized)
        run.chunks_total = n
        audit.record(s, actor=actor, action="content_audit.start", entity="audit_run", entity_id=run.id,
                     after={"source": run.source, "product": prod.name, "chunks": n, "seed": run.seed, "pack_hash": lp.content_hash,
                            "review": review_id, "control": control_id, "reaudit": reaudit},
                     policy_version=f"{lp.id}@{lp.version}")
        s.add(run)
    return run


def check_source(run: AuditRun) -> None:
    """Refuse to go on scanning a run whose input file changed since it started (size, then SHA-256)."""
    want = (run.settings or {}).get("source_sha256")
    size = sources.size(run.source)
    if size is None:
        raise InvalidInput(f"{run.source}: the input of audit run {run.id} is gone; restore it to resume, or start a new run")
    if size != run.source_bytes or (want and stream_sha256(sources.open_source(run.source)) != want):
        raise InvalidInput(f"{run.source}: the input of audit run {run.id} changed since the run started ({run.source_bytes:,} bytes, "
                           f"sha256 {str(want)[:12]}...); restore the original file, or start a new run on the new one")


def _product(s: Session, name: str) -> Product:
    prod = s.exec(select(Product).where(Product.name == name)).first()
    if prod is None:
        raise NotFound(f"unknown product {name!r}; products are registered with `ethics-review submit PRODUCT.yaml`")
    return prod


def _checked_pack(ref: str):
    """Load a pack for an audit and validate its content library files and scanner list, without compiling the filter."""
    from policies.content_schema import load_content_library

    lp = load_pack(ref)
    if lp.content_policy is None:
        raise InvalidInput(f"pack {lp.id} has no content_safety section; an audit needs one (see policies/packs/default/content)")
    if lp.content_hash not in _FILTERS:
        load_content_library(lp.content_policy, lp.directory)  # bad library lines fail here, before any row is written
        _check_plugins(lp)
    return lp


def _check_plugins(lp) -> None:
    """Every scanner the pack lists resolves, and the plugins accept their options (an API key's variable is set)."""
    from policies.content_schema import LOCAL_SCANNERS
    from review.domain.content.scanners import ScannerConfigError, ScannerContext, build

    plugins.register()
    policy = lp.content_policy
    try:
        build(policy.scanner_uses(), ScannerContext(lp.version, policy.level_of, policy.categories), skip=LOCAL_SCANNERS)
    except ScannerConfigError as exc:
        raise InvalidInput(f"{lp.path}: {exc}") from None


def has_plugins(lp) -> bool:
    """Whether the pack runs a scanner besides the local built-ins (a model behind an endpoint, a plugin)."""
    from policies.content_schema import LOCAL_SCANNERS

    return any(u.use not in LOCAL_SCANNERS for u in lp.content_policy.scanner_uses())


def pack_filter(ref: str):
    """(LoadedPack, ContentFilter) for a pack reference, compiled once per content hash."""
    from policies.content_schema import load_content_library
    from review.domain.content.engine import ContentFilter
    from review.domain.content.scanners import ScannerConfigError

    plugins.register()
    lp = load_pack(ref)
    if lp.content_policy is None:
        raise InvalidInput(f"pack {lp.id} has no content_safety section; an audit needs one (see policies/packs/default/content)")
    filt = _FILTERS.get(lp.content_hash)
    if filt is None:
        lib = load_content_library(lp.content_policy, lp.directory)
        try:
            filt = _FILTERS[lp.content_hash] = ContentFilter.from_policy(lp.content_policy, lib, lp.version, lp.content_hash)
        except ScannerConfigError as exc:
            raise InvalidInput(f"{lp.path}: {exc}") from None
        # The compiled filter (tens of thousands of terms, tables) lives as long as the
        # process: keep it out of the cyclic GC's full collections, which otherwise walk
        # it again and again during a run (measured: 30 ms pauses every few chunks).
        gc.freeze()
    return lp, filt


def evaluate_classifier(pack: str, *, cv: bool = False) -> dict[str, Any]:
    """Recall and false-positive rate of a pack's offline classifier at the pack's threshold
    (``eval_classifier.at_threshold``); ``cv`` recomputes the grouped cross-validation from the seed set."""
    from policies.content_schema import load_content_library
    from review.domain.content.eval_classifier import at_threshold

    lp = load_pack(pack)
    policy = lp.content_policy
    if policy is None or policy.classifier is None or not policy.classifier.enabled:
        raise InvalidInput(f"pack {lp.id} has no enabled classifier (content_safety.classifier: {{enabled: true, weights: ...}})")
    lib = load_content_library(policy, lp.directory)
    assert lib.classifier_weights is not None  # an enabled classifier's weights load or fail above
    seed = None
    if cv:
        seed = lp.directory / Path(policy.classifier.weights).with_name("classifier_seed.jsonl")
        if not seed.is_file():
            raise InvalidInput(f"{seed}: no seed set beside the classifier weights to cross-validate on; drop --cv to use the stored figures")
    return {"pack": lp.id, "version": lp.version, **at_threshold(lib.classifier_weights, policy.classifier.threshold, seed_file=seed)}


class AnswerCache:
    """Remote scanners' answers in the database (``ScannerAnswer``), by text hash: what one run
    paid for, a resumed or repeated run reads back. Each write is its own small transaction,
    kept even when the chunk that asked fails (the endpoint answered; the answer stands)."""

    def __init__(self, db: Database):
        self.db = db

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with self.db.reading() as s:
            for k in range(0, len(keys), 500):
                out.update(s.execute(sa.select(col(ScannerAnswer.key), col(ScannerAnswer.answer))
                                     .where(col(ScannerAnswer.key).in_(keys[k:k + 500]))).tuples().all())
        return out

    def put_many(self, scanner: str, items: Mapping[str, Any]) -> None:
        now = utcnow()
        with self.db.transaction() as s:
            insert_ignore(s, table_of(ScannerAnswer), [{"key": k, "scanner": scanner, "answer": a, "created_at": now}
                                                         for k, a in items.items()])


def run_filter(run: AuditRun):
    lp, filt = pack_filter(run.settings["pack_ref"])
    if lp.content_hash != run.pack_hash:
        raise Conflict(f"pack {lp.id} changed since run {run.id} started (#{run.pack_hash[:12]} -> #{lp.content_hash[:12]}); "
                       "start a new run to audit with the new pack")
    return filt


def get_run_row(db: Database, run_id: Any) -> AuditRun:
    with db.reading() as s:
        return load_run(s, run_id)


def load_run(s: Session, run_id: Any) -> AuditRun:
    rid = parse_id(run_id, "run id", hint="; `ethics-review audit list` shows the runs")
    run = s.get(AuditRun, rid)
    if run is None:
        raise NotFound(f"audit run {rid} does not exist; `ethics-review audit list` shows the runs")
    return run


def chunk_descriptors(db: Database, run_id: int, *, pending_only: bool = True) -> list[dict]:
    """Small descriptors (file path, byte range, first line) of the chunks still to scan."""
    with db.reading() as s:
        run = load_run(s, run_id)
        q = select(AuditChunk).where(AuditChunk.run_id == run.id)
        if pending_only:
            q = q.where(AuditChunk.done == sa.false())
        chunks = s.exec(q.order_by(col(AuditChunk.seq))).all()
    return [{"run_id": run.id, "seq": c.seq, "path": run.source, "fmt": run.fmt, "byte_start": c.byte_start,
             "byte_end": c.byte_end, "line_start": c.line_start, "lines": c.lines} for c in chunks]


def scan_descriptor(desc: dict, filt, product: str, columns: list[str] | None) -> rio.ChunkResult:
    """The pure, CPU-bound part of a chunk (no database): read, validate, filter."""
    spec = rio.ChunkSpec(desc["seq"], desc["byte_start"], desc["byte_end"], desc["line_start"], desc["lines"])
    if sources.size(desc["path"]) is None:
        raise InvalidInput(f"{desc['path']}: the run's input file is gone; restore it to resume run {desc['run_id']}")
    return rio.scan_chunk(filt, desc["path"], desc["fmt"], spec, product, columns)


def process_chunk(db: Database, desc: dict) -> dict:
    """Scan one chunk and persist it (skips a chunk already done). Returns its counts."""
    run = get_run_row(db, desc["run_id"])
    assert run.id is not None  # a loaded run
    with db.reading() as s:
        chunk = s.get(AuditChunk, (run.id, desc["seq"]))
        if chunk is None:
            raise NotFound(f"run {run.id} has no chunk {desc['seq']}")
        if chunk.done:
            return {"seq": chunk.seq, "skipped": True, "records": chunk.records, "findings": chunk.findings, "bad": chunk.bad}
    from review.domain.content.scanners import RESULT_CACHE

    token = RESULT_CACHE.set(AnswerCache(db))
    try:
        result = scan_descriptor(desc, run_filter(run), run.settings["product"], run.settings.get("columns"))
    finally:
        RESULT_CACHE.reset(token)
    return persist_chunk(db, run.id, result)


def insert_ignore(s: Session, table: sa.Table, rows: list[dict]) -> None:
    if not rows:
        return
    stmt: sa.Insert
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing()
    s.execute(stmt, rows)


#: the columns of a finding row, in COPY order; ``_FINDING_KEY``: its unique key within a run (uq_content_finding_key)
_FINDING_COLUMNS = ("run_id", "record_id", "line", "field", "scanner", "span_start", "span_end", "category", "subcode", "severity",
                    "level", "matched", "rule_id", "score", "scanner_version")


def _finding_rows(run_id: int, findings: list) -> list[tuple]:
    """One chunk's findings as rows, the first of any with the same unique key (what ON CONFLICT DO NOTHING kept)."""
    seen: set[tuple] = set()
    out = []
    for line, f in findings:
        key = (f.record_id, f.field, f.scanner, f.start, f.end, f.category)
        if key in seen:
            continue
        seen.add(key)
        out.append((run_id, f.record_id, line, f.field, f.scanner, f.start, f.end, f.category, f.subcode, f.severity, f.level,
                    f.matched, f.rule_id, f.score, f.scanner_version or None))
    return out


def persist_chunk(db: Database, run_id: int, res: rio.ChunkResult) -> dict:
    """Write one chunk's findings and bad records and mark it done, in one transaction; on PostgreSQL a chunk already
    done (another worker, a retried task) is left as it is. On PostgreSQL the findings go in by COPY under a lock on the chunk's row
    (3-4x faster than a batched INSERT, and an eighth of its client CPU); elsewhere by INSERT ... ON CONFLICT DO NOTHING."""
    rows = _finding_rows(run_id, res.findings)
    bad = [{"run_id": run_id, "line": b.line, "field": b.field, "value": b.value, "message": b.message} for b in res.bad]
    out = {"seq": res.seq, "skipped": False, "records": res.records, "findings": len(rows), "bad": len(bad), "not_examined": res.not_examined}
    with db.transaction() as s:
        where = (col(AuditChunk.run_id) == run_id, col(AuditChunk.seq) == res.seq)
        if s.get_bind().dialect.name == "postgresql":
            chunk = s.execute(sa.select(col(AuditChunk.done), col(AuditChunk.line_start), col(AuditChunk.lines)).where(*where)
                              .with_for_update()).one_or_none()
            if chunk is None or chunk.done:
                return {**out, "skipped": True}
            # rows of this chunk from outside this code path (none, unless written by hand) would break COPY on the
            # unique key: the chunk's result replaces them
            s.execute(sa.delete(ContentFinding).where(col(ContentFinding.run_id) == run_id, col(ContentFinding.line) >= chunk.line_start,
                                                      col(ContentFinding.line) < chunk.line_start + chunk.lines))
            raw = s.connection().connection.driver_connection
            assert raw is not None  # a live psycopg connection
            cur = raw.cursor()
            with cur, cur.copy(f"COPY content_finding ({', '.join(_FINDING_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            insert_ignore(s, table_of(ContentFinding), [dict(zip(_FINDING_COLUMNS, r, strict=True)) for r in rows])
        insert_ignore(s, table_of(BadInputRecord), bad)
        s.execute(sa.update(AuditChunk).where(*where).values(
            done=True, records=res.records, bad=len(bad), flagged=res.flagged_lines, findings=len(rows), finished_at=utcnow(), keys=res.keys,
            not_examined=res.not_examined))
    return out


def run_inline(db: Database, run_id: int, *, progress: Callable[[dict], None] | None = None, actor: str | None = None,
               stop_after: int | None = None, workers: int = 1) -> AuditRun:
    """Scan every pending chunk (no Prefect), then draw the sample.

    ``workers`` > 1 scans chunks in that many processes while this one persists each result
    as it arrives (one transaction per chunk, idempotent, so an interruption resumes as
    before). ``stop_after``: scan that many chunks and return (simulates an interruption).
    """
    descs = chunk_descriptors(db, run_id)
    run = get_run_row(db, run_id)
    if descs and len(descs) < run.chunks_total:  # a resume: the chunks already done came from the file as it was
        check_source(run)
    # A pack with a plugin scans in this process: a remote scanner brings its own concurrency, and
    # worker processes would each open connections and multiply its rate limit.
    if workers > 1 and len(descs) > 1 and stop_after is None and not has_plugins(load_pack(run.settings["pack_ref"])):
        _scan_in_pool(db, run_id, descs, workers, progress)
        return finish_run(db, run_id, actor=actor)
    for k, desc in enumerate(descs):
        if stop_after is not None and k >= stop_after:
            return get_run_row(db, run_id)
        out = process_chunk(db, desc)
        if progress:
            progress(out)
    return finish_run(db, run_id, actor=actor)


_FROZEN = False


def freeze_once() -> None:
    """In a process that scans chunks (a pool or Dask worker), once its filter is compiled: the garbage collector
    stops traversing what exists by then (the compiled filter, the imported modules): a few percent off a chunk's
    scan on a Dask worker, in one before/after pair. Objects freed by reference counting still go; only cycles that were garbage at this moment stay,
    once per process."""
    global _FROZEN
    if not _FROZEN:
        import gc

        gc.freeze()
        _FROZEN = True


def _pool_scan(desc: dict, product: str, columns: list[str] | None, pack_ref: str, pack_hash: str) -> rio.ChunkResult:
    """One chunk in a worker process; the filter is compiled on the worker's first chunk (cached)."""
    lp, filt = pack_filter(pack_ref)
    freeze_once()
    if lp.content_hash != pack_hash:
        raise Conflict(f"pack {lp.id} changed while run was scanning; start a new run")
    return scan_descriptor(desc, filt, product, columns)


def die_with_parent(parent: int) -> None:
    """In a scanning worker: exit when the process that started it dies (even by ``kill -9``), never linger."""
    import signal
    import threading
    import time

    try:  # Linux: the kernel sends SIGKILL when the parent goes
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere: poll
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class ScanPool(ProcessPoolExecutor):
    """A process pool whose shutdown, once a process died (the pool is broken), kills the processes still alive.

    CPython 3.11 races there: a submission in progress while the pool breaks may spawn a process after the pool's
    manager thread has terminated the others; that process waits for work forever, the manager thread waits for it, and
    so does this interpreter's exit (a process killed by the kernel's OOM killer would hang ``audit run``). Shutdown
    takes the pool's lock, so no submission is in progress once it returns: every process there will be is listed."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        # the executor's own state (CPython 3.11-3.13): shutdown() clears these attributes, not the dict or the thread
        broken, procs = getattr(self, "_broken", False), getattr(self, "_processes", None)
        manager = getattr(self, "_executor_manager_thread", None)
        super().shutdown(wait=wait and not broken, cancel_futures=cancel_futures)
        if broken and procs:
            for p in list(procs.values()):
                if p.is_alive():
                    p.kill()
            if wait and manager is not None:
                manager.join()


def scan_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes that scan chunks: spawned (no inherited engines, locks or threads), so each imports only
    this module and what a scan needs (not Prefect), and each exits when this process dies. Processes start on the
    first submissions, not here."""
    import multiprocessing

    return ScanPool(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                    initargs=(os.getpid(),))


def warm_worker(pack_ref: str) -> None:
    """In a pool process, before its first chunk: the pack's filter loaded (compiled, or from the compiled cache)."""
    pack_filter(pack_ref)
    freeze_once()


def pool_process_chunk(database_url: str, desc: dict) -> dict:
    """:func:`process_chunk` in a pool process (one database handle per URL per process)."""
    out = process_chunk(shared_database(database_url), desc)
    freeze_once()
    return out


def _scan_in_pool(db: Database, run_id: int, descs: list[dict], workers: int, progress: Callable[[dict], None] | None) -> None:
    from concurrent.futures import Future, as_completed

    run = get_run_row(db, run_id)
    # Fail fast without compiling the filter here (each worker compiles its own).
    lp = _checked_pack(run.settings["pack_ref"])
    if lp.content_hash != run.pack_hash:
        raise Conflict(f"pack {lp.id} changed since run {run.id} started (#{run.pack_hash[:12]} -> #{lp.content_hash[:12]}); "
                       "start a new run to audit with the new pack")
    n = min(workers, len(descs))
    with scan_pool(n) as pool:
        def submit(d: dict) -> Future:
            return pool.submit(_pool_scan, d, run.settings["product"], run.settings.get("columns"), run.settings["pack_ref"], run.pack_hash)

        for fut in in_flight(descs, submit, 2 * n, as_completed):
            out = persist_chunk(db, run_id, fut.result())
            if progress:
                progress(out)


def in_flight(items: Iterable[Any], submit: Callable[[Any], F], limit: int,
              as_completed: Callable[[list[F]], Iterator[F]]) -> Iterator[F]:
    """Submit ``items`` with at most ``limit`` in flight and yield each future as it completes (no barrier:
    a slow chunk holds one slot, not a wave). ``as_completed``: the futures' own (concurrent.futures, Prefect)."""
    items = iter(items)
    pending = [submit(x) for x in islice(items, max(1, limit))]
    while pending:
        done = next(as_completed(pending))
        pending.remove(done)
        yield done
        nxt = next(items, _END)
        if nxt is not _END:
            pending.append(submit(nxt))


def chunk_groups(descs: list[dict], slots: int, *, most: int = 4) -> list[list[dict]]:
    """The pending chunks in consecutive groups, one task each on a cluster, where a task run costs about 0.2 s of CPU
    beside its chunks (the flow's context and Prefect settings serialized for it, rebuilt on the worker): at least two
    groups a slot where there are chunks enough (every slot gets work; a slow slot holds back one group, not a share
    of the run), at most ``most`` chunks a group, the number of groups a multiple of ``slots`` where the chunks allow,
    the sizes differing by at most one, larger first."""
    n = len(descs)
    if not n:
        return []
    k = max(min(n, 2 * slots), -(-n // max(1, most)))
    if k % slots:
        k = min(n, k + slots - k % slots)
    base, extra = divmod(n, k)
    groups, at = [], 0
    for g in range(k):
        size = base + (g < extra)
        groups.append(descs[at:at + size])
        at += size
    return groups


def require_shared_database(db: Database, what: str) -> None:
    """A run spread over other processes or machines writes from each of them: refuse a SQLite file."""
    if db.is_sqlite:
        raise InvalidInput(f"{what}: the workers write the findings to the database themselves, so it must be shared; "
                           f"{db.url} is a SQLite file. Use PostgreSQL (--database postgresql+psycopg://USER@HOST/DB), "
                           "or drop the option to scan on this machine")


# ---- sample ----------------------------------------------------------------------------------
def _primary_categories(s: Session, run_id: int) -> dict[int, str]:
    """line -> category of the record's most severe finding (ties: alphabetical). Read through the driver's cursor
    (a million records' findings: a third of a second, against a second through ORM rows)."""
    best: dict[int, tuple[int, str]] = {}
    get = best.get
    cur = s.connection().exec_driver_sql(
        "SELECT line, category, severity FROM content_finding WHERE run_id = %d" % int(run_id))
    for line, cat, sev in cur.cursor.fetchall():
        b = get(line)
        if b is None or sev > b[0] or (sev == b[0] and cat < b[1]):
            best[line] = (sev, cat)
    return {line: cat for line, (_sev, cat) in best.items()}


def _categories_of(db: Database, run_id: int, lines: Iterable[int]) -> dict[int, set[str]]:
    """line -> every category found, for ``lines`` (the drawn sample) only."""
    out: dict[int, set[str]] = {}
    todo = sorted(lines)
    with db.reading() as s:
        for k in range(0, len(todo), 500):
            part = todo[k:k + 500]
            for line, cat in s.execute(sa.select(col(ContentFinding.line), col(ContentFinding.category))
                                       .where(col(ContentFinding.run_id) == run_id, col(ContentFinding.line).in_(part))):
                out.setdefault(line, set()).add(cat)
    return out


def dedupe_across_chunks(db: Database, run_id: int) -> int:
    """A record id repeated in two chunks is a bad record at every line but its first, exactly as within
    one chunk: the result does not depend on --chunk. Idempotent; returns the lines marked bad now."""
    with db.reading() as s:
        run = load_run(s, run_id)
        chunks = {c.seq: c for c in s.exec(select(AuditChunk).where(AuditChunk.run_id == run.id))}
    from array import array

    # the id hashes in more than one chunk, by set operations in C (a million records: 0.1 s, not 1.5 s of dict
    # building); then (line, chunk) of those hashes only, from the chunks that hold one
    keys_of: dict[int, set[int]] = {}
    seen: set[int] = set()
    repeated: set[int] = set()
    for seq in sorted(chunks):
        a = array("Q")
        a.frombytes(chunks[seq].keys or b"")
        mine = set(a[0::2])
        repeated |= mine & seen
        seen |= mine
        keys_of[seq] = mine
    del seen
    if not repeated:
        return 0
    where: dict[int, list[tuple[int, int]]] = {}  # id hash -> [(line, chunk seq)]
    for seq, mine in keys_of.items():
        if mine.isdisjoint(repeated):
            continue
        for key, line in rio.unpack_keys(chunks[seq].keys):
            if key in repeated:
                where.setdefault(key, []).append((line, seq))
    suspects = {k: sorted(v) for k, v in where.items()}
    by_seq: dict[int, set[int]] = {}
    for v in suspects.values():
        for line, seq in v:
            by_seq.setdefault(seq, set()).add(line)
    ids: dict[int, str] = {}
    for seq, lines in by_seq.items():
        c = chunks[seq]
        spec = rio.ChunkSpec(c.seq, c.byte_start, c.byte_end, c.line_start, c.lines)
        ids.update({line: r.id for line, r in rio.records_at(run.source, run.fmt, spec, lines, None, run.settings.get("columns")).items()})
    marked = 0
    with db.transaction() as s:
        for v in suspects.values():
            first: dict[str, int] = {}
            for line, seq in v:
                rid = ids.get(line)
                if rid is None:
                    continue
                if rid not in first:
                    first[rid] = line
                    continue
                n_found = s.exec(sa.delete(ContentFinding).where(col(ContentFinding.run_id) == run.id,
                                                                 col(ContentFinding.line) == line)).rowcount
                bad = rio.BadRecord(line, "id", repr(rid)[:60], f"{run.source}:{line}: field 'id': value {rid!r} repeats the id of line "
                                                             f"{first[rid]}; give every record a unique id")
                insert_ignore(s, table_of(BadInputRecord), [{"run_id": run.id, "line": bad.line, "field": bad.field, "value": bad.value,
                                                              "message": bad.message}])
                chunk = s.get(AuditChunk, (run.id, seq))
                assert chunk is not None  # one of the run's chunks, read above
                chunk.records, chunk.bad, chunk.findings = chunk.records - 1, chunk.bad + 1, chunk.findings - max(0, n_found or 0)
                chunk.flagged = chunk.flagged - (1 if n_found else 0)
                chunk.keys = _without_line(chunk.keys, line)  # found once: a second finish does not count it again
                s.add(chunk)
                marked += 1
    return marked


def _without_line(blob: bytes | None, line: int) -> bytes:
    from array import array

    a = array("Q")
    for key, ln in rio.unpack_keys(blob):
        if ln != line:
            a.extend((key, ln))
    return a.tobytes()


def finish_run(db: Database, run_id: int, *, actor: str | None = None) -> AuditRun:
    """Totals, then the stratified spot-check sample (seeded; idempotent: done once)."""
    with db.reading() as s:
        run = load_run(s, run_id)
        if run.status == "SCANNED":
            return run
    dedupe_across_chunks(db, run_id)
    with db.reading() as s:
        run = load_run(s, run_id)
        if run.status == "SCANNED":
            return run
        chunks = s.exec(select(AuditChunk).where(AuditChunk.run_id == run.id).order_by(col(AuditChunk.seq))).all()
        pending = [c.seq for c in chunks if not c.done]
        if pending:
            raise Conflict(f"run {run.id} has {len(pending)} chunk(s) not scanned yet; `ethics-review audit resume {run.id}` finishes them")
        assert run.id is not None  # a loaded run
        primary = _primary_categories(s, run.id)
        bad_lines = set(s.execute(sa.select(col(BadInputRecord.line)).where(col(BadInputRecord.run_id) == run.id)).scalars())
    plan = sampling_plan(run)
    by = set(plan["stratify_by"])
    records = sum(c.records for c in chunks)
    if records == 0:
        return _no_records(db, run_id, len(bad_lines), actor)
    # an image, audio or video record with no text the pack names was not examined: it is never drawn as a clean
    # (or any unflagged) record, where a reviewer's pass would read as the filter's
    unexamined = _unexamined_lines(run, chunks, bad_lines) - set(primary)
    explicit: dict[str, list[int]] = {}
    if by:
        for line in sorted(primary):
            key = f"flagged:{primary[line]}" if "category" in by else "flagged"
            explicit.setdefault(key, []).append(line)
    implicit = "clean" if by else "all"
    sizes = {k: len(v) for k, v in explicit.items()}  # stratum -> size
    sizes[implicit] = records - (len(primary) if by else 0) - len(unexamined)
    total = sampling.sample_size(records - len(unexamined), min_sample=plan["min_sample"], confidence=plan["confidence"],
                                 margin=plan["margin"])
    drawn = sampling.draw_positions(sizes, total, seed=run.seed, min_per_stratum=plan["min_per_stratum"])
    wanted: dict[int, str] = {}
    for stratum, positions in drawn.ids.items():
        if stratum != implicit:
            wanted.update({explicit[stratum][p]: stratum for p in positions})
    flagged_lines = set(primary) if by else set()
    wanted.update(_implicit_lines(run, chunks, drawn.ids.get(implicit, []), bad_lines, flagged_lines | unexamined, implicit))
    items = _load_items(run, chunks, wanted, _categories_of(db, run_id, (x for x in wanted if x in primary)))
    with db.transaction() as s:
        run = load_run(s, run_id)
        if run.status == "SCANNED":
            return run
        insert_ignore(s, table_of(SpotCheckItem), items)
        run.status, run.finished_at = "SCANNED", utcnow()
        run.records, run.bad_records, run.flagged_records = records, len(bad_lines), len(primary)
        run.not_examined = sum(c.not_examined for c in chunks)
        run.findings, run.sample_size = sum(c.findings for c in chunks), len(items)
        run.settings = {**run.settings, "allocation": drawn.allocation}
        s.add(run)
        audit.record(s, actor=actor or run.started_by, action="content_audit.scanned", entity="audit_run", entity_id=run.id,
                     after={"records": records, "bad": run.bad_records, "flagged": len(primary), "findings": run.findings,
                            "not_examined": run.not_examined, "sample": len(items), "seed": run.seed}, policy_version=f"{run.pack_id}@{run.pack_version}")
    return run


def _no_records(db: Database, run_id: int, bad: int, actor: str | None) -> AuditRun:
    """Every record was rejected (or the file held none): nothing to sample, no verdict can come; the run FAILED."""
    with db.transaction() as s:
        run = load_run(s, run_id)
        if run.status != "RUNNING":
            return run
        run.status, run.finished_at, run.records, run.bad_records = "FAILED", utcnow(), 0, bad
        s.add(run)
        audit.record(s, actor=actor or run.started_by, action="content_audit.failed", entity="audit_run", entity_id=run.id,
                     after={"records": 0, "bad": bad, "reason": "no valid record"}, policy_version=f"{run.pack_id}@{run.pack_version}")
    return run


def sampling_plan(run: AuditRun) -> dict:
    return run.settings["sampling"]


def _spec(c: AuditChunk) -> rio.ChunkSpec:
    return rio.ChunkSpec(c.seq, c.byte_start, c.byte_end, c.line_start, c.lines)


def _unexamined_lines(run: AuditRun, chunks, bad: set[int]) -> set[int]:
    """The lines of the records the filter could not examine (``ContentFilter.examined``), read back from the chunks
    that counted any (a text-only audit reads nothing here)."""
    chunks = [c for c in chunks if c.not_examined]
    if not chunks:
        return set()
    filt = run_filter(run)
    out: set[int] = set()
    for c in chunks:
        for line, item in rio.read_chunk(run.source, run.fmt, _spec(c), run.settings["product"], run.settings.get("columns")):
            if line not in bad and not isinstance(item, rio.BadRecord) and not filt.examined(item):
                out.add(line)
    return out


def _implicit_lines(run, chunks, positions: list[int], bad: set[int], flagged: set[int], stratum: str) -> dict[int, str]:
    """Map positions in the implicit stratum (input order) to line numbers, reading only
    the chunks that hold a drawn position. ``flagged``: the lines outside the stratum besides the bad ones."""
    out: dict[int, str] = {}
    pos = iter(positions)
    nxt = next(pos, None)
    base = 0
    order = sorted(flagged)
    outside = sorted(bad | flagged)
    for c in chunks:
        if nxt is None:
            break
        span = range(c.line_start, c.line_start + c.lines)
        members = c.records - (bisect_left(order, span.stop) - bisect_left(order, span.start))
        if nxt >= base + members:
            base += members
            continue
        skip = set(outside[bisect_left(outside, span.start):bisect_left(outside, span.stop)])
        lines = rio.member_lines(run.source, run.fmt, _spec(c), skip, run.settings.get("columns"))
        while nxt is not None and nxt < base + len(lines):
            out[lines[nxt - base]] = stratum
            nxt = next(pos, None)
        base += len(lines)
    return out


def _load_items(run: AuditRun, chunks, wanted: dict[int, str], cats: dict[int, set[str]]) -> list[dict]:
    items: list[dict] = []
    for c in chunks:
        lines = {x for x in wanted if c.line_start <= x < c.line_start + c.lines}
        if not lines:
            continue
        recs = rio.records_at(run.source, run.fmt, _spec(c), lines, run.settings["product"], run.settings.get("columns"))
        for line, r in recs.items():
            items.append({"run_id": run.id, "stratum": wanted[line], "record_id": r.id, "line": line, "flagged": line in cats,
                          "categories": ",".join(sorted(cats.get(line, ())))[:400], "prompt": r.prompt, "output": r.output, "modality": r.modality, "meta": r.metadata})
    # A blind order: shuffled by a seeded hash, so flagged items do not come first.
    items.sort(key=lambda it: hashlib.sha256(f"{run.seed}|{it['record_id']}".encode()).digest())
    for k, it in enumerate(items, 1):
        it["seq"] = k
    return items


# ---- reading ---------------------------------------------------------------------------------
@dataclass
class RunDetail:
    run: AuditRun
    product: str
    chunks_done: int
    by_category: list[tuple[str, int, int, int]]  # category, severity, findings, records
    bad: list[BadInputRecord]


def list_runs(db: Database, *, product: str | None = None, limit: int = 50) -> list[tuple[AuditRun, str]]:
    with db.reading() as s:
        q = select(AuditRun, Product.name).join(Product, col(Product.id) == col(AuditRun.product_id))
        if product:
            q = q.where(Product.name == product)
        return [(r, n) for r, n in s.exec(q.order_by(col(AuditRun.id).desc()).limit(limit)).all()]


def get_run(db: Database, run_id: Any, *, bad_limit: int = 50) -> RunDetail:
    with db.reading() as s:
        run = load_run(s, run_id)
        prod = s.get(Product, run.product_id)
        done = s.execute(sa.select(sa.func.count()).select_from(AuditChunk).where(col(AuditChunk.run_id) == run.id,
                                                                                  col(AuditChunk.done) == sa.true())).scalar_one()
        f = ContentFinding
        rows = s.execute(sa.select(col(f.category), col(f.severity), sa.func.count(), sa.func.count(sa.distinct(col(f.line))))
                         .where(col(f.run_id) == run.id).group_by(col(f.category), col(f.severity))
                         .order_by(col(f.category), col(f.severity))).all()
        bad = s.exec(select(BadInputRecord).where(BadInputRecord.run_id == run.id).order_by(col(BadInputRecord.line))
                     .limit(bad_limit)).all()
    return RunDetail(run, prod.name if prod else "?", done, [tuple(r) for r in rows], list(bad))


def run_progress(db: Database, run_id: Any) -> dict[str, Any]:
    """How far a run is: ``{run, status, chunks_total, chunks_done, lines_total, lines_done, findings}``."""
    with db.reading() as s:
        run = load_run(s, run_id)
        c = AuditChunk
        total, done_lines, lines, chunks_done, found = s.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((col(c.done) == sa.true(), col(c.lines)), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(col(c.lines)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((col(c.done) == sa.true(), 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(col(c.findings)), 0)).where(col(c.run_id) == run.id)).one()
    return {"run": run.id, "status": run.status, "chunks_total": int(total), "chunks_done": int(chunks_done),
            "lines_total": int(lines), "lines_done": int(done_lines), "findings": int(found)}


@dataclass(frozen=True)
class Span:
    field: str
    start: int
    end: int
    category: str
    severity: int
    scanner: str
    matched: str


@dataclass
class ItemView:
    seq: int
    record_id: str
    line: int
    flagged: bool
    categories: list[str]
    prompt: str
    output: str
    modality: str
    metadata: dict
    spans: list[Span]
    my_label: SpotCheckLabel | None = None
    other_labels: list[SpotCheckLabel] = field(default_factory=list)  # empty when blind
    stratum: str | None = None  # hidden when blind

    def field_text(self, name: str) -> str:
        """The text the filter scanned for ``name`` (prompt, output or metadata): spans index it."""
        from review.domain.content.taxonomy import metadata_text

        if name == "prompt":
            return self.prompt or ""
        if name == "output":
            return self.output or ""
        return metadata_text(self.metadata or {})


def pack_categories(pack_ref: str) -> list[tuple[str, str, int]]:
    """(code, title, default severity) of a pack's content categories, in pack order (what labels may name)."""
    from policies.loader import load_pack

    policy = load_pack(pack_ref).content_policy
    return [(c.code, c.title, c.default_severity) for c in policy.categories] if policy else []


def sample_items(db: Database, run_id: Any, reviewer: str, *, blind: bool = True, unlabelled_only: bool = False,
                 offset: int = 0, limit: int | None = None, log_read: bool = True, mask: bool | None = None) -> list[ItemView]:
    """The run's spot-check items for ``reviewer``: prompt/output, the filter's spans, the
    reviewer's own label; blind hides other reviewers' labels and the stratum."""
    from review.domain.masking import mask_identifiers, may_see_personal_data

    with db.reading() as s:
        run = load_run(s, run_id)
        who = load_actor(s, reviewer)
        q = select(SpotCheckItem).where(SpotCheckItem.run_id == run.id).order_by(col(SpotCheckItem.seq)).offset(offset)
        items = s.exec(q.limit(limit) if limit else q).all()
        seqs = [i.seq for i in items]
        labels: dict[int, list[SpotCheckLabel]] = {}
        if seqs:
            for lab in s.exec(select(SpotCheckLabel).where(SpotCheckLabel.run_id == run.id, col(SpotCheckLabel.seq).in_(seqs))).all():
                labels.setdefault(lab.seq, []).append(lab)
        spans: dict[str, list[Span]] = {}
        ids = [i.record_id for i in items if i.flagged]
        for k in range(0, len(ids), 500):
            for f in s.exec(select(ContentFinding).where(ContentFinding.run_id == run.id, col(ContentFinding.record_id).in_(ids[k:k + 500]))
                            .order_by(col(ContentFinding.field), col(ContentFinding.span_start))).all():
                spans.setdefault(f.record_id, []).append(Span(f.field, f.span_start, f.span_end, f.category, f.severity, f.scanner, f.matched))
    hide = (not may_see_personal_data(who.roles)) if mask is None else mask
    out = []
    for it in items:
        mine = next((lab for lab in labels.get(it.seq, []) if lab.reviewer == reviewer), None)
        if unlabelled_only and mine is not None:
            continue
        others = [] if blind else [lab for lab in labels.get(it.seq, []) if lab.reviewer != reviewer]
        prompt, output, meta = it.prompt, it.output, it.meta
        if hide:  # identifiers masked, same length: the spans still line up
            prompt, output = mask_identifiers(prompt), mask_identifiers(output)
            meta = {k: mask_identifiers(v) if isinstance(v, str) else v for k, v in (meta or {}).items()}
        found = spans.get(it.record_id, [])
        if hide:  # a matched e-mail or phone number is an identifier too
            found = [dataclasses.replace(sp, matched=mask_identifiers(sp.matched)) for sp in found]
        out.append(ItemView(it.seq, it.record_id, it.line, it.flagged, [c for c in it.categories.split(",") if c], prompt, output,
                            it.modality, meta, found, mine, others, None if blind else it.stratum))
    if log_read and out:
        audit.personal_read(db, actor=who.username, what="audit-records", entity="audit_run", entity_id=run.id,
                            detail={"items": [out[0].seq, out[-1].seq], "count": len(out), "masked": hide})
    return out


# ---- labelling and verdict live in content_report (kept importable from here) ----------------
