"""A product under the canada-aia pack, end to end on SQLite and PostgreSQL: the pack's template filled in and
submitted with the CLI, graded additively (Level IV), stored with its free text, replayed, previewed and
regraded for the residual; Level IV is approved with the chair and a second signature instead of being blocked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.loader import load_pack
from review.cli.main import main
from review.demo.catalog import TEAM_SUBMITTERS
from review.demo.seed import CHAIR
from review.domain import grading
from review.domain.product import ProductProfile
from review.services import reviews
from review.services.queries import show_review
from review.services.replay import preview_pack, replay
from review.store.db import Database

pytestmark = pytest.mark.usefixtures("people")
TEAM = "dev-tools"
MARKUP = "[bold red]not markup[/] \u202e and a link https://example.org"


def _cli(db: Database, capsys: pytest.CaptureFixture[str], *args: str, user: str) -> tuple[int, str, str]:
    code = main(["--database", db.url, "--as", user, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _very_high_impact(template: dict[str, Any]) -> dict[str, Any]:
    """The template filled in: the riskiest answer everywhere, a design-phase project with little mitigation."""
    pack = load_pack("canada-aia").pack
    profile = ProductProfile.model_validate(template["product"])
    answers: dict[str, list[str]] = {}
    for q in pack.questions:
        if q.when is not None and not grading.holds(q.when, profile, answers):
            continue
        if q.kind == "text":
            answers[q.id] = [MARKUP if q.id == "impact_explanation" else "The team's explanation."]
        elif q.id == "phase":
            answers[q.id] = ["design"]
        elif q.kind == "multiple":
            answers[q.id] = [] if q.id == "motivation" else [o.id for o in q.options if o.id != "other"]
        else:
            best = max(q.options, key=lambda o: sum(v for k, v in o.scores.items() if k != "mitigation") - o.scores.get("mitigation", 0))
            answers[q.id] = [best.id]
    assert set(template["answers"]) <= set(answers)  # the template names every unconditional question
    return {"product": template["product"], "answers": {k: v if pack.question(k).kind == "multiple" else v[0] for k, v in answers.items()}}


def test_a_canada_aia_product_end_to_end(db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _cli(db, capsys, "policy", "template", "canada-aia", user="admin")
    assert code == 0, err
    template = yaml.safe_load(out)
    assert template["product"]["policy"] == "canada-aia" and all(v is None for v in template["answers"].values())
    doc = _very_high_impact(template)
    doc["product"].update(name="Benefit eligibility triage", owner_team=TEAM, customers=["Program office"])
    f = tmp_path / "aia-product.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))

    code, out, err = _cli(db, capsys, "--json", "submit", str(f), user=TEAM_SUBMITTERS[TEAM])
    assert code == 0, err
    rid = json.loads(out.strip().splitlines()[-1])["id"]
    d = show_review(db, rid)
    assert d.review["grade"] == "UNACCEPTABLE" and d.review["policy_id"] == "canada-aia"  # Level IV
    a = d.assessments[0]
    assert a["answers"]["impact_explanation"] == [MARKUP] and a["answers"]["motivation"] == []
    assert sum(v for k, v in a["dimension_scores"].items() if k != "mitigation") == 100  # of 101: "another area" left out
    controls = {c.control_id for c in d.controls}
    assert {"AIA-HUMAN-IN-LOOP", "AIA-SECOND-EXPERT", "AIA-HIGHEST-APPROVAL", "AIA-EXPLAIN"} <= controls

    code, out, err = _cli(db, capsys, "show", str(rid), user=CHAIR)
    assert code == 0, err
    assert "[bold red]not markup[/]" in out and "\u202e" not in out  # shown as text, never as markup or a bidi override
    assert re.search(r"grade \W*UNACCEPTABLE\W* \(Level IV \(very high impact\)\)", out), out

    rep = replay(db, rid)
    assert rep.matches and rep.current_matches and rep.replayed_grade == "UNACCEPTABLE", rep.detail
    assert preview_pack(db, "canada-aia") == (1, [])
    raw = yaml.safe_load(Path(load_pack("canada-aia").path).read_text())
    # what if the pack added an optional question worth 90 points? The product's 100 points are 52% of 191: Level III
    raw["questions"].append({"id": "extra_risk", "text": "A new, optional risk question?", "optional": True,
                             "options": [{"id": "yes", "label": "Yes", "scores": {"impact": 90}}, {"id": "no", "label": "No"}]})
    (tmp_path / "candidate").mkdir()
    (tmp_path / "candidate" / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    examined, changes = preview_pack(db, str(tmp_path / "candidate"))
    assert examined == 1 and [(c.stored_grade, c.candidate_grade) for c in changes] == [("UNACCEPTABLE", "HIGH")]
    residual = reviews.compute_residual(db, rid)
    assert residual.grade.value == "UNACCEPTABLE" and residual.max_score == 101 and residual.score is not None

    # Level IV is not blocked: the reviewer's approval waits for the chair's (two approvals, the chair among them)
    reviews.assign(db, rid, "priya.nair", actor=CHAIR)
    first = reviews.decide(db, rid, "approve", actor="priya.nair", rationale="obligations listed")
    assert not first.applied
    assert show_review(db, rid).review["status"] == "IN_REVIEW"
    second = reviews.decide(db, rid, "approve", actor=CHAIR, rationale="second signature")
    assert second.applied and show_review(db, rid).review["status"] == "APPROVED"


def test_a_canada_aia_product_that_skips_a_required_answer_is_refused_and_nothing_is_stored(
        db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _cli(db, capsys, "policy", "template", "canada-aia", user="admin")
    doc = _very_high_impact(yaml.safe_load(out))
    doc["product"].update(name="Benefit eligibility triage", owner_team=TEAM)
    del doc["answers"]["judgement_description"]
    doc["answers"]["impact_explanation"] = "bad \x1b[31m escape"
    f = tmp_path / "aia-product.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    code, _, err = _cli(db, capsys, "submit", str(f), user=TEAM_SUBMITTERS[TEAM])
    assert code == 2
    assert "answers.impact_explanation: control characters are not allowed" in err
    assert "answers.judgement_description: missing answer to 'Describe the decisions that will be automated.'" in err
    code, out, _ = _cli(db, capsys, "--json", "list", user=CHAIR)
    assert json.loads(out.strip().splitlines()[-1])["total"] == 0


def test_override_to_a_grade_the_pack_does_not_declare_is_refused(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from review.errors import InvalidInput
    from tests.unit.test_grading_models import SMALL

    (tmp_path / "packs" / "small").mkdir(parents=True)
    (tmp_path / "packs" / "small" / "pack.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    monkeypatch.setenv("ETHICS_REVIEW_POLICY_PATH", str(tmp_path / "packs"))
    doc = {"product": {"name": "Three-level product", "owner_team": TEAM, "business_line": "b", "intended_users": ["enterprise"],
                       "deployment_regions": ["CA"], "data_categories": ["none"], "policy": "small"},
           "answers": {"q1": "a", "q2": "yes", "q4": ["y"], "note": "free text"}}
    rid = reviews.submit(db, doc, actor=TEAM_SUBMITTERS[TEAM]).id
    assert show_review(db, rid).review["grade_label"] in {"low", "mid", "top"}
    with pytest.raises(InvalidInput, match=r"grade UNACCEPTABLE is not one of pack small's levels: LOW \(low\), MEDIUM \(mid\), HIGH \(top\)"):
        reviews.override_grade(db, rid, "UNACCEPTABLE", actor=CHAIR, rationale="worse than it looks")
    assert show_review(db, rid).review["grade"] != "UNACCEPTABLE"
