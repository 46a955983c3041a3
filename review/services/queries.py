"""Read side: the review list (paged, filtered, sorted) and one review in full.

These return plain dataclasses (no sessions escape), so the CLI, TUI and flows can use
them from any thread.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlmodel import col, select

from review.domain.grades import Grade
from review.domain.lifecycle import AWAITING_COMMITTEE
from review.services import audit, listing, showing
from review.services.common import REVIEW_AND_PRODUCT, get_review
from review.services.listing import (SORT_KEYS, TRIGRAM, Page, ReviewFilter, ReviewRow, check_page_args, list_params, search_kind,
                                     shape)
from review.services.showing import ControlView, ReviewDetail, _jsonable  # noqa: F401  (re-exported: the detail's types)
from review.store.db import Database
from review.store.models import PRODUCT_NAME_FTS, Assessment, ControlRequirement, Decision, Evidence, Product, Review

SORTABLE: dict[str, Mapped[Any]] = {
    "id": col(Review.id),
    "product": col(Product.name),
    "gate": col(Review.gate),
    "status": col(Review.status),
    "grade": col(Review.priority),  # priority is the grade's rank
    "assignee": col(Review.assignee),
    "due": col(Review.due_at),
    "updated": col(Review.updated_at),
    "created": col(Review.created_at),
}
assert tuple(SORTABLE) == SORT_KEYS

#: the review's grade as its pack names it; rows written without a label (bulk SQL) show the grade itself
_LABEL = sa.func.coalesce(col(Review.grade_label), col(Review.grade))


def name_contains(q: str) -> sa.ColumnElement[bool]:
    """``product.name`` contains ``q`` (SQLite): Python's ``lower()`` on both sides, since SQLite's own
    LIKE and lower() fold ASCII only."""
    return sa.func.instr(sa.func.unicode_lower(col(Product.name)), q.lower()) > 0


def _param(name: str, like: Any) -> sa.BindParameter[Any]:
    """A named parameter of the list statements (its value comes from ``listing.list_params``), typed like ``like``."""
    return sa.bindparam(name, type_=like.type)


def _search(kind: str) -> tuple[sa.ColumnElement[bool] | None, sa.ColumnElement[bool] | None]:
    """(condition on product, condition on review) for names containing the search text as a substring,
    case-insensitively (Unicode), every character literal (``%``, ``_``, quotes, backslashes).

    ``ilike`` (PostgreSQL): ILIKE with the wildcards escaped, answered by the trigram index (0005). ``fts``
    (SQLite, 3 characters and more): the FTS5 trigram index (0010) collects the matching products (a quoted
    trigram phrase is an exact substring match, folded by FTS5's Unicode case folding). ``scan`` (SQLite,
    shorter queries have no terms in the index): each review's name is checked with ``unicode_lower`` in page
    order instead, which meets a page of matches early (one or two characters match many names) and scans
    when they match few. The cost of an indexed search grows with the number of matching names, not with
    the table. The parameter ``f_search`` is the text as each kind needs it (``listing.list_params``)."""
    text = sa.bindparam("f_search", type_=sa.String())
    if kind == "ilike":
        return col(Product.name).ilike(text, escape="\\"), None
    if kind == "fts":
        return col(Product.id).in_(sa.select(PRODUCT_NAME_FTS.c.rowid).where(PRODUCT_NAME_FTS.c.name.op("MATCH")(text))), None
    # correlated with the review only: a page sorted by product joins product outside too (auto-correlation
    # would take it out of the subquery, leaving it no FROM)
    return None, sa.exists().where(col(Product.id) == col(Review.product_id),
                                   sa.func.instr(sa.func.unicode_lower(col(Product.name)), text) > 0).correlate(Review)


def _where(f: ReviewFilter, *, sqlite: bool) -> list[Any]:
    conds: list[Any] = []
    for key, column in (("gate", Review.gate), ("status", Review.status), ("grade", Review.grade), ("assignee", Review.assignee)):
        if getattr(f, key):
            conds.append(col(column) == _param(f"f_{key}", col(column)))
    product_conds: list[sa.ColumnElement[bool]] = []
    if f.team:
        product_conds.append(col(Product.owner_team) == _param("f_team", col(Product.owner_team)))
    if f.overdue:
        conds.append(col(Review.due_at) < _param("f_now", col(Review.due_at)))
        conds.append(col(Review.status).in_([s.value for s in AWAITING_COMMITTEE]))
    kind = search_kind(f.search, sqlite=sqlite)
    if kind is not None:
        on_product, on_review = _search(kind)
        product_conds += [on_product] if on_product is not None else []
        conds += [on_review] if on_review is not None else []
    if product_conds:
        # The matching products first (by index), then their reviews. MATERIALIZED keeps
        # PostgreSQL from walking the whole review index backwards hoping to meet 50 matches early.
        matched = sa.select(col(Product.id)).where(*product_conds).cte("matched").prefix_with("MATERIALIZED", dialect="postgresql")
        conds.append(col(Review.product_id).in_(sa.select(matched.c.id)))
    return conds


def list_statements(f: ReviewFilter, *, sort: str, descending: bool, with_total: bool, count_cap: int | None,
                    sqlite: bool) -> tuple[sa.Select[Any], sa.Select[Any] | None]:
    """(the page, the count or None) of one query shape (``listing.shape``), with named parameters
    (``listing.list_params``): the one source of the list's SQL, run here and compiled for ``listing.cached_page``."""
    column = SORTABLE[sort]
    order = [column.desc() if descending else column.asc()]
    if sort != "id":
        order.append(col(Review.id).desc() if descending else col(Review.id).asc())
    conds = _where(f, sqlite=sqlite)
    # The page's review ids first (on the review table alone when no product column is involved,
    # so a deep page walks an index, not a join of the whole table), then their rows.
    ids = sa.select(col(Review.id))
    if sort == "product":
        ids = ids.join(Product, col(Product.id) == col(Review.product_id))
    page_ids = ids.where(*conds).order_by(*order).limit(sa.bindparam("page_limit")).offset(sa.bindparam("page_offset")).subquery()
    page = (
        sa.select(col(Review.id), col(Product.name), col(Product.owner_team), col(Review.gate), col(Review.status), col(Review.grade),
                  col(Review.assignee), col(Review.due_at), col(Review.updated_at), col(Review.version), _LABEL)
        .join(Product, col(Product.id) == col(Review.product_id))
        .where(col(Review.id).in_(sa.select(page_ids.c.id)))
        .order_by(*order)
    )
    count: sa.Select[Any] | None = None
    if with_total:
        if count_cap is None:
            count = sa.select(sa.func.count()).select_from(Review).where(*conds)
        else:
            some = sa.select(col(Review.id)).where(*conds).limit(sa.bindparam("count_limit")).subquery()
            count = sa.select(sa.func.count()).select_from(some)
    return page, count


