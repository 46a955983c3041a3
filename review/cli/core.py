"""Core review commands: init, users, submit, list, show, assign, decide, evidence, verify, advance, ..."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from review.cli import output
from review.cli.output import grade_text, status_text, when
from review.client.messages import override_summary
from review.hashing import file_sha256
from review.errors import InvalidInput


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("init", help="create or upgrade the database schema")
    p.add_argument("--admin", metavar="USER", help="create this first admin user when there are no users")
    p.add_argument("--team", default="ethics-office", help="team of the first admin (default: ethics-office)")
    p.add_argument("--app-role", metavar="ROLE", help="PostgreSQL: create a login role for the server with every right it needs "
                   "except UPDATE, DELETE and TRUNCATE on the audit tables")
    p.add_argument("--app-password-env", metavar="VAR", help="set that role's password from this environment variable")
    p.set_defaults(func=cmd_init)

    users = sub.add_parser("user", help="people and roles").add_subparsers(dest="user_cmd", required=True, metavar="ACTION")
    p = users.add_parser("add", help="add a person (admin)")
    p.add_argument("username")
    p.add_argument("--team", required=True)
    p.add_argument("--role", "--roles", dest="roles", required=True, help="comma-separated: submitter, reviewer, chair, admin")
    p.add_argument("--name", default="", help="display name")
    p.set_defaults(func=cmd_user_add)
    p = users.add_parser("list", help="list people")
    p.set_defaults(func=cmd_user_list)
    p = users.add_parser("channel", help="your own notification channel: an Apprise URL (mailto://, slack://, msteams://, ntfy://...); "
                                         "everything that reaches you is sent there too")
    p.add_argument("url", nargs="?", default=None, help="set it (omit to show it, masked)")
    p.add_argument("--clear", action="store_true", help="remove it")
    p.add_argument("--user", default=None, help="another person's (admin)")
    p.set_defaults(func=cmd_user_channel)

    p = sub.add_parser("submit", help="submit PRODUCT.yaml for initiation review, or a review id to submit its current gate")
    p.add_argument("target", metavar="PRODUCT.yaml|REVIEW")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("list", help="list reviews")
    p.add_argument("--gate")
    p.add_argument("--status")
    p.add_argument("--grade")
    p.add_argument("--assignee")
    p.add_argument("--mine", action="store_true", help="assigned to the acting user")
    p.add_argument("--team", help="owner team")
    p.add_argument("--overdue", action="store_true", help="past the committee SLA")
    p.add_argument("--search", help="product name contains this text (any case; %%, _ and quotes are plain characters)")
    p.add_argument("--sort", default="id", help="id, product, gate, status, grade, assignee, due, updated, created")
    p.add_argument("--asc", action="store_true", help="ascending order")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    output.csv_option(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one review in full")
    p.add_argument("review")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("assign", help="assign a reviewer (SUBMITTED -> IN_REVIEW)")
    p.add_argument("review")
    p.add_argument("assignee", nargs="?", help="default: the acting user")
    p.add_argument("--expected-version", type=int, default=None, help="refuse if the review changed since this version")
    p.set_defaults(func=cmd_assign)

    p = sub.add_parser("decide", help="approve, request changes or reject, with a rationale")
    p.add_argument("review")
    p.add_argument("decision", metavar="approve|request-changes|reject")
    p.add_argument("--rationale", "-m", required=True)
    p.add_argument("--expected-version", type=int, default=None, help="refuse if the review changed since this version")
    p.set_defaults(func=cmd_decide)

    ev = sub.add_parser("evidence", help="evidence for controls").add_subparsers(dest="evidence_cmd", required=True, metavar="ACTION")
    p = ev.add_parser("add", help="attach a file as evidence for a control")
    p.add_argument("review")
    p.add_argument("control")
    p.add_argument("file")
    p.set_defaults(func=cmd_evidence_add)
    p = ev.add_parser("list", help="evidence files attached to a review (or to one of its controls)")
    p.add_argument("review")
    p.add_argument("control", nargs="?", default=None, help="only this control's files")
    p.set_defaults(func=cmd_evidence_list)
    p = ev.add_parser("get", help="download a control's newest evidence file (hash-checked)")
    p.add_argument("review")
    p.add_argument("control")
    p.add_argument("--out", "-o", default=".", help="a directory (keeps the file's name) or a file path (default: current directory)")
    p.set_defaults(func=cmd_evidence_get)
    p = ev.add_parser("download", help="download one evidence file (see `evidence list` for ids)")
    p.add_argument("review")
    p.add_argument("evidence", help="evidence id")
    p.add_argument("--out", "-o", default=".", help="a directory (keeps the file's name) or a file path (default: current directory)")
    p.set_defaults(func=cmd_evidence_download)
    p = ev.add_parser("verify", help="check that every evidence file is in the store and unchanged since upload (exit 9 on any problem)")
    p.add_argument("review", nargs="?", default=None, help="one review (default: every review)")
    p.set_defaults(func=cmd_evidence_verify)

    p = sub.add_parser("verify", help="verify a control's evidence: pass or fail")
    p.add_argument("review")
    p.add_argument("control")
    p.add_argument("verdict", metavar="pass|fail")
    p.add_argument("--rationale", "-m", default="")
    p.add_argument("--expected-version", type=int, default=None, help="refuse if the review changed since this version")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("waive", help="waive a control (chair), with a rationale")
    p.add_argument("review")
    p.add_argument("control")
    p.add_argument("--rationale", "-m", required=True)
    p.set_defaults(func=cmd_waive)

    p = sub.add_parser("advance", help="move an approved review to the next gate")
    p.add_argument("review")
    p.add_argument("--expected-version", type=int, default=None, help="refuse if the review changed since this version")
    p.set_defaults(func=cmd_advance)

    for name, help_text in (("suspend", "suspend a product (chair/admin)"), ("resume", "resume a suspended product"),
                            ("withdraw", "withdraw a product"), ("reopen", "reopen a released product at a gate")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("review")
        p.add_argument("--rationale", "-m", required=True)
        if name == "reopen":
            p.add_argument("--to", dest="to_gate", required=True, metavar="GATE", help="INITIATION, DEVELOPMENT or RELEASE")
        p.add_argument("--expected-version", type=int, default=None, help="refuse if the review changed since this version")
        p.set_defaults(func=cmd_standing, standing=name)

    p = sub.add_parser("override-grade", help="override a review's grade (chair), with a rationale")
    p.add_argument("review")
    p.add_argument("grade", metavar="LOW|MEDIUM|HIGH|UNACCEPTABLE")
    p.add_argument("--rationale", "-m", required=True)
    p.add_argument("--expected-version", type=int, default=None, help="refuse if the review changed since this version")
    p.set_defaults(func=cmd_override)

    p = sub.add_parser("residual", help="compute the residual grade (credit for verified controls only)")
    p.add_argument("review")
    p.set_defaults(func=cmd_residual)

    conflict = sub.add_parser("conflict", help="conflict-of-interest declarations").add_subparsers(dest="conflict_cmd", required=True, metavar="ACTION")
    p = conflict.add_parser("declare", help="declare a conflict of interest on a product (you are recused)")
    p.add_argument("product")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_conflict)

    p = sub.add_parser("replay", help="recompute a review's grade from its stored answers and pack")
    p.add_argument("review")
    p.set_defaults(func=cmd_replay)

    al = sub.add_parser("audit-log", help="the tamper-evident audit log").add_subparsers(dest="audit_log_cmd", required=True, metavar="ACTION")
    p = al.add_parser("verify", help="verify the chain, the row MACs and every state row against the log (exit 9 on any problem)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE", help="a signed checkpoint kept outside the database "
                   "(repeatable): the log up to it must be unchanged")
    p.add_argument("--export", default=None, metavar="FILE", help="check an export file instead, with no database")
    p.add_argument("--public-key", default=None, metavar="FILE", help="the server's public key (PEM) for --export")
    p.add_argument("--no-state", dest="state", action="store_false", help="the chain only, not the state tables")
    p.set_defaults(func=cmd_audit_verify)
    p = al.add_parser("checkpoint", help="sign the chain's head now; keep the document outside the database")
    p.add_argument("--out", default=None, metavar="FILE", help="write it here (default: standard output)")
    p.set_defaults(func=cmd_audit_checkpoint)
    p = al.add_parser("export", help="the whole log and its checkpoints as JSON Lines (chair or admin)")
    p.add_argument("--out", default=None, metavar="FILE", help="default: standard output")
    p.set_defaults(func=cmd_audit_export)
    p = al.add_parser("public-key", help="print the public key that checks checkpoints and exports")
    p.set_defaults(func=cmd_audit_public_key)
    p = al.add_parser("show", help="show audit rows")
    p.add_argument("--review", default=None)
    p.add_argument("--limit", type=int, default=50)
    output.csv_option(p)
    p.set_defaults(func=cmd_audit_show)

    rep = sub.add_parser("report", help="reports an auditor reads").add_subparsers(dest="report_cmd", required=True, metavar="KIND")
    p = rep.add_parser("review", help="one review's dossier: profile, answers, grading, controls and evidence, decisions, "
                                      "gate reports, follow-ups, audits, its audit trail and the chain's state")
    p.add_argument("review")
    p.add_argument("--format", choices=("md", "html"), default="md")
    p.add_argument("--out", default=None, metavar="FILE", help="write it here (default: standard output)")
    p.set_defaults(func=cmd_report_review)
    p = rep.add_parser("process", help="the review process over a period, along the six dimensions (research, organisation, "
                                       "mechanism, technical support, communication, tracking), each with figures")
    p.add_argument("--from", dest="start", metavar="YYYY-MM-DD", default=None, help="first day (default: 89 days before --to)")
    p.add_argument("--to", dest="end", metavar="YYYY-MM-DD", default=None, help="last day, included (default: today)")
    p.add_argument("--format", choices=("md", "html", "json"), default="md")
    p.add_argument("--out", default=None, metavar="FILE", help="write it here (default: standard output)")
    p.set_defaults(func=cmd_report_process)


# ---- handlers ---------------------------------------------------------------------------
def cmd_report_review(ctx: Any) -> int:
    rep = ctx.client.review_report(ctx.args.review)
    text = rep.markdown if ctx.args.format == "md" else rep.html
    if ctx.args.out:
        Path(ctx.args.out).write_text(text, encoding="utf-8")
        if ctx.json:
            output.emit_json({"review": rep.review_id, "path": ctx.args.out, "format": ctx.args.format})
        else:
            output.say(f"wrote the dossier of review {rep.review_id} to {ctx.args.out}")
    else:
        sys.stdout.write(text + "\n")  # already escaped for its format; Markdown/HTML, not terminal markup
    return 0


def cmd_report_process(ctx: Any) -> int:
    import json

    a = ctx.args
    rep = ctx.client.process_report(a.start, a.end)
    fmt = "json" if ctx.json and not a.out else a.format
    text = {"md": rep.markdown, "html": rep.html}.get(fmt) or json.dumps(rep.data, ensure_ascii=False, indent=1)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
        if ctx.json:
            output.emit_json({"from": rep.data["from"], "to": rep.data["to"], "path": a.out, "format": fmt})
        else:
            output.say(f"wrote the process report {rep.data['from']} to {rep.data['to']} to {a.out}")
    elif fmt == "json":
        output.emit_json(rep.data)
    else:
        sys.stdout.write(text + "\n")  # already escaped for its format
    return 0


def cmd_init(ctx: Any) -> int:
    from review.services import users
    from review.store.migrate import current_revisions

    import os

    from review.services import audit

    from review.store.migrate import ADDED_STATE_COLUMNS, applied

    db = ctx.db
    adding = {rev: added for rev, added in ADDED_STATE_COLUMNS.items() if not applied(db, rev)}
    head = db.upgrade()
    imaged = audit.baseline(db)  # a log from before state images: image today's state once
    adopted = sum(audit.adopt_new_columns(db, table, cols, why=f"migration {rev} added {table}.{', '.join(cols)}: the rows re-imaged")
                  for rev, (table, cols) in adding.items())
    created = None
    if ctx.args.admin:
        existing = users.list_users(db)
        if not existing:
            created = users.add_user(db, ctx.args.admin, team=ctx.args.team, roles="admin", actor=None)
    role_schema = None
    if ctx.args.app_role:
        from review.store.roles import create_app_role

        password = None
        if ctx.args.app_password_env:
            password = os.environ.get(ctx.args.app_password_env)
            if not password:
                raise InvalidInput(f"--app-password-env {ctx.args.app_password_env}: that variable is not set")
        role_schema = create_app_role(db, ctx.args.app_role, password)
    if ctx.json:
        output.emit_json({"database": _safe_url(db.url), "revision": sorted(current_revisions(db)), "admin_created": created.username if created else None,
                          "state_rows_imaged": imaged, "state_rows_reimaged": adopted, "app_role": ctx.args.app_role})
    else:
        output.say(f"database ready at {_safe_url(db.url)} (schema {head})")
        if imaged:
            output.say(f"the audit log now images state: {imaged} existing rows recorded as its baseline")
        if adopted:
            output.say(f"the audit log re-imaged {adopted} rows for the columns the upgrade added")
        if role_schema:
            output.say(f"role {ctx.args.app_role} may use schema {role_schema} but not update or delete the audit log: "
                       "give the server that role's URL")
        if created:
            output.say(f"created admin user {created.username} ({created.team}); give them a token for the server with: "
                       f"ethics-review --as {created.username} token create {created.username}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_user_add(ctx: Any) -> int:
    u = ctx.client.add_user(ctx.args.username, team=ctx.args.team, roles=ctx.args.roles, display_name=ctx.args.name)
    if ctx.json:
        output.emit_json(u.model_dump(mode="json"))
    else:
        output.say(f"added {u.username} ({u.team}; {u.roles})")
    return 0


def cmd_user_list(ctx: Any) -> int:
    rows = ctx.client.list_users()
    if ctx.json:
        output.emit_json([u.model_dump(mode="json") for u in rows])
    else:
        output.table("People", ["user", "name", "team", "roles"], [(u.username, u.display_name, u.team, u.roles) for u in rows])
    return 0


def cmd_user_channel(ctx: Any) -> int:
    a = ctx.args
    if a.clear and a.url:
        raise InvalidInput("give a URL to set, or --clear, not both")
    if a.clear or a.url:
        shown = ctx.client.set_channel(None if a.clear else a.url, username=a.user)
        text = f"notification channel of {a.user or ctx.actor}: " + (f"set to {shown}" if shown else "cleared")
    else:
        shown = ctx.client.channel(a.user)
        text = f"notification channel of {a.user or ctx.actor}: {shown or 'none (the inbox and the deployment webhook reach you)'}"
    if ctx.json:
        output.emit_json({"user": a.user or ctx.actor, "channel": shown})
    else:
        output.say(text)
    return 0


def read_yaml(path: str) -> Any:
    from policies.loader import parse_yaml
    from review.limits import PRODUCT_FILE_ENV, product_file_bytes

    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{path}: no such file")
    limit = product_file_bytes()
    size = p.stat().st_size
    if size > limit:  # refused before it is read
        raise InvalidInput(f"{path}: {size:,} bytes is over the {limit // 1024:,} KiB limit; raise {PRODUCT_FILE_ENV} if it must be this big")
    return parse_yaml(p.read_bytes(), path, max_bytes=limit, limit_hint=f"; raise {PRODUCT_FILE_ENV} if it must be this big")


def say_step(ctx: Any, step: Any) -> None:
    """What the gate step after a write said (stderr under --json, so stdout stays one JSON object)."""
    if step is None or not step.message:
        return
    for text in step.message.splitlines():
        if ctx.json:
            print(output.safe(text), file=sys.stderr)
        else:
            output.say(text, style="dim")


def cmd_submit(ctx: Any) -> int:
    target = ctx.args.target
    if target.endswith((".yaml", ".yml")) or Path(target).exists():
        review, step = ctx.client.submit(read_yaml(target), source=target)
        verb = "submitted"
        initiation = [a for a in ctx.client.show_review(review.id).assessments if a["kind"] == "initiation"]
        for w in (initiation[-1].get("warnings") or []) if initiation else []:
            text = f"warning: cross-check {w['id']}: {w['message']} (the committee is told)"
            print(output.safe(text), file=sys.stderr) if ctx.json else output.say(text, style="yellow")
    else:
        review, step = ctx.client.submit_gate(target)
        verb = f"submitted {review.gate} gate of"
    say_step(ctx, step)
    if ctx.json:
        output.emit_json(review.model_dump(mode="json"))
    else:
        output.line(f"{verb} review {review.id}: {review.gate}/{review.status}, grade ", grade_text(review.grade, review.grade_label), f", due {when(review.due_at)}")
    return 0


def cmd_list(ctx: Any) -> int:
    from review.services.listing import ReviewFilter

    a = ctx.args
    assignee = ctx.actor if a.mine else a.assignee
    f = ReviewFilter(gate=a.gate, status=a.status, grade=a.grade, assignee=assignee, overdue=a.overdue, search=a.search, team=a.team)
    page = _cached_page(ctx, f) or ctx.client.list_reviews(f, sort=a.sort, descending=not a.asc, limit=a.limit, offset=a.offset)
    if ctx.json:
        output.emit_json({"total": page.total, "offset": page.offset, "limit": page.limit, "reviews": [r.to_json() for r in page.rows]})
        return 0
    if a.format == "csv":
        output.emit_csv(r.to_json() for r in page.rows)
        return 0
    from rich.text import Text

    rows = [
        (r.id, r.product, r.owner_team, r.gate, status_text(r.status), grade_text(r.grade, r.grade_label), r.assignee or "-",
         Text(when(r.due_at), style="bold red" if r.overdue else ""))
        for r in page.rows
    ]
    shown = f"{page.offset + 1}-{page.offset + len(page.rows)}" if page.rows else "0"
    output.table(None, ["id", "product", "team", "gate", "status", "grade", "assignee", "due"], rows, caption=f"{shown} of {page.total} reviews")
    return 0


def _cached_page(ctx: Any, f: Any) -> Any:
    """The page through the compiled-SQL cache (``review.services.listing.cached_page``): a SQLite file in direct
    mode, its statements already compiled by an earlier listing of the same shape; else None."""
    if ctx.remote:
        return None
    from review.services.listing import cached_page

    a = ctx.args
    return cached_page(a.database or ctx.settings.database, ctx.settings.home, f, sort=a.sort, descending=not a.asc, limit=a.limit,
                       offset=a.offset)


def cmd_show(ctx: Any) -> int:
    d = _cached_detail(ctx)
    if d is None:
        d = ctx.client.show_review(ctx.args.review)
        _keep_crosswalks(ctx, d)
    if ctx.json:
        output.emit_json(d.to_json())
        return 0
    r, p = d.review, d.product
    output.line((f"Review {r['id']}", "bold"), f"  {p['name']}  ({p['owner_team']}, {p['business_line']})")
    label = r.get("grade_label")
    output.line(f"  gate {r['gate']}  status ", status_text(r["status"]), "  grade ", grade_text(r["grade"]),
                f" ({label})" if label and label != r["grade"] else "",
                f"  assignee {r['assignee'] or '-'}  due {when(_dt(r['due_at']))}  pack {r['policy_id']}@{r['policy_version']}  version {r['version']}")
    output.say(f"  users: {', '.join(p['intended_users'])}; data: {', '.join(p['data_categories'])}; "
               f"capabilities: {', '.join(p['capabilities']) or '-'}; regions: {', '.join(p['deployment_regions'])}")
    if d.assessments:
        a = d.assessments[-1]
        output.table(f"Assessment ({a['kind']}, pack {a['pack_id']}@{a['pack_version']} #{a['pack_hash'][:12]})", ["dimension", "score", "level"],
                     [(k, v, grade_text(a["dimension_levels"][k])) for k, v in sorted(a["dimension_scores"].items(), key=lambda kv: (-kv[1], kv[0]))],
                     caption=f"triggers fired: {', '.join(a['triggers_fired']) or 'none'}; base {a['base_grade']} -> grade {a['grade']}")
    if d.assessments and d.assessments[0]["answers"]:
        text, labels = _question_labels(ctx, d.assessments[0]["pack_id"])
        rank = {q: i for i, q in enumerate(text)}
        answers = sorted(d.assessments[0]["answers"].items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))
        output.table("Questionnaire answers", ["question", "answer"],
                     [(text.get(q, q), ", ".join(labels.get((q, v), v) for v in vals)) for q, vals in answers])
    if d.controls:
        output.table("Controls", ["control", "title", "dimension", "verified at", "status", "evidence"],
                     [(cv.control_id, cv.title, cv.dimension, cv.verify_gate, status_text(cv.status),
                       ", ".join(f"{e['filename']} ({e['sha256'][:10]})" for e in cv.evidence) or "-") for cv in d.controls])
        _frameworks_met(d.frameworks)
    if d.decisions:
        output.table("Decisions", ["when", "gate", "decision", "by", "rationale"],
                     [(when(_dt(x["created_at"])), x["gate"], x["action"], x["actor"], x["rationale"]) for x in d.decisions])
    if d.gate_reports:
        output.table("Gate reports", ["gate", "round", "passed", "residual grade", "when"],
                     [(g["gate"], g["round"], "yes" if g["passed"] else "no", g.get("residual_grade") or "-", when(_dt(g["updated_at"])))
                      for g in d.gate_reports])
    if d.trail:
        output.table("Audit trail", ["#", "when", "actor", "action"], [(t["id"], when(_dt(t["at"])), t["actor"], t["action"]) for t in d.trail])
    return 0


def _cached_detail(ctx: Any) -> Any:
    """The review through the compiled-SQL cache (``review.services.showing.cached_detail``): a SQLite file in direct
    mode, the statements compiled by an earlier ``show`` for these sources and this schema revision; else None.
    A bad review id is refused here as by the usual path."""
    if ctx.remote:
        return None
    from review.services.showing import cached_detail

    s = ctx.settings
    return cached_detail(ctx.args.database or s.database, s.home, ctx.args.review, frameworks=s.frameworks)


def _keep_crosswalks(ctx: Any, d: Any) -> None:
    """In direct mode, keep the crosswalks of the review's pack (``showing.framework_coverage``, the packs already
    loaded by this process) so that the next ``show`` loads no pack; the frameworks shown stay ``d``'s."""
    if ctx.remote:
        return
    from review.services.showing import framework_coverage

    framework_coverage(d.review["policy_id"], d.controls, ctx.settings.frameworks, ctx.settings.home)


