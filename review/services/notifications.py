"""Notifications: a row in the ``notification`` table and a log line, then (optionally) a webhook.

``notify`` writes inside the caller's transaction, so a notification exists exactly when
the state change it announces was committed. ``deliver_pending`` runs *after* the commit:
it posts pending rows to ``ETHICS_REVIEW_WEBHOOK_URL`` through Apprise (any Apprise URL:
``json://``, ``slack://``, ``mailto://`` ...) and marks each SENT or FAILED. A failed
delivery is logged and kept for a retry; it never undoes the state change. Without a
webhook the rows are marked LOGGED.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from review.domain.duties import COMMITTEE, Role
from review.errors import NotFound
from review.services.common import active_users, actor_of
from review.services.tables import table_of
from review.store.db import Database, utcnow
from review.store.models import User
from review.store.models_followup import Notification

WEBHOOK_ENV = "ETHICS_REVIEW_WEBHOOK_URL"
log = logging.getLogger("ethics_review.notify")


_INSERT = sa.insert(table_of(Notification)).returning(table_of(Notification).c.id)


def notify(s: Session, *, kind: str, recipient: str, subject: str, body: str = "", review_id: int | None = None,
           dedupe_key: str | None = None, now: datetime | None = None) -> int | None:
    """Queue a notification in the caller's transaction; its id, or None when ``dedupe_key`` was already used.
    One Core INSERT (a notification is not a state row the audit images; the ORM's unit of work would cost a
    decision a fifth of its time)."""
    if dedupe_key is not None:
        found = s.exec(select(Notification.id).where(Notification.dedupe_key == dedupe_key)).first()
        if found is not None:
            return None
    s.flush()  # the review, decision... this announces go first, as the ORM would order them
    nid = s.connection().execute(_INSERT, {"kind": kind, "recipient": recipient, "review_id": review_id, "subject": subject[:300],
                                           "body": body, "dedupe_key": dedupe_key, "delivery": "PENDING", "error": None,
                                           "created_at": now or utcnow(), "delivered_at": None}).scalar_one()
    log.info("notify %s [%s]%s: %s", recipient, kind, f" review {review_id}" if review_id else "", subject)
    return int(nid)


def notify_event(s: Session, event: str, *, review: Any, product: Any, subject: str, body: str = "",
                 dedupe_key: str | None = None, now: datetime | None = None, pack: Any = None) -> int:
    """Notify the audiences the review's pack routes ``event`` to (``PolicyPack.routes``): the product team,
    its submitter, the assignee, the committee or the chair. Returns how many notifications were queued.
    ``pack``: the review's loaded pack, when the caller has it (saves reading it again)."""
    from policies.loader import load_pack

    try:
        routes = (pack or load_pack(review.policy_id)).pack.routes(event)
    except Exception:  # a pack gone from this deployment: the defaults still reach people
        from policies.schema import DEFAULT_ROUTES

        routes = DEFAULT_ROUTES[event]
    to = {"team": f"team:{product.owner_team}", "submitter": review.submitted_by, "assignee": review.assignee,
          "committee": "committee", "chair": "chair"}
    queued = 0
    for recipient in dict.fromkeys(to[a] for a in routes if to[a]):
        key = f"{dedupe_key}:{recipient}" if dedupe_key else None
        queued += notify(s, kind=event, recipient=recipient, subject=subject, body=body, review_id=review.id, dedupe_key=key, now=now) is not None
    return queued


def notify_many(s: Session, rows: Iterable[dict[str, Any]], *, now: datetime | None = None) -> int:
    """Set-based insert of many notifications (bulk steps); each dict has kind, recipient, subject, body, review_id, dedupe_key."""
    at = now or utcnow()
    batch = [{"kind": r["kind"], "recipient": r["recipient"], "review_id": r.get("review_id"), "subject": r["subject"][:300],
              "body": r.get("body", ""), "dedupe_key": r.get("dedupe_key"), "delivery": "PENDING", "error": None,
              "created_at": at, "delivered_at": None} for r in rows]
    if batch:
        s.execute(sa.insert(Notification), batch)
        log.info("notify: %d notifications queued (%s)", len(batch), ", ".join(sorted({b["kind"] for b in batch})))
    return len(batch)


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    logged: int


def _apprise_sender(url: str) -> Callable[[str, str], bool]:
    import apprise

    app = apprise.Apprise()
    if not app.add(url):
        raise ValueError(f"{WEBHOOK_ENV}={url!r} is not a URL Apprise understands (e.g. json://host/path, slack://...)")
    return lambda title, body: bool(app.notify(title=title, body=body or title))


