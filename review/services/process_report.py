"""The review process audited along the six dimensions the mission names, each backed by figures.

``ethics-review report process --from D --to D``: theoretical research (packs and keyword library in
use and how recent), organisational support (the committee, its load, recusals), mechanism guarantee
(SLA adherence and cycle time per gate, decisions by grade, overrides and their direction, second
signatures, refused attempts), technical support (content audits and verdicts, gate reports, evidence,
the audit chain), external communication (feedback and time to triage, notifications) and continuous
tracking (follow-up completion and overdue, reopen rate, re-audits).

Every figure is an aggregate query over the period ``[start, end)`` (set-based: 100,000 reviews take a
few seconds); cycle times pair each gate's entry on the trail (submit, submit-gate, resubmit, reopen)
with the last decision before the next entry. Rendered as JSON, Markdown and HTML with inline SVG
charts; untrusted text (pack ids, usernames, kinds) is escaped for the format.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, overload

import sqlalchemy as sa
from sqlmodel import col

from review.domain.duties import COMMITTEE, Duty, Role, parse_roles
from review.domain.grades import Grade
from review.domain.lifecycle import AWAITING_COMMITTEE
from review.errors import InvalidInput
from review.services.common import REFUSED
from review.services.content_report import html_page, html_table, hx, md, md_table
from review.store.db import Database, utcnow
from review.store.models import (Assessment, AuditCheckpoint, AuditHead, AuditLog, ConflictDeclaration, Decision, Evidence, PolicySnapshot,
                                 Review, User)
from review.store.models_content import AuditRun, SpotCheckLabel
from review.store.models_followup import Feedback, FollowupCheck, GateReport, Notification, ReauditRequest

GATES = ("INITIATION", "DEVELOPMENT", "RELEASE")
#: trail actions that put a review in front of the committee at its gate (the start of a gate's cycle)
ENTRIES = ("submit", "submit-gate", "resubmit", "reopen", "resume")
OUTCOMES = ("approve", "request-changes", "reject")
DAY = 86_400.0


@dataclass
class Dimension:
    key: str
    title: str
    asks: str
    figures: list[tuple[str, Any]] = field(default_factory=list)  # (what, value): the headline numbers
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    charts: list[tuple[str, str, list[tuple[str, float]]]] = field(default_factory=list)  # (title, unit, bars)


@dataclass
class ProcessReport:
    start: datetime
    end: datetime
    generated_at: datetime
    dimensions: list[Dimension]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.start.date().isoformat(), "to": (self.end - timedelta(days=1)).date().isoformat(),
                "generated_at": self.generated_at.isoformat(),
                "dimensions": [{"key": d.key, "title": d.title, "asks": d.asks, "figures": dict(d.figures),
                                "tables": [{"title": t, "columns": c, "rows": r} for t, c, r in d.tables],
                                "charts": [{"title": t, "unit": u, "bars": [[k, v] for k, v in b]} for t, u, b in d.charts]}
                               for d in self.dimensions]}


def period(start: str | None, end: str | None, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``--from``/``--to`` (YYYY-MM-DD, both days included) as ``[start, end)`` in UTC; default: the last 90 days."""
    now = now or utcnow()

    def day(text: str, flag: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{flag} {text!r}: not a date; use YYYY-MM-DD, e.g. {now.date().isoformat()}") from None

    last = day(end, "--to") if end else now.date()
    first = day(start, "--from") if start else last - timedelta(days=89)
    if first > last:
        raise InvalidInput(f"--from {first} is after --to {last}: give the earlier day first")
    return (datetime.combine(first, time(), timezone.utc), datetime.combine(last + timedelta(days=1), time(), timezone.utc))


@overload
def _aware(at: datetime) -> datetime: ...
@overload
def _aware(at: None) -> None: ...
def _aware(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=timezone.utc)


def _days(seconds: list[float]) -> tuple[float | None, float | None]:
    if not seconds:
        return None, None
    s = sorted(seconds)
    return round(statistics.median(s) / DAY, 1), round(s[min(len(s) - 1, int(0.9 * len(s)))] / DAY, 1)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def process_report(db: Database, start: datetime, end: datetime, *, actor: str, now: datetime | None = None) -> ProcessReport:
    """The report over ``[start, end)`` for ``actor`` (the committee or an admin: it names people and their load)."""
    from review.services.users import require_duty

    require_duty(db, actor, Duty.READ_PROCESS)
    now = now or utcnow()
    with db.reading() as s:
        c = s.connection()
        dims = [_research(c, start, end, now), _organisation(c, start, end), _mechanism(c, start, end, now),
                _technical(c, start, end, now), _communication(c, start, end, now), _tracking(c, start, end, now)]
    return ProcessReport(start, end, now, dims)


# ---- the six dimensions ------------------------------------------------------------------------
def _research(c: sa.Connection, start: datetime, end: datetime, now: datetime) -> Dimension:
    d = Dimension("theoretical_research", "Theoretical research",
                  "Are the review criteria (policy packs) and the keyword library kept current and used?")
    packs = c.execute(sa.select(col(PolicySnapshot.pack_id), col(PolicySnapshot.version), col(PolicySnapshot.created_at))
                      .order_by(col(PolicySnapshot.created_at))).all()
    newest: dict[str, tuple[str, datetime]] = {}
    for pid, version, at in packs:
        newest[pid] = (version, _aware(at))
    used = c.execute(sa.select(col(Review.policy_id), col(Review.policy_version), sa.func.count())
                     .where(col(Review.created_at) >= start, col(Review.created_at) < end)
                     .group_by(col(Review.policy_id), col(Review.policy_version))).all()
    rows = [[pid, version, at.date().isoformat(), round((now - at).total_seconds() / DAY)] for pid, (version, at) in sorted(newest.items())]
    d.tables.append(("Policy packs: newest version stored", ["pack", "version", "first stored", "age (days)"], rows))
    d.tables.append(("Reviews submitted in the period, by pack", ["pack", "version", "reviews"], [[p, v, n] for p, v, n in sorted(used)]))
    lib = c.execute(sa.select(col(AuditRun.pack_id), col(AuditRun.pack_hash), sa.func.min(col(AuditRun.created_at)),
                              sa.func.max(col(AuditRun.created_at)))
                    .where(col(AuditRun.created_at) < end).group_by(col(AuditRun.pack_id), col(AuditRun.pack_hash))).all()
    current: dict[str, tuple[str, datetime, int]] = {}
    for pid, h, first, _last in sorted(lib, key=lambda r: _aware(r[3])):
        seen = current.get(pid, ("", first, 0))[2] + 1
        current[pid] = (h, _aware(first), seen)
    d.tables.append(("Content-safety library in use (by the audits)", ["pack", "library hash", "in use since", "age (days)", "versions seen"],
                     [[pid, h[:16], first.date().isoformat(), round((now - first).total_seconds() / DAY), n]
                      for pid, (h, first, n) in sorted(current.items())]))
    ages = [round((now - at).total_seconds() / DAY) for _v, at in newest.values()]
    lib_ages = [round((now - first).total_seconds() / DAY) for _h, first, _n in current.values()]
    d.figures += [("packs in use", len({p for p, _v, _n in used})), ("oldest pack version (days)", max(ages) if ages else None),
                  ("keyword library age (days)", max(lib_ages) if lib_ages else None)]
    return d


def _organisation(c: sa.Connection, start: datetime, end: datetime) -> Dimension:
    d = Dimension("organisational_support", "Organisational support",
                  "Is there a committee with the people and the time to review what is submitted?")
    roles: Counter[str] = Counter()
    for (text,) in c.execute(sa.select(col(User.roles)).where(col(User.active).is_(True))):
        for r in parse_roles(text):
            roles[r.value] += 1
    load = c.execute(sa.select(col(Review.assignee), sa.func.count()).where(col(Review.status).in_([s.value for s in AWAITING_COMMITTEE]))
                     .group_by(col(Review.assignee))).all()
    held = sorted(((a, n) for a, n in load if a), key=lambda x: -x[1])
    unassigned = sum(n for a, n in load if not a)
    by_actor = c.execute(sa.select(col(Decision.actor), sa.func.count())
                         .where(col(Decision.created_at) >= start, col(Decision.created_at) < end)
                         .group_by(col(Decision.actor))).all()
    recusals = c.execute(sa.select(sa.func.count()).select_from(ConflictDeclaration)
                         .where(col(ConflictDeclaration.created_at) >= start, col(ConflictDeclaration.created_at) < end)).scalar_one()
    committee = sum(roles[r.value] for r in COMMITTEE)
    d.figures += [("committee members (reviewers and chairs)", committee), ("chairs", roles[Role.CHAIR.value]),
                  ("open reviews waiting for the committee", sum(n for _a, n in load)), ("open reviews nobody holds", unassigned),
                  ("conflicts declared (recusals)", recusals)]
    d.tables.append(("Active people by role", ["role", "people"], [[r.value, roles[r.value]] for r in Role]))
    d.tables.append(("Decisions recorded in the period, by person", ["person", "decisions"], sorted(([a, n] for a, n in by_actor), key=lambda r: -r[1])))
    d.charts.append(("Open reviews held, by reviewer", "reviews", [(a, float(n)) for a, n in held[:12]] + [("(nobody)", float(unassigned))]))
    return d


def _cycles(c: sa.Connection, start: datetime, end: datetime) -> list[tuple[int, str, str, str, float, str]]:
    """(review, gate, grade, policy, seconds, outcome) of every gate cycle whose last decision falls in the period."""
    gate_col = col(AuditLog.after)["gate"].as_string()
    entries: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for eid, at, gate in c.execute(sa.select(col(AuditLog.entity_id), col(AuditLog.at), gate_col)
                                   .where(col(AuditLog.entity) == "review", col(AuditLog.action).in_(ENTRIES), col(AuditLog.at) < end)):
        entries[(int(eid), gate)].append(_aware(at))
    for v in entries.values():
        v.sort()
    last: dict[tuple[int, str, int], tuple[datetime, str, str, str]] = {}
    rows = c.execute(sa.select(col(Decision.review_id), col(Decision.gate), col(Decision.action), col(Decision.grade),
                               col(Decision.created_at), col(Review.policy_id))
                     .join(Review, col(Review.id) == col(Decision.review_id))
                     .where(col(Decision.created_at) < end, col(Decision.action).in_(OUTCOMES)))
    for rid, gate, action, grade, at, policy in rows:
        at = _aware(at)
        starts = entries.get((rid, gate))
        if not starts:
            continue
        k = bisect.bisect_right(starts, at) - 1
        if k < 0:
            continue
        key = (rid, gate, k)
        if key not in last or last[key][0] <= at:
            last[key] = (at, action, grade or "UNGRADED", policy)
    out = []
    for (rid, gate, k), (at, action, grade, policy) in last.items():
        if start <= at < end:
            out.append((rid, gate, grade, policy, (at - entries[(rid, gate)][k]).total_seconds(), action))
    return out


def _sla_days(policy: str, grade: str, cache: dict[tuple[str, str], int | None]) -> int | None:
    if (policy, grade) not in cache:
        from policies.loader import load_pack
        from review.domain.grading import sla_days

        try:
            cache[(policy, grade)] = sla_days(load_pack(policy).pack, Grade(grade))
        except Exception:  # a pack that is gone, or no grade: no SLA to hold it to
            cache[(policy, grade)] = None
    return cache[(policy, grade)]


def _grade_name(policy: str, grade: str, cache: dict[tuple[str, str], str]) -> str:
    """The grade as ``policy`` names it, the grade beside a label of its own ("Level IV (very high impact) (UNACCEPTABLE)")."""
    if (policy, grade) not in cache:
        from policies.loader import load_pack

        try:
            label = load_pack(policy).pack.label(grade)
        except Exception:  # a pack that is gone, or no grade: the grade's own name
            label = grade
        cache[(policy, grade)] = grade if label == grade else f"{label} ({grade})"
    return cache[(policy, grade)]


def _mechanism(c: sa.Connection, start: datetime, end: datetime, now: datetime) -> Dimension:
    d = Dimension("mechanism_guarantee", "Mechanism guarantee",
                  "Do the rules hold: SLAs met, decisions consistent with the grade, overrides signed, segregation enforced?")
    cycles = _cycles(c, start, end)
    cache: dict[tuple[str, str], int | None] = {}
    per_gate: dict[str, list[float]] = defaultdict(list)
    within: Counter[str] = Counter()
    judged: Counter[str] = Counter()
    by_grade: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)  # (grade, as the review's pack names it)
    names: dict[tuple[str, str], str] = {}
    for _rid, gate, grade, policy, secs, action in cycles:
        per_gate[gate].append(secs)
        by_grade[(grade, _grade_name(policy, grade, names))][action] += 1
        sla = _sla_days(policy, grade, cache)
        if sla is not None:
            judged[gate] += 1
            within[gate] += secs <= sla * DAY
    rows: list[list[Any]] = []
    for gate in [g for g in GATES if g in per_gate] + sorted(g for g in per_gate if g not in GATES):
        med, p90 = _days(per_gate[gate])
        rows.append([gate, len(per_gate[gate]), med, p90, _pct(within[gate], judged[gate])])
    d.tables.append(("Cycle time per gate (entry to the decision)", ["gate", "cycles", "median days", "p90 days", "within SLA %"], rows))
    order = {g.value: i for i, g in enumerate(Grade)}
    grades = sorted(by_grade, key=lambda k: (order.get(k[0], len(order)), k[0], k[1] != k[0], k[1]))
    d.tables.append(("Outcomes by grade", ["grade", *OUTCOMES, "total"],
                     [[name, *(by_grade[(g, name)][a] for a in OUTCOMES), sum(by_grade[(g, name)].values())] for g, name in grades]))
    ov = c.execute(sa.select(col(AuditLog.before)["grade"].as_string(), col(AuditLog.after)["grade"].as_string()).where(
        col(AuditLog.action) == "override-grade", col(AuditLog.at) >= start, col(AuditLog.at) < end)).all()
    rank = {g.value: i for i, g in enumerate(Grade)}
    direction: Counter[str] = Counter()
    for was, now_grade in ov:
        r0, r1 = rank.get(was or "", 0), rank.get(now_grade or "", 0)
        direction["raised" if r1 > r0 else "lowered" if r1 < r0 else "confirmed"] += 1
    pending = c.execute(sa.select(sa.func.count()).select_from(Assessment).where(
        col(Assessment.kind) == "override-pending", col(Assessment.created_at) >= start, col(Assessment.created_at) < end)).scalar_one()
    refused = c.execute(sa.select(col(AuditLog.action), sa.func.count()).where(col(AuditLog.action).like(f"{REFUSED}%"),
                                                                              col(AuditLog.at) >= start, col(AuditLog.at) < end)
                        .group_by(col(AuditLog.action))).all()
    late = c.execute(sa.select(sa.func.count()).select_from(Review).where(col(Review.status).in_([s.value for s in AWAITING_COMMITTEE]),
                                                                         col(Review.due_at) < now)).scalar_one()
    all_judged, all_within = sum(judged.values()), sum(within.values())
    d.figures += [("gate cycles decided", len(cycles)), ("within SLA %", _pct(all_within, all_judged)),
                  ("open reviews past their SLA now", late), ("overrides raising the grade", direction["raised"]),
                  ("overrides lowering the grade", direction["lowered"]), ("overrides waiting for a second signature", pending),
                  ("refused attempts (role, segregation, recusal)", sum(n for _a, n in refused))]
    d.tables.append(("Grade overrides", ["direction", "count"], [[k, direction[k]] for k in ("raised", "lowered", "confirmed")]
                     + [["proposed, waiting for a second signature", pending]]))
    d.tables.append(("Refused attempts", ["what was tried", "count"], [[a.removeprefix(REFUSED), n] for a, n in sorted(refused)]))
    d.charts.append(("Median cycle time per gate", "days", [(r[0], float(r[2] or 0)) for r in rows]))
    d.charts.append(("Within SLA per gate", "%", [(r[0], float(r[4] or 0)) for r in rows]))
    return d