def list_reviews(
    db: Database,
    f: ReviewFilter | None = None,
    *,
    sort: str = "id",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    with_total: bool = True,
    count_cap: int | None = None,
) -> Page:
    """One page of reviews, newest first by default; with ``count_cap`` the total counts no further than
    that (a broad filter over a million reviews otherwise reads them all to count them). On SQLite the
    statements of the shape are also kept compiled (``listing.remember``) for ``listing.cached_page``."""
    f = (f or ReviewFilter()).validated()
    check_page_args(sort, limit, count_cap)
    sqlite = db.is_sqlite
    page_stmt, count_stmt = list_statements(f, sort=sort, descending=descending, with_total=with_total, count_cap=count_cap, sqlite=sqlite)
    params = list_params(f, limit=limit, offset=offset, count_cap=count_cap, sqlite=sqlite)
    if sqlite:
        key = shape(f, sort=sort, descending=descending, with_total=with_total, count_cap=count_cap, sqlite=True)
        if not listing.known(db.data_dir, key):
            listing.remember(db.data_dir, key, _compiled(db, page_stmt, params),
                             _compiled(db, count_stmt, params) if count_stmt is not None else None)
    with db.reading() as s:
        if not sqlite and f.search and len(f.search) >= TRIGRAM:
            # PostgreSQL prices its trigram index above a scan of the names when the trigrams are common,
            # but ILIKE on every name costs 10-20x the index in fact (measured: 71 ms vs 4 ms at 100,000)
            s.execute(sa.text("SET LOCAL enable_seqscan = off"))
        rows = [ReviewRow(*r) for r in s.execute(page_stmt, params).all()]
        total, capped = -1, False
        if count_stmt is not None:
            total = s.execute(count_stmt, params).one()[0]
            if count_cap is not None:
                total, capped = min(total, count_cap), total > count_cap
    return Page(rows, total, offset, limit, capped)


