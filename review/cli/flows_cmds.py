"""CLI commands: post-release follow-ups, the external feedback channel, and ``serve`` (Prefect deployments)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from review.cli import output
from review.errors import InvalidInput


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``followup``, ``feedback``, ``notifications`` and ``serve`` to the root parser."""
    fu = sub.add_parser("followup", help="post-release follow-up checks").add_subparsers(dest="followup_cmd", required=True, metavar="ACTION")
    p = fu.add_parser("list", help="follow-up checks, newest due first")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--due", action="store_const", const="due", dest="which", help="open, or scheduled and due")
    g.add_argument("--overdue", action="store_const", const="overdue", dest="which", help="open past the escalation delay")
    g.add_argument("--triggered", action="store_const", const="triggered", dest="which", help="a visit reported a risk")
    p.add_argument("--limit", type=int, default=200)
    output.csv_option(p)
    p.set_defaults(func=cmd_followup_list, which=None)
    p = fu.add_parser("show", help="one check: visits, questionnaire, answers")
    p.add_argument("check")
    p.set_defaults(func=cmd_followup_show)
    p = fu.add_parser("record", help="record one visit's answers (YAML/JSON: answers q1..qN yes|no, finding, controls, notes)")
    p.add_argument("check")
    p.add_argument("--customer", required=True, help="the visited customer, as listed by `followup show`")
    p.add_argument("--answers", required=True, metavar="FILE")
    p.set_defaults(func=cmd_followup_record)
    p = fu.add_parser("scan", help="run the follow-up scan now, in this process (open due checks, escalate overdue)")
    p.add_argument("--now", default=None, metavar="ISO-TIME", help="pretend it is this time (UTC), e.g. 2026-03-01T02:00")
    p.set_defaults(func=cmd_followup_scan)

    fb = sub.add_parser("feedback", help="the open feedback channel").add_subparsers(dest="feedback_cmd", required=True, metavar="ACTION")
    p = fb.add_parser("submit", help="raise an ethics concern about a product (no account needed)")
    p.add_argument("--product", required=True, help="product name or id")
    p.add_argument("--message", "-m", required=True)
    p.add_argument("--contact", default=None, help="how to reach you (optional)")
    p.set_defaults(func=cmd_feedback_submit)
    p = fb.add_parser("triage", help="mark feedback credible (opens an ad-hoc follow-up) or not-credible (reviewer/chair)")
    p.add_argument("feedback")
    p.add_argument("verdict", metavar="credible|not-credible")
    p.add_argument("--rationale", "-m", required=True)
    p.set_defaults(func=cmd_feedback_triage)
    p = fb.add_parser("list", help="feedback, newest first")
    p.add_argument("--status", default=None, help="new, credible, not-credible")
    output.csv_option(p)
    p.set_defaults(func=cmd_feedback_list)

    p = sub.add_parser("notifications", help="your notifications: to you, your team, the committee or the chair (newest first)")
    p.add_argument("--review", metavar="R", help="every notification about one review instead")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_notifications)

    p = sub.add_parser("serve", help="serve the Prefect deployments (gate flows on demand, follow-up scan nightly, escalation hourly)")
    p.add_argument("--list", action="store_true", dest="list_only", help="print the deployments and schedules, do not serve")
    p.add_argument("--limit", type=int, default=None, help="maximum concurrent flow runs")
    p.set_defaults(func=cmd_serve)


def _parse_now(text: str | None) -> Any:
    if not text:
        return None
    from datetime import datetime, timezone

    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--now {text!r} is not an ISO time; use e.g. 2026-03-01T02:00 (UTC)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def cmd_followup_list(ctx: Any) -> int:
    rows = ctx.client.list_checks(which=ctx.args.which, limit=ctx.args.limit)
    if ctx.json:
        output.emit_json(rows)
        return 0
    if ctx.args.format == "csv":
        output.emit_csv(rows)
        return 0
    output.table(None, ["check", "review", "product", "#", "kind", "grade", "status", "due", "visits", "flags"],
                 [(r["id"], r["review_id"], r["product"], r["sequence"], r["kind"], output.grade_text(r["grade"], r.get("grade_label")), output.status_text(r["status"]),
                   r["due_at"][:10], f"{r['visits_recorded']}/{r['visits']}",
                   " ".join(x for x, on in (("OVERDUE", r["overdue"]), ("escalated", r["escalated"]), (r["finding"] or "", r["finding"] not in (None, "none"))) if on) or "-")
                  for r in rows], caption=f"{len(rows)} check(s)")
    return 0


def cmd_followup_show(ctx: Any) -> int:
    d = ctx.client.show_check(ctx.args.check)
    if ctx.json:
        output.emit_json(d)
        return 0
    output.line((f"Follow-up check {d['id']}", "bold"), f"  {d['product']} (review {d['review_id']}, #{d['sequence']}, {d['kind']}, {d['grade']})")
    output.say(f"  status {d['status']}  due {d['due_at'][:10]}  escalated {d['escalated_at'] or '-'}  finding {d['finding'] or '-'}")
    if d["visits"]:
        from review.services.followups import question_parts

        output.say("  questionnaire (answer q1..qN yes|no in the answers file; the adverse answer needs a finding):")
        for i, q in enumerate(d["visits"][0]["questionnaire"], 1):
            text, adverse, reopen_at = question_parts(q)
            output.say(f"    q{i}: {text}  [adverse: {adverse} -> reopens at {reopen_at}]")
    output.table("Visits", ["customer", "status", "finding", "by", "notes"],
                 [(v["customer"], v["status"], v["finding"] or "-", v["recorded_by"] or "-", v["notes"] or "-") for v in d["visits"]])
    if d["content_reaudit"]:
        output.say(f"  content re-audit requested: {d['content_reaudit']['status']} ({d['content_reaudit']['reason']})")
    return 0


