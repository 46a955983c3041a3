"""The audit log: an append-only hash chain of every state change, checked against the state.

Each row stores (id, time, actor, action, entity, before, after, policy version), the hash
of the row before it, and (format 2):

* ``state``: the after-image of every row of a state table (reviews, assessments, decisions,
  controls, evidence, follow-ups, feedback, audit runs, labels, people, tokens, ...) the use
  case changed, as ``{"review/7": {...columns...}}`` (``None``: the row was deleted);
* ``state_keys``: ``key=sha256(image)`` for each of them, which is what ``verify`` compares;
* ``mac``: an HMAC of the row's hash under the server's audit key, a file outside the
  database (``review.services.signing``): a row written or rewritten by someone who can
  write the database but does not hold that file is caught.

The row hash covers every column, JSON as stored: the engine writes JSON canonically (sorted
keys, no spaces), so ``verify`` hashes the stored text without parsing it.

Which rows a use case changed is tracked per session: every ORM insert, update and delete
on a state table (``after_flush``), plus ``touch`` / ``touch_where`` for set-based SQL.
``record`` images what is pending; anything changed after the last ``record`` of a
transaction gets its own ``state`` row at commit, so no change escapes the log.

``verify`` walks the chain (edits, deletions, reordering, forged or backdated rows, a cut
tail), then compares every state row with its last logged image and names the difference
("review 7: grade is LOW, the log says HIGH since row 212"), rows with no log entry and
logged rows that are gone. Signed checkpoints (``review.services.checkpoints``) prove the
chain up to them even against someone who also holds the key later.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder json.dumps uses
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col, select

from review.services.tables import table_of
from review.store.db import Database, at_text, canonical_json, utcnow
from review.store.models import AuditHead, AuditLog

GENESIS = "0" * 64
SYSTEM = "system"
_LOCK_KEY = 7_424_242  # pg_advisory_xact_lock key that serializes appends on PostgreSQL
#: Tables whose rows are the record: each change is imaged in the log and checked by ``verify``.
STATE_TABLES = ("app_user", "api_token", "product", "review", "assessment", "control_requirement", "evidence", "decision",
                "conflict_declaration", "followup_check", "followup_visit", "feedback", "audit_run", "spot_check_label",
                "eval_spot_label")


canonical = canonical_json  # the engine writes JSON columns with it, so stored text == canonical(value)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- the row hash ------------------------------------------------------------------------------
def row_hash(prev_hash: str, *, id: int, at: Any, actor: str, action: str, entity: str, entity_id: str,
             before: Any, after: Any, policy_version: str | None) -> str:
    """Format 1 (rows written before state images): the hash over the parsed fields."""
    body = canonical([id, at_text(at), actor, action, entity, entity_id, before, after, policy_version])
    return hashlib.sha256((prev_hash + "|" + body).encode()).hexdigest()


def row_hash_v2(prev_hash: str, id: int, at: str, actor: str, action: str, entity: str, entity_id: str, before_text: str | None,
                after_text: str | None, policy_version: str | None, state_text: str | None, state_keys: str | None) -> str:
    """Format 2: the hash over the stored text of every column (JSON exactly as stored)."""
    parts = [str(id), at, actor, action, entity, entity_id, before_text or "null", after_text or "null", policy_version or "",
             state_text or "null", state_keys or ""]
    return _sha(prev_hash + "|" + "\x1f".join(parts))


# ---- which state rows a session changed ------------------------------------------------------------
@dataclass
class _Pending:
    keys: dict[tuple[str, tuple], None] = field(default_factory=dict)  # (table, pk) in change order
    selectors: list[tuple[type[SQLModel], Any]] = field(default_factory=list)  # (model, where clause) for set-based writes
    actor: str | None = None


def _pending(s: Session) -> _Pending:
    p = s.info.get("audit_pending")
    if p is None:
        p = s.info["audit_pending"] = _Pending()
    return p


def touch(s: Session, table: str, ids: Iterable[Any]) -> None:
    """Mark rows changed by SQL the ORM does not see (``UPDATE ... WHERE``, bulk inserts)."""
    p = _pending(s)
    for i in ids:
        p.keys[(table, (i,) if not isinstance(i, tuple) else i)] = None


def touch_where(s: Session, model: type[SQLModel], clause: Any) -> None:
    """Mark every row of ``model`` matching ``clause`` (e.g. visits inserted for these checks)."""
    _pending(s).selectors.append((model, clause))


@event.listens_for(Session, "after_flush")
def _track(session: Session, _ctx: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table not in STATE_TABLES:
            continue
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        mapper = sa.inspect(obj).mapper
        pk = tuple(mapper.primary_key_from_instance(obj))
        if None not in pk:
            _pending(session).keys[(table, pk)] = None


@event.listens_for(Session, "before_commit")
def _append_at_commit(session: Session) -> None:
    """Changes made after the transaction's last ``record`` (or with none) get a ``state`` row of
    their own; then the transaction's rows are chained and appended (see ``_append``)."""
    p = session.info.get("audit_pending")
    if p is not None and (p.keys or p.selectors):
        session.flush()
        if p.keys or p.selectors:
            record(session, actor=p.actor or SYSTEM, action="state", entity="state", entity_id="-")
    drafts = session.info.pop("audit_drafts", None)
    if drafts:
        _append(session, drafts)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    """A rolled-back use case leaves nothing to log."""
    session.info.pop("audit_drafts", None)
    session.info.pop("audit_pending", None)