def _question_labels(ctx: Any, pack_id: str) -> Any:
    """The questions' wording and the options' labels of a pack: in direct mode as kept for the installed packs
    (``review.services.showing.question_labels``), else from the server."""
    if ctx.remote:
        return ctx.client.questionnaire_labels(pack_id)
    from review.services.showing import question_labels

    return question_labels(pack_id, ctx.settings.home)


def _frameworks_met(frameworks: list[dict[str, Any]]) -> None:
    """Per tracked framework, the obligations the verified controls meet (the installed packs' crosswalks)."""
    rows = [(f"{f['framework']} {len(f['met'])}/{f['obligations']}", m["obligation"], m["title"], ", ".join(m["controls"]))
            for f in frameworks for m in f["met"]]
    if rows:
        output.table("Obligations met in other frameworks by verified evidence", ["framework (met/all)", "obligation", "title", "by"], rows)


def _dt(value: Any) -> Any:
    """A time from a review detail: a datetime locally, ISO text from the server."""
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value


def cmd_assign(ctx: Any) -> int:
    r = ctx.client.assign(ctx.args.review, ctx.args.assignee, expected_version=ctx.args.expected_version)
    _report(ctx, r, f"review {r.id} assigned to {r.assignee}; now {r.gate}/{r.status}")
    return 0


