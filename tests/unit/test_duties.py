"""Segregation of duties and recusal."""

from __future__ import annotations

import pytest

from review.domain.duties import Actor, Duty, ProductContext, Role, blockers, parse_roles, require
from review.errors import Forbidden, InvalidInput

PRODUCT = ProductContext(name="Medical LLM assistant", owner_team="health-ai", submitted_by="health.lead")


def actor(name: str = "amara", team: str = "ethics-committee", roles: str = "reviewer", conflicts: frozenset[str] = frozenset()) -> Actor:
    return Actor(name, team, parse_roles(roles), conflicts)


def test_reviewer_from_another_team_may_decide() -> None:
    assert blockers(actor(), Duty.DECIDE, PRODUCT) == []


def test_nobody_decides_on_their_own_teams_product() -> None:
    reasons = blockers(actor(team="health-ai", roles="reviewer,chair"), Duty.DECIDE, PRODUCT)
    assert any("segregation of duties" in r and "health-ai" in r for r in reasons)


def test_the_submitter_may_not_decide_even_with_the_role() -> None:
    reasons = blockers(actor(name="health.lead", roles="reviewer"), Duty.DECIDE, PRODUCT)
    assert any("submitted" in r for r in reasons)


def test_declared_conflict_recuses() -> None:
    with pytest.raises(Forbidden, match="recused: amara declared a conflict of interest on Medical LLM assistant"):
        require(actor(conflicts=frozenset({"Medical LLM assistant"})), Duty.VERIFY, PRODUCT)


def test_roles_are_checked_and_named() -> None:
    with pytest.raises(Forbidden, match="lacks the role to decide \\(needs chair or reviewer; has submitter\\)"):
        require(actor(roles="submitter"), Duty.DECIDE, PRODUCT)
    assert blockers(actor(roles="chair"), Duty.WAIVE, PRODUCT) == []
    assert blockers(actor(roles="reviewer"), Duty.WAIVE, PRODUCT)


def test_evidence_only_from_the_owning_team() -> None:
    assert blockers(actor(name="health.lead", team="health-ai", roles="submitter"), Duty.ADD_EVIDENCE, PRODUCT) == []
    assert blockers(actor(name="x", team="other", roles="submitter"), Duty.ADD_EVIDENCE, PRODUCT)


def test_parse_roles() -> None:
    assert parse_roles("reviewer, chair") == {Role.REVIEWER, Role.CHAIR}
    with pytest.raises(InvalidInput, match="unknown role 'boss'"):
        parse_roles("boss")