@lru_cache(maxsize=1)
def _tables() -> dict[str, sa.Table]:
    import review.store.all_models  # noqa: F401  (every table on the metadata)

    return {t: SQLModel.metadata.tables[t] for t in STATE_TABLES}


def image_row(table: sa.Table, row: Any) -> dict[str, Any]:
    """A state row as plain JSON data (the same text before and after a round trip through either database)."""
    m = row._mapping
    out: dict[str, Any] = {}
    for c in table.columns:
        v = m[c]
        if isinstance(v, datetime):
            v = at_text(v if v.tzinfo else v.replace(tzinfo=timezone.utc))
        out[c.name] = v
    return out


def _value_text(v: Any) -> str:
    """``canonical(v)`` of one column value, without a JSON encoder for the common scalars."""
    if v is None:
        return "null"
    if type(v) is str:
        return encode_basestring(v)
    if type(v) is int:
        return int.__repr__(v)
    if type(v) is bool:
        return "true" if v else "false"
    if isinstance(v, datetime):
        return encode_basestring(at_text(v if v.tzinfo else v.replace(tzinfo=timezone.utc)))
    return canonical(v)


@lru_cache(maxsize=None)
def _text_select(table: sa.Table) -> tuple[tuple[str, ...], frozenset[str], list[Any]]:
    """(sorted column names, JSON column names, the columns to select: JSON ones as their stored text)."""
    names = tuple(sorted(c.name for c in table.columns))
    json_cols = frozenset(c.name for c in table.columns if isinstance(c.type, sa.JSON))
    return names, json_cols, [sa.cast(table.c[n], sa.Text).label(n) if n in json_cols else table.c[n] for n in names]


def _datetime_text(v: datetime) -> str:
    """``_value_text`` of a time: ``at_text`` quoted (its text needs no escaping); a UTC time, as the store returns
    them, skips the conversion."""
    if v.tzinfo is timezone.utc:
        return '"' + v.replace(tzinfo=None).isoformat(timespec="microseconds") + 'Z"'
    return '"' + at_text(v if v.tzinfo else v.replace(tzinfo=timezone.utc)) + '"'


#: ``_value_text`` by the value's exact type: one dict look-up per column on the scan's hot path
_TEXT_OF: dict[type, Any] = {str: encode_basestring, int: int.__repr__, type(None): lambda _v: "null",
                             bool: lambda v: "true" if v else "false", datetime: _datetime_text}


def _stored_json(v: str | None) -> str:
    return v or "null"