def _technical(c: sa.Connection, start: datetime, end: datetime, now: datetime) -> Dimension:
    d = Dimension("technical_support", "Technical support",
                  "Do the tools do their part: content audits with spot checks, gate checks, evidence, a verifiable record?")
    runs = c.execute(sa.select(col(AuditRun.status), sa.func.count(), sa.func.sum(col(AuditRun.records)),
                               sa.func.sum(col(AuditRun.findings)), sa.func.sum(col(AuditRun.sample_size)))
                     .where(col(AuditRun.created_at) >= start, col(AuditRun.created_at) < end)
                     .group_by(col(AuditRun.status))).all()
    verdicts = Counter(v for (v,) in c.execute(sa.select(col(AuditLog.after)["verdict"].as_string()).where(
        col(AuditLog.action) == "content_audit.verdict", col(AuditLog.at) >= start, col(AuditLog.at) < end)))
    labels = c.execute(sa.select(sa.func.count()).select_from(SpotCheckLabel)
                       .where(col(SpotCheckLabel.labelled_at) >= start, col(SpotCheckLabel.labelled_at) < end)).scalar_one()
    gate_reports = c.execute(sa.select(col(GateReport.gate), col(GateReport.passed), sa.func.count()).where(
        col(GateReport.updated_at) >= start, col(GateReport.updated_at) < end).group_by(col(GateReport.gate), col(GateReport.passed))).all()
    evidence = c.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(col(Evidence.size)), 0)).where(
        col(Evidence.uploaded_at) >= start, col(Evidence.uploaded_at) < end)).one()
    head = c.execute(sa.select(col(AuditHead.last_id))).scalar()
    cp = c.execute(sa.select(col(AuditCheckpoint.head_id), col(AuditCheckpoint.at))
                   .order_by(col(AuditCheckpoint.id).desc()).limit(1)).first()
    v = verdicts
    d.figures += [("content audits run", sum(r[1] for r in runs)), ("records audited", int(sum(r[2] or 0 for r in runs))),
                  ("spot-check labels given", labels), ("audit verdicts: pass", v.get("pass", 0)), ("audit verdicts: fail", v.get("fail", 0)),
                  ("evidence files received", evidence[0]),
                  ("hours since the last signed checkpoint", round((now - _aware(cp.at)).total_seconds() / 3600, 1) if cp else None)]
    d.tables.append(("Content audits by status", ["status", "runs", "records", "findings", "sampled"],
                     [[st, n, int(r or 0), int(f or 0), int(sm or 0)] for st, n, r, f, sm in sorted(runs, key=lambda x: str(x[0]))]))
    d.tables.append(("Gate checks (automatic)", ["gate", "passed", "failed"],
                     [[g, sum(n for g2, p, n in gate_reports if g2 == g and p), sum(n for g2, p, n in gate_reports if g2 == g and not p)]
                      for g in sorted({g for g, _p, _n in gate_reports})]))
    d.tables.append(("Audit chain", ["field", "value"], [["rows", head or 0], ["last signed checkpoint",
                                                                              f"row {cp.head_id} at {_aware(cp.at).isoformat()[:19]}" if cp else "none"],
                                                        ["full check", "ethics-review audit-log verify"]]))
    return d


