"""The evidence store follows the deployment: on PostgreSQL the files live in the database, so every person
working against it sees the same evidence, whichever machine uploaded it."""

from __future__ import annotations

from pathlib import Path

from review.client.local import LocalClient
from review.demo.seed import seed_people
from review.services import controls, evidence_store, reviews
from review.store.db import Database
from tests.integration.followup_helpers import approve, submit

GEO = "Remote-sensing platform"


def _at_development(db: Database) -> tuple[int, str]:
    rid = submit(db, GEO)
    approve(db, rid, "priya.nair")
    reviews.advance(db, rid, actor="geo.lead")
    return rid, "geo.lead"


def test_on_postgresql_the_evidence_lives_in_the_database_for_everyone(pg_db: Database, tmp_path: Path) -> None:
    """Two people on two machines (two data directories) against one PostgreSQL see the same file."""
    db = pg_db
    seed_people(db)
    assert evidence_store.kind(db) == "database"
    rid, team = _at_development(db)
    f = tmp_path / "raci.md"
    f.write_text("Accountable owner: Jane Doe")
    ev = controls.add_evidence(db, rid, "HCT-01", f, actor=team)
    other = Database(db.url, data_dir=tmp_path / "laptop-b")
    got = LocalClient(other, "priya.nair").download_evidence(rid, ev.id, tmp_path / "copy.md")
    assert got.read_text() == "Accountable owner: Jane Doe"
    assert not (tmp_path / "laptop-b" / "evidence").exists() and LocalClient(other, "priya.nair").check_evidence(rid).ok
    other.dispose()
