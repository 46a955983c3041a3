"""CLI end to end (in-process) for audit run / label / report / list / show / resume, bad input,
and the Prefect flow under the session harness."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time

import pytest
import sqlalchemy as sa

from review.cli.main import main
from review.services import content_audit as ca
from review.services import content_report as cr
from tests.content_audit.conftest import PRODUCT, finding_rows, write_corpus


def cli(db, capsys, *args, user="amara.okafor"):
    code = main(["--database", db.url, "--as", user, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_run_label_report(sqlite_audit_db, tmp_path, capsys):
    db = sqlite_audit_db
    path = write_corpus(tmp_path / "in.jsonl", 120, bad={4: '{"id": 7, "output": 5}'})
    code, out, err = cli(db, capsys, "audit", "run", str(path), "--product", PRODUCT, "--chunk", "50", "--seed", "1")
    assert code == 0, err
    assert "run 1 SCANNED: 120 records" in out and "1 bad record(s) skipped" in out
    assert f"{path}:4: field 'output': value 5 is not a string" in out
    code, out, _ = cli(db, capsys, "--json", "audit", "show", "1", "--items")
    shown = json.loads(out)
    assert shown["run"]["records"] == 120 and len(shown["items"]) == 120
    first = shown["items"][0]["item"]
    assert cli(db, capsys, "audit", "label", "1", str(first), "pass")[0] == 0
    labels = tmp_path / "labels.csv"
    rows = ["item,verdict,category,severity"] + [f"{i['item']},{'violation' if i['flagged'] else 'pass'},{'weapons' if i['flagged'] else ''},"
                                                 for i in shown["items"][1:]]
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = cli(db, capsys, "audit", "label", "1", "--file", str(labels))
    assert code == 0, err
    assert "recorded 119 label(s)" in out
    code, out, err = cli(db, capsys, "audit", "report", "1", "--out", str(tmp_path / "rep"))
    assert code == 0, err
    md = (tmp_path / "rep" / "audit-1.md").read_text(encoding="utf-8")
    v = cr.verdict(db, 1)
    assert v.labelled == 120 and "| Labelled | 120 of 120 |" in md
    assert (tmp_path / "rep" / "audit-1.html").exists()
    code, out, _ = cli(db, capsys, "audit", "list")
    assert code == 0 and PRODUCT in out and "SCANNED" in out


def test_cli_bad_input_is_one_line_and_changes_nothing(sqlite_audit_db, tmp_path, capsys):
    db = sqlite_audit_db
    code, _, err = cli(db, capsys, "audit", "run", str(tmp_path / "missing.jsonl"), "--product", PRODUCT)
    assert code == 2 and err.startswith("ethics-review: error: ") and "no such file" in err and err.count("\n") == 1
    bad_csv = tmp_path / "in.csv"
    bad_csv.write_text("id,answer\n1,hi\n", encoding="utf-8")
    code, _, err = cli(db, capsys, "audit", "run", str(bad_csv), "--product", PRODUCT)
    assert code == 2 and f"{bad_csv}:1: header" in err
    code, _, err = cli(db, capsys, "audit", "label", "99", "1", "pass")
    assert code == 3 and "audit run 99 does not exist" in err
    with db.reading() as s:
        assert s.execute(sa.text("select count(*) from audit_run")).scalar_one() == 0
        assert s.execute(sa.text("select count(*) from spot_check_label")).scalar_one() == 0


def test_cli_csv_input_and_resume(sqlite_audit_db, tmp_path, capsys):
    db = sqlite_audit_db
    path = tmp_path / "in.csv"
    path.write_text('id,prompt,output,metadata\n1,hi,"a pipe bomb,\nin two lines",\n2,hi,fine,"{""caption"": ""cat""}"\n'
                    '3,hi,x,{bad\n4,hi,where to get a fake passport,\n', encoding="utf-8")
    run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=2)
    ca.run_inline(db, run.id, stop_after=1)
    code, out, err = cli(db, capsys, "audit", "resume", str(run.id))
    assert code == 0, err
    assert "1 of 2 chunk(s) left" in out and "3 records" in out
    assert f"{path}:5: field 'metadata'" in out  # the record starting on physical line 5 (line 2-3 is one record)
    found = {r[0] for r in finding_rows(db, run.id)}
    assert found == {"1", "4"}  # record 2's "caption: cat" is benign; record 3 is a bad record


def test_flow_under_prefect_harness(prefect_harness, sqlite_audit_db, tmp_path):
    from flows.content_audit import aigc_content_audit

    db = sqlite_audit_db
    path = write_corpus(tmp_path / "in.jsonl", 300, bad={2: "nope"})
    inline = ca.run_inline(db, ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=100, seed=5).id)
    run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=100, seed=5, engine="prefect")
    ca.run_inline(db, run.id, stop_after=1)  # partly done before the flow: the flow resumes it
    summary = aigc_content_audit(run_id=run.id, database_url=db.url)
    assert summary["status"] == "SCANNED" and summary["bad_records"] == 1 and summary["records"] == 300
    assert finding_rows(db, run.id) == finding_rows(db, inline.id)
    again = aigc_content_audit(run_id=run.id, database_url=db.url)  # idempotent re-run
    assert again == summary and finding_rows(db, run.id) == finding_rows(db, inline.id)


def _sample(db, run_id: int) -> list[tuple]:
    from review.store.models_content import SpotCheckItem as S

    with db.reading() as s:
        return list(s.execute(sa.select(S.record_id, S.stratum, S.line).where(S.run_id == run_id).order_by(S.seq)).all())


def _chunk_task_runs(run_id: int) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"aigc-content-audit run {run_id}"])),
                                         sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        return [r for r in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
                if r.name.startswith("scan chunk")]


def test_flow_scans_in_processes_that_import_no_prefect(sqlite_audit_db, tmp_path):
    """The flow's processes on this machine (``ChunkPool``) scan and write a chunk importing the services, never Prefect."""
    from flows.content_audit import ChunkPool
    from tests.content_audit import pool_probe

    db = sqlite_audit_db
    path = write_corpus(tmp_path / "in.jsonl", 300)
    run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=100, seed=5, engine="prefect")
    pool = ChunkPool(1, run.settings["pack_ref"])
    try:
        out = pool.process_chunk(db.url, ca.chunk_descriptors(db, run.id)[0])
        loaded = pool.run(pool_probe.imported, "prefect", "flows", "review")
    finally:
        pool.close()
    assert out["records"] == 100 and not out["skipped"] and ca.run_progress(db, run.id)["chunks_done"] == 1
    assert "review.services.content_audit" in loaded and [m for m in loaded if not m.startswith("review")] == []