@lru_cache(maxsize=None)
def _image_spec(table: sa.Table) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Per column of ``_text_select`` (in its order): the ``"name":`` prefix, and for a JSON column its stored-text
    writer (None: convert by the value's type)."""
    names, json_cols, _ = _text_select(table)
    return tuple(f'"{n}":' for n in names), tuple(_stored_json if n in json_cols else None for n in names)


@lru_cache(maxsize=None)
def _pk_positions(table: sa.Table) -> tuple[int, ...]:
    """Where the primary key's columns are in a row of ``_text_select``."""
    names = _text_select(table)[0]
    return tuple(names.index(c.name) for c in table.primary_key.columns)


def image_text(table: sa.Table, row: Any) -> str:
    """``canonical(image_row(table, row))`` for a row selected with ``_text_select``: its JSON columns go in as
    stored (the engine writes them canonically), not parsed and encoded again (``verify`` still parses them).
    The row's values are read by position (the select's column order is the sorted names)."""
    prefixes, writers = _image_spec(table)
    text_of = _TEXT_OF
    parts = []
    for prefix, write, v in zip(prefixes, writers, row, strict=True):
        if write is None:
            write = text_of.get(type(v)) or _value_text
        parts.append(prefix + write(v))
    return "{" + ",".join(parts) + "}"


def key_of(table: str, pk: tuple) -> str:
    return f"{table}/{':'.join(str(v) for v in pk)}"


@lru_cache(maxsize=1)
def _models() -> dict[str, Any]:
    from sqlmodel import SQLModel as _M

    return {m.class_.__tablename__: m for m in _M._sa_registry.mappers if getattr(m.class_, "__tablename__", None) in STATE_TABLES}


def _from_memory(s: Session, table: str, pk: tuple, t: sa.Table) -> dict[str, Any] | None:
    """The image of a row the session holds, fresh (flushed, not expired), without a SELECT; else None."""
    mapper = _models().get(table)
    if mapper is None:
        return None
    obj = s.identity_map.get(identity_key(mapper.class_, pk))
    if obj is None:
        return None
    state = sa.inspect(obj)
    if state.expired_attributes or state.modified or state.deleted or state.was_deleted:
        return None
    out: dict[str, Any] = {}
    for c in t.columns:
        v = state.dict.get(mapper.get_property_by_column(c).key, _MISSING)
        if v is _MISSING:
            return None
        if isinstance(v, datetime):
            v = at_text(v if v.tzinfo else v.replace(tzinfo=timezone.utc))
        out[c.name] = v
    return json.loads(canonical(out))  # the same values a SELECT would give (JSON containers as lists and dicts)


_MISSING = object()


def _images(s: Session, p: _Pending) -> dict[str, str]:
    """The canonical text of every pending row's image (``"null"``: the row is gone), by key."""
    tables = _tables()
    wanted: dict[str, list[tuple]] = {}
    out: dict[str, str] = {}
    held = len(s.identity_map) > 0  # set-based use cases (the nightly scan) hold no ORM objects: nothing to look up
    for table, pk in p.keys:
        image = _from_memory(s, table, pk, tables[table]) if held else None
        if image is not None:
            out[key_of(table, pk)] = canonical(image)
        else:
            wanted.setdefault(table, []).append(pk)
    for table, pks in wanted.items():
        t = tables[table]
        cols = list(t.primary_key.columns)
        at = _pk_positions(t)
        for k in range(0, len(pks), 500):
            batch = pks[k:k + 500]
            where = cols[0].in_([b[0] for b in batch]) if len(cols) == 1 else sa.tuple_(*cols).in_(batch)
            found = {tuple(r[i] for i in at): r for r in s.execute(sa.select(*_text_select(t)[2]).where(where))}
            for pk in batch:
                r = found.get(pk)
                out[key_of(table, pk)] = image_text(t, r) if r is not None else "null"
    for model, clause in p.selectors:
        t = table_of(model)
        at = _pk_positions(t)
        for r in s.execute(sa.select(*_text_select(t)[2]).where(clause)):
            out[key_of(t.name, tuple(r[i] for i in at))] = image_text(t, r)
    return out


# ---- appending ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Draft:
    """A row as ``record`` saw it; its id, time, place in the chain and MAC are given at commit."""

    actor: str
    action: str
    entity: str
    entity_id: str
    policy_version: str | None
    state_keys: str | None
    # before, after and state as stored (canonical JSON), fixed now: a caller changing its dicts later changes nothing
    texts: tuple[str | None, str | None, str | None]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    policy_version: str | None = None,
) -> None:
    """Log one row in the caller's transaction, with the images of every state row the transaction
    changed since its last row. The row is appended to the chain when the transaction commits, in
    the same transaction (it commits or rolls back with the change): see ``_append``."""
    session.flush()
    p = _pending(session)
    p.actor = actor
    images = _images(session, p) if (p.keys or p.selectors) else {}
    p.keys.clear()
    p.selectors.clear()
    texts = {k: images[k] for k in sorted(images)}  # each image encoded once, for its hash and for the state
    state_keys = ";".join(f"{k}={_sha(t)}" for k, t in texts.items()) or None
    draft = _Draft(actor, action, entity, str(entity_id), policy_version, state_keys,
                   (_text(before), _text(after), state_text(texts)))
    session.info.setdefault("audit_drafts", []).append(draft)


