"""The TUI against a real review server: a committee member with a token and no database.

The app holds a ``RemoteClient``; the server is uvicorn on 127.0.0.1 over the demo world.
Keys in through the Pilot, effects read from the server's database: the decision, the
label and the audit trail name the token's person, never anyone the TUI could claim to be.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from review.api.app import create_app
from review.client.remote import RemoteClient
from review.services import content_audit, tokens
from review.store.models import AuditLog, Decision
from tests.api.conftest import settings_for, start_uvicorn, stop_uvicorn
from tests.tui.conftest import settle
from tests.tui.test_spotchecks_followups import _open_run
from tests.tui.test_workflows import SIZE, _open_from_queue
from tui.app import EthicsReviewApp
from tui.modals import DecideModal, ErrorModal
from tui.screens.workspace import ReviewWorkspace


@pytest.fixture
def server(audit_demo):
    db, ids, run_id = audit_demo
    live = start_uvicorn(create_app(db, settings_for(db)))
    yield live.url, db, ids, run_id
    stop_uvicorn(live)


def _client(url: str, db, user: str) -> RemoteClient:
    return RemoteClient(url, tokens.create_token(db, user, actor="admin").token)


async def test_a_member_decides_through_the_server(server):
    url, db, ids, _ = server
    rid = ids["City video analytics"]  # IN_REVIEW, assigned to amara.okafor
    client = _client(url, db, "amara.okafor")
    app = EthicsReviewApp(client)  # who she is comes from the server, not from the app
    assert app.actor == "amara.okafor"
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, DecideModal) and app.screen.chosen == "approve"
        await pilot.press(*"Retention limits verified remotely", "ctrl+s")
        await settle(pilot)
        ws = app.screen
        assert isinstance(ws, ReviewWorkspace) and ws.detail.review["status"] == "APPROVED"
        await pilot.press("x")  # reject is refused now (the state machine, through the server's permissions)
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
    client.close()
    with db.reading() as s:
        d = s.exec(select(Decision).where(Decision.review_id == rid)).one()
        last = s.exec(select(AuditLog).where(AuditLog.entity_id == str(rid)).order_by(AuditLog.id.desc())).first()
    assert (d.actor, d.action, d.rationale) == ("amara.okafor", "approve", "Retention limits verified remotely")
    assert last.actor == "amara.okafor" and last.action == "decide:approve"


async def test_refusals_come_back_from_the_server_as_modals(server):
    url, db, ids, _ = server
    rid = ids["City video analytics"]
    client = _client(url, db, "priya.nair")  # not the assignee, but a reviewer: may decide
    app = EthicsReviewApp(client)
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        admin = _client(url, db, "admin")  # revoked mid-session, through the server (which forgets it at once)
        admin.revoke_token(client.http.headers["Authorization"].split("_")[1])
        admin.close()
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "revoked" in str(app.screen.query_one("#error-message").render()).lower()
    client.close()


async def test_spot_check_labels_go_through_the_server(server):
    url, db, _, run_id = server
    client = _client(url, db, "amara.okafor")
    app = EthicsReviewApp(client, start="spot-checks")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_run(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert screen.state.current.seq == 2
    client.close()
    items = content_audit.sample_items(db, run_id, "amara.okafor", blind=True)
    assert [(i.seq, i.my_label.verdict, i.my_label.reviewer) for i in items if i.my_label] == [(1, "pass", "amara.okafor")]


async def test_the_dashboard_and_queue_get_the_grades_names_from_the_server(server, capsys):
    """The level distribution and the rows' ``grade_label`` come through the API as the local client gives them."""
    from tests.integration.test_grade_labels import LEVEL_IV, aia_template, submit_level_iv
    from review.services.queries import level_distribution, list_reviews
    from tui.screens.dashboard import DashboardScreen

    url, db, _ids, _ = server
    rid = submit_level_iv(db, aia_template(capsys))
    client = _client(url, db, "wei.chen")
    assert client.level_distribution() == level_distribution(db)
    assert {"grade": "UNACCEPTABLE", "label": LEVEL_IV, "count": 1} in client.level_distribution()
    remote_rows = {r.id: (r.grade, r.grade_label) for r in client.list_reviews(None, limit=50).rows}
    assert remote_rows == {r.id: (r.grade, r.grade_label) for r in list_reviews(db, limit=50).rows}
    assert remote_rows[rid] == ("UNACCEPTABLE", LEVEL_IV)
    app = EthicsReviewApp(client, start="dashboard")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen) and app.screen.data.grades == level_distribution(db)
    client.close()


async def test_eval_sample_and_labels_go_through_the_server(server):
    """The evaluations screen over the API: the sample is drawn and the answers labelled as the token's person."""
    from review.services import eval_runs, eval_spot
    from tests.tui.conftest import EVAL_PRODUCT, make_eval_run
    from tui.screens.evals import EvaluationsScreen

    url, db, ids, _ = server
    run_id = make_eval_run(db, ids[EVAL_PRODUCT], questions=4)
    client = _client(url, db, "amara.okafor")
    app = EthicsReviewApp(client, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EvaluationsScreen) and screen.run_table.row_count == 1
        await pilot.press("d")
        await settle(pilot)
        assert screen.view == "label" and len(screen.state.items) == 4
        await pilot.press("2")
        await settle(pilot)
        assert screen.state.current.seq == 2
    client.close()
    assert eval_runs.get_run(db, run_id).run.settings["spot_check"]["drawn_by"] == "amara.okafor"
    items = eval_spot.sample_items(db, run_id, "amara.okafor")
    assert [(i.seq, i.my_label.safety, i.my_label.refusal, i.my_label.reviewer) for i in items if i.my_label] == \
        [(1, "safe", "refused", "amara.okafor")]
    assert eval_spot.verdict(db, run_id).labelled == 1