def _is_datetime(t: Any) -> bool:
    return isinstance(t, sa.DateTime) or (isinstance(t, sa.types.TypeDecorator) and isinstance(t.impl, sa.DateTime))


def _compiled(db: Database, stmt: sa.Select[Any], params: dict[str, Any]) -> dict[str, Any]:
    """``stmt`` compiled for SQLite as ``listing.cached_page`` runs it: the SQL text, each ``?`` parameter in order
    (its name, ``datetime`` where the value needs SQLite's text form, and the value of a constant such as the
    statuses of ``overdue``), and which result columns hold times."""
    # with this call's values bound (expanding an IN list when it compiles needs every value), then told apart by name
    c = stmt.params(params).compile(dialect=db.read_engine.dialect, compile_kwargs={"render_postcompile": True})
    assert c.positiontup is not None  # SQLite's paramstyle is positional (qmark)
    values = c.params
    binds = []
    for name in c.positiontup:
        bind = c.binds.get(name)
        kind = "datetime" if bind is not None and _is_datetime(bind.type) else ""
        binds.append([name, kind, None if name in params else values.get(name)])  # a constant's value; else the call's
    return {"sql": c.string, "binds": binds, "datetimes": [i for i, c_ in enumerate(stmt.selected_columns) if _is_datetime(c_.type)]}


_show_tried: set[tuple[str, str]] = set()


@functools.cache
def show_statements() -> dict[str, Any]:
    """The statements of ``show_review`` by name (``showing.STATEMENTS``), with the named parameters ``rid`` (the
    review's id) and ``rid_text`` (the same as text, as the audit log keeps it): run here, compiled for
    ``showing.cached_detail``."""
    from review.store.models_followup import GateReport

    rid: sa.BindParameter[int] = sa.bindparam("rid", type_=sa.Integer())
    return {
        "review": REVIEW_AND_PRODUCT,
        "assessments": select(Assessment).where(col(Assessment.review_id) == rid).order_by(col(Assessment.id)),
        "controls": select(ControlRequirement).where(col(ControlRequirement.review_id) == rid).order_by(col(ControlRequirement.control_id)),
        "evidence": select(Evidence).where(col(Evidence.review_id) == rid).order_by(col(Evidence.id)),
        "decisions": select(Decision).where(col(Decision.review_id) == rid).order_by(col(Decision.id)),
        "trail": audit.trail_statement("review", sa.bindparam("rid_text", type_=sa.String())),
        "gate_reports": select(GateReport).where(col(GateReport.review_id) == rid).order_by(col(GateReport.id)),
    }