def state_text(texts: dict[str, str]) -> str | None:
    """``canonical(images)`` from the images' canonical texts (in key order), without encoding them again."""
    return "{" + ",".join(f"{encode_basestring(k)}:{t}" for k, t in texts.items()) + "}" if texts else None  # == canonical(k): a str


# Built once: statements run on every append skip construction and cache-key generation.
_LOG_INSERT = sa.insert(table_of(AuditLog))
#: SQLite keeps JSON as text: the canonical texts go in as they are, not parsed and encoded again.
_LOG_INSERT_TEXT = _LOG_INSERT.values({c: sa.bindparam(c, type_=sa.Text) for c in ("before", "after", "state")})
_HEAD_T = table_of(AuditHead)
_HEAD = sa.select(_HEAD_T.c.last_id, _HEAD_T.c.last_hash).where(_HEAD_T.c.id == 1)
_HEAD_LOCK = _HEAD.with_for_update()
_HEAD_INSERT = sa.insert(_HEAD_T).values(id=1)
_HEAD_UPDATE = sa.update(_HEAD_T).where(_HEAD_T.c.id == 1)
_ADVISORY_LOCK = sa.text("SELECT pg_advisory_xact_lock(:k)")
_LOG_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "before", "after", "policy_version", "prev_hash", "hash", "fmt",
                "state", "state_keys", "mac")
_JSON_COLUMNS = frozenset({"before", "after", "state"})


