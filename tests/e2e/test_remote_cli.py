"""The CLI's walk (submit -> development -> release -> follow-up) in direct mode and against a real
review server (uvicorn on 127.0.0.1, the CLI's remote client over HTTP): same outputs, same
exit codes. Then what only remote mode has: `--as` refused, `login` / `whoami`, a bad token.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from review.api.app import create_app
from review.cli.main import main
from review.store.db import Database
from tests.api.conftest import make_world, settings_for, start_uvicorn, stop_uvicorn
from tests.e2e.test_cli import product_file

Run = Callable[..., tuple[int, str, str]]
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?|\d{4}-\d{2}-\d{2}")


CHAIN = re.compile(r'"(prev_hash|hash|mac)": "[0-9a-f]{64}"')


def normalize(text: str) -> str:
    """Times and audit-chain hashes (which cover times) differ between two runs; nothing else may."""
    return re.sub(r"=[0-9a-f]{64}", "=<image>", CHAIN.sub('"hash": "<chain>"', TIME.sub("<time>", text)))


def walk(run: Run, tmp: Path) -> list[tuple[str, int, str]]:
    """Every command of a product's life; returns (command, exit code, normalized stdout+stderr)."""
    out: list[tuple[str, int, str]] = []

    def do(user: str | None, *args: str, human: bool = False) -> Any:
        code, stdout, stderr = run(user, *args, human=human)
        shown = stdout
        if not human and code == 0 and stdout.strip():  # JSON: key order carries no meaning
            shown = json.dumps(json.loads(stdout), sort_keys=True)
        out.append((" ".join(args), code, normalize(shown + "|" + stderr)))
        return json.loads(stdout.strip().splitlines()[-1]) if code == 0 and not human and stdout.strip() else None

    rid = str(do("geo.lead", "submit", str(product_file(tmp)))["id"])
    do("priya.nair", "waive", rid, "HCT-01", "-m", "a reviewer may not waive anything at all")  # 4: not allowed
    do("priya.nair", "decide", rid, "approve", "-m", "No personal data")  # 5: not taken yet
    do("wei.chen", "assign", rid, "priya.nair")
    do("priya.nair", "decide", rid, "approve", "-m", "x")  # 2: rationale too short
    do("priya.nair", "decide", rid, "approve", "-m", "No personal data")
    do("geo.lead", "advance", rid)
    ev = tmp / "raci.md"
    ev.write_text("Accountable owner: Jane Doe")
    do("geo.lead", "evidence", "add", rid, "HCT-01", str(ev))
    do("priya.nair", "evidence", "list", rid)
    (tmp / "down").mkdir(exist_ok=True)
    do("priya.nair", "evidence", "download", rid, "1", "--out", str(tmp / "down"))
    do("priya.nair", "verify", rid, "HCT-01", "pass")
    do("geo.lead", "submit", rid)
    do("wei.chen", "assign", rid, "priya.nair")
    do("priya.nair", "decide", rid, "approve", "-m", "Controls verified")
    do("geo.lead", "advance", rid)
    do("geo.lead", "submit", rid)
    do("wei.chen", "assign", rid, "amara.okafor")
    do("amara.okafor", "decide", rid, "approve", "-m", "Ready for release")  # LOW: one approval releases it
    do(None, "show", rid)
    do(None, "show", rid, human=True)
    do(None, "list", human=True)
    do(None, "feedback", "submit", "--product", "Remote-sensing platform", "--message", "It mislabelled our protected forest twice.")
    do("priya.nair", "feedback", "list")
    do("priya.nair", "feedback", "triage", "1", "credible", "-m", "Reproduced with the reporter's tile")
    checks = do("priya.nair", "followup", "list", "--due")
    visit = tmp / "visit.yaml"
    visit.write_text(yaml.safe_dump({"answers": {"q1": "no", "q2": "yes", "q3": "yes"}, "finding": "none", "notes": "no issue"}))
    check = str(checks[0]["id"])
    shown = do("priya.nair", "followup", "show", check)
    for v in shown["visits"]:
        do("priya.nair", "followup", "record", check, "--customer", v["customer"], "--answers", str(visit))
    do("priya.nair", "followup", "show", check)
    do("priya.nair", "notifications")
    do("wei.chen", "notifications", "--review", rid)
    do(None, "replay", rid)
    do(None, "residual", rid)
    do(None, "audit-log", "verify")
    do(None, "audit-log", "show", "--review", rid)
    do(None, "show", "999")  # 3: not found
    return out


