"""Post-release follow-ups: schedule by the pack's cadence, open due checks, escalate overdue ones, record visits.

A released product (review at MONITORING) has one active ``followup_check``. The nightly
scan opens the checks that are due: it samples the customers to visit from the product
profile's ``customers`` (seeded by the check id, so a re-run picks the same people), gives
each visit the pack's questionnaire, and for generative products records a content
re-audit request. The scan is set-based and works on id ranges (``due_ranges`` +
``open_due``), so a flow can hand each range to one task. A check still open
``overdue_escalation_days`` after it fell due is escalated to the chair, once.

Recording a visit (``record_visit``) with a finding reopens the review at the gate the
finding points to (``new_risk`` -> INITIATION, ``failed_control`` -> DEVELOPMENT, whose
controls are marked REJECTED) and notifies the committee; a check whose visits all come
back clean completes and schedules the next one. ``now=`` injects the clock everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from policies.loader import load_pack
from review.domain import rules
from review.domain.duties import Duty, require
from review.domain.grades import Grade
from review.domain.lifecycle import Action, Gate
from review.errors import Conflict, InvalidInput, NotFound, ReviewError
from review.services import audit
from review.services.common import load_actor, locked, parse_id, product_context
from review.services.notifications import notify, notify_many
from review.services.tables import table_of
from review.store.db import Database, canonical_json, utcnow
from review.store.models import ControlRequirement, Product, Review
from review.store.models_followup import FollowupCheck, FollowupVisit, ReauditRequest

FINDINGS = {"none": None, "new_risk": Gate.INITIATION, "failed_control": Gate.DEVELOPMENT}
SYSTEM = "system:followups"
_BATCH = 900  # ids per IN (...) list: under every backend's bound-parameter limit


def _visit_insert(dialect: str) -> sa.Insert:
    """The scan's insert of planned visits, whose JSON columns come as canonical text (encoded once per plan, not once
    per visit): stored as given, which is what the engine's own encoder would have written (PostgreSQL's ``json`` keeps
    the text; a text cast to it is the same text)."""
    t = table_of(FollowupVisit)
    text = {c: sa.bindparam(c, type_=sa.Text) for c in ("questionnaire", "answers")}
    return sa.insert(t).values(text if dialect == "sqlite" else {c: sa.cast(b, t.c[c].type) for c, b in text.items()})


def cadence_for(policy_id: str, grade: str | None) -> tuple[int, int, int, list[dict[str, str]]]:
    """(every_days, visits, overdue_escalation_days, questionnaire) for a product graded ``grade`` under its pack."""
    f = load_pack(policy_id).pack.followups
    g = Grade(grade) if grade else Grade.LOW
    c = f.cadence.get(g) or f.cadence.get(Grade.HIGH) or max(f.cadence.values(), key=lambda x: x.visits)
    return c.every_days, c.visits, f.overdue_escalation_days, [q.model_dump() for q in f.questionnaire]


def question_parts(q: Any) -> tuple[str, str, str]:
    """(text, adverse answer, reopen gate) of a stored visit question (older rows hold plain text)."""
    if isinstance(q, dict):
        return str(q.get("text", "")), str(q.get("adverse", "yes")), str(q.get("reopen_at", "INITIATION"))
    return str(q), "yes", "INITIATION"


def schedule_next(s: Session, review: Review, *, now: datetime, kind: str = "cadence", feedback_id: int | None = None) -> FollowupCheck:
    """Add the review's next check in the caller's transaction (cadence: due after ``every_days``; adhoc: due now)."""
    every, _visits, _days, _q = cadence_for(review.policy_id, review.grade)
    seq = s.exec(select(sa.func.max(FollowupCheck.sequence)).where(FollowupCheck.review_id == review.id)).one() or 0
    assert review.id is not None  # a stored review
    check = FollowupCheck(review_id=review.id, product_id=review.product_id, sequence=seq + 1, kind=kind,
                          grade=review.grade or "LOW", status="SCHEDULED", due_at=now if kind == "adhoc" else now + timedelta(days=every),
                          feedback_id=feedback_id, created_at=now)
    s.add(check)
    s.flush()
    return check


def active_check(s: Session, review_id: int) -> FollowupCheck | None:
    return s.exec(select(FollowupCheck).where(FollowupCheck.review_id == review_id, col(FollowupCheck.status).in_(("SCHEDULED", "OPEN")))
                  .order_by(col(FollowupCheck.id))).first()


def parties_to_visit(check_id: int, profile: dict[str, Any], k: int, visit: str) -> list[str]:
    """Who a check visits: ``k`` of the product's customers, or (``visit == "supplier"``, a third-party review) the
    supplier's contact, once."""
    if visit == "supplier":
        sup = profile.get("supplier") or {}
        return [f"{sup['name']} ({sup['contact']})" if sup else "the supplier (the product profile names none; add product.supplier)"]
    return sample_customers(check_id, profile.get("customers") or [], k)