def cmd_decide(ctx: Any) -> int:
    out, step = ctx.client.decide(ctx.args.review, ctx.args.decision, rationale=ctx.args.rationale, expected_version=ctx.args.expected_version)
    say_step(ctx, step)
    if ctx.json:
        output.emit_json({"review": out.review.model_dump(mode="json"), "applied": out.applied, "message": out.message})
    else:
        output.say(out.message)
    return 0


def cmd_evidence_add(ctx: Any) -> int:
    ev = ctx.client.add_evidence(ctx.args.review, ctx.args.control, ctx.args.file)
    if ctx.json:
        output.emit_json(ev.model_dump(mode="json"))
    else:
        output.say(f"evidence {ev.id}: {ev.filename} ({ev.size} bytes, sha256 {ev.sha256[:16]}...) attached to {ev.control_id} on review {ev.review_id}")
    return 0


def _control_files(ctx: Any) -> list[Any]:
    rows = ctx.client.list_evidence(ctx.args.review)
    if ctx.args.control is None:
        return list(rows)
    wanted = ctx.args.control.strip().upper()
    return [e for e in rows if e.control_id.upper() == wanted]


def cmd_evidence_get(ctx: Any) -> int:
    from review.errors import NotFound

    files = _control_files(ctx)
    if not files:
        raise NotFound(f"control {ctx.args.control!r} of review {ctx.args.review} has no evidence file; "
                       f"`ethics-review evidence list {ctx.args.review}` lists the review's files")
    ctx.args.evidence = files[-1].id
    return cmd_evidence_download(ctx)


