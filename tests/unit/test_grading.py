"""Grading: non-compensatory levels, hard triggers, conditional questions, controls, residual grade."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policies.loader import load_pack
from policies.schema import PolicyPack
from review.demo.catalog import PRODUCTS, submission
from review.domain import grading
from review.domain.grades import Grade
from review.domain.product import ProductProfile
from review.errors import InvalidInput

PROFILE = ProductProfile(name="Test product", owner_team="t", business_line="b", intended_users=["general_public"],
                         deployment_regions=["cn"], data_categories=["personal"], capabilities=[])


def tiny_pack(**overrides: Any) -> PolicyPack:
    raw: dict[str, Any] = {
        "id": "tiny", "version": "1.0", "title": "Tiny",
        "principles": [{"id": "p", "title": "P"}],
        "dimensions": [
            {"id": "privacy", "title": "Privacy", "principle": "p", "thresholds": {"medium": 3, "high": 6, "unacceptable": 10}},
            {"id": "safety", "title": "Safety", "principle": "p", "thresholds": {"medium": 3, "high": 6}},
            {"id": "fairness", "title": "Fairness", "principle": "p", "thresholds": {"medium": 3, "high": 6}},
        ],
        "questions": [
            {"id": "pii", "text": "PII?", "options": [{"id": "none", "label": "n"}, {"id": "lots", "label": "l", "scores": {"privacy": 7}},
                                                       {"id": "extreme", "label": "x", "scores": {"privacy": 10}}]},
            {"id": "harm", "text": "Harm?", "options": [{"id": "low", "label": "l"}, {"id": "high", "label": "h", "scores": {"safety": 2}}]},
            {"id": "kids", "text": "Kids?", "when": {"profile": "intended_users", "any_of": ["minors"]},
             "options": [{"id": "ok", "label": "ok"}, {"id": "manipulate", "label": "m", "scores": {"safety": 1}}]},
            {"id": "features", "text": "Features?", "kind": "multiple",
             "options": [{"id": "a", "label": "a", "scores": {"fairness": 1}}, {"id": "b", "label": "b", "scores": {"fairness": 2}}]},
        ],
        "triggers": [
            {"id": "manipulation", "title": "m", "when": {"answer": "kids", "any_of": ["manipulate"]}, "fix": "UNACCEPTABLE"},
            {"id": "harm_floor", "title": "h", "when": {"answer": "harm", "any_of": ["high"]}, "floor": "HIGH"},
        ],
        "controls": [
            {"id": "C-1", "title": "always", "dimension": "privacy", "required_from": "LOW", "evidence": "e"},
            {"id": "C-2", "title": "privacy high", "dimension": "privacy", "required_from": "HIGH", "evidence": "e", "mitigation": 2},
            {"id": "C-3", "title": "safety trig", "dimension": "safety", "required_from": "HIGH", "evidence": "e", "triggers": ["harm_floor"]},
            {"id": "C-4", "title": "kids only", "dimension": "safety", "required_from": "LOW", "evidence": "e",
             "when": {"profile": "intended_users", "any_of": ["minors"]}},
        ],
        "review_sla_days": {"LOW": 10, "MEDIUM": 7, "HIGH": 5, "UNACCEPTABLE": 3},
        "quorum": [{"gate": "RELEASE", "min_grade": "HIGH", "approvals": 2, "require_chair": True}],
        "followups": {"cadence": {"LOW": {"every_days": 365, "visits": 1}, "MEDIUM": {"every_days": 90, "visits": 2},
                                  "HIGH": {"every_days": 30, "visits": 3}}, "questionnaire": ["Any ethics risk triggered?"]},
    }
    raw.update(overrides)
    return PolicyPack.model_validate(raw)


def norm(pack: PolicyPack, answers: dict[str, Any], profile: ProductProfile = PROFILE) -> dict[str, list[str]]:
    return grading.normalize_answers(pack, profile, answers)


def test_overall_grade_is_the_highest_dimension_level_not_an_average() -> None:
    pack = tiny_pack()
    r = grading.grade(pack, PROFILE, norm(pack, {"pii": "lots", "harm": "low", "features": ["a"]}))
    assert r.dimension_levels == {"privacy": Grade.HIGH, "safety": Grade.LOW, "fairness": Grade.LOW}
    # Two LOW dimensions do not pull a HIGH privacy risk down.
    assert r.grade is Grade.HIGH


def test_thresholds_map_scores_to_levels() -> None:
    pack = tiny_pack()
    dim = pack.dimension("privacy")
    assert [grading.level_for(dim, s) for s in (0, 2, 3, 5, 6, 9, 10, 99)] == [
        Grade.LOW, Grade.LOW, Grade.MEDIUM, Grade.MEDIUM, Grade.HIGH, Grade.HIGH, Grade.UNACCEPTABLE, Grade.UNACCEPTABLE]
    assert grading.level_for(pack.dimension("safety"), 99) is Grade.HIGH  # no unacceptable threshold


def test_multiple_choice_scores_add_up() -> None:
    pack = tiny_pack()
    r = grading.grade(pack, PROFILE, norm(pack, {"pii": "none", "harm": "low", "features": ["a", "b"]}))
    assert r.dimension_scores["fairness"] == 3 and r.dimension_levels["fairness"] is Grade.MEDIUM


def test_floor_trigger_raises_but_never_lowers() -> None:
    pack = tiny_pack()
    r = grading.grade(pack, PROFILE, norm(pack, {"pii": "none", "harm": "high", "features": ["a"]}))
    assert r.base_grade is Grade.LOW and r.grade is Grade.HIGH and r.triggers_fired == ("harm_floor",)
    r = grading.grade(pack, PROFILE, norm(pack, {"pii": "extreme", "harm": "high", "features": ["a"]}))
    assert r.grade is Grade.UNACCEPTABLE  # floor HIGH does not lower an UNACCEPTABLE score


def test_fix_trigger_sets_the_grade() -> None:
    pack = tiny_pack()
    kids = PROFILE.model_copy(update={"intended_users": ["minors"]})
    r = grading.grade(pack, kids, norm(pack, {"pii": "none", "harm": "low", "kids": "manipulate", "features": ["a"]}, kids))
    assert r.base_grade is Grade.LOW and r.grade is Grade.UNACCEPTABLE
    assert "manipulation" in r.triggers_fired


def test_conditional_question_only_for_matching_profiles() -> None:
    pack = tiny_pack()
    assert "kids" not in [q.id for q in grading.applicable_questions(pack, PROFILE, {})]
    kids = PROFILE.model_copy(update={"intended_users": ["minors"]})
    assert "kids" in [q.id for q in grading.applicable_questions(pack, kids, {})]
    with pytest.raises(InvalidInput, match=r"answers\.kids: this question does not apply"):
        norm(pack, {"pii": "none", "harm": "low", "kids": "ok", "features": ["a"]})
    with pytest.raises(InvalidInput, match=r"answers\.kids: missing answer"):
        norm(pack, {"pii": "none", "harm": "low", "features": ["a"]}, kids)


@pytest.mark.parametrize("answers,pattern", [
    ({"pii": "none", "harm": "low", "features": ["a"], "colour": "red"}, r"answers\.colour: unknown question"),
    ({"pii": "some", "harm": "low", "features": ["a"]}, r"answers\.pii: invalid choice 'some'; choose from: none, lots, extreme"),
    ({"pii": ["none", "lots"], "harm": "low", "features": ["a"]}, r"answers\.pii: single-choice question, got 2 answers"),
    ({"pii": "none", "features": ["a"]}, r"answers\.harm: missing answer"),
    ({"pii": "none", "harm": "low", "features": []}, r"answers\.features: empty answer"),
    ({"pii": "none", "harm": "low", "features": ["a", "zzz"]}, r"answers\.features: invalid choice 'zzz'"),
    ({"pii": None, "harm": "low", "features": ["a"]}, r"answers\.pii: unset; answer .* with one of"),
    ({"pii": True, "harm": "low", "features": ["a"]}, r"answers\.pii: invalid choice True"),  # yes/no only where the pack has them
    ({"pii": "zzz", "harm": None, "features": []}, r"3 problems: answers\.pii: invalid choice 'zzz'.*; answers\.features: empty answer.*answers\.harm: unset"),
])
def test_answer_errors_name_the_question_and_the_fix(answers: dict[str, Any], pattern: str) -> None:
    with pytest.raises(InvalidInput, match=pattern):
        norm(tiny_pack(), answers)


def test_unknown_question_suggests_the_closest() -> None:
    with pytest.raises(InvalidInput, match="did you mean 'harm'"):
        norm(tiny_pack(), {"pii": "none", "hamr": "low", "features": ["a"]})


def test_controls_by_level_condition_and_trigger() -> None:
    pack = tiny_pack()
    a = norm(pack, {"pii": "lots", "harm": "high", "features": ["a"]})
    r = grading.grade(pack, PROFILE, a)
    ids = [c.id for c in grading.required_controls(pack, PROFILE, a, r)]
    assert ids == ["C-1", "C-2", "C-3"]  # C-3 by trigger (safety itself is LOW); C-4 only for minors


def test_residual_grade_credits_only_verified_controls_and_keeps_floors() -> None:
    pack = tiny_pack()
    a = norm(pack, {"pii": "lots", "harm": "low", "features": ["a"]})
    assert grading.residual_grade(pack, PROFILE, a, []).grade is Grade.HIGH
    r = grading.residual_grade(pack, PROFILE, a, ["C-2"])  # privacy 7 - 2 = 5 -> MEDIUM
    assert r.dimension_scores["privacy"] == 5 and r.grade is Grade.MEDIUM and r.mitigation == {"privacy": 2}
    floored = norm(pack, {"pii": "lots", "harm": "high", "features": ["a"]})
    assert grading.residual_grade(pack, PROFILE, floored, ["C-2"]).grade is Grade.HIGH  # trigger floor still applies


def test_quorum_rule_lookup() -> None:
    pack = tiny_pack()
    assert grading.quorum_for(pack, "RELEASE", Grade.HIGH) == (2, True)
    assert grading.quorum_for(pack, "RELEASE", Grade.MEDIUM) == (1, False)
    assert grading.quorum_for(pack, "INITIATION", Grade.HIGH) == (1, False)


# ---- the shipped default pack ----------------------------------------------------------------
def _demo(name: str) -> dict[str, Any]:
    return copy.deepcopy(next(p for p in PRODUCTS if p["product"]["name"] == name))


def _grade_demo(item: dict[str, Any]) -> grading.GradeResult:
    doc = submission(item)
    pack = load_pack("default").pack
    profile = ProductProfile.model_validate(doc["product"])
    return grading.grade(pack, profile, grading.normalize_answers(pack, profile, doc["answers"]))


def test_default_pack_covert_manipulation_of_vulnerable_people_is_unacceptable() -> None:
    r = _grade_demo(_demo("Elderly companion app"))
    assert r.grade is Grade.UNACCEPTABLE and "covert_manipulation_vulnerable" in r.triggers_fired
    assert r.base_grade < Grade.UNACCEPTABLE  # the trigger, not the scores, makes it unacceptable


def test_default_pack_public_biometric_identification_is_at_least_high() -> None:
    item = _demo("City video analytics")
    item["answers"].update({"domain": "industrial", "user_scale": "under_10k", "personal_data_volume": "limited",
                            "consent_basis": "explicit_consent", "sensitive_data": ["biometric_templates"],
                            "surveillance_scope": "aggregate_only", "ai_disclosure": "always", "explainability": "to_affected"})
    r = _grade_demo(item)
    assert "biometric_public_spaces" in r.triggers_fired
    assert r.grade >= Grade.HIGH


def test_default_pack_low_risk_product_is_low() -> None:
    assert _grade_demo(_demo("Remote-sensing platform")).grade is Grade.LOW


def test_default_pack_aigc_questions_only_for_generative_products() -> None:
    pack = load_pack("default").pack
    gen = {q.id for q in pack.questions if q.when and q.when.profile == "capabilities" and q.when.any_of == ["generative_content"]}
    assert {"gen_modalities", "content_filtering", "synthetic_labelling"} <= gen
    plain = ProductProfile.model_validate(_demo("Remote-sensing platform")["product"])
    assert not gen & {q.id for q in grading.applicable_questions(pack, plain, {})}


def test_quorum_progress_counts_distinct_approvers_and_the_chair() -> None:
    pack = tiny_pack()
    q = grading.quorum_progress(pack, "RELEASE", Grade.HIGH, [])
    assert (q.need, q.chair_required, q.met) == (2, True, False)
    assert q.missing() == ["2 more approval(s) from distinct reviewers", "the chair's approval"]
    q = q.with_approval("amara", False).with_approval("amara", False)
    assert q.missing() == ["1 more approval(s) from distinct reviewers", "the chair's approval"]
    assert q.with_approval("priya", False).missing() == ["the chair's approval"]
    assert q.with_approval("wei", True).met
    assert grading.quorum_progress(pack, "RELEASE", Grade.MEDIUM, [("amara", False)]).met


def test_a_huge_message_is_cut_in_the_middle_keeping_what_and_the_fix() -> None:
    from review.errors import ReviewError, clip

    e = InvalidInput("file.yaml: answers.x: " + "y" * 1_000_000 + " ; choose from: a, b")
    assert len(e.message) < ReviewError.MAX_CHARS and e.message.startswith("file.yaml: answers.x:") and e.message.endswith("choose from: a, b")
    assert "characters cut" in e.message
    assert clip("z" * 500).endswith("(502 characters)") and clip("ok") == "'ok'"


def test_cross_checks_warn_or_refuse_only_when_they_apply() -> None:
    pack = tiny_pack(cross_checks=[
        {"id": "bio", "when": {"profile": "capabilities", "any_of": ["biometric_identification"]},
         "expect": {"profile": "data_categories", "any_of": ["biometric"]}, "level": "refuse", "message": "add biometric"},
        {"id": "customers", "grade_at_least": "HIGH", "needs_customers": True, "message": "name customers"},
    ])
    bio = PROFILE.model_copy(update={"capabilities": ["biometric_identification"]})
    assert [(f.id, f.level) for f in grading.cross_check(pack, bio, {}, Grade.LOW)] == [("bio", "refuse")]
    fixed = bio.model_copy(update={"data_categories": ["biometric"]})
    assert grading.cross_check(pack, fixed, {}, Grade.LOW) == []
    assert [(f.id, f.level) for f in grading.cross_check(pack, PROFILE, {}, Grade.HIGH)] == [("customers", "warn")]
    assert grading.cross_check(pack, PROFILE, {}, Grade.MEDIUM) == []  # below the grade it applies from
    assert grading.cross_check(pack, PROFILE.model_copy(update={"customers": ["Acme"]}), {}, Grade.UNACCEPTABLE) == []
    with pytest.raises(ValueError, match="needs 'expect'"):
        tiny_pack(cross_checks=[{"id": "empty", "message": "nothing to check"}])
