"""Crosswalks: ``maps_to`` checked against the packs it names, the crosswalk and the gaps computed from both sides,
evidence counted for every obligation it reaches; and the NIST AI RMF and ISO/IEC 42001 packs. No database."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

import policies.installed as installed
from policies.loader import PACKS_DIR, available_packs, load_pack
from policies.schema import PolicyPack
from review.domain import grading
from review.domain.crosswalk import crosswalk, obligations_met
from review.domain.grades import Grade
from review.domain.product import ProductProfile
from review.errors import InvalidInput


def _pack(tmp: Path, pack_id: str, edit: Callable[[dict[str, Any]], None], base: str = "eu-ai-act") -> Path:
    """A copy of a shipped pack under a new id, changed by ``edit``, in its own directory under ``tmp``."""
    raw = yaml.safe_load((PACKS_DIR / base / "pack.yaml").read_text())
    raw["id"] = pack_id
    for c in raw["controls"]:
        c.pop("maps_to", None)
    edit(raw)
    d = tmp / pack_id
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return d


def _maps(**by_control: dict[str, list[str]]) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        for c in raw["controls"]:
            if c["id"] in by_control:
                c["maps_to"] = by_control[c["id"]]
    return edit


def test_every_installed_pack_loads_with_its_crosswalks() -> None:
    ids = available_packs()
    assert {"default", "eu-ai-act", "canada-aia", "nist-ai-rmf", "iso-42001"} <= set(ids)
    for pid in ids:
        assert load_pack(pid).id == pid


@pytest.mark.parametrize("maps,pattern", [
    ({"nist-ai-rmf": ["GOVERN 1"]}, r"controls\[0\] \(ART4-LIT\)\.maps_to\.nist-ai-rmf\[0\]: 'GOVERN 1' is not a control of pack "
                                    r"nist-ai-rmf 1\.0\.0; use one of GOVERN-1, GOVERN-2.*`ethics-review policy show nist-ai-rmf`"),
    ({"iso-42001": ["A.3.2", "A.11.1"]}, r"controls\[0\] \(ART4-LIT\)\.maps_to\.iso-42001\[1\]: 'A\.11\.1' is not a control of pack iso-42001"),
    ({"nist-csf": ["PR.AT"]}, r"controls\[0\] \(ART4-LIT\)\.maps_to\.nist-csf: unknown framework 'nist-csf'; use an installed pack's id "
                              r"\(.*nist-ai-rmf.*\) or one of .*, or install its pack"),
    ({"my-eu": ["ART9-RMS"]}, r"maps_to\.my-eu: a control maps to other frameworks, not to its own pack 'my-eu'"),
    ({"iso-42001": []}, r"controls\[0\]\.maps_to: bad value .*maps_to\.iso-42001: an empty list maps nothing"),
    ({"iso-42001": ["A.3.2", "A.3.2"]}, r"maps_to\.iso-42001: 'A\.3\.2' is listed twice"),
])
def test_maps_to_errors_name_the_pack_control_field_and_value(tmp_path: Path, maps: dict[str, list[str]], pattern: str) -> None:
    d = _pack(tmp_path, "my-eu", _maps(**{"ART4-LIT": maps}))
    with pytest.raises(InvalidInput, match=pattern) as exc:
        load_pack(d)
    assert str(d / "pack.yaml") in exc.value.message or "my-eu/pack.yaml" in exc.value.message


def test_a_known_framework_whose_pack_is_not_installed_is_taken_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _pack(tmp_path, "my-eu", _maps(**{"ART4-LIT": {"nist-ai-rmf": ["GOVERN 1"]}}))
    monkeypatch.setattr(installed, "PACKS_DIR", tmp_path / "none-installed")
    assert load_pack(d).pack.control("ART4-LIT").maps_to == {"nist-ai-rmf": ["GOVERN 1"]}  # type: ignore[union-attr]
    d2 = _pack(tmp_path, "my-eu-2", _maps(**{"ART4-LIT": {"nist-csf": ["PR.AT"]}}))
    with pytest.raises(InvalidInput, match="unknown framework 'nist-csf'"):
        load_pack(d2)


def test_two_packs_may_map_to_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pack(tmp_path, "pack-x", _maps(**{"ART9-RMS": {"pack-y": ["ART9-RMS", "ART17-QMS"]}}))
    _pack(tmp_path, "pack-y", _maps(**{"ART9-RMS": {"pack-x": ["ART9-RMS"]}, "ART12-LOG": {"pack-x": ["ART11-DOC"]}}))
    monkeypatch.setenv("ETHICS_REVIEW_POLICY_PATH", str(tmp_path))
    x, y = load_pack("pack-x").pack, load_pack("pack-y").pack
    walk = crosswalk(x, y)
    # ART9-RMS -> ART9-RMS is declared on both sides and listed once; ART11-DOC -> ART12-LOG comes from pack-y's side.
    assert [(k.control, k.obligation, k.declared_in) for k in walk.links] == [
        ("ART9-RMS", "ART9-RMS", ("pack-x", "pack-y")), ("ART9-RMS", "ART17-QMS", ("pack-x",)), ("ART11-DOC", "ART12-LOG", ("pack-y",))]
    assert walk.covered() == 3 and len(walk.gaps) == len(y.controls) - 3
    assert {g.id for g in walk.gaps}.isdisjoint({"ART9-RMS", "ART17-QMS", "ART12-LOG"})


def test_crosswalk_of_the_shipped_packs_both_ways() -> None:
    default, nist = load_pack("default").pack, load_pack("nist-ai-rmf").pack
    walk = crosswalk(default, nist)
    assert ("HCT-01", "GOVERN-2") in {(k.control, k.obligation) for k in walk.links}
    assert "GOVERN-6" in {g.id for g in walk.gaps}  # no default control covers third-party supply-chain policies
    assert walk.covered() + len(walk.gaps) == len(nist.controls)
    back = crosswalk(nist, default)  # the same links read from the other side, declared in the default pack
    assert {(k.obligation, k.control) for k in back.links} == {(k.control, k.obligation) for k in walk.links}
    assert all(k.declared_in == ("default",) for k in back.links)
    # eu-ai-act declares its own links toward nist-ai-rmf
    assert ("ART9-RMS", "MANAGE-1") in {(k.control, k.obligation) for k in crosswalk(load_pack("eu-ai-act").pack, nist).links}


def test_evidence_verified_once_counts_for_every_obligation_it_reaches() -> None:
    default, nist = load_pack("default").pack, load_pack("nist-ai-rmf").pack
    met = obligations_met(crosswalk(default, nist), {"SAF-01": ["robustness.pdf aa"], "SEC-01": ["pentest.pdf bb"], "SAF-03": []})
    by_id = {m.obligation: m for m in met}
    assert set(by_id) == {"MEASURE-2", "MEASURE-3", "MANAGE-4"}
    assert by_id["MEASURE-2"].controls == ("SEC-01", "SAF-01") and by_id["MEASURE-2"].evidence == ("pentest.pdf bb", "robustness.pdf aa")
    assert by_id["MANAGE-4"].controls == ("SAF-03",) and by_id["MANAGE-4"].evidence == ()
    assert obligations_met(crosswalk(default, nist), {}) == []


# ---- the NIST AI RMF and ISO/IEC 42001 packs ------------------------------------------------------
PROFILE = ProductProfile(name="A product", owner_team="t", business_line="b", intended_users=["general_public"],
                         deployment_regions=["US"], data_categories=["personal"])


def _derive(pack_id: str, answers: dict[str, Any]) -> tuple[Grade, list[str]]:
    pk: PolicyPack = load_pack(pack_id).pack
    a = grading.normalize_answers(pk, PROFILE, answers)
    r = grading.grade(pk, PROFILE, a)
    return r.grade, [c.id for c in grading.required_controls(pk, PROFILE, a, r)]


NIST_LOW = {"affected_people": "internal_only", "consequential_decisions": "no", "third_party": "none", "generative": "no",
            "risk_policy": "yes", "metrics": "yes", "within_tolerance": "yes"}


def test_nist_pack_has_the_four_functions_and_their_categories() -> None:
    pk = load_pack("nist-ai-rmf").pack
    assert [d.id for d in pk.dimensions] == ["govern", "map", "measure", "manage"]
    assert [c.id for c in pk.controls] == [*(f"GOVERN-{i}" for i in range(1, 7)), *(f"MAP-{i}" for i in range(1, 6)),
                                           *(f"MEASURE-{i}" for i in range(1, 5)), *(f"MANAGE-{i}" for i in range(1, 5))]


def test_nist_profile_decides_which_categories_apply() -> None:
    g, ids = _derive("nist-ai-rmf", NIST_LOW)
    assert g is Grade.LOW and ids == ["GOVERN-1", "GOVERN-2", "MAP-1", "MAP-2", "MANAGE-1"]
    g, ids = _derive("nist-ai-rmf", {**NIST_LOW, "third_party": "whole_system", "affected_people": "public_at_scale"})
    assert g is Grade.HIGH
    assert {"GOVERN-5", "GOVERN-6", "MANAGE-3", "MAP-4"} <= set(ids) and "MEASURE-3" not in ids
    g, ids = _derive("nist-ai-rmf", {**NIST_LOW, "consequential_decisions": "decides"})
    assert g is Grade.HIGH and {"MEASURE-1", "MEASURE-2", "MEASURE-3", "MEASURE-4", "MANAGE-2", "MANAGE-4"} <= set(ids)
    assert _derive("nist-ai-rmf", {**NIST_LOW, "within_tolerance": "no"})[0] is Grade.UNACCEPTABLE
    assert load_pack("nist-ai-rmf").pack.level(Grade.UNACCEPTABLE).blocks_approval


def test_iso_pack_has_the_annex_a_objectives_and_the_role_decides() -> None:
    pk = load_pack("iso-42001").pack
    assert [d.title.split()[0] for d in pk.dimensions] == [f"A.{i}" for i in range(2, 11)]
    assert len(pk.controls) == 38 and all(c.id.startswith(f"A.{c.dimension[1:].split('_')[0]}.") for c in pk.controls)
    base = {"role": ["user"], "trains_on_data": "no", "suppliers": "no", "customers": "no", "impact_on_people": "little",
            "aims_policy": "yes"}
    g, ids = _derive("iso-42001", base)
    assert g is Grade.MEDIUM and "A.9.2" in ids and not any(i.startswith(("A.6.1", "A.7.", "A.10.3")) for i in ids)
    g, ids = _derive("iso-42001", {**base, "role": ["developer", "provider"], "trains_on_data": "personal", "suppliers": "yes"})
    assert g is Grade.HIGH and {"A.6.1.2", "A.6.2.2", "A.7.5", "A.7.6", "A.10.3", "A.5.4"} <= set(ids) and "A.9.2" not in ids


def test_the_frameworks_setting_is_pack_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    from review.settings import load_settings

    monkeypatch.setenv("ETHICS_REVIEW_FRAMEWORKS", "eu-ai-act, iso-42001")
    assert load_settings().frameworks == "eu-ai-act, iso-42001"
    monkeypatch.setenv("ETHICS_REVIEW_FRAMEWORKS", "eu-ai-act,ISO 42001")
    with pytest.raises(InvalidInput, match=r"ETHICS_REVIEW_FRAMEWORKS='eu-ai-act,ISO 42001': 'ISO 42001' is not a pack id; .*eu-ai-act,nist-ai-rmf"):
        load_settings()