def show_review(db: Database, review_id: Any) -> ReviewDetail:
    """One review in full. On SQLite its statements are also kept compiled (``showing.remember``) for
    ``showing.cached_detail``, which must give the same ``ReviewDetail``."""
    if db.is_sqlite and showing.compiled(db.data_dir) is None and (db.url, str(db.data_dir)) not in _show_tried:
        _show_tried.add((db.url, str(db.data_dir)))  # once per process: a database not at head is not asked again
        entry = _show_compiled(db)
        if entry is not None:
            showing.remember(db.data_dir, entry)
    st = show_statements()
    with db.reading() as s:
        review, product = get_review(s, review_id)
        params = {"rid": review.id, "rid_text": str(review.id)}
        assessments = s.exec(st["assessments"], params=params).all()
        controls = s.exec(st["controls"], params=params).all()
        evidence = s.exec(st["evidence"], params=params).all()
        decisions = s.exec(st["decisions"], params=params).all()
        trail = s.exec(st["trail"], params=params).all()
        reports = s.exec(st["gate_reports"], params=params).all()
        by_control: dict[str, list[dict[str, Any]]] = {}
        for e in evidence:
            by_control.setdefault(e.control_id, []).append(
                {"id": e.id, "sha256": e.sha256, "filename": e.filename, "size": e.size, "uploaded_by": e.uploaded_by,
                 "uploaded_at": e.uploaded_at.isoformat()}
            )
        views = [ControlView(c.control_id, c.title, c.dimension, c.required_from, c.verify_gate, c.status,
                             c.evidence_expected, c.rationale, by_control.get(c.control_id, [])) for c in controls]
        # JSON-ready (times as ISO text): the same data locally and from the review server.
        return ReviewDetail(
            review={**_dump(review), "grade_label": review.grade_label or review.grade},
            product={**product.profile, "id": product.id, "created_at": product.created_at.isoformat()},
            assessments=[_dump(a) for a in assessments],
            controls=views,
            decisions=[_dump(d) for d in decisions],
            trail=[_dump(t, showing.TRAIL_EXCLUDE) for t in trail],
            gate_reports=[_dump(g) for g in reports],
            frameworks=_frameworks(review.policy_id, views),
        )


