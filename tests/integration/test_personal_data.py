"""Reads of personal data go on the trail (who, what, when), and identifiers are masked for people
whose role does not allow them: evidence files, reporters' contacts, follow-up visits, audited records."""

from __future__ import annotations

import sqlalchemy as sa

from review.client.local import LocalClient
from review.services import feedback, followups
from review.store.db import Database
from tests.integration.test_tamper import build_world


def _reads(db: Database) -> list[tuple[str, str]]:
    with db.reading() as s:
        return [tuple(r) for r in s.execute(sa.text("SELECT actor, action FROM audit_log WHERE action LIKE 'read:%' ORDER BY id"))]


def test_personal_data_reads_are_logged_and_masked(db: Database, tmp_path) -> None:
    ids = build_world(db, tmp_path)
    feedback.submit_feedback(db, "Remote-sensing platform", "Our farm was mislabelled as forest in March.", contact="ana.silva@example.org")
    reviewer, chair = LocalClient(db, "priya.nair"), LocalClient(db, "wei.chen")

    masked = next(r for r in reviewer.list_feedback() if r["contact"])
    assert masked["contact"] == "a••.•••••@•••••••.••g"
    assert _reads(db) == []  # nothing personal was shown
    shown = next(r for r in chair.list_feedback() if r["contact"])
    assert shown["contact"] == "ana.silva@example.org"
    assert _reads(db)[-1] == ("wei.chen", "read:feedback-contacts")

    reviewer.download_evidence(ids["released"], 1, tmp_path)
    assert _reads(db)[-1] == ("priya.nair", "read:evidence")

    reviewer.show_check(ids["check"])
    assert _reads(db)[-1] == ("priya.nair", "read:followup-visits")

    items = reviewer.sample_items(ids["run"])
    email_item = next(i for i in items if "@" in i.output)
    assert "jane.doe@example.com" not in email_item.output and "j•••.•••@•••••••.••m" in email_item.output
    for sp in email_item.spans:  # masking kept the length: every span still covers what it covered
        assert 0 <= sp.start <= sp.end <= len(email_item.output)
    assert _reads(db)[-1] == ("priya.nair", "read:audit-records")
    assert not any("jane.doe@example.com" in sp.matched for i in items for sp in i.spans)  # what a finding matched is masked too
    unmasked = chair.sample_items(ids["run"])
    assert any("jane.doe@example.com" in i.output for i in unmasked)
    assert any("jane.doe@example.com" in sp.matched for i in unmasked for sp in i.spans)

    from review.services.audit import verify_chain

    assert verify_chain(db).ok  # reads are appended to the chain like any other row
    assert followups.show_check(db, ids["check"])["visits"]  # the service without a viewer logs nothing