def _communication(c: sa.Connection, start: datetime, end: datetime, now: datetime) -> Dimension:
    d = Dimension("external_communication", "External communication",
                  "Are customers and users heard, and do the people concerned hear back?")
    fb = c.execute(sa.select(col(Feedback.status), col(Feedback.created_at), col(Feedback.triaged_at))
                   .where(col(Feedback.created_at) >= start, col(Feedback.created_at) < end)).all()
    status = Counter(st for st, _c, _t in fb)
    waits = [(_aware(t) - _aware(cr)).total_seconds() for _s, cr, t in fb if t is not None]
    untriaged = [(now - _aware(cr)).total_seconds() for st, cr, _t in fb if st == "NEW"]
    med, p90 = _days([w * 24 for w in waits])  # hours, through the same median/p90
    notes = c.execute(sa.select(col(Notification.kind), col(Notification.delivery), sa.func.count()).where(
        col(Notification.created_at) >= start, col(Notification.created_at) < end)
                      .group_by(col(Notification.kind), col(Notification.delivery))).all()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, delivery, n in notes:
        kinds[kind][delivery] += n
    d.figures += [("feedback received", len(fb)), ("feedback triaged", len(waits)), ("found credible", status["CREDIBLE"]),
                  ("median hours to triage", med), ("p90 hours to triage", p90), ("waiting for triage", status["NEW"]),
                  ("oldest untriaged (days)", round(max(untriaged) / DAY, 1) if untriaged else None),
                  ("notifications raised", sum(n for _k, _d, n in notes)),
                  ("notifications failed to deliver", sum(n for _k, dl, n in notes if dl == "FAILED"))]
    d.tables.append(("Feedback by outcome", ["status", "count"], [[k, status[k]] for k in ("NEW", "CREDIBLE", "NOT_CREDIBLE") if status[k]]))
    d.tables.append(("Notifications by kind", ["kind", "raised", "delivered or logged", "failed", "pending"],
                     [[k, sum(v.values()), v["SENT"] + v["LOGGED"], v["FAILED"], v["PENDING"]] for k, v in sorted(kinds.items())]))
    d.charts.append(("Feedback by outcome", "items", [(k.lower().replace("_", " "), float(status[k])) for k in ("NEW", "CREDIBLE", "NOT_CREDIBLE")]))
    return d


