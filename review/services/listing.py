"""The review list's data types and parameters, without the store: what ``ethics-review list`` needs to read a
page through the compiled-SQL cache (``review.store.fastread``) without importing SQLAlchemy or the models.

``review.services.queries.list_reviews`` builds the one SQLAlchemy statement of each query *shape* (which
filters are set, the sort, the kind of search) with named parameters; ``list_params`` gives their values for
both paths, so the SQL and its parameters have one source each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from review.domain.grades import Grade
from review.domain.lifecycle import AWAITING_COMMITTEE, Gate, Status
from review.errors import InvalidInput

SORT_KEYS = ("id", "product", "gate", "status", "grade", "assignee", "due", "updated", "created")
#: The trigram index answers queries of at least this many characters; shorter ones are a scan on either backend.
TRIGRAM = 3


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ReviewRow:
    id: int
    product: str
    owner_team: str
    gate: str
    status: str
    grade: str | None
    assignee: str | None
    due_at: datetime | None
    updated_at: datetime
    version: int
    #: what the grade is called under the review's pack (the grade itself under the default pack); colours stay keyed on ``grade``
    grade_label: str | None = None

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at < _now() and self.status in AWAITING_COMMITTEE

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["due_at"] = self.due_at.isoformat() if self.due_at else None
        d["updated_at"] = self.updated_at.isoformat()
        d["overdue"] = self.overdue
        return d


@dataclass(frozen=True)
class Page:
    rows: list[ReviewRow]
    total: int
    offset: int
    limit: int
    #: the count stopped at ``count_cap``: at least ``total`` reviews match (the TUI shows "10,000+")
    total_capped: bool = False


@dataclass(frozen=True)
class ReviewFilter:
    gate: str | None = None
    status: str | None = None
    grade: str | None = None
    assignee: str | None = None
    overdue: bool = False
    search: str | None = None
    team: str | None = None

    def validated(self) -> "ReviewFilter":
        def check(value: str | None, enum: Any, name: str) -> str | None:
            if value is None:
                return None
            v = value.upper().replace("-", "_")
            if v not in {e.value for e in enum}:
                raise InvalidInput(f"--{name} {value!r} is not one of: {', '.join(e.value for e in enum)}")
            return v

        return ReviewFilter(check(self.gate, Gate, "gate"), check(self.status, Status, "status"), check(self.grade, Grade, "grade"),
                            self.assignee, self.overdue, self.search, self.team)


def check_page_args(sort: str, limit: int, count_cap: int | None) -> None:
    if sort not in SORT_KEYS:
        raise InvalidInput(f"--sort {sort!r} is not one of: {', '.join(SORT_KEYS)}")
    if not 1 <= limit <= 10_000:
        raise InvalidInput(f"--limit {limit} must be between 1 and 10000")
    if count_cap is not None and count_cap < 1:
        raise InvalidInput(f"count_cap {count_cap} must be at least 1 (or left out for an exact count)")


def search_kind(search: str | None, *, sqlite: bool) -> str | None:
    """How a name search is answered: ``ilike`` (PostgreSQL, trigram index), ``fts`` (SQLite, FTS5 trigram
    index, 3+ characters) or ``scan`` (SQLite, shorter: each name checked in page order); None: no search."""
    if not search:
        return None
    if not sqlite:
        return "ilike"
    return "fts" if len(search) >= TRIGRAM else "scan"


def shape(f: ReviewFilter, *, sort: str, descending: bool, with_total: bool, count_cap: int | None, sqlite: bool) -> str:
    """The query's shape: everything that changes its SQL text (not its parameter values). ``f`` is validated."""
    flags = "".join(k[0] if getattr(f, k) else "-" for k in ("gate", "status", "grade", "assignee", "team", "overdue"))
    total = "none" if not with_total else "exact" if count_cap is None else "capped"
    return (f"{'sqlite' if sqlite else 'postgresql'}|{flags}|{search_kind(f.search, sqlite=sqlite)}|{sort}|"
            f"{'desc' if descending else 'asc'}|{total}")