def _direct(db: Database, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(user: str | None, *args: str, human: bool = False) -> tuple[int, str, str]:
        argv = ["--database", db.url] + (["--as", user] if user else ["--as", "admin"]) + ([] if human else ["--json"])
        code = main([*argv, *args])
        o = capsys.readouterr()
        return code, o.out, o.err

    return run


def _remote(url: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    def run(user: str | None, *args: str, human: bool = False) -> tuple[int, str, str]:
        monkeypatch.setenv("ETHICS_REVIEW_URL", url)
        monkeypatch.setenv("ETHICS_REVIEW_TOKEN", tokens[user or "admin"])
        code = main([*([] if human else ["--json"]), *args])
        o = capsys.readouterr()
        return code, o.out, o.err

    return run


def _fresh(tmp: Path, name: str, template: Path) -> Database:
    import shutil

    d = tmp / name
    d.mkdir()
    shutil.copyfile(template, d / "db.sqlite")
    db = Database(f"sqlite:///{d / 'db.sqlite'}", data_dir=d)
    return db


def test_direct_and_remote_walks_give_the_same_results(_sqlite_template: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    direct_db = _fresh(tmp_path, "direct", _sqlite_template)
    make_world(direct_db)
    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(direct_db.data_dir))  # the same data directory (and audit key) as the world's
    (tmp_path / "d").mkdir()
    direct = walk(_direct(direct_db, capsys), tmp_path / "d")

    remote_db = _fresh(tmp_path, "remote", _sqlite_template)
    world = make_world(remote_db)
    live = start_uvicorn(create_app(remote_db, settings_for(remote_db)))
    try:
        (tmp_path / "r").mkdir()
        remote = walk(_remote(live.url, world.token, capsys, monkeypatch), tmp_path / "r")
    finally:
        stop_uvicorn(live)
    assert [c for _, c, _ in direct] == [c for _, c, _ in remote]
    codes = {cmd.split()[0] + ":" + str(code) for cmd, code, _ in direct if code}
    assert {"waive:4", "decide:5", "decide:2", "show:3"} <= codes
    for (cmd, code, a), (_, _, b) in zip(direct, remote, strict=True):
        a, b = a.replace(str(tmp_path / "d"), "<tmp>"), b.replace(str(tmp_path / "r"), "<tmp>")
        assert a == b, f"{cmd} (exit {code}) differs:\ndirect: {a}\nremote: {b}"
    # the last word: the product was released, a follow-up ran, and the trail names each person
    trail = next(json.loads(out.split("|")[0]) for cmd, _, out in remote if cmd.startswith("audit-log show"))
    assert {"geo.lead", "priya.nair", "wei.chen", "amara.okafor"} <= {r["actor"] for r in trail}
    assert (tmp_path / "r" / "down" / "raci.md").read_text() == "Accountable owner: Jane Doe"


@pytest.fixture
def remote_env(_sqlite_template: Path, tmp_path: Path, monkeypatch):
    db = _fresh(tmp_path, "srv", _sqlite_template)
    world = make_world(db)
    live = start_uvicorn(create_app(db, settings_for(db)))
    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(tmp_path / "client-home"))
    monkeypatch.delenv("ETHICS_REVIEW_URL", raising=False)
    monkeypatch.delenv("ETHICS_REVIEW_TOKEN", raising=False)
    yield live.url, world
    stop_uvicorn(live)


def test_as_is_refused_and_login_keeps_a_private_token(remote_env, capsys, monkeypatch, tmp_path) -> None:
    import io
    import os

    url, world = remote_env
    monkeypatch.setattr("sys.stdin", io.StringIO(world.token["wei.chen"] + "\n"))
    assert main(["login", url, "--token-stdin"]) == 0
    assert "logged in to" in capsys.readouterr().out
    cred = tmp_path / "client-home" / "credentials.json"
    assert oct(os.stat(cred).st_mode & 0o777) == "0o600"
    assert main(["--json", "whoami"]) == 0
    me = json.loads(capsys.readouterr().out)
    assert (me["username"], me["mode"], me["where"]) == ("wei.chen", "remote", url)
    assert main(["--as", "admin", "list"]) == 2
    assert "--as is refused against a review server" in capsys.readouterr().err
    assert main(["init"]) == 2 and "works on the database itself" in capsys.readouterr().err
    assert main(["logout"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("ETHICS_REVIEW_URL", url)
    monkeypatch.setenv("ETHICS_REVIEW_TOKEN", "ert_1_" + "x" * 43)
    assert main(["list"]) == 10 and "unknown API token" in capsys.readouterr().err
    monkeypatch.setenv("ETHICS_REVIEW_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(["list"]) == 11 and "cannot reach the review server" in capsys.readouterr().err


def test_bad_settings_fail_before_anything_is_written(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ETHICS_REVIEW_URL", "ftp://review.example.org")
    assert main(["list"]) == 2
    assert "ETHICS_REVIEW_URL='ftp://review.example.org': must be an http:// or https:// URL" in capsys.readouterr().err
    monkeypatch.delenv("ETHICS_REVIEW_URL")
    monkeypatch.setenv("ETHICS_REVIEW_DATABASE_URL", "mysql://root:hunter2@db/ethics")
    assert main(["--as", "admin", "list"]) == 2
    err = capsys.readouterr().err
    assert "ETHICS_REVIEW_DATABASE_URL: backend 'mysql' is not supported" in err and "hunter2" not in err
    monkeypatch.setenv("ETHICS_REVIEW_DATABASE_URL", "postgresql+psycopg://review:hunter2@db.internal/ethics")
    monkeypatch.setenv("ETHICS_REVIEW_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/secretpart")
    monkeypatch.setenv("ETHICS_REVIEW_TOKEN", "ert_5_topsecret")
    assert main(["--json", "config", "show"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)["settings"]
    assert "hunter2" not in out and "secretpart" not in out and "topsecret" not in out
    assert shown["database_url"] == "postgresql+psycopg://review:***@db.internal/ethics" and shown["token"] == "********"


def test_the_server_command_serves_the_api(_sqlite_template: Path, tmp_path: Path) -> None:
    """`ethics-review server` as users start it: a process on 127.0.0.1, docs at /docs, every call authenticated."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from review.bench.scratch import free_port

    db = _fresh(tmp_path, "srv", _sqlite_template)
    world = make_world(db)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_")}
    env.update(ETHICS_REVIEW_HOME=str(tmp_path), ETHICS_REVIEW_DATABASE_URL=db.url)
    proc = subprocess.Popen([sys.executable, "-m", "review.cli.main", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                             "--threads", "3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        from review.bench.scratch import wait_until_up

        wait_until_up(base + "/healthz", proc)
        assert httpx.get(base + "/docs").status_code == 200
        assert httpx.get(base + "/api/v1/reviews").status_code == 401
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {world.token['priya.nair']}"}) as c:
            assert c.get("/api/v1/me").json()["username"] == "priya.nair"
            t0 = time.perf_counter()
            for _ in range(20):  # keep-alive requests must not wait on delayed ACKs (TCP_NODELAY with --workers)
                c.get("/api/v1/me")
            assert (time.perf_counter() - t0) / 20 < 0.03
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "review server on http://127.0.0.1" in out and "2 worker process(es), 3 request(s) at once each" in out