def cmd_evidence_list(ctx: Any) -> int:
    rows = _control_files(ctx)
    if ctx.json:
        output.emit_json([e.model_dump(mode="json") for e in rows])
    else:
        output.table(None, ["id", "control", "file", "bytes", "sha256", "by", "when"],
                     [(e.id, e.control_id, e.filename, e.size, e.sha256[:16], e.uploaded_by, when(e.uploaded_at)) for e in rows],
                     caption=f"{len(rows)} evidence file(s)")
    return 0


def cmd_evidence_download(ctx: Any) -> int:
    path = ctx.client.download_evidence(ctx.args.review, ctx.args.evidence, Path(ctx.args.out))
    digest = file_sha256(path)  # the client already refused a file that does not match the recorded hash
    if ctx.json:
        output.emit_json({"path": str(path), "sha256": digest})
    else:
        output.say(f"wrote {path} (sha256 {digest[:16]}..., matches the hash recorded at upload)")
    return 0


def cmd_evidence_verify(ctx: Any) -> int:
    rep = ctx.client.check_evidence(ctx.args.review)
    if ctx.json:
        output.emit_json({"checked": rep.checked, "ok": rep.ok, "problems": rep.problems})
    elif rep.ok:
        output.say(f"{rep.checked} evidence file(s) checked: every one is in the store and matches its SHA-256")
    else:
        for p in rep.problems:
            output.err(p)
        output.say(f"{len(rep.problems)} of {rep.checked} evidence file(s) are missing or changed")
    return 0 if rep.ok else 9


