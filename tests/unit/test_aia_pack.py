"""The canada-aia pack grades as the AIA's published formula does.

The formula is implemented here from the pack's YAML alone, without the grading code: the raw score is the sum
of the points of the answers to the raw-impact sections; the maximum raw score is the sum of each raw question's
highest answer (all answers of a check-all question); the mitigation maximum is the sum over all mitigation
questions halved (the design and implementation branches are alternatives, as in the AIA tool). When the
mitigation score reaches 80% of its maximum the raw score loses 15%, rounded to a whole point (halves up); the
level is I up to 25% of the maximum raw score, II up to 50%, III up to 75%, IV above.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from policies.loader import load_pack
from review.domain import grading
from review.domain.grades import Grade
from review.domain.product import ProductProfile

RAW_SECTIONS = {"project", "algorithm", "decision", "impact", "data"}
MITIGATION = "mitigation"
LEVEL_OF = {1: Grade.LOW, 2: Grade.MEDIUM, 3: Grade.HIGH, 4: Grade.UNACCEPTABLE}

LOADED = load_pack("canada-aia")
RAW: dict[str, Any] = yaml.safe_load(Path(LOADED.path).read_text())
PROFILE = ProductProfile(name="AIA product", owner_team="t", business_line="b", intended_users=["general_public"],
                         deployment_regions=["CA"], data_categories=["personal"], capabilities=["automated_decisions"])


def _points(option: dict[str, Any], sections: set[str]) -> int:
    return sum(v for k, v in option.get("scores", {}).items() if k in sections)


def _question_max(q: dict[str, Any], sections: set[str]) -> int:
    pts = [_points(o, sections) for o in q.get("options", [])]
    if not pts:
        return 0
    return sum(pts) if q.get("kind") == "multiple" else max(pts)


def published_maxima() -> tuple[int, int]:
    max_raw = sum(_question_max(q, RAW_SECTIONS) for q in RAW["questions"])
    max_mitigation = sum(_question_max(q, {MITIGATION}) for q in RAW["questions"])
    return max_raw, max_mitigation // 2


def published_level(answers: dict[str, list[str]]) -> int:
    """The AIA impact level (1-4) of an answer set, by the published formula."""
    max_raw, max_mitigation = published_maxima()
    raw = mitigation = 0
    for q in RAW["questions"]:
        for o in q.get("options", []):
            if str(o["id"]) in answers.get(q["id"], []):
                raw += _points(o, RAW_SECTIONS)
                mitigation += _points(o, {MITIGATION})
    current = raw
    if mitigation * 100 >= 80 * max_mitigation:
        current = (raw * 85 + 50) // 100  # less 15%, rounded half up, in whole numbers
    for level, pct in ((1, 25), (2, 50), (3, 75)):
        if current * 100 <= pct * max_raw:
            return level
    return 4


def _visible(q: dict[str, Any], answers: dict[str, list[str]]) -> bool:
    cond = q.get("when")
    if cond is None:
        return True
    assert set(cond) == {"answer", "any_of"}, "the AIA pack's conditions are plain 'answer is one of'"
    return any(str(v) in answers.get(cond["answer"], []) for v in cond["any_of"])


def random_answers(rng: random.Random) -> dict[str, Any]:
    """A valid answer set: each product has its own appetite for risky and for mitigating answers, so every level
    and both sides of the mitigation rule come up."""
    risk, care = rng.random(), rng.random()
    answers: dict[str, Any] = {}
    for q in RAW["questions"]:
        if not _visible(q, answers):
            continue
        if q.get("kind") == "text":
            if not (q.get("optional") and rng.random() < 0.5):
                answers[q["id"]] = rng.choice(["Because the program says so.", "Décision révisable — voir le dossier.", "[bold]x[/]"])
            continue
        opts = [str(o["id"]) for o in q["options"]]
        pts = [_points(o, RAW_SECTIONS | {MITIGATION}) for o in q["options"]]
        p = care if any(MITIGATION in o.get("scores", {}) for o in q["options"]) else risk
        if q.get("kind") == "multiple":
            answers[q["id"]] = [o for o in opts if rng.random() < p * 0.6]
        else:
            top, bottom = opts[pts.index(max(pts))], opts[pts.index(min(pts))]
            answers[q["id"]] = [top] if rng.random() < p else [bottom] if rng.random() < 0.6 else [rng.choice(opts)]
    return answers


def test_the_pack_and_the_published_formula_agree_on_1000_random_answer_sets() -> None:
    pack = LOADED.pack
    assert (grading.max_scores(pack).total, grading.max_scores(pack).sections[MITIGATION]) == published_maxima() == (101, 18)
    rng = random.Random(20261205)
    agree, levels, mitigated = 0, Counter(), 0
    for _ in range(1000):
        raw_answers = random_answers(rng)
        answers = grading.normalize_answers(pack, PROFILE, raw_answers)
        result = grading.grade(pack, PROFILE, answers)
        expected = LEVEL_OF[published_level(answers)]
        agree += result.grade == expected
        levels[expected] += 1
        mitigated += result.score != sum(result.dimension_scores[s] for s in RAW_SECTIONS)
    assert agree == 1000
    assert all(levels[g] >= 50 for g in Grade), f"every level comes up: {levels}"
    assert 50 < mitigated < 950, "both sides of the mitigation rule come up"


def test_mitigation_lowers_a_level_iv_product_to_level_iii() -> None:
    """A product at 80/101 (Level IV) with full mitigation scores round(0.85 x 80) = 68 (Level III)."""
    pack = LOADED.pack
    rng = random.Random(7)
    for _ in range(5000):
        answers = grading.normalize_answers(pack, PROFILE, random_answers(rng))
        unmitigated = grading.levels_from_scores(pack, {**grading.points(pack, PROFILE, answers), MITIGATION: 0})[1]
        result = grading.grade(pack, PROFILE, answers)
        if unmitigated is Grade.UNACCEPTABLE and result.grade < unmitigated:
            assert result.score is not None and result.score * 100 <= 75 * 101
            return
    raise AssertionError("no answer set where mitigation lowers Level IV")


def test_free_text_and_empty_multi_choice_are_stored_and_never_scored() -> None:
    pack = LOADED.pack
    rng = random.Random(3)
    base = random_answers(rng)
    base["decision_area"] = ["other"]
    base["decision_area_other"] = "Fisheries quotas"
    with_text = grading.normalize_answers(pack, PROFILE, base)
    assert with_text["decision_area_other"] == ["Fisheries quotas"]
    longer = grading.normalize_answers(pack, PROFILE, {**base, "decision_area_other": "Quotas " * 200})
    assert grading.grade(pack, PROFILE, with_text).dimension_scores == grading.grade(pack, PROFILE, longer).dimension_scores
    none = {k: v for k, v in base.items() if k != "decision_area_other"}
    none["decision_area"] = []
    assert grading.normalize_answers(pack, PROFILE, none)["decision_area"] == []
    assert grading.grade(pack, PROFILE, grading.normalize_answers(pack, PROFILE, none)).dimension_scores["decision"] == 0