def _tracking(c: sa.Connection, start: datetime, end: datetime, now: datetime) -> Dimension:
    d = Dimension("continuous_tracking", "Continuous tracking",
                  "After release, are products followed up on time, and do findings lead back into review?")
    checks = c.execute(sa.select(col(FollowupCheck.status), col(FollowupCheck.due_at), col(FollowupCheck.closed_at))
                       .where(col(FollowupCheck.due_at) >= start, col(FollowupCheck.due_at) < end)).all()
    status = Counter(st for st, _d, _c in checks)
    closed = [(due, cl) for st, due, cl in checks if st in ("COMPLETED", "TRIGGERED") and cl is not None]
    on_time = sum(1 for due, cl in closed if _aware(cl) <= _aware(due))
    overdue = c.execute(sa.select(sa.func.count()).select_from(FollowupCheck).where(
        col(FollowupCheck.status).in_(("SCHEDULED", "OPEN")), col(FollowupCheck.due_at) < now)).scalar_one()
    released = c.execute(sa.select(sa.func.count(sa.distinct(col(AuditLog.entity_id)))).where(
        col(AuditLog.entity) == "review", col(AuditLog.action) == "release", col(AuditLog.at) < end)).scalar_one()
    reopened = c.execute(sa.select(sa.func.count(sa.distinct(col(AuditLog.entity_id)))).where(
        col(AuditLog.entity) == "review", col(AuditLog.action) == "reopen", col(AuditLog.at) >= start, col(AuditLog.at) < end)).scalar_one()
    reaudits = c.execute(sa.select(col(ReauditRequest.status), sa.func.count())
                         .where(col(ReauditRequest.created_at) >= start, col(ReauditRequest.created_at) < end)
                         .group_by(col(ReauditRequest.status))).all()
    due_total = len(checks) - status["CANCELLED"]
    d.figures += [("follow-ups due in the period", due_total), ("completed", status["COMPLETED"]),
                  ("triggered (a finding)", status["TRIGGERED"]), ("closed on time %", _pct(on_time, len(closed))),
                  ("overdue now", overdue), ("released products", released), ("reopened in the period", reopened),
                  ("reopen rate %", _pct(reopened, released)), ("re-audits requested", sum(n for _s, n in reaudits))]
    d.tables.append(("Follow-up checks due in the period", ["status", "checks"], [[k, n] for k, n in sorted(status.items())]))
    d.tables.append(("Re-audit requests", ["status", "count"], [[k, n] for k, n in sorted(reaudits)]))
    d.charts.append(("Follow-up checks due in the period", "checks", [(k.lower(), float(n)) for k, n in sorted(status.items())]))
    return d


