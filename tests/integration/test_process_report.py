"""The process report: six dimensions, each figure counted from what happened (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from review.client.local import LocalClient
from review.demo.catalog import TEAM_SUBMITTERS
from review.demo.seed import CHAIR
from review.errors import Forbidden, InvalidInput
from review.services import feedback, process_report, reviews
from review.store.db import Database, utcnow
from tests.integration.followup_helpers import released, submit, team_of

pytestmark = pytest.mark.usefixtures("people")
GEO = "Remote-sensing platform"
COPILOT = "Customer-service copilot"


def _dims(data: dict) -> dict[str, dict]:
    return {d["key"]: d for d in data["dimensions"]}


def _table(dim: dict, title: str) -> list[list]:
    return next(t["rows"] for t in dim["tables"] if t["title"].startswith(title))


def test_every_dimension_counts_what_happened(db: Database, tmp_path: Path) -> None:
    rid = released(db, GEO, tmp_path)  # three gate cycles, decided and released
    other = submit(db, COPILOT)
    reviews.assign(db, other, "amara.okafor", actor=CHAIR)
    reviews.decide(db, other, "request-changes", actor="amara.okafor", rationale="say who answers complaints")
    with pytest.raises(Forbidden):  # segregation of duties: the product's own submitter may not review it
        reviews.assign(db, other, TEAM_SUBMITTERS[team_of(COPILOT)], actor=CHAIR)
    reviews.change_standing(db, rid, "reopen", actor=CHAIR, rationale="a follow-up found harm", to_gate="INITIATION")
    fb = feedback.submit_feedback(db, GEO, "it mislabels farmland as forest near villages")
    feedback.triage(db, fb.id, "credible", actor="amara.okafor", rationale="reproduced with two images")

    rep = LocalClient(db, CHAIR).process_report(None, None)
    dims = _dims(rep.data)
    assert list(dims) == ["theoretical_research", "organisational_support", "mechanism_guarantee", "technical_support",
                          "external_communication", "continuous_tracking"]
    m = dims["mechanism_guarantee"]
    gates = {r[0]: r for r in _table(m, "Cycle time per gate")}
    assert gates["INITIATION"][1] == 2 and gates["DEVELOPMENT"][1] == 1 and gates["RELEASE"][1] == 1
    assert all(r[4] == 100.0 for r in gates.values())  # decided within minutes: inside every SLA
    outcomes = {r[0]: dict(zip(["approve", "request-changes", "reject"], r[1:4], strict=True)) for r in _table(m, "Outcomes by grade")}
    assert sum(o["request-changes"] for o in outcomes.values()) == 1 and sum(o["approve"] for o in outcomes.values()) == 3
    assert m["figures"]["refused attempts (role, segregation, recusal)"] == 1
    assert _table(m, "Refused attempts") == [["assign", 1]]
    t = dims["continuous_tracking"]["figures"]
    assert (t["released products"], t["reopened in the period"], t["reopen rate %"]) == (1, 1, 100.0)
    c = dims["external_communication"]["figures"]
    assert (c["feedback received"], c["feedback triaged"], c["found credible"], c["waiting for triage"]) == (1, 1, 1, 0)
    o = dims["organisational_support"]["figures"]
    assert o["chairs"] == 1 and o["committee members (reviewers and chairs)"] >= 3
    assert ["default", "1.1.0", 2] in _table(dims["theoretical_research"], "Reviews submitted in the period")
    assert dims["technical_support"]["figures"]["evidence files received"] > 0
    for section in ("## Theoretical research", "## Organisational support", "## Mechanism guarantee", "## Technical support",
                    "## External communication", "## Continuous tracking"):
        assert section in rep.markdown
    assert rep.html.count("<svg") >= 4 and "<script" not in rep.html


def test_the_period_bounds_what_is_counted(db: Database) -> None:
    submit(db, COPILOT)
    past = (utcnow() - timedelta(days=400)).date().isoformat()
    rep = LocalClient(db, CHAIR).process_report(past, past)
    assert _table(_dims(rep.data)["theoretical_research"], "Reviews submitted in the period") == []
    assert rep.data["from"] == rep.data["to"] == past


def test_bad_periods_and_people_outside_the_committee_are_refused(db: Database) -> None:
    with pytest.raises(InvalidInput, match="--from '2026-02-30': not a date; use YYYY-MM-DD"):
        process_report.period("2026-02-30", None)
    with pytest.raises(InvalidInput, match="is after --to"):
        process_report.period("2026-03-02", "2026-03-01")
    with pytest.raises(Forbidden) as exc:
        LocalClient(db, TEAM_SUBMITTERS[team_of(COPILOT)]).process_report(None, None)
    assert exc.value.exit_code == 4