def visit_mode(policy_id: str) -> str:
    """Whom the pack's follow-ups visit: ``customers`` or ``supplier``."""
    return load_pack(policy_id).pack.followups.visit


def sample_customers(check_id: int, customers: list[str], k: int) -> list[str]:
    """The customers to visit: ``k`` of the profile's list, seeded by the check id (same check, same people)."""
    people = sorted({c.strip() for c in customers if c and c.strip()})
    if not people:
        return ["regular users (the product profile lists no customers; pick users from the usage records)"]
    return random.Random(f"followup-{check_id}").sample(people, min(k, len(people)))


# ---- the scan --------------------------------------------------------------------------------
@dataclass
class ScanResult:
    opened: int = 0
    visits: int = 0
    reaudits: int = 0
    cancelled: int = 0
    escalated: int = 0
    check_ids: list[int] = field(default_factory=list)

    def add(self, other: "ScanResult") -> "ScanResult":
        for k in ("opened", "visits", "reaudits", "cancelled", "escalated"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.check_ids.extend(other.check_ids)
        return self

    def to_json(self) -> dict[str, Any]:
        return {"opened": self.opened, "visits": self.visits, "reaudits": self.reaudits, "cancelled": self.cancelled,
                "escalated": self.escalated}


def due_ranges(db: Database, *, now: datetime | None = None, chunk: int = 25_000) -> list[tuple[int, int]]:
    """Id ranges (inclusive) covering the SCHEDULED checks due at ``now``, ``chunk`` ids each (for one task each)."""
    now = now or utcnow()
    with db.reading() as s:
        lo, hi = s.execute(sa.select(sa.func.min(FollowupCheck.id), sa.func.max(FollowupCheck.id))
                           .where(col(FollowupCheck.status) == "SCHEDULED", col(FollowupCheck.due_at) <= now)).one()
    if lo is None:
        return []
    return [(a, min(a + chunk - 1, hi)) for a in range(lo, hi + 1, chunk)]


def open_due(db: Database, lo: int, hi: int, *, now: datetime | None = None) -> ScanResult:
    """Open every SCHEDULED check with ``lo <= id <= hi`` due at ``now``: plan its visits, request re-audits. One transaction."""
    now = now or utcnow()
    out = ScanResult()
    with db.transaction() as s:
        q = (sa.select(col(FollowupCheck.id), col(FollowupCheck.review_id), col(FollowupCheck.product_id), col(FollowupCheck.grade),
                       col(FollowupCheck.sequence), col(Review.gate), col(Review.policy_id), col(Product.name), col(Product.owner_team),
                       col(Product.profile))
             .join(Review, col(Review.id) == col(FollowupCheck.review_id)).join(Product, col(Product.id) == col(FollowupCheck.product_id))
             .where(col(FollowupCheck.status) == "SCHEDULED", col(FollowupCheck.due_at) <= now, col(FollowupCheck.id).between(lo, hi)))
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(of=FollowupCheck, skip_locked=True)
        rows = s.execute(q).all()
        opened: list[int] = []
        cancelled: list[int] = []
        visits: list[dict[str, Any]] = []
        reaudits: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        plans: dict[tuple[str, str], tuple[int, int, int, list[dict[str, str]]]] = {}
        encoded: dict[tuple[str, str], str] = {}  # each plan's questionnaire as stored JSON text, encoded once
        modes: dict[str, str] = {}
        for r in rows:
            if r.gate == Gate.SUSPENDED.value:
                continue  # paused with the product; opened once it is resumed
            if r.gate != Gate.MONITORING.value:
                cancelled.append(r.id)  # reopened or withdrawn: this schedule no longer applies
                continue
            plan = plans.get((r.policy_id, r.grade))
            if plan is None:
                plan = plans[(r.policy_id, r.grade)] = cadence_for(r.policy_id, r.grade)
                encoded[(r.policy_id, r.grade)] = canonical_json(plan[3])
            _every, k, _days, _questions = plan
            profile = r.profile or {}
            if r.policy_id not in modes:
                modes[r.policy_id] = visit_mode(r.policy_id)
            chosen = parties_to_visit(r.id, profile, k, modes[r.policy_id])
            whom = "the supplier" if modes[r.policy_id] == "supplier" else f"{len(chosen)} customer(s)"
            questionnaire = encoded[(r.policy_id, r.grade)]
            visits.extend({"check_id": r.id, "customer": c[:200], "questionnaire": questionnaire, "status": "PENDING", "answers": "null",
                           "finding": None, "notes": None, "recorded_by": None, "recorded_at": None} for c in chosen)
            if "generative_content" in (profile.get("capabilities") or []):
                reaudits.append({"review_id": r.review_id, "product_id": r.product_id, "check_id": r.id, "status": "PENDING",
                                 "reason": f"follow-up check {r.id} (#{r.sequence}) of {r.name}: re-run the AIGC content audit", "created_at": now})
            notes.append({"kind": "followup-opened", "recipient": f"team:{r.owner_team}", "review_id": r.review_id,
                          "subject": f"follow-up check {r.id} opened for {r.name}: visit {whom}",
                          "body": "; ".join(chosen), "dedupe_key": f"followup-opened:{r.id}"})
            opened.append(r.id)
        for batch in _batches(opened):
            s.execute(sa.update(FollowupCheck).where(col(FollowupCheck.id).in_(batch)).values(status="OPEN", opened_at=now))
            audit.touch(s, "followup_check", batch)
            audit.touch_where(s, FollowupVisit, col(FollowupVisit.check_id).in_(batch))
        for batch in _batches(cancelled):
            s.execute(sa.update(FollowupCheck).where(col(FollowupCheck.id).in_(batch)).values(status="CANCELLED", closed_at=now))
            audit.touch(s, "followup_check", batch)
        if visits:  # Core inserts: the ORM's bulk path costs more than the rows (``touch_where`` above images them)
            s.execute(_visit_insert(s.get_bind().dialect.name), visits)
        if reaudits:
            s.execute(sa.insert(table_of(ReauditRequest)), reaudits)
        notify_many(s, notes, now=now)
        if opened or cancelled:
            audit.record(s, actor=SYSTEM, action="followup-open", entity="followup-scan", entity_id=f"{lo}-{hi}",
                         after={"opened": opened, "cancelled": cancelled, "visits": len(visits), "reaudits": len(reaudits)})
        out.opened, out.visits, out.reaudits, out.cancelled, out.check_ids = len(opened), len(visits), len(reaudits), len(cancelled), opened
    return out


def escalate_overdue(db: Database, *, now: datetime | None = None) -> ScanResult:
    """Escalate to the chair every OPEN check overdue by the pack's ``overdue_escalation_days`` (once per check)."""
    now = now or utcnow()
    out = ScanResult()
    with db.transaction() as s:
        rows = s.execute(
            sa.select(col(FollowupCheck.id), col(FollowupCheck.review_id), col(FollowupCheck.due_at), col(Review.policy_id), col(Product.name))
            .join(Review, col(Review.id) == col(FollowupCheck.review_id)).join(Product, col(Product.id) == col(FollowupCheck.product_id))
            .where(col(FollowupCheck.status) == "OPEN", col(FollowupCheck.escalated_at).is_(None), col(FollowupCheck.due_at) <= now - timedelta(days=1))
        ).all()
        delay = {p: timedelta(days=cadence_for(p, None)[2]) for p in {r.policy_id for r in rows}}
        late = [r for r in rows if r.due_at + delay[r.policy_id] <= now]
        ids = [r.id for r in late]
        for batch in _batches(ids):
            s.execute(sa.update(FollowupCheck).where(col(FollowupCheck.id).in_(batch)).values(escalated_at=now))
            audit.touch(s, "followup_check", batch)
        notify_many(s, ({"kind": "followup-overdue", "recipient": "chair", "review_id": r.review_id,
                         "subject": f"follow-up check {r.id} of {r.name} is {(now - r.due_at).days} days overdue",
                         "body": f"due {r.due_at:%Y-%m-%d}; visits still pending: `ethics-review followup show {r.id}`",
                         "dedupe_key": f"followup-overdue:{r.id}"} for r in late), now=now)
        if ids:
            audit.record(s, actor=SYSTEM, action="followup-escalate", entity="followup-scan", entity_id=f"{ids[0]}-{ids[-1]}", after={"escalated": ids})
        out.escalated, out.check_ids = len(ids), ids
    return out


def scan(db: Database, *, now: datetime | None = None, chunk: int = 25_000) -> ScanResult:
    """The nightly scan, in-process: open every due check (range by range), then escalate the overdue ones."""
    now = now or utcnow()
    total = ScanResult()
    for lo, hi in due_ranges(db, now=now, chunk=chunk):
        total.add(open_due(db, lo, hi, now=now))
    total.escalated = escalate_overdue(db, now=now).escalated
    return total


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _BATCH):
        yield ids[i:i + _BATCH]