def _append(session: Session, drafts: list[_Draft]) -> None:
    """Chain and append the transaction's rows, at commit.

    Appends are serialized by the chain's head (PostgreSQL: its row lock, the first one by an
    advisory lock; SQLite: the writer's lock), held until the transaction ends, so the time
    between taking it and committing is the server's ceiling on writes per second. That is why
    rows are chained here, at the end, and why on PostgreSQL the rows, the new head and the
    COMMIT go in one round trip once the head is read."""
    from review.services.signing import load_key

    db = session.info.get("db")
    key = load_key(db.data_dir) if db is not None else None
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        head = conn.execute(_HEAD_LOCK).first()
        if head is None:
            conn.execute(_ADVISORY_LOCK, {"k": _LOCK_KEY})
            head = conn.execute(_HEAD_LOCK).first()
    else:
        head = conn.execute(_HEAD).first()
    prev_id, prev_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    at = utcnow()
    stamp = at_text(at)
    rows: list[dict[str, Any]] = []
    for d in drafts:
        prev_id += 1
        digest = row_hash_v2(prev_hash, prev_id, stamp, d.actor, d.action, d.entity, d.entity_id, d.texts[0], d.texts[1],
                             d.policy_version, d.texts[2], d.state_keys)
        rows.append(dict(id=prev_id, at=at, actor=d.actor, action=d.action, entity=d.entity, entity_id=d.entity_id, before=d.texts[0],
                         after=d.texts[1], policy_version=d.policy_version, prev_hash=prev_hash, hash=digest, fmt=2, state=d.texts[2],
                         state_keys=d.state_keys, mac=key.mac(digest) if key is not None else None))
        prev_hash = digest
    if not (postgres and head is not None and _append_and_commit_pg(conn, rows)):
        if conn.dialect.name == "sqlite":
            conn.execute(_LOG_INSERT_TEXT, rows)
        else:
            conn.execute(_LOG_INSERT, [{**r, **{c: _parsed(r[c]) for c in _JSON_COLUMNS}} for r in rows])
        conn.execute(_HEAD_UPDATE if head is not None else _HEAD_INSERT, {"last_id": prev_id, "last_hash": prev_hash})


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _append_and_commit_pg(conn: sa.Connection, rows: list[dict[str, Any]]) -> bool:
    """The rows, the new head and COMMIT as one simple query (client-side binding: psycopg quotes every
    value). The session's own COMMIT that follows finds the transaction ended and sends nothing; if any
    part fails, PostgreSQL runs none of it and the error (wrapped by SQLAlchemy as usual) rolls the
    use case back. False (nothing done) with another driver than psycopg."""
    import psycopg

    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        return False
    values, params = [], {}
    for i, r in enumerate(rows):
        values.append("(" + ", ".join(f"%(r{i}_{c})s::json" if c in _JSON_COLUMNS else f"%(r{i}_{c})s" for c in _LOG_COLUMNS) + ")")
        params.update({f"r{i}_{c}": r[c] for c in _LOG_COLUMNS})
    params.update(last_id=rows[-1]["id"], last_hash=rows[-1]["hash"])
    sql = (f"WITH new_head AS (UPDATE audit_head SET last_id = %(last_id)s, last_hash = %(last_hash)s WHERE id = 1) "
           f"INSERT INTO audit_log ({', '.join(_LOG_COLUMNS)}) VALUES {', '.join(values)}; COMMIT")
    factory = raw.cursor_factory
    raw.cursor_factory = psycopg.ClientCursor  # this connection is this thread's until the session ends
    try:
        conn.exec_driver_sql(sql, params)
    finally:
        raw.cursor_factory = factory
    return True


def _text(value: Any) -> str | None:
    return None if value is None else canonical(value)


def personal_read(db: Database, *, actor: str, what: str, entity: str, entity_id: Any, detail: dict[str, Any]) -> None:
    """Put a read of personal data on the trail (who, what, when): evidence files, reporters' contacts,
    follow-up visits, audited records."""
    with db.transaction() as s:
        record(s, actor=actor, action=f"read:{what}", entity=entity, entity_id=entity_id, after=detail)


# ---- reading -----------------------------------------------------------------------------------
TRAIL_LIMIT = 200


def trail(session: Session, entity: str, entity_id: Any, limit: int = TRAIL_LIMIT) -> list[AuditLog]:
    return list(session.exec(trail_statement(entity, entity_id, limit)).all())


def trail_statement(entity: str, entity_id: Any, limit: int = TRAIL_LIMIT) -> Any:
    """The rows of one entity's trail, oldest first: ``entity_id`` compared as text, or a bind parameter (``show``
    compiles the statement once with its review id as ``rid_text``, ``review.services.showing``)."""
    eid = entity_id if isinstance(entity_id, sa.BindParameter) else str(entity_id)
    return select(AuditLog).where(AuditLog.entity == entity, AuditLog.entity_id == eid).order_by(col(AuditLog.id)).limit(limit)


def recent(db: Database, *, review_id: int | None = None, limit: int = 50) -> list[AuditLog]:
    """The last ``limit`` audit rows (of one review when given), oldest first."""
    with db.reading() as s:
        q = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit)
        if review_id is not None:
            q = q.where(AuditLog.entity == "review", AuditLog.entity_id == str(review_id))
        return list(reversed(s.exec(q).all()))


