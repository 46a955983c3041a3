"""Grading models, level semantics and the new question kinds: validated at load, read by the rule book."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.loader import load_pack
from review.domain import grading, rules
from review.domain.duties import Actor, ProductContext, Role
from review.domain.grades import Grade
from review.domain.lifecycle import CaseState, Gate, Status
from review.domain.product import ProductProfile
from review.errors import GateBlocked, InvalidInput

AIA = Path(load_pack("canada-aia").path)
PROFILE = ProductProfile(name="Product", owner_team="t", business_line="b", intended_users=["general_public"],
                         deployment_regions=["CA"], data_categories=["personal"])


def write_aia(tmp_path: Path, mutate: Any) -> Path:
    raw = yaml.safe_load(AIA.read_text())
    mutate(raw)
    d = tmp_path / "pack"
    d.mkdir(parents=True, exist_ok=True)
    (d / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return d


def _question(raw: dict[str, Any], qid: str) -> dict[str, Any]:
    return next(q for q in raw["questions"] if q["id"] == qid)


def _strip_points(raw: dict[str, Any], sections: set[str]) -> None:
    for q in raw["questions"]:
        for o in q.get("options", []):
            o["scores"] = {k: v for k, v in o.get("scores", {}).items() if k not in sections}


@pytest.mark.parametrize("mutate,pattern", [
    (lambda r: r["grading"]["score"][0].update(dimension="projet"),
     r"grading\.score\[0\]\.dimension: unknown section 'projet'; sections are dimensions: \["),
    (lambda r: r["grading"]["cut_offs"].update(HIGH=1.5), r"grading: bad value .*cut_offs\.HIGH: 1\.5 is out of range; .*between 0 and 1"),
    (lambda r: r["grading"]["cut_offs"].update(HIGH=0.2), r"grading: bad value .*cut_offs\.HIGH: 0\.2 must be above the cut-off of MEDIUM \(0\.25\)"),
    (lambda r: r["grading"]["cut_offs"].pop("HIGH"), r"grading\.cut_offs\.HIGH: missing: level 'Level III \(high impact\)' needs the fraction"),
    (lambda r: r["grading"]["mitigation"][0].update(section="mitigations"), r"grading\.mitigation\[0\]\.section: unknown section 'mitigations'"),
    (lambda r: r["grading"]["mitigation"][0].update(section="impact"), r"grading\.mitigation\[0\]\.section: 'impact' is summed into the score"),
    (lambda r: r["grading"]["mitigation"][0].update(at_least=1.2), r"grading\.mitigation\[0\]\.at_least: bad value 1\.2: Input should be less than or equal to 1"),
    (lambda r: r["grading"]["cut_offs"].update(UNACCEPTABLE=0.501),
     r"grading\.cut_offs\.HIGH: level 'Level III \(high impact\)' is unreachable: it takes a score above 50\.5 and at most 50\.601 \(maximum 101\)"),
    (lambda r: _strip_points(r, {"project", "algorithm", "decision", "impact", "data"}), r"grading\.score: the sections .* can score no points"),
    (lambda r: _strip_points(r, {"mitigation"}), r"grading\.mitigation\[0\]\.section: 'mitigation' can score no points"),
    (lambda r: r["grading"].update(model="highest"), r"grading: bad value .*'score' is for 'model: additive'"),
    (lambda r: r["dimensions"][0].update(thresholds={"medium": 1, "high": 2}), r"dimensions\[0\]\.thresholds: an additive pack grades with grading\.cut_offs"),
    (lambda r: r["levels"].reverse(), r"levels: bad value .*levels\[0\]\.grade: UNACCEPTABLE: levels are declared lowest first"),
    (lambda r: r["grading"]["cut_offs"].update(LOW=0.1), r"grading\.cut_offs\.LOW: LOW is not a level above the lowest"),
    (lambda r: _question(r, "impact_explanation").update(options=[{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]),
     r"questions\[\d+\]: bad value .*a 'text' question takes free text: remove its options"),
    (lambda r: _question(r, "phase").update(allow_none=True), r"allow_none is for 'multiple' questions"),
])
def test_bad_grading_section_names_the_field_and_the_fix(tmp_path: Path, mutate: Any, pattern: str) -> None:
    with pytest.raises(InvalidInput, match=pattern) as exc:
        load_pack(write_aia(tmp_path, mutate))
    assert "pack.yaml" in exc.value.message


def test_a_level_the_pack_does_not_declare_is_refused_where_it_is_used(tmp_path: Path) -> None:
    def three_levels(r: dict[str, Any]) -> None:
        r["levels"].pop()
        r["grading"]["cut_offs"].pop("UNACCEPTABLE")
    with pytest.raises(InvalidInput, match=r"controls\[13\]\.required_from: UNACCEPTABLE is not one of this pack's levels \(LOW, MEDIUM, HIGH\)"):
        load_pack(write_aia(tmp_path, three_levels))


def test_the_maximum_respects_exclusive_branches() -> None:
    pack = load_pack("canada-aia").pack
    per_question = sum(max(o.scores.get("mitigation", 0) for o in q.options) for q in pack.questions if q.options)
    assert per_question == 36 and grading.max_scores(pack).sections["mitigation"] == 18  # design or implementation, not both


# ---- answers -----------------------------------------------------------------------------------
def _aia_answers(**over: Any) -> dict[str, Any]:
    pack = load_pack("canada-aia").pack
    out: dict[str, Any] = {}
    for q in pack.questions:
        if q.when is not None and not grading.holds(q.when, PROFILE, {k: v if isinstance(v, list) else [v] for k, v in out.items()}):
            continue
        if q.kind == "text":
            if not q.optional:
                out[q.id] = "because"
        elif q.kind == "multiple":
            out[q.id] = []
        else:
            out[q.id] = q.options[-1].id
    out.update(over)
    return {k: v for k, v in out.items() if v is not ...}


def test_optional_questions_may_stay_unanswered_and_required_ones_may_not() -> None:
    pack = load_pack("canada-aia").pack
    answers = grading.normalize_answers(pack, PROFILE, _aia_answers(impact_explanation=None))
    assert "impact_explanation" not in answers
    with pytest.raises(InvalidInput, match=r"answers\.public_scrutiny: missing answer to .*choose one of: yes, no"):
        grading.normalize_answers(pack, PROFILE, _aia_answers(public_scrutiny=...))


def test_text_answers_are_checked_and_kept_verbatim() -> None:
    pack = load_pack("canada-aia").pack
    ok = grading.normalize_answers(pack, PROFILE, _aia_answers(impact_explanation="  [red]Irréversible[/red]\nsee file  "))
    assert ok["impact_explanation"] == ["[red]Irréversible[/red]\nsee file"]
    for bad, why in [(3, "expected text"), ("x" * 2001, "2001 characters is over the 2000"), ("a\x1b[31mb", "control characters")]:
        with pytest.raises(InvalidInput, match=rf"answers\.impact_explanation: {why}"):
            grading.normalize_answers(pack, PROFILE, _aia_answers(impact_explanation=bad))
    with pytest.raises(InvalidInput, match=r"answers\.motivation_other: this question does not apply"):
        grading.normalize_answers(pack, PROFILE, _aia_answers(motivation_other="x"))


def test_empty_multi_choice_only_where_the_pack_allows_none() -> None:
    eu = load_pack("eu-ai-act").pack
    with pytest.raises(InvalidInput, match=r"answers\.art5_practice: empty answer; choose one or more of"):
        grading.normalize_answers(eu, PROFILE, {"art5_practice": []})
    aia = load_pack("canada-aia").pack
    assert grading.normalize_answers(aia, PROFILE, _aia_answers(decision_area=[]))["decision_area"] == []


# ---- level semantics -----------------------------------------------------------------------------
CHAIR = Actor("chair", "committee", frozenset({Role.CHAIR}))


def _approve(grade: Grade, pack_id: str | None) -> rules.Verdict:
    level = load_pack(pack_id).pack.level(grade) if pack_id else None
    sit = rules.Situation(review_id=1, state=CaseState(Gate.INITIATION, Status.IN_REVIEW), grade=grade,
                          product=ProductContext("P", "team-a"), assignee="chair", level=level)
    return rules.judge(CHAIR, rules.Act.APPROVE, sit)


def test_the_default_packs_unacceptable_blocks_approval_and_aia_level_iv_does_not() -> None:
    refused = _approve(Grade.UNACCEPTABLE, "default")
    assert refused.refusals[0].error is GateBlocked and "graded UNACCEPTABLE: it cannot be approved" in refused.reasons[0]
    assert _approve(Grade.UNACCEPTABLE, None).reasons == refused.reasons  # no pack: the default meaning
    assert _approve(Grade.UNACCEPTABLE, "canada-aia").allowed


def test_aia_levels_ask_for_the_chair_and_a_second_signature() -> None:
    aia, default = load_pack("canada-aia").pack, load_pack("default").pack
    assert grading.quorum_for(aia, "INITIATION", Grade.UNACCEPTABLE) == (2, True)
    assert grading.quorum_for(aia, "DEVELOPMENT", Grade.HIGH) == (1, True)
    assert grading.quorum_for(aia, "INITIATION", Grade.MEDIUM) == (1, False)
    # the default levels add nothing to the default pack's quorum rule (RELEASE, from HIGH: two, the chair among them)
    assert [grading.quorum_for(default, "INITIATION", g) for g in Grade] == [(1, False)] * 4
    assert [grading.quorum_for(default, "RELEASE", g) for g in Grade] == [(1, False), (1, False), (2, True), (2, True)]


def test_lowering_from_a_level_that_blocks_or_needs_sign_off_needs_a_second_signature() -> None:
    aia, default = load_pack("canada-aia").pack, load_pack("default").pack
    assert rules.second_signature(Grade.UNACCEPTABLE, Grade.HIGH, Grade.HIGH, (), default.level(Grade.UNACCEPTABLE)) == \
        ["it lowers the grade from UNACCEPTABLE"]
    assert rules.second_signature(Grade.UNACCEPTABLE, Grade.HIGH, Grade.HIGH, (), aia.level(Grade.UNACCEPTABLE)) == \
        ["it lowers the grade from Level IV (very high impact) (UNACCEPTABLE), whose approval needs extra sign-off"]
    assert rules.second_signature(Grade.MEDIUM, Grade.LOW, Grade.LOW, (), aia.level(Grade.MEDIUM)) == []
    assert aia.label(Grade.HIGH) == "Level III (high impact)" and default.label("HIGH") == "HIGH"


SMALL = {
    "id": "small", "version": "1.0", "title": "Small additive pack",
    "principles": [{"id": "p", "title": "P"}],
    "dimensions": [{"id": "risk", "title": "Risk", "principle": "p"}, {"id": "care", "title": "Care", "principle": "p"}],
    "levels": [{"grade": "LOW", "label": "low"}, {"grade": "MEDIUM", "label": "mid"}, {"grade": "HIGH", "label": "top", "require_chair": True}],
    "grading": {"model": "additive", "score": [{"dimension": "risk", "weight": 2}], "cut_offs": {"MEDIUM": 0.3, "HIGH": 0.6},
                "mitigation": [{"section": "care", "at_least": 0.5, "factor": 0.5}]},
    "questions": [
        {"id": "q1", "text": "Branch?", "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]},
        {"id": "q2", "text": "Only on a", "when": {"answer": "q1", "any_of": ["a"]},
         "options": [{"id": "yes", "label": "Y", "scores": {"risk": 5}}, {"id": "no", "label": "N", "scores": {"care": 2}}]},
        {"id": "q3", "text": "Only on b", "when": {"not": {"answer": "q1", "any_of": ["a"]}},
         "options": [{"id": "yes", "label": "Y", "scores": {"risk": 3, "care": 1}}, {"id": "no", "label": "N"}]},
        {"id": "q4", "text": "Pick", "kind": "multiple", "allow_none": True,
         "options": [{"id": "x", "label": "X", "scores": {"risk": 2}}, {"id": "y", "label": "Y", "scores": {"risk": 4}},
                     {"id": "z", "label": "Z", "scores": {"risk": -1}}]},
        {"id": "q5", "text": "Only with x", "when": {"answer": "q4", "any_of": ["x"]},
         "options": [{"id": "yes", "label": "Y", "scores": {"risk": 10}}, {"id": "no", "label": "N", "scores": {"care": 1}}]},
        {"id": "q6", "text": "Only for surveillance", "optional": True, "when": {"profile": "capabilities", "any_of": ["surveillance"]},
         "options": [{"id": "yes", "label": "Y", "scores": {"risk": 7}}, {"id": "no", "label": "N"}]},
        {"id": "note", "text": "Anything else?", "kind": "text", "optional": True},
    ],
    "controls": [{"id": "C1", "title": "c", "dimension": "risk", "required_from": "HIGH", "evidence": "e", "mitigation": 3}],
    "review_sla_days": {"LOW": 5, "MEDIUM": 5, "HIGH": 5},
    "followups": {"cadence": {g: {"every_days": 30, "visits": 1} for g in ("LOW", "MEDIUM", "HIGH")}, "questionnaire": ["Any problem?"]},
}


def _every_answer_set(pack: Any) -> list[tuple[ProductProfile, dict[str, list[str]]]]:
    """Brute force: every profile the conditions tell apart and every valid answer set."""
    import itertools

    out = []
    for caps in ([], ["surveillance"]):
        profile = PROFILE.model_copy(update={"capabilities": caps})
        options = []
        for q in pack.questions:
            if q.kind == "text":
                options.append([None])
            elif q.kind == "multiple":
                ids = [o.id for o in q.options]
                options.append([list(c) for n in range(len(ids) + 1) for c in itertools.combinations(ids, n)])
            else:
                options.append([[o.id] for o in q.options])
            if q.kind != "text" and (q.optional or q.when is not None):
                options[-1].append(None)
        for combo in itertools.product(*options):
            raw = {q.id: v for q, v in zip(pack.questions, combo, strict=True) if v is not None}
            try:
                out.append((profile, grading.normalize_answers(pack, profile, raw)))
            except InvalidInput:
                continue  # an answer to a question that does not apply, or one missing
    return out


def test_the_maximum_is_the_best_attainable_score(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "pack.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    pack = load_pack(tmp_path / "small").pack
    sets = _every_answer_set(pack)
    assert len(sets) > 100
    risk = max(2 * grading.points(pack, p, a)["risk"] for p, a in sets)
    care = max(grading.points(pack, p, a)["care"] for p, a in sets)
    assert grading.max_scores(pack) == grading.Maxima(total=risk, sections={"care": care}) == grading.Maxima(56, {"care": 3})
    seen = {grading.grade(pack, p, a).grade for p, a in sets}
    assert seen == {Grade.LOW, Grade.MEDIUM, Grade.HIGH}


def test_a_condition_cannot_look_at_a_free_text_question(tmp_path: Path) -> None:
    bad = {**SMALL, "questions": SMALL["questions"] + [{"id": "q7", "text": "?", "when": {"answer": "note", "any_of": ["x"]},
                                                         "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}]}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "pack.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    with pytest.raises(InvalidInput, match=r"questions\[7\]\.when\.answer: question 'note' takes free text"):
        load_pack(tmp_path / "bad")
