"""Each person's own notification channel (an Apprise URL): set by the person or an admin, never shown or put on
the trail in full, and every notification that reaches the person is delivered there (a real HTTP receiver on
127.0.0.1 stands in for the person's chat service)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import pytest
import sqlalchemy as sa

from review.demo.seed import CHAIR
from review.errors import Forbidden, InvalidInput
from review.services import gates, notifications
from review.store.db import Database
from review.store.models_followup import Notification
from tests.integration.followup_helpers import submit

pytestmark = pytest.mark.usefixtures("people")


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    got: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append({"path": self.path, **json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_a: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Hook)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"json://127.0.0.1:{srv.server_port}", got
    srv.shutdown()


def test_a_person_sets_their_channel_and_what_reaches_them_goes_there(db: Database, receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    base, got = receiver
    with pytest.raises(InvalidInput, match="scheme 'json' is not one a person may name"):
        notifications.set_channel(db, "amara.okafor", f"{base}/amara", actor="amara.okafor")
    monkeypatch.setenv(notifications.PERSONAL_SCHEMES_ENV, "json")  # the admin allows a test hook
    with pytest.raises(Forbidden, match="may set only their own"):
        notifications.set_channel(db, "amara.okafor", f"{base}/x", actor="priya.nair")
    assert notifications.set_channel(db, "amara.okafor", f"{base}/amara?secret=s3cr3t", actor="amara.okafor") == "json://…"
    assert notifications.set_channel(db, "priya.nair", f"{base}/priya", actor="admin") == "json://…"  # an admin may
    assert notifications.channel_of(db, "amara.okafor") == "json://…"

    rid = submit(db, "Code assistant")
    gates.initiation_step(db, rid)  # queues it for the committee: amara and priya are on it
    d = notifications.deliver_pending(db, webhook_url="")
    paths = sorted(g["path"] for g in got)
    assert paths and {p.split("?")[0] for p in paths} == {"/amara", "/priya"}
    assert all("[ethics-review]" in g["title"] for g in got)
    with db.reading() as s:
        rows = s.execute(sa.select(Notification.recipient, Notification.delivery)).all()
    assert ("committee", "SENT") in rows and d.sent >= 1
    assert all(dl == "LOGGED" for r, dl in rows if r.startswith("team:"))  # nobody of the team has a channel
    with db.reading() as s:
        trail = s.execute(sa.text("SELECT action, after FROM audit_log WHERE action LIKE 'channel-%'")).all()
    assert [a for a, _ in trail] == ["channel-set", "channel-set"] and all("s3cr3t" not in (x or "") for _, x in trail)
    notifications.set_channel(db, "amara.okafor", None, actor="amara.okafor")
    assert notifications.channel_of(db, "amara.okafor") is None


def test_a_failing_channel_is_stored_on_the_row_and_retried(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(notifications.PERSONAL_SCHEMES_ENV, "json")
    notifications.set_channel(db, CHAIR, "json://127.0.0.1:9/chair", actor=CHAIR)  # nothing listens on port 9
    rid = submit(db, "Code assistant")
    gates.initiation_step(db, rid)
    sent: list[str] = []
    d = notifications.deliver_pending(db, sender=lambda title, body: sent.append(title) or True)
    assert d.failed >= 1 and sent  # the webhook got it; the chair's channel did not
    with db.reading() as s:
        errors = s.execute(sa.select(Notification.error).where(Notification.delivery == "FAILED")).scalars().all()
    assert errors and all(f"{CHAIR}'s channel" in e for e in errors)


def test_a_channel_is_never_shown_or_stored_in_full() -> None:
    assert notifications.masked("mailto://smtp.example.com?user=me&pass=SECRET") == "mailto://…@smtp.example.com"
    assert notifications.masked("MAILTO://me:pw@mail.example.org/to@x.org") == "mailto://…@mail.example.org"
    assert notifications.masked("slack://T1/B2/C3") == "slack://…"


def test_a_channel_that_cannot_be_opened_is_reported_without_its_url(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(notifications.PERSONAL_SCHEMES_ENV, "json")
    notifications.set_channel(db, CHAIR, "json://127.0.0.1:9/s3cr3t-path", actor=CHAIR)
    rid = submit(db, "Code assistant")
    gates.initiation_step(db, rid)

    def broken(url: str):
        raise ValueError(f"cannot use {url}")

    notifications.deliver_pending(db, webhook_url="", personal=broken)
    with db.reading() as s:
        errors = s.execute(sa.select(Notification.error).where(Notification.delivery == "FAILED")).scalars().all()
    assert errors and all("s3cr3t" not in e and "json://…" in e for e in errors)