# ---- recording a visit -------------------------------------------------------------------------
@dataclass(frozen=True)
class VisitOutcome:
    check_id: int
    check_status: str
    finding: str
    reopened_at: str | None
    next_check_due: datetime | None
    message: str


def parse_answers(doc: Any, questionnaire: list[Any], *, source: str, control_ids: set[str]) -> tuple[dict[str, str], str, list[str], str]:
    """Validate an answers document; returns (answers q1..qN -> yes/no, finding, failed controls, notes).

    Expected shape: ``{answers: {q1: yes, q2: no, ...}, finding: none|new_risk|failed_control,
    controls: [ID, ...] (with failed_control), notes: text}``. ``finding`` may be left out: it
    is then derived from the adverse answers (none when there are none). A finding of
    ``none`` next to an adverse answer is refused as a contradiction. Errors name the file,
    field, value and fix.
    """
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: expected a mapping with 'answers' (and optionally 'finding'), got {type(doc).__name__}")
    unknown = sorted(set(doc) - {"answers", "finding", "controls", "notes"})
    if unknown:
        raise InvalidInput(f"{source}: unknown field(s) {unknown}; expected answers, finding, controls, notes")
    raw = doc.get("answers")
    questions = [question_parts(q) for q in questionnaire]
    keys = [f"q{i + 1}" for i in range(len(questions))]
    if not isinstance(raw, dict):
        raise InvalidInput(f"{source}: answers: expected a mapping {', '.join(k + ': yes|no' for k in keys)} (the questionnaire of `ethics-review followup show CHECK`)")
    extra = sorted(set(map(str, raw)) - set(keys))
    if extra:
        raise InvalidInput(f"{source}: answers.{extra[0]}: not a question of this check; questions are {', '.join(keys)}")
    answers: dict[str, str] = {}
    adverse: list[tuple[str, str, str]] = []  # (key, text, reopen gate) of answers that report a problem
    for k, (text, bad, reopen_at) in zip(keys, questions, strict=True):
        if k not in raw:
            raise InvalidInput(f"{source}: answers.{k}: missing; answer yes or no to: {text}")
        v = raw[k]
        v = {True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else str(v).strip().lower()
        if v not in ("yes", "no"):
            raise InvalidInput(f"{source}: answers.{k}: bad value {raw[k]!r}; answer yes or no to: {text}")
        answers[k] = v
        if v == bad:
            adverse.append((k, text, reopen_at))
    controls = doc.get("controls") or []
    if not isinstance(controls, list):
        raise InvalidInput(f"{source}: controls: expected a list of control ids, got {controls!r}")
    controls = [str(c).strip().upper() for c in controls]
    if doc.get("finding") is None:
        if not adverse:
            finding = "none"
        elif any(gate == "INITIATION" for _, _, gate in adverse) or not controls:
            finding = "new_risk" if any(gate == "INITIATION" for _, _, gate in adverse) else "failed_control"
        else:
            finding = "failed_control"
    else:
        finding = str(doc.get("finding", "")).strip().lower().replace("-", "_")
    if finding not in FINDINGS:
        raise InvalidInput(f"{source}: finding: bad value {doc.get('finding')!r}; use none, new_risk (reopens at INITIATION) or failed_control (reopens at DEVELOPMENT)")
    if finding == "none" and adverse:
        k, text, gate = adverse[0]
        suggestion = "new_risk" if gate == "INITIATION" else "failed_control (with the controls found not working)"
        raise InvalidInput(f"{source}: answers.{k}: {answers[k]!r} to {text!r} reports a problem, but finding is none; "
                           f"set finding: {suggestion} and describe it in notes, or correct the answer")
    if finding == "failed_control" and not controls:
        raise InvalidInput(f"{source}: controls: finding failed_control needs the controls found not working; this review's controls: {', '.join(sorted(control_ids)) or 'none'}")
    if finding != "failed_control" and controls:
        raise InvalidInput(f"{source}: controls: only given with finding failed_control (got finding {finding})")
    for i, c in enumerate(controls):
        if c not in control_ids:
            raise InvalidInput(f"{source}: controls[{i}]: {c!r} is not a control of this review; its controls: {', '.join(sorted(control_ids)) or 'none'}")
    notes = doc.get("notes") or ""
    if not isinstance(notes, str):
        raise InvalidInput(f"{source}: notes: expected text, got {type(notes).__name__}")
    if finding != "none" and len(notes.strip()) < 10:
        raise InvalidInput(f"{source}: notes: a reported {finding} needs notes (what happened, who, when) for the committee")
    return answers, finding, controls, notes.strip()


def record_visit(db: Database, check_id: int, customer: str, doc: Any, *, actor: str, source: str = "answers",
                 now: datetime | None = None) -> VisitOutcome:
    """Record one visit's answers (reviewer or chair, not of the product's team); reopen or complete the check."""
    from review.services.reviews import apply_standing

    now = now or utcnow()
    with db.transaction() as s:
        check = locked(s, FollowupCheck, parse_id(check_id, "check id"))
        if check is None:
            raise NotFound(f"follow-up check {check_id} does not exist; `ethics-review followup list` shows them")
        review, product = s.get(Review, check.review_id), s.get(Product, check.product_id)
        assert review is not None and review.id is not None and product is not None  # the check's review and product (foreign keys)
        who = load_actor(s, actor)
        require(who, Duty.VERIFY, product_context(product, review))
        visits = s.exec(select(FollowupVisit).where(FollowupVisit.check_id == check.id)).all()
        why = rules.visit_refusal(check.id, check.status, sum(1 for v in visits if v.status == "PENDING"))
        if why is not None:
            raise Conflict(why)
        # a triggered check keeps its first finding; its other planned visits are still recorded (more evidence, more findings)
        triggered = check.status == "TRIGGERED"
        visit = next((v for v in visits if v.customer == customer), None)
        if visit is None:
            raise InvalidInput(f"--customer {customer!r} is not a planned visit of check {check.id}; planned: {', '.join(v.customer for v in visits)}")
        if visit.status != "PENDING":
            raise Conflict(f"--customer {customer!r}: visit already recorded by {visit.recorded_by} on {visit.recorded_at:%Y-%m-%d}")
        ctrl_ids = set(s.exec(select(ControlRequirement.control_id).where(ControlRequirement.review_id == review.id)).all())
        answers, finding, failed, notes = parse_answers(doc, list(visit.questionnaire), source=source, control_ids=ctrl_ids)
        visit.status, visit.answers, visit.finding, visit.notes = "RECORDED", answers, finding, notes or None
        visit.recorded_by, visit.recorded_at = who.username, now
        s.add(visit)
        reopened, next_due = None, None
        left = sum(1 for v in visits if v.status == "PENDING")
        if finding != "none":
            if not triggered:
                check.status, check.finding, check.closed_at = "TRIGGERED", finding, now
            gate = FINDINGS[finding]
            assert gate is not None  # only finding "none" maps to no gate
            for row in s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id, col(ControlRequirement.control_id).in_(failed))).all():
                row.status, row.rationale, row.updated_by, row.updated_at = "REJECTED", f"follow-up check {check.id}: {notes}", who.username, now
                s.add(row)
            if review.gate == Gate.MONITORING.value:
                apply_standing(s, review, Action.REOPEN, actor=who.username, to_gate=gate.value,
                               rationale=f"follow-up check {check.id}: {customer} reported {finding.replace('_', ' ')}: {notes}")
                reopened = gate.value
            notify(s, kind="followup-triggered", recipient="committee", review_id=review.id, now=now,
                   dedupe_key=f"followup-triggered:{check.id}" + (f":{visit.id}" if triggered else ""),
                   subject=f"{product.name}: {finding.replace('_', ' ')} reported in follow-up check {check.id}"
                           + (f"; review {review.id} reopened at {reopened}" if reopened else ""),
                   body=f"{customer}: {notes}" + (f" (controls: {', '.join(failed)})" if failed else ""))
            message = f"check {check.id}: {finding.replace('_', ' ')} reported by {customer}; " + (
                f"review {review.id} reopened at {reopened}" if reopened else f"review {review.id} is {review.gate}: not reopened; committee notified")
        elif triggered:
            message = f"visit to {customer} recorded on check {check.id} (triggered earlier: {check.finding}); {left} visit(s) still pending"
        elif all(v.status == "RECORDED" for v in visits):
            check.status, check.finding, check.closed_at = "COMPLETED", "none", now
            s.add(check)
            s.flush()
            if review.gate == Gate.MONITORING.value and active_check(s, review.id) is None:
                next_due = schedule_next(s, review, now=now).due_at
            message = f"check {check.id} completed without triggered risk" + (f"; next follow-up due {next_due:%Y-%m-%d}" if next_due else "")
        else:
            message = f"visit to {customer} recorded on check {check.id}; {left} visit(s) still pending"
        s.add(check)
        s.flush()
        audit.record(s, actor=who.username, action="followup-visit", entity="followup", entity_id=check.id, before=None,
                     after={"review": review.id, "customer": customer, "answers": answers, "finding": finding, "controls": failed,
                            "check_status": check.status, "reopened_at": reopened})
        return VisitOutcome(check.id, check.status, finding, reopened, next_due, message)


