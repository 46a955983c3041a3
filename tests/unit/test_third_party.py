"""The third-party pack: a supplier's model or a partner's generative product graded from the contract and the
supplier's own evidence, the product must name its supplier, and the pack's controls map to ours. No database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from policies.loader import PACKS_DIR, load_pack
from review.domain import grading
from review.domain.crosswalk import crosswalk
from review.domain.grades import Grade
from review.domain.product import ProductProfile
from review.errors import InvalidInput

SUPPLIER = {"name": "Acme Models Ltd", "contact": "Jane Doe, trust & safety, trust@acme.example", "offering": "Acme-LM 3 via API",
            "contract": "MSA-2026-014"}
GOOD = {"relationship": "internal", "due_diligence": "vetted", "contract_gaps": [], "content_filter": "evidenced", "test_bank": "meets",
        "incident_duty": "fixed_hours", "data_use": "no_training"}


def profile(**changes: Any) -> ProductProfile:
    base: dict[str, Any] = {"name": "Partner image generator", "owner_team": "game-art", "business_line": "Games",
                            "intended_users": ["general_public"], "deployment_regions": ["CN"], "data_categories": ["personal"],
                            "capabilities": ["generative_content"], "supplier": SUPPLIER, "policy": "third-party"}
    return ProductProfile(**{**base, **changes})


def derive(p: ProductProfile, **answers: Any) -> tuple[Grade, list[str], list[str]]:
    pk = load_pack("third-party").pack
    a = grading.normalize_answers(pk, p, {**GOOD, **answers})
    r = grading.grade(pk, p, a)
    return (r.grade, [c.id for c in grading.required_controls(pk, p, a, r)],
            [f"{x.level}:{x.id}" for x in grading.cross_check(pk, p, a, r.grade)])


def test_a_vetted_supplier_with_evidence_is_low_and_still_owes_the_basics() -> None:
    g, controls, findings = derive(profile())
    assert g is Grade.LOW and controls == ["TP-01", "TP-02", "TP-03", "TP-08"] and findings == []


def test_resale_without_a_filter_is_high_and_asks_for_our_content_controls() -> None:
    g, controls, _ = derive(profile(), relationship="resold", content_filter="none", test_bank="not_shared",
                           contract_gaps=["safety_requirements", "audit_rights"], supplier_notes="They refused to share results.")
    assert g is Grade.HIGH and {"TP-03", "TP-04", "TP-07"} <= set(controls)
    g, controls, _ = derive(profile(capabilities=[]), data_use="trains")  # a supplier training on personal data we send
    assert g is Grade.HIGH and "TP-06" in controls and "TP-03" not in controls


def test_a_product_without_its_supplier_is_refused() -> None:
    assert derive(profile(supplier=None))[2] == ["refuse:supplier-named"]
    with pytest.raises(ValidationError, match="control or bidi"):
        profile(supplier={**SUPPLIER, "contact": "Jane \x1b[31m"})


def test_a_pack_that_visits_the_supplier_must_refuse_products_without_one(tmp_path: Path) -> None:
    raw = yaml.safe_load((PACKS_DIR / "third-party" / "pack.yaml").read_text())
    raw["id"], raw["cross_checks"] = "tp-copy", []
    (tmp_path / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(InvalidInput, match=r"followups\.visit: 'supplier': the follow-ups visit the supplier's contact.*needs_supplier: true"):
        load_pack(tmp_path)


def test_the_supplier_controls_map_to_ours() -> None:
    walk = crosswalk(load_pack("third-party").pack, load_pack("default").pack)
    assert {("TP-03", "CS-01"), ("TP-04", "CS-02"), ("TP-05", "HCT-04"), ("TP-07", "CS-03"), ("TP-07", "CS-04")} <= {
        (k.control, k.obligation) for k in walk.links}
