"""Policy packs: the shipped packs load; a bad pack fails naming file, field path, value and expectation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.loader import load_pack
from policies.schema import PolicyPack
from review.domain import grading
from review.domain.grades import Grade
from review.domain.product import ProductProfile
from review.errors import InvalidInput, NotFound

DEFAULT = Path(load_pack("default").path)


def test_default_pack_meets_the_brief() -> None:
    lp = load_pack("default")
    pk = lp.pack
    assert len(pk.dimensions) == 9
    assert {p.id for p in pk.principles} == {"human_centric", "controllable", "sustainability", "balanced"}
    assert 25 <= len(pk.questions) <= 40
    assert {q.kind for q in pk.questions} == {"single", "multiple"}
    assert any(q.when for q in pk.questions)
    assert len(pk.controls) >= 30
    assert any(t.fix for t in pk.triggers) and any(t.floor for t in pk.triggers)
    assert pk.followups.cadence[Grade.HIGH].every_days < pk.followups.cadence[Grade.MEDIUM].every_days < pk.followups.cadence[Grade.LOW].every_days
    assert len(lp.content_hash) == 64


def write_pack(tmp_path: Path, mutate: Any) -> Path:
    raw = yaml.safe_load(DEFAULT.read_text())
    raw.pop("content_safety", None)
    mutate(raw)
    d = tmp_path / "pack"
    d.mkdir(parents=True, exist_ok=True)
    (d / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return d


@pytest.mark.parametrize("mutate,pattern", [
    (lambda r: r.pop("dimensions"), r"pack\.yaml: dimensions: required field is missing"),
    (lambda r: r["questions"][3].update(kind="several"), r"questions\[3\]\.kind: bad value \"several\": Input should be 'single', 'multiple' or 'text'"),
    (lambda r: r["dimensions"][0]["thresholds"].update(medium="three"), r"dimensions\[0\]\.thresholds\.medium: bad value \"three\""),
    (lambda r: r["controls"][2].update(required_from="SEVERE"), r"controls\[2\]\.required_from: bad value \"SEVERE\""),
    (lambda r: r["questions"][0]["options"][2]["scores"].update(privasy=2), r"questions\[0\]\.options\[2\]\.scores\.privasy: unknown dimension 'privasy'"),
    (lambda r: r["dimensions"][1].update(principle="kindness"), r"dimensions\[1\]\.principle: unknown principle 'kindness'"),
    (lambda r: r["controls"][0].update(colour="red"), r"controls\[0\]\.colour: unknown field"),
    (lambda r: r["triggers"][0].update(floor="HIGH"), r"triggers\[0\]: bad value .*exactly one of 'fix' or 'floor'"),
    (lambda r: r["triggers"][2]["when"].update(any_of=["in_the_sky"]), r"triggers\[2\]\.when\.any_of\[0\]: 'in_the_sky' is not an option of question 'biometric_setting'"),
    (lambda r: r["questions"].append(dict(r["questions"][0])), r"questions\[36\]\.id: duplicate id 'domain'"),
    (lambda r: r["dimensions"][0]["thresholds"].update(high=2), r"dimensions\[0\]\.thresholds: bad value .*high \(2\) must be above medium \(3\)"),
    (lambda r: r["followups"]["cadence"].pop("LOW"), r"followups\.cadence\.LOW: missing"),
    (lambda r: r.update(version="one"), r"version: bad value \"one\""),
])
def test_bad_pack_error_names_file_path_value_and_expectation(tmp_path: Path, mutate: Any, pattern: str) -> None:
    d = write_pack(tmp_path, mutate)
    with pytest.raises(InvalidInput, match=pattern) as exc:
        load_pack(d)
    assert "pack.yaml" in exc.value.message


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    d = tmp_path / "broken"
    d.mkdir()
    (d / "pack.yaml").write_text("id: broken\nversion: '1.0'\ntitle: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"pack\.yaml: line \d+, column \d+: malformed YAML"):
        load_pack(d)


def test_not_a_mapping(tmp_path: Path) -> None:
    f = tmp_path / "list.yaml"
    f.write_text("- a\n- b\n")
    with pytest.raises(InvalidInput, match="a policy pack is a YAML mapping"):
        load_pack(f)


def test_unknown_pack_id_lists_the_available_ones() -> None:
    with pytest.raises(NotFound, match="available: .*default.*eu-ai-act"):
        load_pack("no-such-pack")


def test_hash_changes_with_content(tmp_path: Path) -> None:
    a = load_pack(write_pack(tmp_path / "a", lambda r: None))
    b = load_pack(write_pack(tmp_path / "b", lambda r: r["controls"][0].update(title="Changed title")))
    c = load_pack(write_pack(tmp_path / "c", lambda r: None))
    assert a.content_hash != b.content_hash
    assert a.content_hash == c.content_hash


# ---- EU AI Act pack: tiers are data ----------------------------------------------------------
EU_PROFILE = ProductProfile(name="EU product", owner_team="t", business_line="b", intended_users=["general_public"],
                            deployment_regions=["EU"], data_categories=["personal"])


def eu_grade(**answers: Any) -> tuple[Grade, list[str]]:
    pk: PolicyPack = load_pack("eu-ai-act").pack
    base = {"art5_practice": ["none"], "annex_i_product": "no", "annex_iii_area": ["none"], "interacts_with_people": "no",
            "synthetic_content": "no", "human_oversight": "designed_in", "accuracy_testing": "declared_tested"}
    base.update(answers)
    a = grading.normalize_answers(pk, EU_PROFILE, base)
    r = grading.grade(pk, EU_PROFILE, a)
    return r.grade, [c.id for c in grading.required_controls(pk, EU_PROFILE, a, r)]


def test_eu_pack_minimal_tier() -> None:
    g, controls = eu_grade()
    assert g is Grade.LOW and controls == ["ART4-LIT"]


def test_eu_pack_transparency_tier() -> None:
    g, controls = eu_grade(interacts_with_people="yes", synthetic_content="deepfakes")
    assert g is Grade.MEDIUM
    assert {"ART50-CHAT", "ART50-MARK", "ART50-DEEPFAKE"} <= set(controls)


def test_eu_pack_high_risk_tier_and_art_6_3_exception() -> None:
    g, controls = eu_grade(annex_iii_area=["employment"], art6_3_exception="no")
    assert g is Grade.HIGH
    assert {"ART9-RMS", "ART10-DATA", "ART11-DOC", "ART14-HR", "ART43-CA", "ART49-REG", "ART27-FRIA"} <= set(controls)
    g, _ = eu_grade(annex_iii_area=["employment"], art6_3_exception="yes")
    assert g is Grade.LOW


def test_eu_pack_prohibited_tier() -> None:
    g, _ = eu_grade(art5_practice=["social_scoring"])
    assert g is Grade.UNACCEPTABLE
