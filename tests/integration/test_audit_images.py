"""The audit log images rows from their stored JSON text (no parse and re-encode): the same text, on both
backends, as the parsed image ``verify`` checks against."""

from __future__ import annotations

import sqlalchemy as sa

from review.demo.seed import run_demo
from review.services import audit
from review.services.audit import _tables, _text_select, canonical, image_row, image_text
from review.store.db import Database


def test_image_text_is_the_canonical_image_of_every_state_row(db: Database) -> None:
    run_demo(db, audit=False)
    seen: dict[str, int] = {}
    with db.reading() as s:
        for name, t in _tables().items():
            cols = [c.name for c in t.primary_key.columns]
            parsed = {tuple(r._mapping[c] for c in cols): canonical(image_row(t, r)) for r in s.execute(sa.select(t))}
            texts = {tuple(r._mapping[c] for c in cols): image_text(t, r) for r in s.execute(sa.select(*_text_select(t)[2]))}
            assert texts == parsed, name
            seen[name] = len(texts)
    # the demo fills the tables with JSON columns, timestamps, booleans and non-ASCII text
    assert all(seen[t] > 0 for t in ("product", "review", "assessment", "control_requirement", "decision", "followup_check",
                                     "followup_visit", "app_user")), seen
    report = audit.verify_chain(db)
    assert report.ok and report.state_rows == sum(seen.values()), report.problems[:3]
