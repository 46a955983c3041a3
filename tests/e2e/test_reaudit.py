"""A follow-up's content re-audit request is served by an audit run and closed with its verdict (not the scan)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from review.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reaudit_request_is_closed_by_the_audit_that_serves_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "demo"
    assert run(capsys, "--json", "demo", "--home", str(home))[0] == 0
    url = f"sqlite:///{home / 'ethics-review.db'}"
    code, out, err = run(capsys, "--database", url, "--json", "audit", "reaudits")
    assert code == 0, err
    pending = json.loads(out)
    assert pending, "the demo's follow-up round opens a re-audit for a generative product"
    req = pending[0]
    records = tmp_path / "outputs.jsonl"
    records.write_text("\n".join(json.dumps({"id": f"r{i}", "product": req["product"], "prompt": "Summarise the discharge plan",
                                             "output": "Rest, fluids, and a follow-up visit in two weeks.", "modality": "text",
                                             "metadata": {}}) for i in range(50)) + "\n")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs_before = conn.exec_driver_sql("SELECT count(*) FROM audit_run").scalar()
    code, _, err = run(capsys, "--database", url, "--as", "priya.nair", "audit", "run", str(records), "--product", "Code assistant",
                       "--reaudit", str(req["id"]))
    assert code == 2 and f"is for product {req['product']!r}" in err
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_run").scalar() == runs_before  # refused before writing

    code, out, err = run(capsys, "--database", url, "--as", "priya.nair", "audit", "run", str(records), "--product", req["product"],
                         "--reaudit", str(req["id"]))
    assert code == 0, err
    assert f"serves content re-audit request {req['id']}: it closes when the spot-check verdict is in" in out
    code, out, _ = run(capsys, "--database", url, "--json", "audit", "reaudits")
    assert req["id"] in [r["id"] for r in json.loads(out)]  # scanned, not yet judged: still pending
    with engine.connect() as conn:
        run_id = conn.exec_driver_sql("SELECT max(id) FROM audit_run").scalar()
    labels = tmp_path / "labels.csv"
    labels.write_text("item,verdict\n" + "".join(f"{i},pass\n" for i in range(1, 51)))
    code, out, err = run(capsys, "--database", url, "--as", "priya.nair", "audit", "label", str(run_id), "--file", str(labels))
    assert code == 0, err
    assert "the verdict is in: PASS" in out
    code, out, _ = run(capsys, "--database", url, "--json", "audit", "reaudits")
    assert req["id"] not in [r["id"] for r in json.loads(out)]
    code, _, err = run(capsys, "--database", url, "--as", "priya.nair", "audit", "run", str(records), "--product", req["product"],
                       "--reaudit", str(req["id"]))
    assert code == 2 and "already DONE" in err
    engine.dispose()
