"""Audit runs on SQLite and PostgreSQL: findings, resume, idempotency, bad records, sampling."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from review.services import content_audit as ca
from review.store.models_content import AuditChunk, BadInputRecord, ContentFinding, SpotCheckItem
from tests.content_audit.conftest import PRODUCT, finding_rows, write_corpus

REVIEWER = "amara.okafor"


def _run(db, path, **kw):
    run = ca.start_run(db, path, product=PRODUCT, actor=REVIEWER, chunk_lines=kw.pop("chunk_lines", 100), seed=kw.pop("seed", 42), **kw)
    return run


def test_inline_run_findings_bad_records_and_sample(audit_db, tmp_path):
    path = write_corpus(tmp_path / "in.jsonl", 400, bad={5: "{not json", 17: '{"id": "x", "modality": "pdf"}',
                                                      30: '{"prompt": "no id"}', 31: "   "})
    run = _run(audit_db, path)
    assert run.chunks_total == 5  # 404 lines / 100
    done = ca.run_inline(audit_db, run.id)
    assert done.status == "SCANNED"
    assert done.records == 400 and done.bad_records == 3
    d = ca.get_run(audit_db, run.id)
    lines = [b.line for b in d.bad]
    assert lines == [5, 17, 30]
    assert d.bad[0].message.startswith(f"{path}:5: field '(line)'") and "not valid JSON" in d.bad[0].message
    assert "modality" in d.bad[1].message and "'pdf'" in d.bad[1].message
    rows = finding_rows(audit_db, run.id)
    flagged = {r[0] for r in rows}
    # every harmful record (every 10th) is found; benign ones are not
    assert {f"r{k:05d}" for k in range(0, 400, 10)} <= flagged
    assert all(int(r[1:]) % 10 == 0 or int(r[1:]) % 97 == 5 or int(r[1:]) % 89 == 7 for r in flagged), sorted(flagged)[:20]
    assert done.flagged_records == len(flagged)
    assert done.findings == len(rows)
    # sample: population 400 < min_sample 1000, so everything valid is sampled, stratified
    assert done.sample_size == 400
    with audit_db.reading() as s:
        items = s.exec(sa.select(SpotCheckItem.stratum, SpotCheckItem.record_id, SpotCheckItem.flagged)
                       .where(SpotCheckItem.run_id == run.id)).all()
    assert {r for _, r, f in items if f} == flagged
    assert all(st.startswith("flagged:") == f for st, _, f in items)
    assert any(st == "clean" for st, _, _ in items)


def test_resume_after_interruption_equals_clean_run(audit_db, tmp_path):
    path = write_corpus(tmp_path / "in.jsonl", 450)
    clean = ca.run_inline(audit_db, _run(audit_db, path).id)
    interrupted = _run(audit_db, path)
    part = ca.run_inline(audit_db, interrupted.id, stop_after=2)
    assert part.status == "RUNNING"
    assert len(ca.chunk_descriptors(audit_db, interrupted.id)) == 3
    # a crash in the middle of chunk 2: some of its findings were written, the chunk not marked done
    pending = ca.chunk_descriptors(audit_db, interrupted.id)[0]
    res = ca.scan_descriptor(pending, ca.run_filter(ca.get_run_row(audit_db, interrupted.id)), PRODUCT, None)
    res.findings = res.findings[: len(res.findings) // 2]
    ca.persist_chunk(audit_db, interrupted.id, res)
    with audit_db.transaction() as s:
        s.execute(sa.update(AuditChunk).where(AuditChunk.run_id == interrupted.id, AuditChunk.seq == pending["seq"]).values(done=False))
    resumed = ca.run_inline(audit_db, interrupted.id)
    assert resumed.status == "SCANNED"
    assert finding_rows(audit_db, interrupted.id) == finding_rows(audit_db, clean.id) != []
    assert resumed.findings == clean.findings and resumed.records == clean.records
    # same seed, same data -> the same sample
    with audit_db.reading() as s:
        a = s.exec(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == clean.id).order_by(SpotCheckItem.seq)).all()
        b = s.exec(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == interrupted.id).order_by(SpotCheckItem.seq)).all()
    assert a == b


def test_a_chunk_is_written_once_and_same_key_findings_once(audit_db, tmp_path):
    """A chunk's result written twice (a retried task, two workers) counts once; two findings with one unique key
    (one span, one category, two terms) are one row, as ON CONFLICT DO NOTHING kept them before COPY."""
    path = write_corpus(tmp_path / "in.jsonl", 450)
    clean = ca.run_inline(audit_db, _run(audit_db, path).id)
    run = _run(audit_db, path)
    desc = ca.chunk_descriptors(audit_db, run.id)[0]
    res = ca.scan_descriptor(desc, ca.run_filter(ca.get_run_row(audit_db, run.id)), PRODUCT, None)
    line, f = res.findings[0]
    res.findings.insert(1, (line, f._replace(rule_id=f.rule_id + "-twin", matched=f.matched + "-twin")))
    first = ca.persist_chunk(audit_db, run.id, res)
    again = ca.persist_chunk(audit_db, run.id, res)
    assert not first["skipped"] and first["findings"] == len(res.findings) - 1
    assert again["skipped"] is (audit_db.engine.dialect.name == "postgresql")  # SQLite: the same rows, ignored
    done = ca.run_inline(audit_db, run.id)
    assert finding_rows(audit_db, run.id) == finding_rows(audit_db, clean.id) and done.findings == clean.findings


def test_running_twice_writes_the_same_rows(audit_db, tmp_path):
    path = write_corpus(tmp_path / "in.jsonl", 300, bad={3: "[1, 2]"})
    run = _run(audit_db, path)
    ca.run_inline(audit_db, run.id)
    first = finding_rows(audit_db, run.id)
    # force every chunk to be scanned again: insert-or-ignore keeps exactly one row per key
    with audit_db.transaction() as s:
        s.execute(sa.update(AuditChunk).where(AuditChunk.run_id == run.id).values(done=False))
    for desc in ca.chunk_descriptors(audit_db, run.id):
        ca.process_chunk(audit_db, desc)
    again = ca.run_inline(audit_db, run.id)  # already SCANNED: the sample is not drawn twice
    assert finding_rows(audit_db, run.id) == first
    with audit_db.reading() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(ContentFinding).where(ContentFinding.run_id == run.id)).scalar_one() == len(first)
        assert s.execute(sa.select(sa.func.count()).select_from(BadInputRecord).where(BadInputRecord.run_id == run.id)).scalar_one() == 1
        assert s.execute(sa.select(sa.func.count()).select_from(SpotCheckItem).where(SpotCheckItem.run_id == run.id)).scalar_one() == again.sample_size


def test_stratified_sample_is_seeded_and_sized_by_the_plan(sqlite_audit_db, tmp_path):
    db = sqlite_audit_db
    path = write_corpus(tmp_path / "in.jsonl", 2500, every=20)
    a = ca.run_inline(db, _run(db, path, chunk_lines=1000, seed=7).id)
    b = ca.run_inline(db, _run(db, path, chunk_lines=700, seed=7).id)
    c = ca.run_inline(db, _run(db, path, chunk_lines=1000, seed=8).id)
    assert a.sample_size == b.sample_size == c.sample_size == 1000  # the pack's min_sample
    alloc = a.settings["allocation"]
    assert alloc["clean"] > 800 and all(v >= 5 for k, v in alloc.items() if k.startswith("flagged:"))
    assert sum(alloc.values()) == 1000

    def ids(run):
        with db.reading() as s:
            return sorted(s.exec(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == run.id)).all())
    assert ids(a) == ids(b)  # chunking does not change the sample
    assert ids(a) != ids(c)  # the seed does


def test_unknown_product_and_missing_file_leave_no_run(audit_db, tmp_path):
    import pytest

    from review.errors import InvalidInput, NotFound
    from review.store.models_content import AuditRun

    with pytest.raises(InvalidInput, match="no such file"):
        ca.start_run(audit_db, tmp_path / "nope.jsonl", product=PRODUCT, actor=REVIEWER)
    path = write_corpus(tmp_path / "in.jsonl", 10)
    with pytest.raises(NotFound, match="unknown product"):
        ca.start_run(audit_db, path, product="nope", actor=REVIEWER)
    with audit_db.reading() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(AuditRun)).scalar_one() == 0


def test_two_worker_processes_give_the_same_findings_and_sample(audit_db, tmp_path):
    path = write_corpus(tmp_path / "in.jsonl", 450, bad={7: "{broken"})
    one = ca.run_inline(audit_db, _run(audit_db, path).id)
    two = ca.run_inline(audit_db, _run(audit_db, path).id, workers=2)
    assert two.status == "SCANNED" and (two.records, two.bad_records, two.findings) == (one.records, one.bad_records, one.findings)
    assert finding_rows(audit_db, two.id) == finding_rows(audit_db, one.id) != []
    with audit_db.reading() as s:
        a = s.exec(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == one.id).order_by(SpotCheckItem.seq)).all()
        b = s.exec(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == two.id).order_by(SpotCheckItem.seq)).all()
    assert a == b


def test_chunks_in_flight_are_bounded_and_taken_as_they_complete():
    """No wave barrier: a slow chunk holds one slot while the others keep going, and never more than ``limit`` are in flight."""
    import threading
    from concurrent.futures import ThreadPoolExecutor, as_completed

    release = threading.Event()
    outstanding, peak, order = [0], [0], []

    def scan(k: int) -> int:
        if k == 0:
            assert release.wait(10), "the slow chunk was never released: the others waited for it"
        return k

    def submit(k: int):
        outstanding[0] += 1
        peak[0] = max(peak[0], outstanding[0])
        return pool.submit(scan, k)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for fut in ca.in_flight(range(10), submit, 3, as_completed):
            outstanding[0] -= 1
            order.append(fut.result())
            if len(order) == 7:
                release.set()  # chunks 1..7 finished while chunk 0 still ran
    assert sorted(order[:7]) == [1, 2, 3, 4, 5, 6, 7] and sorted(order) == list(range(10))
    assert peak[0] == 3


def test_chunk_groups_for_a_cluster():
    """Consecutive chunks, each once, in order; two groups a slot at least, at most four chunks a group, a multiple of
    the slots where the chunks allow, sizes differing by at most one, larger first."""
    def sizes(n: int, slots: int) -> list[int]:
        groups = ca.chunk_groups(list(range(n)), slots)
        assert [c for g in groups for c in g] == list(range(n))
        return [len(g) for g in groups]

    assert sizes(10, 2) == [3, 3, 2, 2]  # bench cluster's 100,000 records in 10 chunks, on two workers
    assert sizes(10, 1) == [4, 3, 3]
    assert sizes(9, 2) == [3, 2, 2, 2]
    assert sizes(100, 2) == [4] * 22 + [3] * 4
    assert sizes(3, 2) == [1, 1, 1] and sizes(1, 4) == [1] and sizes(0, 2) == []
    assert sizes(7, 8) == [1] * 7


def test_input_by_url_equals_the_local_file(sqlite_audit_db, tmp_path, http_files):
    """``http(s)://`` (range requests to a real server on 127.0.0.1) and ``file://`` read the same records as the path."""
    from review.errors import InvalidInput

    db = sqlite_audit_db
    root, base = http_files
    path = write_corpus(root / "in.jsonl", 450, bad={7: "{broken"})
    local = ca.run_inline(db, _run(db, path, chunk_lines=100).id)
    for url in (f"{base}/in.jsonl", path.as_uri()):
        run = ca.run_inline(db, _run(db, url, chunk_lines=100).id, workers=2)
        assert run.source == url and (run.records, run.bad_records, run.findings) == (local.records, local.bad_records, local.findings)
        assert finding_rows(db, run.id) == finding_rows(db, local.id) != []
        with db.reading() as s:
            a, b = ([tuple(r) for r in s.exec(sa.select(SpotCheckItem.record_id, SpotCheckItem.prompt, SpotCheckItem.output)
                                               .where(SpotCheckItem.run_id == rid).order_by(SpotCheckItem.seq)).all()] for rid in (local.id, run.id))
        assert a == b
    with pytest.raises(InvalidInput, match="no such file"):
        _run(db, f"{base}/missing.jsonl")


