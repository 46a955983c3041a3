"""Crosswalks in a review's dossier: one piece of evidence, verified once, meets obligations in every framework its
control maps to; the frameworks reported follow the ``frameworks`` setting (default: the packs with a crosswalk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.demo.catalog import TEAM_SUBMITTERS
from review.errors import InvalidInput
from review.services import controls, dossier, reviews
from review.services.queries import show_review
from review.store.db import Database
from tests.integration.followup_helpers import approve, submit, team_of

pytestmark = pytest.mark.usefixtures("people")
ROBOT = "Warehouse picking robot"


def _one_verified(db: Database, tmp: Path, control: str) -> tuple[int, str]:
    """A review at DEVELOPMENT whose only verified control is ``control``, with one evidence file; its sha256."""
    rid = submit(db, ROBOT)
    team = TEAM_SUBMITTERS[team_of(ROBOT)]
    approve(db, rid, "priya.nair")
    reviews.advance(db, rid, actor=team)
    f = tmp / "robustness-report.md"
    f.write_text("adversarial and stress test results")
    ev = controls.add_evidence(db, rid, control, f, actor=team)
    controls.verify(db, rid, control, "pass", actor="priya.nair", rationale="checked")
    return rid, ev.sha256


def test_one_verified_evidence_meets_obligations_in_every_framework_it_maps_to(db: Database, tmp_path: Path) -> None:
    rid, sha = _one_verified(db, tmp_path, "SAF-01")
    statuses = {c.control_id: c.status for c in show_review(db, rid).controls}
    assert statuses["SAF-01"] == "VERIFIED" and sum(s == "VERIFIED" for s in statuses.values()) == 1

    d = dossier.dossier(db, rid)
    by_fw = {f["framework"]: f for f in d.frameworks}
    assert set(by_fw) == {"eu-ai-act", "nist-ai-rmf", "iso-42001"}  # the frameworks the default pack maps to
    met = {fw: {m["obligation"]: m for m in f["met"]} for fw, f in by_fw.items()}
    assert set(met["eu-ai-act"]) == {"ART15-ARC", "ART15-HR"}
    assert set(met["nist-ai-rmf"]) == {"MEASURE-2"}
    assert set(met["iso-42001"]) == {"A.6.2.4"}
    for fw in met.values():
        for m in fw.values():
            assert m["controls"] == ("SAF-01",) and m["evidence"] == (f"robustness-report.md {sha[:16]}",)
    assert by_fw["nist-ai-rmf"]["obligations"] == 19 and by_fw["iso-42001"]["obligations"] == 38

    # the review itself carries them too: `show --json` and GET /reviews/{id} (the same ReviewDetail)
    shown = show_review(db, rid).to_json()["frameworks"]
    assert {f["framework"]: {m["obligation"] for m in f["met"]} for f in shown} == {fw: set(m) for fw, m in met.items()}

    md = dossier.render_markdown(d)
    assert "## Frameworks tracked: obligations met by verified evidence" in md
    assert "| nist-ai-rmf | MEASURE-2 | Trustworthy characteristics evaluated | SAF-01 |" in md
    assert "| iso-42001 | A.6.2.4 |" in md and "| eu-ai-act | ART15-HR |" in md
    assert "A.3.2" not in md  # HCT-01 is required but not verified: its obligations are not met
    assert "MEASURE-2" in dossier.render_html(d)


def test_the_setting_names_the_frameworks_and_an_unknown_one_is_refused(db: Database, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rid, _ = _one_verified(db, tmp_path, "SAF-01")
    monkeypatch.setenv("ETHICS_REVIEW_FRAMEWORKS", "iso-42001, canada-aia")
    d = dossier.dossier(db, rid)
    assert [(f["framework"], [m["obligation"] for m in f["met"]]) for f in d.frameworks] == [("iso-42001", ["A.6.2.4"]), ("canada-aia", [])]
    monkeypatch.setenv("ETHICS_REVIEW_FRAMEWORKS", "iso-42001,nist-csf")
    with pytest.raises(InvalidInput, match="'nist-csf' is not an installed pack"):
        dossier.dossier(db, rid)


def test_a_rejected_verification_meets_nothing(db: Database, tmp_path: Path) -> None:
    rid = submit(db, ROBOT)
    team = TEAM_SUBMITTERS[team_of(ROBOT)]
    approve(db, rid, "priya.nair")
    reviews.advance(db, rid, actor=team)
    f = tmp_path / "weak.md"
    f.write_text("not enough")
    controls.add_evidence(db, rid, "SAF-01", f, actor=team)
    controls.verify(db, rid, "SAF-01", "fail", actor="priya.nair", rationale="no adversarial cases")
    assert all(not fw["met"] for fw in dossier.dossier(db, rid).frameworks)
