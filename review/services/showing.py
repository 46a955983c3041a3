"""One review in full (``ethics-review show``): its data types, and the caches that let a fresh process read it on
SQLite with the sqlite3 module alone, without importing SQLAlchemy, the models or the policy packs.

``review.services.queries.show_review`` is the one reference (SQLAlchemy, any backend). On SQLite it also compiles
its statements once into the data directory (``SQL_CACHE``: the SQL, its parameters, and how each column of each
table reads back and is dumped); ``cached_detail`` runs them and builds the same ``ReviewDetail``, field for field:
times as SQLAlchemy and SQLModel return them and as pydantic writes them, JSON columns parsed as SQLAlchemy parses
them, the same order, the same trail fields, the same ``grade_label`` fallback. The cache is keyed by the files its
SQL comes from (their size and time, and the SQLAlchemy, SQLModel and pydantic installed) and holds the schema
revision it was compiled at: a database at any other revision, or a changed source, is read by the usual path.

What the installed packs say (the frameworks a review's verified controls meet, the questions' wording) is kept
apart (``PACK_CACHE``), keyed by every file of every installed pack and the code that reads them: computed once by
``policies`` and met with each review's verified controls by ``review.domain.crosswalk``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from review.services.ids import parse_review_id, review_not_found


@dataclass
class ControlView:
    control_id: str
    title: str
    dimension: str
    required_from: str
    verify_gate: str
    status: str
    evidence_expected: str
    rationale: str | None
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReviewDetail:
    """One review in full, as JSON-ready dicts (times are ISO 8601 text)."""

    review: dict[str, Any]
    product: dict[str, Any]
    assessments: list[dict[str, Any]]
    controls: list[ControlView]
    decisions: list[dict[str, Any]]
    trail: list[dict[str, Any]]
    #: what the automatic gate steps found (per gate and round)
    gate_reports: list[dict[str, Any]] = field(default_factory=list)
    #: per tracked framework, the obligations the verified controls meet (``policies.crosswalk.coverage``)
    frameworks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


#: the audit fields ``show`` leaves out of the trail (the chain's and the state's internals)
TRAIL_EXCLUDE = frozenset({"prev_hash", "state", "state_keys", "mac", "fmt"})
#: the statements of ``show_review``, by name (``queries.show_statements``)
STATEMENTS = ("review", "assessments", "controls", "evidence", "decisions", "trail", "gate_reports")
#: the tables whose rows ``show`` dumps, and the statement each comes from
TABLES = ("review", "product", "assessment", "control_requirement", "evidence", "decision", "audit_log", "gate_report")

SQL_CACHE = "cache/show-sql.json"
PACK_CACHE = "cache/show-packs.json"
_SQL_SOURCES = ("services/queries.py", "services/showing.py", "services/common.py", "services/audit.py", "services/ids.py",
                "store/models.py", "store/models_followup.py", "store/db.py")
#: what decides how the statements compile, how rows read back and how pydantic dumps them
_LIBRARIES = ("sqlalchemy", "sqlmodel", "pydantic", "pydantic_core")
_memo: dict[str, dict[str, Any]] = {}  # per cache file: its document (this process)


def _root() -> str:
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stat(path: str) -> str:
    import os

    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _library_stats() -> list[str]:
    import importlib.util

    out = []
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        out.append(_stat(spec.origin) if spec and spec.origin else "-")
    return out


def _sql_fingerprint() -> str:
    import os

    return "|".join([_stat(os.path.join(_root(), p)) for p in _SQL_SOURCES] + _library_stats())


def _pack_fingerprint() -> str:
    """Every file of every installed pack (the search path in order), the code that loads, checks and crosswalks
    packs, and pydantic: a pack edited, added, removed or shadowed, or a changed schema, is read afresh."""
    import os

    from policies.installed import search_dirs

    parts = []
    policies_dir = os.path.join(os.path.dirname(_root()), "policies")
    for d in (policies_dir, os.path.join(_root(), "domain")):
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".py"))
        except OSError:
            names = []
        parts += [f"{n}={_stat(os.path.join(d, n))}" for n in names]
    parts.append(f"showing={_stat(os.path.abspath(__file__))}")
    for packs in search_dirs():
        parts.append(f"dir={packs}")
        if not packs.is_dir():
            continue
        for pack in sorted(packs.glob("*/pack.yaml")):
            for top, dirs, files in os.walk(pack.parent):
                dirs.sort()
                parts += [f"{os.path.join(top, n)}={_stat(os.path.join(top, n))}" for n in sorted(files)]
    return "|".join(parts + _library_stats())


def _load(data_dir: Any, name: str, fingerprint: str) -> dict[str, Any]:
    """The cache document ``name`` of ``data_dir`` when it was written for ``fingerprint``, else an empty one."""
    import json
    import os

    path = os.path.join(str(data_dir), name)
    doc = _memo.get(path)
    if doc is None or doc.get("fingerprint") != fingerprint:
        doc = {"fingerprint": fingerprint}
        try:
            with open(path, encoding="utf-8") as fh:
                stored = json.load(fh)
            if isinstance(stored, dict) and stored.get("fingerprint") == fingerprint:
                doc = stored
        except (OSError, ValueError):
            pass
        _memo[path] = doc
    return doc


def _store(data_dir: Any, name: str, doc: dict[str, Any]) -> None:
    """Write ``doc`` whole (a reader in another process sees the old file or the new one); a cache that cannot be
    written is left alone (``show`` works without it)."""
    import json
    import os
    import tempfile

    path = os.path.join(str(data_dir), name)
    _memo[path] = doc
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".show-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
        os.replace(tmp, path)
    except OSError:
        pass


# ---- the compiled SQL --------------------------------------------------------------------------------
def compiled(data_dir: Any) -> dict[str, Any] | None:
    """The compiled statements of ``show_review`` kept in ``data_dir`` for the sources as they are, else None."""
    doc = _load(data_dir, SQL_CACHE, _sql_fingerprint())
    return doc if all(k in doc for k in ("heads", "tables", "statements")) else None


def remember(data_dir: Any, entry: dict[str, Any]) -> None:
    """Keep the compiled statements (``queries._show_compiled``: ``heads``, ``statements``, ``tables``)."""
    _store(data_dir, SQL_CACHE, {"fingerprint": _sql_fingerprint(), **entry})


def _sqlite_path(url: str) -> str | None:
    from review.services.listing import _sqlite_path as path_of

    return path_of(url)


def _utc(text: Any) -> datetime:
    """A time as SQLAlchemy reads it from SQLite (``fromisoformat``) and SQLModel's UTCDateTime returns it."""
    d = datetime.fromisoformat(text)
    return d.replace(tzinfo=timezone.utc) if d.utcoffset() is None else d.astimezone(timezone.utc)


