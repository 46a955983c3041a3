"""Evidence people can trust: no empty, linked or special files in; a changed blob never goes out.

A blob that no longer hashes to the SHA-256 recorded at upload is refused on download (in direct
mode and through the server) and reported by ``evidence verify``, which exits 9 like a broken chain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from review.client.local import LocalClient
from review.errors import Conflict, InvalidInput, NotFound
from review.services import controls, reviews
from review.store.db import Database
from tests.integration.followup_helpers import approve, submit, tamper_blob, team_of

pytestmark = pytest.mark.usefixtures("people")
GEO = "Remote-sensing platform"


def _at_development(db: Database) -> tuple[int, str]:
    rid = submit(db, GEO)
    approve(db, rid, "priya.nair")
    team = "geo.lead"
    assert team_of(GEO) == "geo-insight"
    reviews.advance(db, rid, actor=team)
    return rid, team


def test_empty_linked_and_special_files_are_refused(db: Database, tmp_path: Path) -> None:
    rid, team = _at_development(db)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput, match="is empty"):
        controls.add_evidence(db, rid, "HCT-01", empty, actor=team)
    real = tmp_path / "raci.md"
    real.write_text("Accountable owner: Jane Doe")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    with pytest.raises(InvalidInput, match="symbolic link"):
        controls.add_evidence(db, rid, "HCT-01", link, actor=team)
    with pytest.raises(InvalidInput, match="not a regular file"):
        controls.add_evidence(db, rid, "HCT-01", tmp_path, actor=team)
    with pytest.raises(InvalidInput, match="no such file"):
        controls.add_evidence(db, rid, "HCT-01", tmp_path / "missing.md", actor=team)
    assert controls.list_evidence(db, rid) == []


def test_a_changed_blob_is_refused_on_download_and_reported(db: Database, tmp_path: Path) -> None:
    rid, team = _at_development(db)
    f = tmp_path / "raci.md"
    f.write_text("Accountable owner: Jane Doe")
    ev = controls.add_evidence(db, rid, "HCT-01", f, actor=team)
    reviewer = LocalClient(db, "priya.nair")
    out = tmp_path / "out"
    out.mkdir()
    assert reviewer.download_evidence(rid, ev.id, out).read_text() == "Accountable owner: Jane Doe"
    assert reviewer.check_evidence().ok and reviewer.check_evidence(rid).checked == 1
    tamper_blob(db, ev.sha256, b"Accountable owner: nobody")  # someone with access to the store edits it
    with pytest.raises(Conflict, match="no longer matches its SHA-256"):
        reviewer.download_evidence(rid, ev.id, tmp_path / "again.md")
    assert not (tmp_path / "again.md").exists()
    rep = reviewer.check_evidence()
    assert not rep.ok and rep.checked == 1 and "no longer matches" in rep.problems[0] and "HCT-01" in rep.problems[0]
    tamper_blob(db, ev.sha256, None)
    assert "missing from the evidence store" in reviewer.check_evidence(rid).problems[0]
    with pytest.raises(NotFound, match="missing from the evidence store; nothing was sent"):  # exit 3: not there
        reviewer.download_evidence(rid, ev.id, tmp_path / "gone.md")