def list_params(f: ReviewFilter, *, limit: int, offset: int, count_cap: int | None, sqlite: bool,
                now: datetime | None = None) -> dict[str, Any]:
    """The values of the named parameters of the list statements (``f`` validated); ``now`` for ``overdue``."""
    p: dict[str, Any] = {"page_limit": limit, "page_offset": offset}
    for k in ("gate", "status", "grade", "assignee", "team"):
        if getattr(f, k):
            p[f"f_{k}"] = getattr(f, k)
    if f.overdue:
        p["f_now"] = now or _now()
    if count_cap is not None:
        p["count_limit"] = count_cap + 1
    kind = search_kind(f.search, sqlite=sqlite)
    q = f.search or ""
    if kind == "ilike":  # every character literal: the wildcards and the escape character escaped
        p["f_search"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    elif kind == "fts":  # a quoted FTS5 phrase: an exact substring (the trigram tokenizer folds case)
        p["f_search"] = '"' + q.replace('"', '""') + '"'
    elif kind == "scan":
        p["f_search"] = q.lower()
    return p


# ---- the compiled-SQL cache: ``list`` without SQLAlchemy --------------------------------------------
# ``queries.list_reviews`` (SQLite) compiles the statements of each shape it runs once and keeps them here, in
# the data directory; ``cached_page`` runs them through the sqlite3 module alone. Importing SQLAlchemy and the
# models is most of a command's start-up, and a listing needs neither once its SQL is known. The cache is keyed
# by the files the SQL comes from (their size and time), so a changed query or model is compiled afresh.
CACHE_FILE = "cache/list-sql.json"
_SOURCES = ("services/queries.py", "services/listing.py", "store/models.py")
_memo: dict[str, dict[str, Any]] = {}  # per cache file: its entries (this process)


def _fingerprint() -> str:
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.find_spec("sqlalchemy")  # its version decides how the statements compile
    paths = [os.path.join(root, p) for p in _SOURCES] + [spec.origin if spec and spec.origin else ""]
    parts = []
    for path in paths:
        try:
            st = os.stat(path)
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


def _entries(data_dir: Any) -> dict[str, Any]:
    import json
    import os

    path = os.path.join(str(data_dir), CACHE_FILE)
    if path not in _memo:
        entries: dict[str, Any] = {}
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
            if isinstance(doc, dict) and doc.get("fingerprint") == _fingerprint() and isinstance(doc.get("entries"), dict):
                entries = doc["entries"]
        except (OSError, ValueError):
            pass
        _memo[path] = entries
    return _memo[path]


def known(data_dir: Any, key: str) -> bool:
    """The statements of shape ``key`` are in the cache of ``data_dir``."""
    return key in _entries(data_dir)


def remember(data_dir: Any, key: str, page: dict[str, Any], count: dict[str, Any] | None) -> None:
    """Keep the compiled statements of shape ``key`` (``queries._compiled``); a cache that cannot be written is
    left alone (the listing works without it)."""
    import json
    import os
    import tempfile

    entries = _entries(data_dir)
    entries[key] = {"page": page, "count": count}
    path = os.path.join(str(data_dir), CACHE_FILE)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".list-sql-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"fingerprint": _fingerprint(), "entries": entries}, fh)
        os.replace(tmp, path)  # whole or not at all, for a reader in another process
    except OSError:
        pass


def _sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL (no query, not in memory), else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix):]
    return path if path and path != ":memory:" and not path.startswith("file:") else None


def _bound(stmt: dict[str, Any], params: dict[str, Any]) -> list[Any]:
    out = []
    for name, kind, const in stmt["binds"]:
        v = params[name] if name in params else const
        if kind == "datetime" and v is not None:  # SQLAlchemy's SQLite DATETIME text, in UTC (UTCDateTime)
            v = v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        out.append(v)
    return out


def _row(values: tuple[Any, ...], datetimes: list[int]) -> tuple[Any, ...]:
    if not datetimes:
        return values
    out = list(values)
    for i in datetimes:
        if out[i] is not None:
            out[i] = datetime.fromisoformat(out[i]).replace(tzinfo=timezone.utc)
    return tuple(out)


def cached_page(url: str, data_dir: Any, f: ReviewFilter | None = None, *, sort: str = "id", descending: bool = True,
                limit: int = 50, offset: int = 0, with_total: bool = True, count_cap: int | None = None) -> Page | None:
    """``queries.list_reviews`` on a SQLite file through the sqlite3 module, when the cache of ``data_dir`` holds
    the statements of this shape; None when it does not (or the file is missing or fails to answer): the caller
    then lists through ``queries.list_reviews``, which fills the cache. Bad arguments raise as there."""
    f = (f or ReviewFilter()).validated()
    check_page_args(sort, limit, count_cap)
    path = _sqlite_path(url)
    if path is None:
        return None
    entry = _entries(data_dir).get(shape(f, sort=sort, descending=descending, with_total=with_total, count_cap=count_cap, sqlite=True))
    if entry is None or (with_total and entry.get("count") is None):
        return None
    import sqlite3
    from urllib.parse import quote

    from review.text import unicode_lower

    params = list_params(f, limit=limit, offset=offset, count_cap=count_cap, sqlite=True)
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error:
        return None  # no such file: the usual path says so (or creates it, as it always did)
    try:
        conn.create_function("unicode_lower", 1, unicode_lower, deterministic=True)  # as ``Database`` does
        conn.execute("BEGIN")  # one snapshot for the page and its count, as one read session
        page = entry["page"]
        rows = [ReviewRow(*_row(r, page["datetimes"])) for r in conn.execute(page["sql"], _bound(page, params))]
        total, capped = -1, False
        if with_total:
            count = entry["count"]
            total = conn.execute(count["sql"], _bound(count, params)).fetchone()[0]
            if count_cap is not None:
                total, capped = min(total, count_cap), total > count_cap
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        return None  # e.g. no schema yet: the usual path gives its message
    finally:
        conn.close()
    return Page(rows, total, offset, limit, capped)