# ---- rendering ---------------------------------------------------------------------------------
def _cell(v: Any) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def render_markdown(r: ProcessReport) -> str:
    j = r.to_json()
    lines = [f"# Review process report: {j['from']} to {j['to']}", "", f"Generated {j['generated_at'][:19]} UTC from the review database.", ""]
    for d in r.dimensions:
        lines += [f"## {d.title}", "", f"*{d.asks}*", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {md(_cell(v))} |" for k, v in d.figures]
        lines.append("")
        for title, cols, rows in d.tables:
            lines += [f"### {title}", "", *md_table(cols, rows, _cell)]
    return "\n".join(lines)


def _svg_bars(title: str, unit: str, bars: list[tuple[str, float]]) -> str:
    """A horizontal bar chart as inline SVG (labels escaped; no scripts, no links)."""
    if not bars:
        return ""
    top = max((v for _k, v in bars), default=0) or 1.0
    h = 22 * len(bars) + 28
    out = [f"<figure><svg xmlns='http://www.w3.org/2000/svg' width='560' height='{h}' role='img' aria-label='{hx(title)}'>",
           f"<text x='0' y='14' font-size='13' font-weight='bold'>{hx(title)} ({hx(unit)})</text>"]
    for i, (k, v) in enumerate(bars):
        y = 24 + 22 * i
        w = int(320 * v / top)
        out.append(f"<text x='0' y='{y + 14}' font-size='12'>{hx(k[:28])}</text>"
                   f"<rect x='190' y='{y + 3}' width='{w}' height='14' fill='#4a78b5'/>"
                   f"<text x='{196 + w}' y='{y + 14}' font-size='12'>{v:g}</text>")
    out.append("</svg></figure>")
    return "".join(out)


def render_html(r: ProcessReport) -> str:
    j = r.to_json()
    body = [f"<p>Generated {hx(j['generated_at'][:19])} UTC from the review database.</p>"]
    for d in r.dimensions:
        body += [f"<h2>{hx(d.title)}</h2><p><em>{hx(d.asks)}</em></p>", html_table(["figure", "value"], [[k, v] for k, v in d.figures], _cell)]
        body += [_svg_bars(t, u, b) for t, u, b in d.charts]
        for t, cols, rows in d.tables:
            body += [f"<h3>{hx(t)}</h3>", html_table(cols, rows, _cell)]
    return html_page(f"Review process report: {j['from']} to {j['to']}", body, css="figure{margin:0 0 1.5em 0}")
