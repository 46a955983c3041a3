"""Property tests: grading invariants over random answer sets of the shipped default pack."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.loader import load_pack
from review.domain import grading
from review.domain.lifecycle import Action, CaseState, Gate, Status
from review.domain.product import Capability, DataCategory, ProductProfile, UserGroup

PACK = load_pack("default").pack


@st.composite
def products_and_answers(draw: st.DrawFn) -> tuple[ProductProfile, dict[str, list[str]]]:
    profile = ProductProfile(
        name="Property product", owner_team="t", business_line="b",
        intended_users=draw(st.lists(st.sampled_from(list(UserGroup)), min_size=1, max_size=3, unique=True)),
        deployment_regions=["CN"],
        data_categories=draw(st.lists(st.sampled_from(list(DataCategory)), min_size=1, max_size=4, unique=True)),
        capabilities=draw(st.lists(st.sampled_from(list(Capability)), max_size=4, unique=True)),
    )
    answers: dict[str, list[str]] = {}
    for q in PACK.questions:  # conditions look backwards only, so one pass in order is enough
        if q.when is not None and not grading.holds(q.when, profile, answers):
            continue
        ids = [o.id for o in q.options]
        answers[q.id] = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True)) if q.kind == "multiple" else [draw(st.sampled_from(ids))]
    return profile, answers


@settings(max_examples=150, deadline=None)
@given(products_and_answers())
def test_grade_is_never_below_any_dimension_level(pa: tuple[ProductProfile, dict[str, list[str]]]) -> None:
    profile, answers = pa
    assert grading.normalize_answers(PACK, profile, answers) == answers  # generated answers are valid
    r = grading.grade(PACK, profile, answers)
    assert r.base_grade == max(r.dimension_levels.values())
    fixed = [t.fix for t in PACK.triggers if t.id in r.triggers_fired and t.fix is not None]
    if fixed:
        assert r.grade == max(fixed)
    else:
        assert all(r.grade >= lvl for lvl in r.dimension_levels.values())


@settings(max_examples=150, deadline=None)
@given(products_and_answers(), st.data())
def test_mitigation_never_raises_the_grade_and_floors_hold(pa: tuple[ProductProfile, dict[str, list[str]]], data: st.DataObject) -> None:
    profile, answers = pa
    r = grading.grade(PACK, profile, answers)
    controls = grading.required_controls(PACK, profile, answers, r)
    verified = data.draw(st.lists(st.sampled_from([c.id for c in controls]), unique=True) if controls else st.just([]))
    res = grading.residual_grade(PACK, profile, answers, verified)
    assert res.grade <= r.grade
    fired = [t for t in PACK.triggers if t.id in res.triggers_fired]
    if not any(t.fix for t in fired):
        assert all(res.grade >= t.floor for t in fired if t.floor is not None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(Action)), max_size=30), st.sampled_from(list(Gate)))
def test_random_walks_stay_inside_the_table(actions: list[Action], target: Gate) -> None:
    from review.errors import IllegalTransition

    s = CaseState(Gate.INITIATION, Status.DRAFT)
    for a in actions:
        try:
            s = s.apply(a, to_gate=target if a is Action.REOPEN else None)
        except IllegalTransition:
            continue
        assert (s.gate is Gate.SUSPENDED) == (s.suspended_from is not None)
    assert isinstance(s.status, Status)



# ---- both grading models: the shipped packs, highest (default, eu-ai-act) and additive (canada-aia) ----------
PACKS = {pid: load_pack(pid).pack for pid in ("default", "eu-ai-act", "canada-aia")}


@st.composite
def pack_answers(draw: st.DrawFn, pack_id: str) -> dict[str, list[str]]:
    pack = PACKS[pack_id]
    profile = draw(products_and_answers())[0]
    answers: dict[str, list[str]] = {}
    for q in pack.questions:
        if q.when is not None and not grading.holds(q.when, profile, answers):
            continue
        if q.optional and draw(st.booleans()):
            continue
        if q.kind == "text":
            answers[q.id] = [draw(st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=20).map(str.strip).filter(bool))]
            continue
        ids = [o.id for o in q.options]
        low = 0 if q.allow_none else 1
        answers[q.id] = draw(st.lists(st.sampled_from(ids), min_size=low, max_size=3, unique=True)) if q.kind == "multiple" else [draw(st.sampled_from(ids))]
    return {"__profile__": [profile.model_dump_json()], **answers}


def _split(a: dict[str, list[str]]) -> tuple[ProductProfile, dict[str, list[str]]]:
    rest = dict(a)
    return ProductProfile.model_validate_json(rest.pop("__profile__")[0]), rest


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PACKS)), st.data())
def test_the_level_is_monotonic_in_points(pack_id: str, data: st.DataObject) -> None:
    """More points in any scored section never lower a level (a mitigation section's points are held)."""
    pack = PACKS[pack_id]
    held = {m.section for m in pack.grading.mitigation}
    scores = {d.id: data.draw(st.integers(0, 60), label=d.id) for d in pack.dimensions}
    more = {d: v + (0 if d in held else data.draw(st.integers(0, 30), label=f"+{d}")) for d, v in scores.items()}
    levels, base, _ = grading.levels_from_scores(pack, scores)
    levels2, base2, _ = grading.levels_from_scores(pack, more)
    assert base2 >= base and all(levels2[d] >= levels[d] for d in levels)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PACKS)), st.data())
def test_mitigation_never_raises_a_level(pack_id: str, data: st.DataObject) -> None:
    """More mitigation points (an additive pack's mitigation section) or verified controls never raise a level."""
    pack = PACKS[pack_id]
    profile, answers = _split(data.draw(pack_answers(pack_id)))
    assert grading.normalize_answers(pack, profile, answers) == answers  # generated answers are valid
    r = grading.grade(pack, profile, answers)
    for m in pack.grading.mitigation:
        more = {**r.dimension_scores, m.section: r.dimension_scores[m.section] + data.draw(st.integers(0, 20))}
        assert grading.levels_from_scores(pack, more)[1] <= r.base_grade
    controls = grading.required_controls(pack, profile, answers, r)
    verified = data.draw(st.lists(st.sampled_from([c.id for c in controls]), unique=True) if controls else st.just([]))
    res = grading.residual_grade(pack, profile, answers, verified)
    assert res.grade <= r.grade and res.base_grade <= r.base_grade
    if pack.grading.model == "additive":
        assert res.score is not None and r.score is not None and res.score <= r.score