def _dump(row: Any, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``row.model_dump(mode="json")`` with its fields in the model's order: a row the ORM loaded dumps them in the
    order its attributes were set, which varies from process to process (string hashing), and ``show --json`` should
    print the same text every time (``showing.cached_detail`` dumps in this order too)."""
    d = row.model_dump(mode="json", exclude=set(exclude) or None)
    return {k: d[k] for k in type(row).model_fields if k in d}


def _frameworks(policy_id: str, views: list[ControlView]) -> list[dict[str, Any]]:
    """The obligations of each tracked framework the review's verified controls meet (as the dossier lists them)."""
    from policies.crosswalk import coverage, verified_evidence
    from review.settings import load_settings

    return coverage(policy_id, verified_evidence(views), load_settings().frameworks)


def _column_kind(t: Any) -> str | None:
    """How ``showing`` reads a column of this type back as the ORM does: ``datetime`` (UTCDateTime), ``json``,
    ``bool``, "" (the value as SQLite gives it: integers and text); None: a type it does not know (no fast path)."""
    from sqlmodel.sql.sqltypes import UTCDateTime

    if isinstance(t, UTCDateTime):
        return "datetime"
    if isinstance(t, sa.types.TypeDecorator):
        plain = type(t).process_result_value is sa.types.TypeDecorator.process_result_value
        return "" if plain and isinstance(t.impl, (sa.String, sa.Integer)) else None  # e.g. SQLModel's AutoString
    if isinstance(t, sa.JSON):
        return "json"
    if isinstance(t, sa.Boolean):
        return "bool"
    if isinstance(t, (sa.String, sa.Integer)) and not isinstance(t, (sa.Enum, sa.DateTime)):
        return ""
    return None


def _show_compiled(db: Database) -> dict[str, Any] | None:
    """``show_statements`` compiled for ``showing.cached_detail``: per statement its SQL, its ``?`` parameters in
    order ([name, the value of a constant such as the trail's limit]) and its columns ([table, column]); per table
    its model's fields in order with the kind of each (``_column_kind``); and the schema revision (``heads``). None
    when the database is not at the head revision or a column has a type the fast path does not read: ``show``
    then always takes this path."""
    from review.store.migrate import current_revisions, head_revisions
    from review.store.models_followup import GateReport

    heads = head_revisions()
    if current_revisions(db) != set(heads):
        return None
    models = {"review": Review, "product": Product, "assessment": Assessment, "control_requirement": ControlRequirement,
              "evidence": Evidence, "decision": Decision, "audit_log": audit.AuditLog, "gate_report": GateReport}
    assert tuple(models) == showing.TABLES
    tables: dict[str, list[list[str]]] = {}
    for name, model in models.items():
        fields = []
        for f in model.model_fields:
            column = model.__table__.c.get(f)  # type: ignore[attr-defined]
            kind = _column_kind(column.type) if column is not None else None
            if kind is None:
                return None
            fields.append([f, kind])
        tables[name] = fields
    params = {"rid": 1, "rid_text": "1"}
    statements = {}
    for name, stmt in show_statements().items():
        c = stmt.compile(dialect=db.read_engine.dialect)
        assert c.positiontup is not None  # SQLite's paramstyle is positional (qmark)
        columns = []
        for column in stmt.selected_columns:
            table = getattr(column, "table", None)
            if table is None or table.name not in tables or column.key not in dict(tables[table.name]):
                return None
            columns.append([table.name, column.key])
        statements[name] = {"sql": c.string, "columns": columns,
                            "binds": [[n, None if n in params else c.params.get(n)] for n in c.positiontup]}
    return {"heads": heads, "tables": tables, "statements": statements}


def grade_distribution(db: Database) -> dict[str, int]:
    with db.reading() as s:
        rows = s.exec(select(Review.grade, sa.func.count()).group_by(Review.grade)).all()
    return {g or "UNGRADED": n for g, n in rows}


def level_distribution(db: Database) -> list[dict[str, Any]]:
    """Reviews per grade as each pack names it: ``[{"grade", "label", "count"}]``, highest grade first, then by label
    (a canada-aia Level IV and a default-pack UNACCEPTABLE are two rows of the same colour)."""
    with db.reading() as s:
        rows = s.execute(sa.select(col(Review.grade), _LABEL, sa.func.count()).group_by(col(Review.grade), _LABEL)).all()
    return level_rows(rows)


def level_rows(rows: Any) -> list[dict[str, Any]]:
    """(grade, label, count) rows as ``level_distribution`` returns them (no grade: "UNGRADED", last)."""
    rank = {g.value: g.rank for g in Grade}
    out = [{"grade": g or "UNGRADED", "label": label or g or "UNGRADED", "count": int(n)} for g, label, n in rows]
    return sorted(out, key=lambda d: (-rank.get(d["grade"], -1), d["label"]))


def gate_funnel(db: Database) -> dict[str, dict[str, int]]:
    with db.reading() as s:
        rows = s.exec(select(Review.gate, Review.status, sa.func.count()).group_by(Review.gate, Review.status)).all()
    out: dict[str, dict[str, int]] = {}
    for gate, status, n in rows:
        out.setdefault(gate, {})[status] = n
    return out


def open_controls(db: Database, limit: int = 1000) -> list[dict[str, Any]]:
    with db.reading() as s:
        rows = s.execute(
            sa.select(col(ControlRequirement.review_id), col(Product.name), col(ControlRequirement.control_id), col(ControlRequirement.title),
                      col(ControlRequirement.status), col(ControlRequirement.verify_gate))
            .join(Review, col(Review.id) == col(ControlRequirement.review_id))
            .join(Product, col(Product.id) == col(Review.product_id))
            .where(col(ControlRequirement.status).in_(["REQUIRED", "EVIDENCE_SUBMITTED", "REJECTED"]))
            .where(col(Review.gate).notin_(["WITHDRAWN"]), col(Review.status) != "REJECTED")
            .order_by(col(ControlRequirement.review_id), col(ControlRequirement.control_id))
            .limit(limit)
        ).all()
    return [dict(zip(("review_id", "product", "control_id", "title", "status", "verify_gate"), r, strict=True)) for r in rows]