def test_flow_survives_a_killed_scanning_process(prefect_harness, sqlite_audit_db, tmp_path):
    """A scanning process killed (SIGKILL) during the run breaks the flow's process pool: the pool is replaced, Prefect
    retries the chunk tasks that failed, and the run has exactly the findings and sample of a clean inline run."""
    from flows.content_audit import run_audit

    db = sqlite_audit_db
    path = write_corpus(tmp_path / "in.jsonl", 1200, bad={3: "{broken"})
    inline = ca.run_inline(db, ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=150, seed=11).id)
    run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=150, seed=11, engine="prefect")
    killed: list[int] = []

    def kill_a_scanning_process() -> None:  # as soon as the pool's first process is up: before any chunk can be done
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            procs = [p for p in multiprocessing.active_children() if p.name.startswith("SpawnProcess") and p.pid]
            if procs:
                os.kill(procs[0].pid, signal.SIGKILL)
                killed.append(procs[0].pid)
                return
            time.sleep(0.002)

    killer = threading.Thread(target=kill_a_scanning_process, daemon=True)
    killer.start()
    summary = run_audit(run.id, db.url, "amara.okafor", workers=2)
    killer.join(timeout=5)
    assert killed, "no scanning process was started"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert summary["status"] == "SCANNED" and summary["records"] == inline.records == 1200 and summary["bad_records"] == 1
    assert finding_rows(db, run.id) == finding_rows(db, inline.id) != [] and _sample(db, run.id) == _sample(db, inline.id) != []
    runs = _chunk_task_runs(run.id)
    assert len(runs) == ca.get_run_row(db, run.id).chunks_total == 9 and {r.state_type.value for r in runs} == {"COMPLETED"}
    assert max(r.run_count for r in runs) == 2  # retried once, on the new pool
    # no scanning process is left behind (a process spawned while the pool broke would hang this interpreter's exit)
    assert [p for p in multiprocessing.active_children() if p.name.startswith("SpawnProcess")] == []
