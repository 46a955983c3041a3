"""The database handle: engine, one-transaction-per-use-case sessions, migrations.

``ETHICS_REVIEW_DATABASE_URL`` chooses the database; by default a SQLite file under
``ETHICS_REVIEW_HOME`` (``~/.ethics-review``). Evidence files live beside it, content-addressed.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from review.text import unicode_lower

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Aware UTC now (SQLModel's UTCDateTime stores and returns UTC on both backends)."""
    return datetime.now(timezone.utc)


def at_text(at: datetime) -> str:
    """Microsecond UTC text, identical after a round trip through SQLite or PostgreSQL."""
    return at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # 1.7x faster than strftime


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime):
        return at_text(v)
    return str(v)


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, UTF-8. Every JSON column is written
    with it (SQLite and PostgreSQL's ``json`` keep the text as given), so the audit chain can
    hash JSON exactly as stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def home_dir() -> Path:
    return Path(os.environ.get("ETHICS_REVIEW_HOME") or Path.home() / ".ethics-review")


def default_url() -> str:
    url = os.environ.get("ETHICS_REVIEW_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{home_dir() / 'ethics-review.db'}"


def create_private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (0600; new directories 0700) unless it exists.

    SQLite creates its -wal and -shm files with the database file's permissions, so a
    database created here stays private with its journals."""
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


#: SQLite virtual-machine steps between two checks of an ``interrupt_when`` condition: some milliseconds of
#: work. Not more often: each check takes the GIL, which the TUI's event loop holds while it paints.
PROGRESS_STEPS = 1_000_000
_interrupt: ContextVar[Callable[[], bool] | None] = ContextVar("interrupt", default=None)


@contextmanager
def interrupt_when(cancelled: Callable[[], bool]) -> Iterator[None]:
    """SQLite transactions begun in this block stop within milliseconds once ``cancelled()`` is true
    (the statement raises an OperationalError, "interrupted"): a query nobody waits for any more (the TUI's
    stale search) gives its core back instead of running to the end. Elsewhere (PostgreSQL, the review
    server) the query runs on and its result is dropped by the caller."""
    token = _interrupt.set(cancelled)
    try:
        yield
    finally:
        _interrupt.reset(token)


IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled connection before use when it sat idle for a while (a restarted server, a dropped
    connection), and only then: ``pool_pre_ping`` would add a round trip to every checkout."""
    import time

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("the database connection dropped while idle; reconnecting")


class Database:
    """One per process and URL. ``transaction()`` is the unit of work of a use case."""

    def __init__(self, url: str | None = None, *, data_dir: Path | None = None, evidence_dir: Path | None = None, echo: bool = False) -> None:
        self.url = url or default_url()
        self.data_dir = Path(data_dir) if data_dir else home_dir()
        self._evidence_dir = Path(evidence_dir) if evidence_dir else None
        self._echo = echo

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def evidence_dir(self) -> Path:
        return self._evidence_dir or self.data_dir / "evidence"

    @cached_property
    def engine(self) -> sa.Engine:
        """The engine for use cases that write (SQLite: BEGIN IMMEDIATE)."""
        return self._make_engine(immediate=True)

    @cached_property
    def read_engine(self) -> sa.Engine:
        """The engine for queries (SQLite: deferred BEGIN, never takes the write lock)."""
        if not self.is_sqlite:
            return self.engine
        return self._make_engine(immediate=False)

    def _make_engine(self, *, immediate: bool) -> sa.Engine:
        if not self.is_sqlite:
            engine = sa.create_engine(self.url, echo=self._echo, json_serializer=canonical_json)
            _ping_when_idle(engine)
            return engine
        path = sa.engine.make_url(self.url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            create_private_file(Path(path))
        engine = sa.create_engine(self.url, echo=self._echo, connect_args={"timeout": 30}, json_serializer=canonical_json)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # Let SQLAlchemy issue BEGIN itself (pysqlite's own handling defers it and
            # breaks transactional DDL and BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Unicode lower case for the name searches the trigram index cannot answer (under 3 characters):
            # SQLite's own lower() and LIKE fold ASCII only.
            dbapi_conn.create_function("unicode_lower", 1, unicode_lower, deterministic=True)

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # IMMEDIATE for writers: take the write lock up front, so two writers queue
            # instead of one failing half-way with "database is locked" on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
            conn.connection.driver_connection.set_progress_handler(_interrupt.get(), PROGRESS_STEPS)

        return engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = Session(self.engine, expire_on_commit=False, info={"db": self, "write": True})
        try:
            yield session
            session.commit()
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            session.rollback()
            raced = _race_message(exc)
            if raced is None:
                raise
            from review.errors import Conflict

            raise Conflict(raced) from None
        except BaseException as exc:
            session.rollback()
            after = getattr(exc, "after_rollback", None)
            if after is not None:  # e.g. a refused attempt the trail keeps: written once the use case's changes are gone
                exc.after_rollback = None  # type: ignore[attr-defined]
                session.close()
                try:
                    after(self)
                except Exception:  # never hide the refusal behind a failure to record it
                    log.warning("could not record %s after rollback", type(exc).__name__, exc_info=True)
            raise
        finally:
            session.close()

    @contextmanager
    def autocommit(self) -> Iterator[sa.Connection]:
        """A connection for one or two independent reads (e.g. a token on every request): on PostgreSQL
        in autocommit, so no BEGIN and ROLLBACK round trips around them."""
        with self.read_engine.connect() as conn:
            yield conn if self.is_sqlite else conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (SQLite: no write lock). Closing it ends the transaction
        without expiring loaded objects, so results stay usable after the block."""
        with Session(self.read_engine, expire_on_commit=False) as session:
            yield session

    # ---- schema --------------------------------------------------------------------
    def upgrade(self) -> str:
        """Run Alembic migrations to head; returns the head revision(s)."""
        from review.store.migrate import upgrade

        return upgrade(self)

    def dispose(self) -> None:
        for name in ("engine", "read_engine"):
            if name in self.__dict__:
                self.__dict__.pop(name).dispose()


@lru_cache(maxsize=8)
def shared(url: str) -> Database:
    """This process's handle on the database at ``url`` (one engine and pool per URL per process): for code handed only
    a URL, a flow run or a scanning process."""
    return Database(url)


def _race_message(exc: Exception) -> str | None:
    """A write that lost a race to another (same unique key, deadlock, serialization): say so as a conflict."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    text = str(orig or exc)
    if code == "23505" or "UNIQUE constraint failed" in text:
        return "someone else recorded the same thing at the same moment; reload and check before trying again"
    if code in ("40001", "40P01"):
        return "this change collided with another one made at the same moment; reload and try again"
    return None


def database_hint(exc: Exception) -> str | None:
    """A one-line explanation for a database that is missing its schema or cannot be reached, else None."""
    text = str(exc)
    try:
        import sqlalchemy.exc as sa_exc
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.ProgrammingError)):
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            return "the database has no schema yet: run `ethics-review init` first"
        if "could not connect" in text or "Connection refused" in text or "unable to open database" in text:
            return f"cannot open the database ({text.splitlines()[0]}); check ETHICS_REVIEW_DATABASE_URL"
    return None
