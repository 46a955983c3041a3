"""Read models for the committee's screens (TUI): overdue counts and questionnaire labels.

Plain dataclasses/dicts out, no sessions escape; safe to call from worker threads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from review.domain.lifecycle import AWAITING_COMMITTEE
from review.store.db import Database, utcnow
from review.store.models import Review

OPEN = tuple(s.value for s in AWAITING_COMMITTEE)


def overdue_counts(db: Database, *, now: datetime | None = None) -> dict[str, Any]:
    """Open reviews past their committee SLA: ``{"total", "open", "by_grade": {...}, "by_level": [...], "by_gate": {...}}``
    (``by_level``: per grade as each pack names it, ``[{"grade", "label", "count"}]`` as ``queries.level_distribution``)."""
    from review.services.queries import level_rows

    now = now or utcnow()
    label = sa.func.coalesce(col(Review.grade_label), col(Review.grade))
    with db.reading() as s:
        late = s.execute(
            sa.select(col(Review.grade), label, col(Review.gate), sa.func.count())
            .where(col(Review.status).in_(OPEN), col(Review.due_at) < now)
            .group_by(col(Review.grade), label, col(Review.gate))
        ).all()
        open_total = s.exec(select(sa.func.count()).select_from(Review).where(col(Review.status).in_(OPEN))).one()
    by_grade: dict[str, int] = {}
    by_level: dict[tuple[str | None, str | None], int] = {}
    by_gate: dict[str, int] = {}
    for grade, name, gate, n in late:
        by_grade[grade or "UNGRADED"] = by_grade.get(grade or "UNGRADED", 0) + n
        by_level[(grade, name)] = by_level.get((grade, name), 0) + n
        by_gate[gate] = by_gate.get(gate, 0) + n
    open_n = open_total[0] if isinstance(open_total, tuple) else open_total
    return {"total": sum(by_grade.values()), "open": int(open_n), "by_grade": by_grade,
            "by_level": level_rows((g, name, n) for (g, name), n in by_level.items()), "by_gate": by_gate}


def questionnaire_labels(pack_id: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Question texts and option labels of a pack, for showing stored answers; empty if the pack is gone."""
    from policies.loader import question_labels

    return question_labels(pack_id)
