"""Notifications: a row in the ``notification`` table and a log line, then (optionally) a webhook.

``notify`` writes inside the caller's transaction, so a notification exists exactly when
the state change it announces was committed. ``deliver_pending`` runs *after* the commit:
it posts pending rows to ``ETHICS_REVIEW_WEBHOOK_URL`` through Apprise (any Apprise URL:
``json://``, ``slack://``, ``mailto://`` ...) and marks each SENT or FAILED. A failed
delivery is logged and kept for a retry; it never undoes the state change. Without a
webhook the rows are marked LOGGED. A person may also name their own channel (``set_channel``): every
notification that reaches them (directly or through their team, the committee or the chair) goes there too.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from review.domain.duties import COMMITTEE, Role
from review.errors import Forbidden, InvalidInput, NotFound, clip
from review.services.common import active_users, actor_of
from review.services.tables import table_of
from review.store.db import Database, utcnow
from review.store.models import User
from review.store.models_followup import Notification, NotifyChannel

WEBHOOK_ENV = "ETHICS_REVIEW_WEBHOOK_URL"
log = logging.getLogger("ethics_review.notify")


_INSERT = sa.insert(table_of(Notification)).returning(table_of(Notification).c.id)
_INSERT_MANY = sa.insert(table_of(Notification))


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
        s.execute(_INSERT_MANY, batch)  # Core: the ORM's bulk path costs more than the rows (nothing here is a state table)
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
                    personal: Callable[[str], Callable[[str, str], bool]] | None = None, limit: int = 500) -> Delivery:
    """Send pending notifications to the deployment's webhook and to the personal channel of each person a
    notification reaches (``set_channel``); a row no channel takes is marked LOGGED.

    Never raises for a delivery problem: the error is logged and stored on the row (FAILED rows are retried,
    to every target again). ``sender`` replaces the webhook's Apprise and ``personal(url)`` a channel's, in tests.
    """
    url = webhook_url if webhook_url is not None else os.environ.get(WEBHOOK_ENV, "")
    shared = bool(url) or sender is not None
    with db.transaction() as s:
        if not shared and s.exec(select(NotifyChannel.username).limit(1)).first() is None:  # nobody has a channel: log them all
            n = s.exec(sa.update(Notification).where(col(Notification.delivery) == "PENDING")
                       .values(delivery="LOGGED", delivered_at=utcnow())).rowcount
            return Delivery(0, 0, n or 0)
        rows = s.exec(select(Notification).where(col(Notification.delivery).in_(("PENDING", "FAILED") if shared else ("PENDING",)))
                      .order_by(col(Notification.id)).limit(limit)).all()
        users = active_users(s) if rows else []
        people = {rcpt: members(users, rcpt) for rcpt in {r.recipient for r in rows}}
        reached = sorted({p for ps in people.values() for p in ps})
        channels = {c.username: c.url for c in s.exec(select(NotifyChannel).where(col(NotifyChannel.username).in_(reached))).all()} if reached else {}
        if not shared:  # rows whose people have no channel of their own are only logged
            quiet = [cast(int, r.id) for r in rows if not any(p in channels for p in people[r.recipient])]
            if quiet:
                s.exec(sa.update(Notification).where(col(Notification.id).in_(quiet)).values(delivery="LOGGED", delivered_at=utcnow()))
            logged = set(quiet)
            rows = [r for r in rows if r.id not in logged]
            if not rows:
                return Delivery(0, 0, len(quiet))
        else:
            quiet = []
        pending = [(cast(int, r.id), f"[ethics-review] {r.subject}", f"to {_to(r.recipient, people[r.recipient])}: {r.body}".strip(),
                    [(p, channels[p]) for p in people[r.recipient] if p in channels]) for r in rows]  # stored rows: ids are set
    send: Callable[[str, str], bool] | None = None
    broken: str | None = None
    if shared:
        try:
            send = sender or _apprise_sender(url)
        except Exception as exc:  # a bad webhook must not break the workflow
            log.error("notifications not delivered to the webhook: %s", exc)
            broken = str(exc)
    open_channels: dict[str, Callable[[str, str], bool] | Exception] = {}
    results: list[tuple[int, bool, str | None]] = []
    for rid, title, body, targets in pending:
        errors = [f"webhook: {broken}"] if broken else []
        if send is not None:
            errors += _attempt("webhook", send, title, body)
        for person, curl in targets:
            if curl not in open_channels:
                try:
                    open_channels[curl] = (personal or _apprise_sender)(curl)
                except Exception as exc:  # the message may quote the URL (a secret): keep only what kind of failure
                    open_channels[curl] = RuntimeError(f"cannot be used ({type(exc).__name__})")
            ch = open_channels[curl]
            target = f"{person}'s channel {masked(curl)}"
            errors += [f"{target} {ch}"] if isinstance(ch, Exception) else _attempt(target, ch, title, body, quote=False)
        results.append((rid, not errors, "; ".join(errors) or None))
    for rid, ok, err in results:
        if not ok:
            log.warning("notification %s not delivered: %s", rid, err)
    _mark(db, results)
    sent = sum(1 for _, ok, _ in results if ok)
    return Delivery(sent, len(results) - sent, len(quiet))


def _attempt(target: str, send: Callable[[str, str], bool], title: str, body: str, *, quote: bool = True) -> list[str]:
    """[] when ``send`` delivered; else what went wrong, naming the target (a failure is stored, never raised).
    ``quote`` False: the exception's text is left out (a personal channel's error may quote its secret URL)."""
    try:
        return [] if send(title, body) else [f"{target} refused the message"]
    except Exception as exc:
        return [f"{target}: {type(exc).__name__}" + (f": {exc}" if quote else "")]


# ---- personal channels ---------------------------------------------------------------------------
PERSONAL_SCHEMES_ENV = "ETHICS_REVIEW_PERSONAL_SCHEMES"
#: Apprise services a person may name for themselves (the server sends to them): messaging services and mail,
#: not raw json:// / xml:// / form:// posts to any host (an admin widens this with the setting, e.g. for a test hook)
PERSONAL_SCHEMES = ("mailto", "mailtos", "slack", "msteams", "discord", "ntfy", "ntfys", "tgram", "matrix", "matrixs",
                    "rocket", "rockets", "mmost", "mmosts", "pover", "signal", "signals", "zulip", "gchat", "ses")


def personal_schemes() -> tuple[str, ...]:
    extra = os.environ.get(PERSONAL_SCHEMES_ENV, "")
    return PERSONAL_SCHEMES + tuple(x.strip().lower() for x in extra.split(",") if x.strip())


def masked(url: str) -> str:
    """``slack://…`` or ``mailto://…@example.org``: enough to recognise a channel, never its secret."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1] if scheme in ("mailto", "mailtos") else ""
    return f"{scheme}://…{('@' + host) if host else ''}"