def cmd_verify(ctx: Any) -> int:
    req, step = ctx.client.verify(ctx.args.review, ctx.args.control, ctx.args.verdict, rationale=ctx.args.rationale,
                                  expected_version=ctx.args.expected_version)
    say_step(ctx, step)
    if ctx.json:
        output.emit_json(req.model_dump(mode="json"))
    else:
        output.say(f"control {req.control_id} on review {req.review_id}: {req.status}")
    return 0


def cmd_waive(ctx: Any) -> int:
    req, step = ctx.client.waive(ctx.args.review, ctx.args.control, rationale=ctx.args.rationale)
    say_step(ctx, step)
    if ctx.json:
        output.emit_json(req.model_dump(mode="json"))
    else:
        output.say(f"control {req.control_id} on review {req.review_id}: WAIVED")
    return 0


def cmd_advance(ctx: Any) -> int:
    r, step = ctx.client.advance(ctx.args.review, expected_version=ctx.args.expected_version)
    say_step(ctx, step)
    _report(ctx, r, f"review {r.id} advanced to {r.gate}/{r.status}")
    return 0


def cmd_standing(ctx: Any) -> int:
    r = ctx.client.change_standing(ctx.args.review, ctx.args.standing, rationale=ctx.args.rationale, to_gate=getattr(ctx.args, "to_gate", None),
                                   expected_version=ctx.args.expected_version)
    _report(ctx, r, f"review {r.id}: {ctx.args.standing} recorded; now {r.gate}/{r.status}")
    return 0


