"""The audit-log commands as an auditor uses them: checkpoint, export, verify with a checkpoint and
verify an export with only the public key; and PostgreSQL's application role."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from review.cli.main import main
from review.store.db import Database
from tests.integration.test_tamper import as_owner, build_world


def _cli(db: Database, capsys, *args: str, user: str = "wei.chen") -> tuple[int, str, str]:
    code = main(["--database", db.url, "--as", user, *args])
    o = capsys.readouterr()
    return code, o.out, o.err


@pytest.fixture
def world(sqlite_db: Database, tmp_path, monkeypatch):
    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(sqlite_db.data_dir))  # the CLI shares the world's data dir (and audit key)
    return sqlite_db, build_world(sqlite_db, tmp_path)


def test_checkpoint_export_and_offline_verification(world, capsys, tmp_path: Path) -> None:
    db, ids = world
    code, out, err = _cli(db, capsys, "audit-log", "verify")
    assert code == 0 and "row MACs checked" in out and "state rows match their last logged images" in out, err
    cp = tmp_path / "cp.json"
    assert _cli(db, capsys, "audit-log", "checkpoint", "--out", str(cp))[0] == 0
    pub = tmp_path / "server.pub"
    code, out, _ = _cli(db, capsys, "audit-log", "public-key")
    pub.write_text(out)
    assert "BEGIN PUBLIC KEY" in out
    export = tmp_path / "log.jsonl"
    assert _cli(db, capsys, "audit-log", "export", "--out", str(export))[0] == 0
    assert _cli(db, capsys, "audit-log", "export", "--out", str(export), user="priya.nair")[0] == 4  # personal data: chair or admin
    code, out, err = _cli(db, capsys, "audit-log", "verify", "--export", str(export), "--public-key", str(pub))
    assert code == 0 and "checkpoint 1: the log up to row" in out, err
    code, out, err = _cli(db, capsys, "audit-log", "verify", "--checkpoint", str(cp))
    assert code == 0 and "is unchanged since it was signed" in out
    with as_owner(db) as conn:
        conn.exec_driver_sql("UPDATE review SET grade = 'LOW' WHERE id = ?", (ids["high"],))
    code, out, err = _cli(db, capsys, "audit-log", "verify")
    assert code == 9 and f"review {ids['high']}: grade is LOW, the log says HIGH" in err


def test_verify_over_the_api(world, capsys, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from review.api.app import create_app
    from review.services import tokens
    from tests.api.conftest import settings_for

    db, ids = world
    token = tokens.create_token(db, "priya.nair", actor="admin").token
    with TestClient(create_app(db, settings_for(db))) as api:
        h = {"Authorization": f"Bearer {token}"}
        cp = api.post("/api/v1/audit-log/checkpoints", headers=h).json()
        rep = api.post("/api/v1/audit-log/verify", headers=h, json={"checkpoints": [cp]}).json()
        assert rep["problems"] == [] and rep["checkpoints"] and rep["macs_checked"]
        assert api.get("/api/v1/audit-log/export", headers=h).status_code == 403
        assert "BEGIN PUBLIC KEY" in api.get("/api/v1/audit-log/public-key", headers=h).text
        chair = tokens.create_token(db, "wei.chen", actor="admin").token
        lines = api.get("/api/v1/audit-log/export", headers={"Authorization": f"Bearer {chair}"}).text.splitlines()
        assert json.loads(lines[0])["format"].startswith("ethics-review-audit-export") and any('"checkpoint"' in x for x in lines)


def test_postgresql_app_role_cannot_rewrite_the_audit_log(pg_db: Database, tmp_path, capsys) -> None:
    from review.services import audit
    from tests.conftest import PG_URL

    build_world(pg_db, tmp_path)
    role = f"er_app_{uuid.uuid4().hex[:8]}"
    code, out, err = _cli(pg_db, capsys, "init", "--app-role", role)
    assert code == 0 and f"role {role}" in out, err
    schema = pg_db.url.split("search_path%3D")[1]
    as_role = sa.create_engine(PG_URL.rsplit("@", 1)[0].rsplit("//", 1)[0] + f"//{role}@" + PG_URL.rsplit("@", 1)[1]
                               + f"?options=-csearch_path%3D{schema}")
    try:
        for statement in ("UPDATE audit_log SET actor = 'mallory' WHERE id = 1", "DELETE FROM audit_log", "TRUNCATE audit_log",
                          "ALTER TABLE audit_log DISABLE TRIGGER USER", "DELETE FROM audit_checkpoint"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
                with as_role.begin() as conn:
                    conn.exec_driver_sql(statement)
        # and the server's work still goes through as that role
        app_db = Database(as_role.url.render_as_string(hide_password=False), data_dir=pg_db.data_dir)
        from review.services import reviews
        from tests.integration.followup_helpers import submit

        rid = submit(app_db, "Code assistant")
        reviews.assign(app_db, rid, "amara.okafor", actor="wei.chen")
        assert audit.verify_chain(app_db).ok
        app_db.dispose()
    finally:
        as_role.dispose()
        with pg_db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')


def test_an_empty_log_over_a_full_database_fails(sqlite_db: Database, tmp_path) -> None:
    from review.services import audit

    build_world(sqlite_db, tmp_path)
    with as_owner(sqlite_db) as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")
        conn.exec_driver_sql("DELETE FROM audit_head")
    rep = audit.verify_chain(sqlite_db)
    assert rep.problems[0].kind == "empty" and "the log was deleted" in rep.problems[0].detail