def set_channel(db: Database, username: str, url: str | None, *, actor: str) -> str | None:
    """Set (or with ``None`` clear) ``username``'s own notification channel: the person themselves, or an admin.
    Returns the channel masked. Refused: another person's channel, a scheme not allowed, a URL Apprise cannot use."""
    from review.services import audit
    from review.services.common import load_actor

    with db.transaction() as s:
        who = load_actor(s, actor)
        if username != who.username and not who.has(Role.ADMIN):
            raise Forbidden(f"{who.username} may set only their own notification channel; an admin sets another person's")
        if s.exec(select(User.id).where(User.username == username)).first() is None:
            raise NotFound(f"user {username!r} does not exist; `ethics-review user list` shows them")
        row = s.get(NotifyChannel, username)
        before = {"channel": masked(row.url)} if row else None
        if url is None:
            if row is None:
                return None
            s.delete(row)
            audit.record(s, actor=who.username, action="channel-clear", entity="user", entity_id=username, before=before, after=None)
            return None
        url = url.strip()
        scheme = url.partition("://")[0].lower()
        allowed = personal_schemes()
        if "://" not in url or scheme not in allowed:
            raise InvalidInput(f"channel {masked(url) if '://' in url else clip(url)}: scheme {scheme or '(none)'!r} is not one a person may "
                               f"name; use one of {', '.join(allowed)} (an admin may allow more with {PERSONAL_SCHEMES_ENV})")
        import apprise

        if not apprise.Apprise().add(url):
            raise InvalidInput(f"channel {masked(url)}: not a URL Apprise can send to; see https://github.com/caronc/apprise/wiki "
                               f"for the form of a {scheme}:// URL")
        if row is None:
            row = NotifyChannel(username=username, url=url, set_by=who.username, set_at=utcnow())
        else:
            row.url, row.set_by, row.set_at = url, who.username, utcnow()
        s.add(row)
        audit.record(s, actor=who.username, action="channel-set", entity="user", entity_id=username, before=before,
                     after={"channel": masked(url)})
        return masked(url)


def channel_of(db: Database, username: str) -> str | None:
    """A person's channel, masked (None: only the deployment's webhook and the inbox reach them)."""
    with db.reading() as s:
        row = s.get(NotifyChannel, username)
        return masked(row.url) if row else None


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