def baseline(db: Database, *, actor: str = "system:upgrade") -> int:
    """Image every state row in one ``baseline`` row when the log has no images yet (after upgrading
    from a log without them); returns how many rows were imaged (0: nothing to do)."""
    with db.transaction() as s:
        has_images = s.execute(sa.select(col(AuditLog.id)).where(col(AuditLog.state_keys).is_not(None)).limit(1)).first()
        if has_images is not None:
            return 0
        n = 0
        for name, t in _tables().items():
            cols = list(t.primary_key.columns)
            ids = [tuple(r) for r in s.execute(sa.select(*cols))]
            touch(s, name, ids)
            n += len(ids)
        if n:
            record(s, actor=actor, action="baseline", entity="state", entity_id="-",
                   after={"note": "state imaged when the log began to carry state images", "rows": n})
        return n


def adopt_new_columns(db: Database, table: str, columns: tuple[str, ...], *, why: str, actor: str = "system:upgrade") -> int:
    """After a migration added (and filled) ``columns`` of a state table: re-image, in one row, the rows whose last
    logged image is today's image without those columns. A row that differs in anything else (changed outside the
    application before the upgrade) is left alone, so ``verify`` still names it. Returns how many rows were re-imaged
    (0: nothing to adopt, e.g. the log already images the columns, or has no images)."""
    t = _tables()[table]
    prefix = f"{table}/"
    last: dict[str, str] = {}
    with db.read_engine.connect() as conn:
        conn = conn.execution_options(stream_results=True, yield_per=10_000)
        for (keys,) in conn.execute(sa.select(col(AuditLog.state_keys)).where(col(AuditLog.state_keys).is_not(None))
                                    .order_by(col(AuditLog.id))):
            for pair in keys.split(";"):
                k, _, h = pair.partition("=")
                if k.startswith(prefix):
                    last[k] = h
    if not last:
        return 0
    pk = list(t.primary_key.columns)
    adopt: list[tuple[Any, ...]] = []
    with db.read_engine.connect() as conn:
        for r in conn.execute(sa.select(t)):
            ids = tuple(r._mapping[c] for c in pk)
            logged = last.get(key_of(table, ids))
            image = image_row(t, r)
            if logged is None or logged == _sha(canonical(image)):
                continue
            if logged == _sha(canonical({k: v for k, v in image.items() if k not in columns})):
                adopt.append(ids)
    if adopt:
        with db.transaction() as s:
            touch(s, table, adopt)
            record(s, actor=actor, action="schema", entity="state", entity_id="-",
                   after={"note": why, "table": table, "columns": list(columns), "rows": len(adopt)})
    return len(adopt)