def cmd_followup_record(ctx: Any) -> int:
    from review.cli.core import read_yaml

    doc = read_yaml(ctx.args.answers)
    out = ctx.client.record_visit(ctx.args.check, ctx.args.customer, doc, source=ctx.args.answers)
    if ctx.json:
        output.emit_json({"check": out.check_id, "status": out.check_status, "finding": out.finding, "reopened_at": out.reopened_at,
                          "next_check_due": out.next_check_due, "message": out.message})
    else:
        output.say(out.message)
    return 0


def cmd_followup_scan(ctx: Any) -> int:
    res = ctx.client.followup_scan(now=_parse_now(ctx.args.now))
    if ctx.json:
        output.emit_json(res.to_json())
    else:
        output.say(f"follow-up scan: {res.opened} check(s) opened with {res.visits} visit(s), {res.reaudits} content re-audit request(s), "
                   f"{res.cancelled} cancelled, {res.escalated} escalated to the chair")
    return 0


def cmd_feedback_submit(ctx: Any) -> int:
    fb = ctx.client.submit_feedback(ctx.args.product, ctx.args.message, contact=ctx.args.contact)
    if ctx.json:
        output.emit_json({"id": fb.id, "status": fb.status})
    else:
        output.say(f"feedback {fb.id} recorded; the ethics committee will triage it. Thank you.")
    return 0


def cmd_feedback_triage(ctx: Any) -> int:
    out = ctx.client.triage_feedback(ctx.args.feedback, ctx.args.verdict, rationale=ctx.args.rationale)
    if ctx.json:
        output.emit_json({"feedback": out.feedback.model_dump(mode="json"), "check": out.check_id, "message": out.message})
    else:
        output.say(out.message)
    return 0


def cmd_feedback_list(ctx: Any) -> int:
    rows = ctx.client.list_feedback(status=ctx.args.status)
    if ctx.json:
        output.emit_json(rows)
        return 0
    if ctx.args.format == "csv":
        output.emit_csv(rows)
        return 0
    output.table(None, ["id", "product", "status", "received", "message", "check"],
                 [(r["id"], r["product"], r["status"], r["created_at"][:16], r["message"][:80], r["check_id"] or "-") for r in rows])
    return 0


def cmd_notifications(ctx: Any) -> int:
    from review.services.common import parse_review_id

    a = ctx.args
    if a.review:
        rows = ctx.client.review_notifications(a.review, limit=a.limit)
        title = f"Notifications about review R-{parse_review_id(a.review)}"
    else:
        rows = ctx.client.inbox(limit=a.limit)
        title = f"Notifications for {ctx.actor}"
    if ctx.json:
        output.emit_json(rows)
        return 0
    output.table(title, ["id", "when", "to", "kind", "review", "subject", "delivery"],
                 [(n["id"], n["created_at"][:16], n["via"] or n["recipient"], n["kind"], f"R-{n['review_id']}" if n["review_id"] else "-",
                   n["subject"][:70], n["delivery"].lower()) for n in rows])
    return 0


def cmd_serve(ctx: Any) -> int:
    ctx.db  # noqa: B018 - serving runs where the database is (refused in remote mode)
    if ctx.args.database:
        os.environ["ETHICS_REVIEW_DATABASE_URL"] = ctx.args.database  # the flow runs use the same app database
    from flows.serve import build_deployments, serve_all

    deployments = build_deployments()
    rows = [(f"{d.flow_name}/{d.name}", ", ".join(s.schedule.cron for s in d.schedules) or "on demand", ", ".join(d.tags)) for d in deployments]
    if ctx.args.list_only:
        if ctx.json:
            output.emit_json([{"deployment": a, "schedule": b, "tags": c} for a, b, c in rows])
        else:
            output.table("Deployments", ["deployment", "schedule (cron, UTC)", "tags"], rows)
        return 0
    if not os.environ.get("PREFECT_API_URL"):
        raise InvalidInput("PREFECT_API_URL is not set: start `prefect server start` in another terminal, then "
                           "`export PREFECT_API_URL=http://127.0.0.1:4200/api` and run `ethics-review serve` again")
    _prefect_reachable(os.environ["PREFECT_API_URL"])
    output.table("Serving", ["deployment", "schedule (cron, UTC)", "tags"], rows)
    serve_all(limit=ctx.args.limit)
    return 0


def _prefect_reachable(api_url: str, timeout: float = 3.0) -> None:
    """One line (exit 11) within ``timeout`` seconds when the Prefect server does not answer, instead of serve()'s
    minutes of retries and tracebacks."""
    import httpx

    from review.errors import Unavailable

    url = api_url.rstrip("/") + "/health"
    try:
        r = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise Unavailable(f"Prefect is not reachable at {api_url} ({type(exc).__name__}: {exc or 'no answer'}); start it with "
                          f"`prefect server start` (or fix PREFECT_API_URL) and run `ethics-review serve` again") from None
    if r.status_code != 200:
        raise Unavailable(f"Prefect at {api_url} answered {url} with HTTP {r.status_code}, not a healthy server; check PREFECT_API_URL "
                          f"(it ends in /api, e.g. http://127.0.0.1:4200/api)")