def _pydantic_time(d: datetime) -> str:
    """An aware UTC time as pydantic's ``model_dump(mode="json")`` writes it."""
    frac = f".{d.microsecond:06d}" if d.microsecond else ""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}{frac}Z"


def _finite(value: Any) -> Any:
    """JSON data as pydantic dumps it in JSON mode: infinities and NaN become null."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _read(value: Any, kind: str) -> Any:
    """A column value as the ORM has it on the model (``kind`` from the column's type, ``queries._show_compiled``)."""
    if value is None:
        return None
    if kind == "datetime":
        return _utc(value)
    if kind == "json":
        import json

        return json.loads(value)
    if kind == "bool":
        return bool(value)
    return value


def _dump(row: dict[str, Any], fields: Sequence[Sequence[str]], exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``model.model_dump(mode="json", exclude=exclude)`` of the model ``row`` holds (``fields``: its fields in order)."""
    out: dict[str, Any] = {}
    for name, kind in fields:
        if name in exclude:
            continue
        v = row[name]
        if v is not None:
            if kind == "datetime":
                v = _pydantic_time(v)
            elif kind == "json":
                v = _finite(v)
        out[name] = v
    return out


def _rows(conn: Any, stmt: dict[str, Any], params: dict[str, Any], tables: dict[str, Any],
          skip: frozenset[str] = frozenset()) -> list[dict[str, dict[str, Any]]]:
    """The rows of ``stmt``, each as table -> {column: value as the ORM reads it}; the columns in ``skip`` (left out
    of the detail) are not parsed."""
    binds = [params[name] if name in params else const for name, const in stmt["binds"]]
    cols = stmt["columns"]
    kinds = ["" if c in skip else dict(tables[t])[c] for t, c in cols]
    out = []
    for values in conn.execute(stmt["sql"], binds):
        row: dict[str, dict[str, Any]] = {}
        for (t, c), kind, v in zip(cols, kinds, values, strict=True):
            row.setdefault(t, {})[c] = _read(v, kind)
        out.append(row)
    return out


def cached_detail(url: str, data_dir: Any, review_id: Any, *, frameworks: str = "") -> ReviewDetail | None:
    """``queries.show_review`` on a SQLite file through the sqlite3 module, when ``data_dir`` holds its statements
    compiled for these sources and the database is at the schema revision they were compiled at; None otherwise
    (or when the file is missing or fails to answer): the caller then reads through ``queries.show_review``, which
    fills the cache. A bad id raises as there; ``frameworks``: the setting of that name."""
    rid = parse_review_id(review_id)
    path = _sqlite_path(url)
    if path is None:
        return None
    doc = compiled(data_dir)
    if doc is None:
        return None
    import sqlite3
    from urllib.parse import quote

    tables, st = doc["tables"], doc["statements"]
    params = {"rid": rid, "rid_text": str(rid)}
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error:
        return None  # no such file: the usual path says so (or creates it, as it always did)
    try:
        conn.execute("BEGIN")  # one snapshot for every part, as one read session
        heads = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
        if heads != set(doc["heads"]):
            return None  # another schema revision: the usual path reads it (or says what is wrong)
        found = _rows(conn, st["review"], params, tables)
        if not found:
            raise review_not_found(rid)
        parts = {name: _rows(conn, st[name], params, tables, TRAIL_EXCLUDE if name == "trail" else frozenset()) for name in STATEMENTS[1:]}
        conn.execute("ROLLBACK")
    except (sqlite3.Error, ValueError, TypeError, KeyError):
        return None  # e.g. no schema yet, a value SQLAlchemy would not read either: the usual path gives its message
    finally:
        conn.close()
    try:
        detail = _detail(found[0], parts, tables)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # a cache that does not fit the rows (hand-edited): the usual path
    detail.frameworks = framework_coverage(detail.review["policy_id"], detail.controls, frameworks, data_dir)
    return detail


def _detail(found: dict[str, dict[str, Any]], parts: dict[str, list[dict[str, dict[str, Any]]]], tables: dict[str, Any]) -> ReviewDetail:
    """The ``ReviewDetail`` of the rows read (its ``frameworks`` left out), as ``queries.show_review`` builds it."""
    review, product = found["review"], found["product"]
    by_control: dict[str, list[dict[str, Any]]] = {}
    for r in parts["evidence"]:
        e = r["evidence"]
        by_control.setdefault(e["control_id"], []).append(
            {"id": e["id"], "sha256": e["sha256"], "filename": e["filename"], "size": e["size"], "uploaded_by": e["uploaded_by"],
             "uploaded_at": e["uploaded_at"].isoformat()})
    views = []
    for r in parts["controls"]:
        c = r["control_requirement"]
        views.append(ControlView(c["control_id"], c["title"], c["dimension"], c["required_from"], c["verify_gate"], c["status"],
                                 c["evidence_expected"], c["rationale"], by_control.get(c["control_id"], [])))
    return ReviewDetail(
        review={**_dump(review, tables["review"]), "grade_label": review["grade_label"] or review["grade"]},
        product={**product["profile"], "id": product["id"], "created_at": product["created_at"].isoformat()},
        assessments=[_dump(r["assessment"], tables["assessment"]) for r in parts["assessments"]],
        controls=views,
        decisions=[_dump(r["decision"], tables["decision"]) for r in parts["decisions"]],
        trail=[_dump(r["audit_log"], tables["audit_log"], TRAIL_EXCLUDE) for r in parts["trail"]],
        gate_reports=[_dump(r["gate_report"], tables["gate_report"]) for r in parts["gate_reports"]],
    )


# ---- what the installed packs say --------------------------------------------------------------------
def _packs(data_dir: Any) -> dict[str, Any]:
    doc = _load(data_dir, PACK_CACHE, _pack_fingerprint())
    doc.setdefault("walks", {})
    doc.setdefault("labels", {})
    return doc


def framework_coverage(policy_id: str, views: Sequence[ControlView], setting: str, data_dir: Any) -> list[dict[str, Any]]:
    """``policies.crosswalk.coverage(policy_id, verified_evidence(views), setting)`` with the crosswalks kept in
    ``data_dir`` (computed, and kept, when the installed packs changed since). A bad setting or pack raises as there."""
    from review.domain.crosswalk import Crosswalk, Link, obligations_met, verified_evidence

    doc = _packs(data_dir)
    key = f"{policy_id}\n{setting}"
    kept = doc["walks"].get(key)
    if kept is None:
        from policies.crosswalk import walks

        kept = [[about, walk.source, walk.target,
                 [[x.control, x.control_title, x.obligation, x.obligation_title, list(x.declared_in)] for x in walk.links]]
                for about, walk in walks(policy_id, setting)]
        doc["walks"][key] = kept
        _store(data_dir, PACK_CACHE, doc)
    verified = verified_evidence(views)
    out = []
    for about, source, target, links in kept:
        walk = Crosswalk(source, target, tuple(Link(c, ct, o, ot, tuple(d)) for c, ct, o, ot, d in links), ())
        out.append({**about, "met": [asdict(m) for m in obligations_met(walk, verified)]})
    return out


def question_labels(pack_id: str, data_dir: Any) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """``policies.loader.question_labels(pack_id)`` kept in ``data_dir`` (read afresh when the installed packs changed)."""
    doc = _packs(data_dir)
    kept = doc["labels"].get(pack_id)
    if kept is None:
        from policies.loader import question_labels as load

        text, labels = load(pack_id)
        kept = [text, [[q, o, label] for (q, o), label in labels.items()]]
        doc["labels"][pack_id] = kept
        _store(data_dir, PACK_CACHE, doc)
    return dict(kept[0]), {(q, o): label for q, o, label in kept[1]}