# ---- verifying ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainProblem:
    row_id: int | None
    kind: str  # edited | deleted | reordered | forged | backdated | state | unlogged | missing | empty | checkpoint
    detail: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    problems: tuple[ChainProblem, ...]
    state_rows: int = 0
    macs_checked: bool = False
    checkpoints: tuple[str, ...] = ()  # one line per checkpoint proven

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ChainWalk:
    """The chain walk's state (shared by the database and the export verifiers)."""

    key: Any = None  # signing.AuditKey: row MACs are checked when present
    checkpoints: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # head id -> [(checkpoint no, head hash)]
    problems: list[ChainProblem] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    last: dict[str, tuple[int, str]] = field(default_factory=dict)  # state key -> (row id, image hash)
    count: int = 0
    prev_id: int = 0
    prev_hash: str = GENESIS
    prev_at: datetime | None = None
    seen: dict[str, int] = field(default_factory=dict)

    def row(self, id: int, at: datetime, actor: str, action: str, entity: str, entity_id: str, before: str | None, after: str | None,
            pv: str | None, prev_hash: str, hash: str, fmt: int, state: str | None, state_keys: str | None, mac: str | None) -> None:
        self.count += 1
        what = f"row {id} ({action} on {entity} {entity_id})"
        if fmt >= 2:
            expected = row_hash_v2(prev_hash, id, at_text(at), actor, action, entity, entity_id, before, after, pv, state, state_keys)
        else:
            expected = row_hash(prev_hash, id=id, at=at, actor=actor, action=action, entity=entity, entity_id=entity_id,
                                before=_parse(before), after=_parse(after), policy_version=pv)
        if expected != hash:
            self.problems.append(ChainProblem(id, "edited", f"{what} does not match its hash: its content was changed"))
        if id != self.prev_id + 1:
            gap = f"{self.prev_id + 1}" if id == self.prev_id + 2 else f"{self.prev_id + 1}-{id - 1}"
            self.problems.append(ChainProblem(self.prev_id + 1, "deleted", f"row(s) {gap} missing before row {id}: deleted"))
        elif prev_hash != self.prev_hash:
            back = self.seen.get(prev_hash)
            self.problems.append(ChainProblem(id, "reordered", f"row {id} points back to row {back}, not row {self.prev_id}: rows were "
                                                               "reordered or replaced" if back else
                                              f"row {id} does not follow row {self.prev_id} in the chain: rows were reordered, replaced or edited"))
        if self.key is not None and fmt >= 2 and (mac is None or mac != self.key.mac(hash)):
            self.problems.append(ChainProblem(id, "forged", f"{what} was not written with this server's audit key (its MAC does not match): "
                                                            "written or rewritten outside the application"))
        if self.prev_at is not None and (self.prev_at - at).total_seconds() > 1:
            self.problems.append(ChainProblem(id, "backdated", f"{what} is dated {at_text(at)}, before row {self.prev_id} "
                                                               f"({at_text(self.prev_at)}): backdated"))
        for n, head_hash in self.checkpoints.get(id, []):
            if head_hash == hash and expected == hash and not self.problems:
                self.proven.append(f"checkpoint {n}: the log up to row {id} is unchanged since it was signed")
            elif head_hash == hash and expected == hash:
                self.problems.append(ChainProblem(id, "checkpoint", f"checkpoint {n} signed row {id}, but rows before it no longer "
                                                                    f"match their hashes: the log up to row {id} was changed"))
            else:
                self.problems.append(ChainProblem(id, "checkpoint", f"checkpoint {n} signed row {id} as {head_hash[:16]}...; the log now "
                                                                    f"has {hash[:16]}...: the log up to row {id} was rewritten"))
        if state_keys:
            for pair in state_keys.split(";"):
                k, _, h = pair.partition("=")
                self.last[k] = (id, h)
        self.seen[hash] = id
        self.prev_id, self.prev_hash, self.prev_at = id, hash, at

    def end(self, last_id: int | None = None) -> None:
        for head_id, items in self.checkpoints.items():
            if head_id > self.prev_id:
                for n, _h in items:
                    self.problems.append(ChainProblem(head_id, "checkpoint", f"checkpoint {n} signed row {head_id}; the log ends at row "
                                                                             f"{self.prev_id}: its tail was cut"))