def cmd_override(ctx: Any) -> int:
    r = ctx.client.override_grade(ctx.args.review, ctx.args.grade, rationale=ctx.args.rationale, expected_version=ctx.args.expected_version)
    _report(ctx, r, override_summary(r, ctx.args.grade))
    return 0


def cmd_residual(ctx: Any) -> int:
    res = ctx.client.residual(ctx.args.review)
    if ctx.json:
        output.emit_json(res.to_json())
    else:
        output.line("residual grade ", grade_text(res.grade.value), f" (mitigation credit: {res.mitigation or 'none'})")
    return 0


def cmd_conflict(ctx: Any) -> int:
    d = ctx.client.declare_conflict(ctx.args.product, reason=ctx.args.reason)
    if ctx.json:
        output.emit_json(d.model_dump(mode="json"))
    else:
        output.say(f"{d.username} declared a conflict of interest on product {ctx.args.product}: recused from its reviews")
    return 0


def cmd_replay(ctx: Any) -> int:
    rep = ctx.client.replay(ctx.args.review)
    if ctx.json:
        output.emit_json(rep.to_json())
    else:
        verdict = ("matches", "green") if rep.matches else ("DOES NOT MATCH", "red")
        output.line(f"review {rep.review_id}: stored {rep.stored_grade} with {rep.pack} #{rep.pack_hash[:12]}; replayed {rep.replayed_grade}: ", verdict)
        if rep.current_grade is not None or rep.current_matches is False:
            same = "same pack" if rep.current_pack_hash == rep.pack_hash else f"pack changed to #{rep.current_pack_hash[:12]}"
            output.say(f"  with the current pack {rep.current_pack} ({same}): {rep.current_grade or 'cannot grade'}")
        output.say(f"  {rep.detail}")
    return 0 if rep.matches else 1


