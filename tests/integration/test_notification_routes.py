"""Notifications reach the people a step concerns, as the pack routes them (event -> audiences)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from policies.loader import load_pack
from policies.schema import DEFAULT_ROUTES, PolicyPack
from review.demo.seed import CHAIR
from review.services import controls, reviews
from review.store.db import Database
from review.store.models_followup import Notification
from tests.integration.followup_helpers import evidence, released, submit, team_of

pytestmark = pytest.mark.usefixtures("people")
GEO = "Remote-sensing platform"


def _sent(db: Database, kind: str) -> list[str]:
    with db.reading() as s:
        return list(s.execute(sa.select(Notification.recipient).where(Notification.kind == kind).order_by(Notification.id)).scalars())


def test_assignee_team_and_reopen_hear_of_their_steps(db: Database, tmp_path: Path) -> None:
    team = f"team:{team_of(GEO)}"
    rid = submit(db, GEO)
    reviews.assign(db, rid, "amara.okafor", actor=CHAIR)
    assert _sent(db, "assigned") == ["amara.okafor"]
    other = submit(db, "Code assistant")
    reviews.assign(db, other, "priya.nair", actor="priya.nair")  # taking one oneself: no message to oneself
    assert _sent(db, "assigned") == ["amara.okafor"]
    reviews.decide(db, rid, "approve", actor="amara.okafor", rationale="no personal data")
    assert _sent(db, "decision") == [team]
    reviews.advance(db, rid, actor="geo.lead")
    evidence(db, rid, GEO, tmp_path, ("DEVELOPMENT",))
    controls.verify(db, rid, "HCT-01", "fail", actor="amara.okafor", rationale="the RACI names nobody")
    assert _sent(db, "control-rejected") == [team]


def test_a_reopened_release_tells_the_team(db: Database, tmp_path: Path) -> None:
    rid = released(db, GEO, tmp_path)
    reviews.change_standing(db, rid, "reopen", actor=CHAIR, rationale="a regulator's letter", to_gate="INITIATION")
    assert f"team:{team_of(GEO)}" in _sent(db, "reopened")


def test_a_pack_routes_events_and_its_routes_are_validated() -> None:
    pack = load_pack("default").pack
    assert pack.routes("decision") == DEFAULT_ROUTES["decision"]
    routed = pack.model_copy(update={"notifications": {"decision": ["committee", "submitter"], "assigned": []}})
    assert routed.routes("decision") == ("committee", "submitter") and routed.routes("assigned") == ()
    raw = pack.model_dump(mode="json", by_alias=True)
    with pytest.raises(Exception, match="notifications.decided: unknown event"):
        PolicyPack.model_validate({**raw, "notifications": {"decided": ["team"]}})
    with pytest.raises(Exception, match="team"):
        PolicyPack.model_validate({**raw, "notifications": {"decision": ["everyone"]}})