def _parse(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def walk_columns() -> list[Any]:
    c = table_of(AuditLog).c
    return [c.id, c.at, c.actor, c.action, c.entity, c.entity_id, sa.cast(c.before, sa.Text), sa.cast(c.after, sa.Text), c.policy_version,
            c.prev_hash, c.hash, c.fmt, sa.cast(c.state, sa.Text), c.state_keys, c.mac]


def verify_chain(db: Database, *, state: bool = True, checkpoints: Iterable[dict] = (), public_key: Any = None,
                 batch: int = 10_000) -> ChainReport:
    """Walk the chain, then (``state``) check every state row against its last logged image.

    ``checkpoints``: signed head documents (``review.services.checkpoints``); each one's
    signature is checked with ``public_key`` (default: this server's key) and the chain must
    still hold the signed hash at the signed row.
    """
    from review.services import checkpoints as cps
    from review.services.signing import load_key

    key = load_key(db.data_dir, create=False)
    w = ChainWalk(key=key)
    pub = public_key if public_key is not None else (key.public if key is not None else None)
    for n, doc in enumerate(checkpoints, 1):
        head = cps.check_signature(doc, pub, where=f"checkpoint {n}")
        w.checkpoints.setdefault(head.head_id, []).append((n, head.head_hash))
    with db.read_engine.connect() as conn:
        conn = conn.execution_options(stream_results=True, yield_per=batch)
        for r in conn.execute(sa.select(*walk_columns()).order_by(col(AuditLog.id))):
            w.row(*r)
        head_row = conn.execute(sa.select(col(AuditHead.last_id), col(AuditHead.last_hash)).where(col(AuditHead.id) == 1)).first()
    w.end()
    if head_row is not None:
        last_id, last_hash = head_row
        if last_id > w.prev_id:
            w.problems.append(ChainProblem(w.prev_id + 1, "deleted", f"row(s) {w.prev_id + 1}-{last_id} missing at the end of the log: deleted"))
        elif last_id == w.prev_id and last_hash != w.prev_hash:
            w.problems.append(ChainProblem(w.prev_id, "edited", f"last row {w.prev_id} does not match the recorded head hash"))
        elif last_id < w.prev_id:
            w.problems.append(ChainProblem(last_id + 1, "edited", f"rows after {last_id} were added outside the application"))
    elif w.count:
        w.problems.append(ChainProblem(None, "edited", "the audit head record is missing"))
    checked = 0
    if state:
        checked = _check_state(db, w)
    return ChainReport(w.count, tuple(w.problems), checked, key is not None, tuple(w.proven))


def _check_state(db: Database, w: ChainWalk) -> int:
    """Every state row against its last logged image; rows with no entry; logged rows that are gone."""
    seen: set[str] = set()
    checked = 0
    diffs: list[tuple[str, str, dict[str, Any]]] = []
    with db.read_engine.connect() as conn:
        conn = conn.execution_options(stream_results=True, yield_per=10_000)
        for name, t in _tables().items():
            cols = list(t.primary_key.columns)
            for r in conn.execute(sa.select(t)):
                checked += 1
                k = key_of(name, tuple(r._mapping[c] for c in cols))
                seen.add(k)
                image = image_row(t, r)
                logged = w.last.get(k)
                if logged is None:
                    w.problems.append(ChainProblem(None, "unlogged", f"{_label(k)} exists with no entry in the audit log"))
                elif logged[1] != _sha(canonical(image)):
                    diffs.append((k, str(logged[0]), image))
    if checked and not w.count:
        w.problems.insert(0, ChainProblem(None, "empty", f"the audit log is empty but the database holds {checked} state rows: "
                                                         "the log was deleted"))
    for k, row_id, image in diffs:
        w.problems.append(ChainProblem(int(row_id), "state", _difference(db, k, int(row_id), image)))
    for k, (last_row, h) in w.last.items():
        if k not in seen and h != _sha("null"):
            w.problems.append(ChainProblem(last_row, "missing", f"{_label(k)} is gone, but the log says it exists since row {last_row}: "
                                                              "deleted outside the application"))
    return checked


def _label(key: str) -> str:
    table, _, pk = key.partition("/")
    return f"{table.replace('_', ' ')} {pk}"


def _difference(db: Database, key: str, row_id: int, image: dict[str, Any]) -> str:
    """'review 7: grade is LOW, the log says HIGH since row 212' (every differing field)."""
    with db.read_engine.connect() as conn:
        text = conn.execute(sa.select(sa.cast(col(AuditLog.state), sa.Text)).where(col(AuditLog.id) == row_id)).scalar()
    logged = (_parse(text) or {}).get(key)
    if logged is None:
        return f"{_label(key)} exists, but the log says it was deleted at row {row_id}"
    parts = [f"{f} is {_short(image.get(f))}, the log says {_short(v)}" for f, v in logged.items() if image.get(f) != v]
    parts += [f"{f} is {_short(v)}, the log has no such field" for f, v in image.items() if f not in logged]
    return f"{_label(key)}: " + "; ".join(parts or ["differs from its logged image"]) + f" since row {row_id}"


def _short(v: Any) -> str:
    text = v if isinstance(v, str) else canonical(v)
    return text if len(text) <= 60 else text[:57] + "..."