def cmd_audit_verify(ctx: Any) -> int:
    from review.services import checkpoints

    a = ctx.args
    notes: list[str] = []
    if a.export:
        from review.services.signing import read_public_key

        pub = None
        if a.public_key:
            pub = read_public_key(_read(a.public_key), where=a.public_key)
        extra = [checkpoints.read_file(f) for f in a.checkpoint]
        rep, notes = checkpoints.verify_export(a.export, public_key=pub, extra_checkpoints=extra)
    else:
        rep = ctx.client.verify_audit_log(checkpoints=[checkpoints.read_file(f) for f in a.checkpoint], state=a.state)
    if ctx.json:
        output.emit_json({"rows": rep.rows, "ok": rep.ok, "state_rows": rep.state_rows, "macs_checked": rep.macs_checked,
                          "checkpoints": list(rep.checkpoints), "notes": notes, "problems": [p.__dict__ for p in rep.problems]})
        return 0 if rep.ok else 9
    for line in rep.checkpoints:
        output.say(line)
    for line in notes:
        output.say(line, style="dim")
    if rep.ok:
        parts = [f"{rep.rows} rows, hash chain verified"]
        parts.append("row MACs checked" if rep.macs_checked else "row MACs not checked (no audit key here)")
        if rep.state_rows:
            parts.append(f"{rep.state_rows} state rows match their last logged images")
        output.say("audit log intact: " + "; ".join(parts))
    else:
        for p in rep.problems:
            output.err(f"{p.kind}: {p.detail}" if p.row_id is None else f"audit log row {p.row_id}: {p.kind}: {p.detail}")
        output.err(f"audit log verification FAILED: {len(rep.problems)} problem(s) in {rep.rows} rows")
    return 0 if rep.ok else 9