def deliver_pending(db: Database, *, webhook_url: str | None = None, sender: Callable[[str, str], bool] | None = None,
                    limit: int = 500) -> Delivery:
    """Send pending notifications to the webhook (or mark them LOGGED when none is configured).

    Never raises for a delivery problem: the error is logged and stored on the row.
    ``sender`` replaces Apprise in tests.
    """
    url = webhook_url if webhook_url is not None else os.environ.get(WEBHOOK_ENV, "")
    with db.transaction() as s:
        if not url and sender is None:
            n = s.exec(sa.update(Notification).where(col(Notification.delivery) == "PENDING")
                          .values(delivery="LOGGED", delivered_at=utcnow())).rowcount
            return Delivery(0, 0, n or 0)
        rows = s.exec(select(Notification).where(col(Notification.delivery).in_(("PENDING", "FAILED"))).order_by(col(Notification.id)).limit(limit)).all()
        users = active_users(s) if rows else []
        people = {rcpt: members(users, rcpt) for rcpt in {r.recipient for r in rows}}
        pending = [(cast(int, r.id), f"[ethics-review] {r.subject}", f"to {_to(r.recipient, people[r.recipient])}: {r.body}".strip()) for r in rows]  # stored rows: ids are set
    try:
        send = sender or _apprise_sender(url)
    except Exception as exc:  # a bad webhook must not break the workflow
        log.error("notifications not delivered: %s", exc)
        _mark(db, [(rid, False, str(exc)) for rid, _, _ in pending])
        return Delivery(0, len(pending), 0)
    results: list[tuple[int, bool, str | None]] = []
    for rid, title, body in pending:
        try:
            ok = send(title, body)
            results.append((rid, ok, None if ok else "webhook refused the message"))
        except Exception as exc:  # a failed delivery is stored, never raised
            results.append((rid, False, f"{type(exc).__name__}: {exc}"))
    for rid, ok, err in results:
        if not ok:
            log.warning("notification %s not delivered: %s", rid, err)
    _mark(db, results)
    sent = sum(1 for _, ok, _ in results if ok)
    return Delivery(sent, len(results) - sent, 0)


def _to(recipient: str, people: list[str]) -> str:
    """``committee (amara.okafor, priya.nair)``: the group and who it reached."""
    if people == [recipient]:
        return recipient
    return f"{recipient} ({', '.join(people) if people else 'nobody yet'})"


def _mark(db: Database, results: list[tuple[int, bool, str | None]]) -> None:
    now = utcnow()
    with db.transaction() as s:
        for rid, ok, err in results:
            s.execute(sa.update(Notification).where(col(Notification.id) == rid)
                      .values(delivery="SENT" if ok else "FAILED", error=err, delivered_at=now if ok else None))


# ---- who a recipient is ------------------------------------------------------------------------
# Notifications are addressed to a person (a username) or a group: ``committee`` (reviewers and
# the chair), ``chair``, or ``team:<name>`` (everyone in that product team). Groups are resolved
# to people when they are read or delivered, so a newcomer sees what their group was sent.
def audience(user: User) -> set[str]:
    """Every recipient a notification may carry that reaches ``user``."""
    roles = actor_of(user).roles
    out = {user.username, f"team:{user.team}"}
    if roles & COMMITTEE:
        out.add("committee")
    if Role.CHAIR in roles:
        out.add("chair")
    return out


def members(users: Iterable[User], recipient: str) -> list[str]:
    """The usernames among ``users`` (``common.active_users``) a recipient reaches, sorted."""
    return sorted(u.username for u in users if recipient in audience(u))


def inbox(db: Database, username: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """Notifications that reach ``username``, directly or through a group, newest first;
    ``via`` names the group (None when addressed to the person)."""
    with db.reading() as s:
        user = s.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist; `ethics-review user list` shows them")
        reach = audience(user)
        rows = s.exec(select(Notification).where(col(Notification.recipient).in_(sorted(reach)))
                      .order_by(col(Notification.id).desc()).limit(limit)).all()
        return [{**n.model_dump(mode="json"), "via": None if n.recipient == username else n.recipient} for n in rows]


def list_notifications(db: Database, *, review_id: int | None = None, recipient: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, as plain dicts."""
    with db.reading() as s:
        q = select(Notification).order_by(col(Notification.id).desc()).limit(limit)
        if review_id is not None:
            q = q.where(Notification.review_id == review_id)
        if recipient is not None:
            q = q.where(Notification.recipient == recipient)
        return [n.model_dump(mode="json") for n in s.exec(q).all()]
