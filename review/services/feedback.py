"""The open feedback channel: anyone raises an ethics concern about a product; the committee triages it.

``submit_feedback`` needs no account (the audit trail records the actor as ``public``).
``triage`` (reviewer or chair, not of the product's team, not recused) marks a concern
credible or not credible with a rationale; a credible one opens an ad-hoc follow-up check
on the product's current review (visits planned at once, due now), so the product's users
are asked whether the risk was triggered. Errors: unknown product or feedback id
(``NotFound``), an empty or over-long message, a second triage (``InvalidInput``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from review.domain.duties import Duty, require
from review.domain.lifecycle import Gate
from review.errors import Conflict, InvalidInput, NotFound, clip
from review.services import audit
from review.services.common import load_actor, locked, parse_id, product_context
from review.services.followups import cadence_for, parties_to_visit, schedule_next, visit_mode
from review.services.notifications import notify, notify_event
from review.store.db import Database, utcnow
from review.store.models import Product, Review
from review.store.models_followup import Feedback, FollowupCheck, FollowupVisit

def _product(s: Any, ref: str) -> Product:
    """The product a concern is about: by id, by exact name, or by name in any letter case. Otherwise NotFound,
    suggesting the closest name among products on the market only (the channel is public: names of
    products still in review are not given away)."""
    import difflib

    import sqlalchemy as sa

    ref = (ref or "").strip()
    if ref.isdigit():
        p = s.exec(select(Product).where(Product.id == int(ref))).first()
    else:
        p = (s.exec(select(Product).where(Product.name == ref)).first()
             or s.exec(select(Product).where(sa.func.lower(Product.name) == ref.lower()).order_by(col(Product.id))).first())
    if p is None:
        on_market = s.exec(select(Product.name).join(Review, col(Review.product_id) == col(Product.id)).where(Review.gate == Gate.MONITORING.value)).all()
        by_key = {n.casefold(): n for n in on_market}
        close = difflib.get_close_matches(ref.casefold(), list(by_key), n=1, cutoff=0.6)
        hint = f"; did you mean {by_key[close[0]]!r}?" if close else " (give its name as the product shows it, or its id)"
        raise NotFound(f"--product {clip(ref)}: no such product{hint}")
    return p


def submit_feedback(db: Database, product: str, message: str, *, contact: str | None = None, now: datetime | None = None) -> Feedback:
    """Record a concern from anyone and notify the committee."""
    now = now or utcnow()
    message = (message or "").strip()
    if len(message) < 10:
        raise InvalidInput("--message: describe the concern in at least a sentence (what happened, where, when)")
    from review.limits import FEEDBACK_ENV, feedback_chars

    if len(message) > feedback_chars():
        raise InvalidInput(f"--message: {len(message):,} characters is over the {feedback_chars():,} limit; summarise and attach details "
                           f"by contact (the limit is {FEEDBACK_ENV})")
    contact = (contact or "").strip() or None
    if contact and len(contact) > 200:
        raise InvalidInput("--contact: over 200 characters; give an e-mail address or a phone number")
    with db.transaction() as s:
        p = _product(s, product)
        assert p.id is not None  # a stored product
        fb = Feedback(product_id=p.id, message=message, contact=contact, status="NEW", created_at=now)
        s.add(fb)
        s.flush()
        notify(s, kind="feedback", recipient="committee", now=now, dedupe_key=f"feedback:{fb.id}",
               subject=f"new external feedback {fb.id} on {p.name}: triage it", body=message[:500])
        audit.record(s, actor="public", action="feedback-submit", entity="feedback", entity_id=fb.id, before=None,
                     after={"product": p.name, "contact_given": contact is not None, "length": len(message)})
        return fb


@dataclass(frozen=True)
class TriageOutcome:
    feedback: Feedback
    check_id: int | None
    message: str


def triage(db: Database, feedback_id: Any, verdict: str, *, actor: str, rationale: str, now: datetime | None = None) -> TriageOutcome:
    """Mark feedback credible / not-credible; a credible one opens an ad-hoc follow-up check (one transaction)."""
    now = now or utcnow()
    v = (verdict or "").strip().lower().replace("_", "-")
    if v not in ("credible", "not-credible"):
        raise InvalidInput(f"verdict {verdict!r} is not 'credible' or 'not-credible'")
    rationale = (rationale or "").strip()
    if len(rationale) < 3:
        raise InvalidInput("--rationale: a triage needs a rationale the audit trail can show")
    fid = parse_id(feedback_id, "feedback id")
    with db.transaction() as s:
        fb = locked(s, Feedback, fid)
        if fb is None:
            raise NotFound(f"feedback {fid} does not exist; `ethics-review feedback list` shows them")
        if fb.status != "NEW":
            raise Conflict(f"feedback {fid} was already triaged {fb.status.lower().replace('_', '-')} by {fb.triaged_by}")
        p = s.get(Product, fb.product_id)
        assert p is not None  # the feedback's product (foreign key)
        review = s.exec(select(Review).where(Review.product_id == p.id).order_by(col(Review.id).desc())).first()
        who = load_actor(s, actor)
        require(who, Duty.TRIAGE, product_context(p, review) if review else None)
        if review is not None:
            require(who, Duty.LABEL, product_context(p, review))  # judging duty: segregation of duties and recusal apply
        fb.status, fb.rationale, fb.triaged_by, fb.triaged_at = ("CREDIBLE" if v == "credible" else "NOT_CREDIBLE"), rationale, who.username, now
        check_id = None
        msg = f"feedback {fid} on {p.name}: {v}"
        if v == "credible":
            if review is None or review.gate == Gate.WITHDRAWN.value:
                msg += "; the product has no active review, so no follow-up check was opened"
            elif review.gate == Gate.MONITORING.value:
                check = _open_adhoc(s, review, p, fb.id, now)
                check_id = fb.check_id = check.id
                msg += f"; ad-hoc follow-up check {check.id} opened (`ethics-review followup show {check.id}`)"
            else:  # not released: no customers to visit; the concern goes to the review in progress
                msg += (f"; the product is not released (review R-{review.id} at {review.gate}), so no follow-up check was "
                        f"opened: the concern is on the review's trail for its next decision")
                if review.assignee:
                    notify(s, kind="feedback-credible", recipient=review.assignee, review_id=review.id, now=now,
                           dedupe_key=f"feedback-credible:{fid}:assignee", body=fb.message[:500],
                           subject=f"credible concern about {p.name} (feedback {fid}) for review R-{review.id} at {review.gate}")
                audit.record(s, actor=who.username, action="feedback-concern", entity="review", entity_id=review.id, before=None,
                             after={"feedback": fid, "gate": review.gate, "message": fb.message[:500], "rationale": rationale})
            notify(s, kind="feedback-credible", recipient="committee", review_id=review.id if review else None, now=now,
                   dedupe_key=f"feedback-credible:{fid}", subject=f"credible concern about {p.name} (feedback {fid})", body=fb.message[:500])
            if review is not None:
                notify_event(s, "feedback-credible", review=review, product=p, now=now, dedupe_key=f"feedback-credible:{fid}:route",
                             subject=f"the committee found a concern about {p.name} credible (feedback {fid})", body=fb.message[:500])
        s.add(fb)
        s.flush()
        audit.record(s, actor=who.username, action=f"feedback-triage:{v}", entity="feedback", entity_id=fid, before={"status": "NEW"},
                     after={"status": fb.status, "rationale": rationale, "check": check_id})
        return TriageOutcome(fb, check_id, msg)


def _open_adhoc(s: Any, review: Review, product: Product, feedback_id: int, now: datetime) -> FollowupCheck:
    """An OPEN ad-hoc check with its visits planned now (the review's scheduled check, if any, stays as it is)."""
    check = schedule_next(s, review, now=now, kind="adhoc", feedback_id=feedback_id)
    assert check.id is not None  # schedule_next flushed it
    _every, k, _days, questions = cadence_for(review.policy_id, review.grade)
    check.status, check.opened_at = "OPEN", now
    s.add(check)
    for c in parties_to_visit(check.id, product.profile or {}, k, visit_mode(review.policy_id)):
        s.add(FollowupVisit(check_id=check.id, customer=c[:200], questionnaire=questions, status="PENDING"))
    s.flush()
    return check


def list_feedback(db: Database, *, status: str | None = None, limit: int = 100, viewer: str | None = None) -> list[dict[str, Any]]:
    """Newest first; ``status``: new, credible, not-credible. Reporters' contact details are shown to
    the chair and admins only, and that read is logged; everyone else sees them masked."""
    from review.domain.masking import mask_contact, may_see_personal_data

    rows = _feedback_rows(db, status, limit)
    allowed = False
    if viewer:
        with db.reading() as s:
            allowed = may_see_personal_data(load_actor(s, viewer).roles)
    shown = [r["id"] for r in rows if r.get("contact")]
    if allowed and shown:
        assert viewer is not None  # allowed only for a viewer
        audit.personal_read(db, actor=viewer, what="feedback-contacts", entity="feedback", entity_id=",".join(map(str, shown[:20])),
                            detail={"feedback": shown})
    if not allowed:
        rows = [{**r, "contact": mask_contact(r.get("contact"))} for r in rows]
    return rows


def _feedback_rows(db: Database, status: str | None, limit: int) -> list[dict[str, Any]]:
    with db.reading() as s:
        q = select(Feedback, Product.name).join(Product, col(Product.id) == col(Feedback.product_id)).order_by(col(Feedback.id).desc()).limit(limit)
        if status:
            st = status.strip().upper().replace("-", "_")
            if st not in ("NEW", "CREDIBLE", "NOT_CREDIBLE"):
                raise InvalidInput(f"--status {status!r} is not one of: new, credible, not-credible")
            q = q.where(Feedback.status == st)
        return [{**f.model_dump(mode="json"), "product": name} for f, name in s.exec(q).all()]