def _read(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{path}: no such file")
    return p.read_text(encoding="utf-8")


def cmd_audit_checkpoint(ctx: Any) -> int:
    import json

    doc = ctx.client.audit_checkpoint()
    text = json.dumps(doc, indent=2)
    if ctx.args.out:
        Path(ctx.args.out).write_text(text + "\n", encoding="utf-8")
        if not ctx.json:
            output.say(f"checkpoint of row {doc['head_id']} ({doc['rows']} rows) signed by key {doc['key_id']}: {ctx.args.out}")
    if ctx.json or not ctx.args.out:
        print(text)
    return 0


def cmd_audit_export(ctx: Any) -> int:
    if ctx.args.out:
        import os

        target = Path(ctx.args.out)
        tmp = target.with_name(f".{target.name}.partial")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                n = ctx.client.export_audit_log(f)
            os.replace(tmp, target)  # a refused or failed export leaves an existing file as it was
        finally:
            tmp.unlink(missing_ok=True)
        output.say(f"exported {n} audit rows and their checkpoints to {ctx.args.out}")
    else:
        ctx.client.export_audit_log(sys.stdout)
    return 0


def cmd_audit_public_key(ctx: Any) -> int:
    print(output.safe(ctx.client.audit_public_key()), end="")  # in remote mode it comes from the server
    return 0


def cmd_audit_show(ctx: Any) -> int:
    rows = ctx.client.audit_log(review_id=ctx.args.review, limit=ctx.args.limit)
    if ctx.json:
        output.emit_json([r.model_dump(mode="json") for r in rows])
    elif ctx.args.format == "csv":
        output.emit_csv(r.model_dump(mode="json") for r in rows)
    else:
        output.table("Audit log", ["#", "when", "actor", "action", "entity", "after"],
                     [(r.id, when(r.at), r.actor, r.action, f"{r.entity} {r.entity_id}", _short(r.after)) for r in rows])
    return 0


def _short(v: Any) -> str:
    import json

    text = json.dumps(v, ensure_ascii=False, default=str) if v is not None else "-"
    return text if len(text) < 90 else text[:87] + "..."


def _report(ctx: Any, review: Any, message: str) -> None:
    if ctx.json:
        output.emit_json(review.model_dump(mode="json"))
    else:
        output.say(message)