def test_a_broken_scan_pool_shuts_down_with_no_process_left():
    """A pool whose process died, holding a process its manager thread cannot end (spawned after the manager terminated
    the others: a race in CPython's executor): shutting it down kills that process and returns, instead of hanging the
    interpreter's exit on it."""
    import multiprocessing
    import signal
    import threading
    from concurrent.futures.process import BrokenProcessPool

    from tests.content_audit import pool_probe

    pool = ca.scan_pool(1)
    assert pool.submit(pool_probe.nap, 0).result(timeout=60) == 0  # its one process is up
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    leftover = spawn.Process(target=pool_probe.deaf_forever, args=(ready,), daemon=True)
    leftover.start()
    try:
        assert ready.wait(60)
        pool._processes[leftover.pid] = leftover  # as the race leaves it: in the pool, after the terminate loop
        (worker,) = [p for pid, p in pool._processes.items() if pid != leftover.pid]
        fut = pool.submit(pool_probe.nap, 30)
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            fut.result(timeout=60)
        done = threading.Event()
        threading.Thread(target=lambda: (pool.shutdown(wait=True), done.set()), daemon=True).start()
        assert done.wait(30), "shutdown hung on the process the broken pool could not end"
        assert not leftover.is_alive()
    finally:
        if leftover.is_alive():
            leftover.kill()
