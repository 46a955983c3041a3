"""Shared fixtures.

* Environment first: no telemetry, a temporary PREFECT_HOME, nothing reaches the internet.
* ``db``: a migrated, empty database, parametrized over SQLite and PostgreSQL
  (PostgreSQL: database ``test`` on 127.0.0.1:5432, one schema per test session, tables
  truncated between tests). ``sqlite_db`` / ``pg_db`` pick one backend.
* ``people``: the demo's people (admin, chair, reviewers, one submitter per team).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

_TMP = Path(tempfile.mkdtemp(prefix="ethics-review-tests-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_HOME"] = str(_TMP / "prefect-home")
os.environ.setdefault("PREFECT_API_ENABLE_HTTP2", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["ETHICS_REVIEW_HOME"] = str(_TMP / "home")
os.environ["ETHICS_REVIEW_MATCHER_CACHE"] = str(_TMP / "matchers")  # compiled Hyperscan databases: this run's own
os.environ.pop("ETHICS_REVIEW_DATABASE_URL", None)
os.environ.pop("ETHICS_REVIEW_USER", None)

import pytest
import sqlalchemy as sa

from review.store.db import Database

PG_URL = os.environ.get("ETHICS_REVIEW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Commands like `web` and `serve` set variables for the processes they start; called
    in-process by a test, they must not leak into the tests that follow."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)


# ---- SQLite ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}", data_dir=path.parent)
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "ethics-review.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}", data_dir=tmp_path)
    yield db
    db.dispose()


# ---- PostgreSQL --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _pg_schema() -> Iterator[str]:
    schema = f"er_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:  # pragma: no cover - environment problem, say so plainly
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}. Start it with: "
                    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", pytrace=False)
    url = _pg_url(schema)
    db = Database(url, data_dir=_TMP / "pg-data")
    db.upgrade()
    db.dispose()
    yield schema
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


def _pg_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_db(_pg_schema: str, tmp_path: Path) -> Iterator[Database]:
    db = Database(_pg_url(_pg_schema), data_dir=tmp_path)
    _truncate(db)
    yield db
    db.dispose()


def _truncate(db: Database) -> None:
    from sqlmodel import SQLModel

    import review.store.all_models  # noqa: F401

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # the audit tables' append-only triggers stay out of the way
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


# ---- people ------------------------------------------------------------------------------
@pytest.fixture
def people(db: Database) -> Database:
    from review.demo.seed import seed_people

    seed_people(db)
    return db


@pytest.fixture
def sqlite_people(sqlite_db: Database) -> Database:
    from review.demo.seed import seed_people

    seed_people(sqlite_db)
    return sqlite_db


# ---- Prefect ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One in-process Prefect server for the whole test session (it takes 6-25 s to start).

    Request it (directly or through a fixture) in every test that runs a flow with the engine.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
