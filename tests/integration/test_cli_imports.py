"""The CLI imports per command: what a fresh ``ethics-review`` process has loaded when it ends.

A guard on start-up cost that times nothing: ``--help`` and a parse error must not pay for the
store, the use cases, Rich, YAML or Prefect; reading reviews (``list``, ``show``) must not pay for
Prefect, Textual or the audit engine, and a listing loads no policy pack. On SQLite a listing whose
query shape was listed before runs its compiled SQL without SQLAlchemy, the store or the models, and so
does a ``show`` after the first, which loads no policy pack either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from review.store.db import Database
from tests.integration.followup_helpers import submit

PROBE = """
import json, sys
from review.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\n@@modules " + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""

#: never needed to print help or reject arguments
PARSER_ONLY_FORBIDS = ("prefect", "sqlalchemy", "sqlmodel", "pydantic", "pydantic_settings", "textual", "rich", "yaml", "asyncio",
                       "httpx", "review.services", "review.store", "review.client.local", "review.client.remote", "policies",
                       "flows", "tui")
#: never needed to read reviews
READ_FORBIDS = ("prefect", "textual", "flows", "tui", "httpx", "review.client.remote", "review.services.content_audit",
                "review.domain.content")
#: never needed by a ``show`` whose SQL and packs are kept (SQLite): no ORM, store or pack loading
SHOW_CACHED_FORBIDS = ("sqlalchemy", "sqlmodel", "alembic", "review.store", "review.services.queries", "review.services.audit",
                       "review.services.common", "review.client.local", "policies.loader", "policies.schema", "policies.crosswalk",
                       "yaml", "pydantic_settings", "asyncio")


def run(env: dict[str, str], *args: str) -> tuple[int, set[str], str]:
    """(exit code, the modules the process had loaded, its stdout + stderr)."""
    p = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=120)
    text, marker, tail = p.stderr.rpartition("@@modules ")
    assert marker, p.stderr[-2000:]
    return p.returncode, set(json.loads(tail)), p.stdout + text


def loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.fixture
def env(db: Database) -> dict[str, str]:
    from review.demo.seed import seed_people

    seed_people(db)
    out = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_")}
    out.update(ETHICS_REVIEW_HOME=str(db.data_dir), ETHICS_REVIEW_DATABASE_URL=db.url, ETHICS_REVIEW_DIRECT="1",
               ETHICS_REVIEW_USER="wei.chen")
    return out


@pytest.mark.parametrize("args", [("--help",), ("list", "--help"), ("bench", "--help"), ("list", "--no-such-option"), ("no-such-command",)])
def test_parser_alone_imports_no_store_services_or_rich(args: tuple[str, ...]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_")}
    code, modules, text = run(env, *args)
    assert code == (0 if "--help" in args else 2), text
    assert "review.cli.core" in modules  # the whole parser tree was built
    assert loaded(modules, PARSER_ONLY_FORBIDS) == []


def test_list_and_show_import_no_prefect_textual_or_audit_engine(env: dict[str, str], db: Database) -> None:
    rid = submit(db, "Remote-sensing platform")
    code, modules, text = run(env, "list")
    assert code == 0 and "Remote-sensing platform" in text, text
    assert loaded(modules, READ_FORBIDS + ("policies", "yaml")) == []  # a listing needs no pack
    assert "review.services.queries" in modules

    # The listing compiled its SQL into the cache (SQLite): the next one of the same shape needs no SQLAlchemy at all.
    code2, modules2, text2 = run(env, "list")
    if db.is_sqlite:
        assert code2 == 0 and text2 == text
        assert loaded(modules2, READ_FORBIDS + ("policies", "yaml", "sqlalchemy", "sqlmodel", "review.store", "review.services.queries",
                                                "review.client.local", "pydantic_settings", "asyncio")) == []
        code3, modules3, text3 = run(env, "list", "--search", "remote", "--json")  # another shape: compiled by the usual path
        assert code3 == 0 and "Remote-sensing platform" in text3 and "sqlalchemy" in modules3

    code, modules, text = run(env, "show", str(rid))
    assert code == 0 and "Questionnaire answers" in text, text
    assert loaded(modules, READ_FORBIDS) == []
    assert "policies.loader" in modules  # the questions' wording comes from the pack

    # ``show`` compiled its SQL and kept the packs' crosswalks and labels (SQLite): the next one reads the review with
    # the sqlite3 module alone and loads no pack, printing the same text.
    code2, modules2, text2 = run(env, "show", str(rid))
    code_json, _, json_slow = run(env, "show", str(rid), "--json")
    assert code2 == 0 and text2 == text, text2
    if db.is_sqlite:
        assert loaded(modules2, READ_FORBIDS + SHOW_CACHED_FORBIDS) == []
        for bad, exit_code, message in (("999999", 3, "review 999999 does not exist"), ("abc", 2, "review id 'abc' is not a number")):
            code3, modules3, text3 = run(env, "show", bad)
            assert code3 == exit_code and message in text3 and "sqlalchemy" not in modules3, text3
    else:
        assert "sqlalchemy" in modules2
    (tmp := db.data_dir / "cache").mkdir(exist_ok=True)
    for f in tmp.glob("show-*.json"):
        f.unlink()  # the usual path again: the same JSON text
    code4, _, json_usual = run(env, "show", str(rid), "--json")
    assert code_json == code4 == 0 and json_slow == json_usual


def test_bench_cli_figures_and_no_leftovers(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from review.cli.main import main

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert main(["--json", "bench", "cli", "--repeat", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("python_startup", "store_import", "help", "list", "show"):
        assert figures[f"{key}_ms"] > 0 and figures[f"{key}_cpu_ms"] > 0
    assert figures["repeat"] == 1
    assert list(tmp_path.iterdir()) == []  # the demo database and its evidence are gone