# ---- read side ---------------------------------------------------------------------------------
def _label(policy_id: str, grade: str | None) -> str | None:
    """What ``grade`` is called under the pack (the grade itself when the pack is gone)."""
    try:
        return load_pack(policy_id).pack.label(grade) if grade else grade
    except ReviewError:
        return grade


def list_checks(db: Database, *, which: str | None = None, now: datetime | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Checks newest first; ``which``: due (SCHEDULED due or OPEN), overdue (OPEN past the escalation delay), triggered."""
    now = now or utcnow()
    with db.reading() as s:
        q = (sa.select(FollowupCheck, col(Product.name), col(Review.policy_id), col(Review.gate))
             .join(Product, col(Product.id) == col(FollowupCheck.product_id)).join(Review, col(Review.id) == col(FollowupCheck.review_id)))
        if which == "due":
            q = q.where(sa.or_(col(FollowupCheck.status) == "OPEN", sa.and_(col(FollowupCheck.status) == "SCHEDULED", col(FollowupCheck.due_at) <= now)))
        elif which == "overdue":
            q = q.where(col(FollowupCheck.status) == "OPEN", col(FollowupCheck.due_at) <= now)
        elif which == "triggered":
            q = q.where(col(FollowupCheck.status) == "TRIGGERED")
        elif which is not None:
            raise InvalidInput(f"filter {which!r} is not one of: due, overdue, triggered")
        rows = s.execute(q.order_by(col(FollowupCheck.due_at).desc(), col(FollowupCheck.id).desc()).limit(limit)).all()
        counts = dict(s.execute(sa.select(col(FollowupVisit.check_id), sa.func.count()).where(
            col(FollowupVisit.check_id).in_([r[0].id for r in rows] or [0]), col(FollowupVisit.status) == "RECORDED")
            .group_by(col(FollowupVisit.check_id))).tuples().all())
        totals = dict(s.execute(sa.select(col(FollowupVisit.check_id), sa.func.count()).where(
            col(FollowupVisit.check_id).in_([r[0].id for r in rows] or [0])).group_by(col(FollowupVisit.check_id))).tuples().all())
    out = []
    for c, name, policy_id, gate in rows:
        days = cadence_for(policy_id, c.grade)[2]
        overdue = c.status == "OPEN" and c.due_at + timedelta(days=days) <= now
        if which == "overdue" and not overdue:
            continue
        out.append({"id": c.id, "review_id": c.review_id, "product": name, "sequence": c.sequence, "kind": c.kind, "grade": c.grade,
                    "grade_label": _label(policy_id, c.grade),
                    "status": c.status, "due_at": c.due_at.isoformat(), "overdue": overdue, "escalated": c.escalated_at is not None,
                    "visits_recorded": counts.get(c.id, 0), "visits": totals.get(c.id, 0), "finding": c.finding, "review_gate": gate})
    return out


def show_check(db: Database, check_id: Any, *, viewer: str | None = None) -> dict[str, Any]:
    """One check with its visits (the customers visited, their answers and notes): the read is logged for ``viewer``."""
    out = _check(db, check_id)
    if viewer and out["visits"]:
        audit.personal_read(db, actor=viewer, what="followup-visits", entity="followup", entity_id=out["id"],
                            detail={"check": out["id"], "customers": [v["customer"] for v in out["visits"]]})
    return out


def _check(db: Database, check_id: Any) -> dict[str, Any]:
    cid = parse_id(check_id, "check id")
    with db.reading() as s:
        c = s.get(FollowupCheck, cid)
        if c is None:
            raise NotFound(f"follow-up check {cid} does not exist; `ethics-review followup list` shows them")
        product = s.get(Product, c.product_id)
        assert product is not None  # the check's product (foreign key)
        visits = s.exec(select(FollowupVisit).where(FollowupVisit.check_id == cid).order_by(col(FollowupVisit.id))).all()
        reaudit = s.exec(select(ReauditRequest).where(ReauditRequest.check_id == cid)).first()
        return {**c.model_dump(mode="json"), "product": product.name, "grade_label": _label(_policy_of(s, c), c.grade),
                "visits": [v.model_dump(mode="json") for v in visits],
                "content_reaudit": reaudit.model_dump(mode="json") if reaudit else None}


def _policy_of(s: Session, c: FollowupCheck) -> str:
    review = s.get(Review, c.review_id)
    assert review is not None  # the check's review (foreign key)
    return review.policy_id


def pending_reaudits(db: Database, *, limit: int = 500) -> list[dict[str, Any]]:
    """Content re-audit requests not yet served (for the content-audit flow), oldest first."""
    with db.reading() as s:
        q = (select(ReauditRequest, Product.name).join(Product, col(Product.id) == col(ReauditRequest.product_id))
             .where(ReauditRequest.status == "PENDING").order_by(col(ReauditRequest.id)).limit(limit))
        return [{**r.model_dump(mode="json"), "product": name} for r, name in s.exec(q).all()]


def get_pending_reaudit(db: Database, request_id: Any, *, product: str | None = None) -> dict[str, Any]:
    """A PENDING re-audit request, checked against the product an audit is about to scan."""
    rid = parse_id(request_id, "--reaudit", hint=" (see `ethics-review audit reaudits`)")
    with db.reading() as s:
        req = s.get(ReauditRequest, rid)
        if req is None:
            raise NotFound(f"content re-audit request {rid} does not exist; `ethics-review audit reaudits` lists the pending ones")
        owner = s.get(Product, req.product_id)
        assert owner is not None  # the request's product (foreign key)
        name = owner.name
    if req.status != "PENDING":
        raise InvalidInput(f"content re-audit request {rid} is already {req.status}")
    if product is not None and product != name:
        raise InvalidInput(f"--reaudit {rid} is for product {name!r}, not {product!r}")
    return {**req.model_dump(mode="json"), "product": name}


def complete_reaudit(db: Database, request_id: int, *, actor: str, note: str = "") -> None:
    """Mark a re-audit request DONE (called by the content-audit work once its audit ran); audited."""
    with db.transaction() as s:
        close_reaudit(s, request_id, actor=actor, note=note)


def close_reaudit(s: Session, request_id: Any, *, actor: str, note: str = "") -> None:
    """``complete_reaudit`` inside the caller's transaction (an audit's verdict closes the request it serves)."""
    req = locked(s, ReauditRequest, parse_id(request_id, "re-audit request id"))
    if req is None:
        raise NotFound(f"content re-audit request {request_id} does not exist")
    if req.status != "PENDING":
        raise Conflict(f"content re-audit request {request_id} is already {req.status}")
    req.status = "DONE"
    s.add(req)
    audit.record(s, actor=actor, action="content-reaudit-done", entity="review", entity_id=req.review_id, after={"request": req.id, "note": note})
