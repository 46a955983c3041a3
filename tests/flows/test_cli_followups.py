"""The follow-up, feedback and serve commands end to end (in-process, SQLite), and the hooks without a Prefect server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from review.cli.main import main
from review.demo.seed import run_demo
from review.services.followups import list_checks
from review.store.db import Database, utcnow


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    db = Database(f"sqlite:///{tmp_path / 'demo.db'}", data_dir=tmp_path)
    db.upgrade()
    run_demo(db, evidence_dir=tmp_path / "ev")
    return db


def cli(db: Database, capsys: pytest.CaptureFixture[str], *args: str, user: str | None = None) -> tuple[int, str, str]:
    argv = ["--database", db.url, "--json"] + (["--as", user] if user else []) + list(args)
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_record_list_show_and_bad_answers(demo: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    [adhoc] = [c for c in list_checks(demo, which="due") if c["kind"] == "adhoc"]
    code, out, _ = cli(demo, capsys, "followup", "show", str(adhoc["id"]))
    shown = json.loads(out)
    customer = shown["visits"][0]["customer"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"answers": {"q1": "no", "q2": "perhaps", "q3": "yes"}, "finding": "none"}))
    code, out, err = cli(demo, capsys, "followup", "record", str(adhoc["id"]), "--customer", customer, "--answers", str(bad), user="priya.nair")
    assert code == 2 and f"{bad}: answers.q2: bad value 'perhaps'; answer yes or no" in err
    code, out, err = cli(demo, capsys, "followup", "record", str(adhoc["id"]), "--customer", customer, "--answers", str(tmp_path / "nope.yaml"), user="priya.nair")
    assert code == 2 and "nope.yaml: no such file" in err
    assert json.loads(cli(demo, capsys, "followup", "show", str(adhoc["id"]))[1])["visits"][0]["status"] == "PENDING"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"answers": {"q1": "no", "q2": "no", "q3": "yes"}, "finding": "none", "notes": "all fine"}))
    code, out, err = cli(demo, capsys, "followup", "record", str(adhoc["id"]), "--customer", customer, "--answers", str(good), user="priya.nair")
    assert code == 0, err
    assert json.loads(out)["status"] == "OPEN"
    code, out, _ = cli(demo, capsys, "followup", "list", "--triggered")
    assert [c["product"] for c in json.loads(out)] == ["Medical LLM assistant"]


def test_scan_command_opens_due_checks(demo: Database, capsys: pytest.CaptureFixture[str]) -> None:
    later = (utcnow() + timedelta(days=800)).strftime("%Y-%m-%dT%H:%M")
    code, out, err = cli(demo, capsys, "followup", "scan", "--now", later)
    assert code == 0, err
    assert json.loads(out)["opened"] == 1  # Remote-sensing's next yearly check
    code, _, err = cli(demo, capsys, "followup", "scan", "--now", "yesterday")
    assert code == 2 and "--now 'yesterday' is not an ISO time" in err


def test_feedback_commands(demo: Database, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(demo, capsys, "feedback", "submit", "--product", "Code assistant", "--message", "Suggests code copied from GPL projects without notice")
    assert code == 0, err
    fid = json.loads(out)["id"]
    code, _, err = cli(demo, capsys, "feedback", "submit", "--product", "No such thing", "--message", "Something happened somewhere")
    assert code == 3 and "--product 'No such thing'" in err
    code, out, err = cli(demo, capsys, "feedback", "triage", str(fid), "credible", "--rationale", "Licence risk", user="lucas.martin")
    assert code == 0, err
    got = json.loads(out)  # the code assistant is still in development: the concern goes to its review
    assert got["check"] is None and "not released" in got["message"]
    code, out, err = cli(demo, capsys, "feedback", "submit", "--product", "Remote-sensing platform", "--message", "Maps show where people live")
    code, out, err = cli(demo, capsys, "feedback", "triage", str(json.loads(out)["id"]), "credible", "--rationale", "Privacy risk",
                         user="lucas.martin")
    assert code == 0, err
    assert json.loads(out)["check"] is not None  # released: an ad-hoc follow-up check with customer visits
    code, out, _ = cli(demo, capsys, "feedback", "list", "--status", "credible")
    assert len(json.loads(out)) == 3


def test_submit_runs_the_initiation_step_in_process(demo: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from review.demo.catalog import PRODUCTS, submission

    doc = submission(next(p for p in PRODUCTS if p["product"]["name"] == "Code assistant"))
    doc["product"]["name"] = "Code assistant 2"
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(doc))
    code, out, err = cli(demo, capsys, "submit", str(f), user="dev.lead")
    assert code == 0, err
    assert "initiation step: review" in err and "queued for the committee" in err  # JSON mode: hook lines on stderr
    rid = json.loads(out)["id"]
    from review.services.notifications import list_notifications

    assert [n["kind"] for n in list_notifications(demo, review_id=rid)] == ["review-queued"]


def test_serve_lists_deployments_and_needs_a_server(demo: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHICS_REVIEW_FOLLOWUP_CRON", "15 1 * * *")
    code, out, _ = cli(demo, capsys, "serve", "--list")
    assert code == 0
    rows = {r["deployment"]: r["schedule"] for r in json.loads(out)}
    assert rows["followup-scan/nightly"] == "15 1 * * *" and rows["release-gate/on-demand"] == "on demand"
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    code, _, err = cli(demo, capsys, "serve")
    assert code == 2 and "PREFECT_API_URL is not set" in err


def test_serve_says_in_one_line_when_prefect_is_unreachable(demo: Database, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    t0 = time.monotonic()
    code, out, err = cli(demo, capsys, "serve")
    assert time.monotonic() - t0 < 10
    assert code == 11 and f"Prefect is not reachable at http://127.0.0.1:{port}/api" in err and "prefect server start" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out


def test_bench_followups_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "followups", "--products", "3000", "--no-prefect", "--chunk", "1000"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["products"] == 3000 and result["opened"] == result["due"] > 0 and result["followup_scan_s"] < 10


def test_non_numeric_ids_are_input_errors_not_crashes(demo: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("answers: {q1: 'no', q2: 'no', q3: 'yes'}\n")
    for args, needle in [(("followup", "record", "abc", "--customer", "x", "--answers", str(answers)), "check id 'abc' is not a number"),
                         (("followup", "show", "abc"), "check id 'abc' is not a number"),
                         (("feedback", "triage", "abc", "credible", "--rationale", "seen it"), "feedback id 'abc' is not a number")]:
        code, _, err = cli(demo, capsys, *args, user="priya.nair")
        assert code == 2 and needle in err, err


def test_notifications_command(demo: Database, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(demo, capsys, "notifications", user="priya.nair")
    assert code == 0, err
    mine = json.loads(out)
    assert mine and {n["via"] for n in mine} <= {"committee", "chair", "team:ethics-office", None}
    assert "committee" in {n["via"] for n in mine}
    code, out, err = cli(demo, capsys, "notifications", "--review", "R-6")
    assert code == 0, err
    assert {n["review_id"] for n in json.loads(out)} == {6}
    code, _, err = cli(demo, capsys, "notifications", user="nobody")
    assert code == 3 and "user 'nobody' does not exist" in err
