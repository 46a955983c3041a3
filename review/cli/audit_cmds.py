"""CLI commands: AIGC content-safety audits (run, resume, list, show, label, report)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from review.cli import output


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    aud = sub.add_parser("audit", help="AIGC content-safety audits: scan records, spot-check, verdict, report").add_subparsers(
        dest="audit_cmd", required=True, metavar="ACTION")
    p = aud.add_parser("run", help="audit a JSONL or CSV file of records (id, product, prompt, output, modality, metadata)")
    p.add_argument("file")
    p.add_argument("--product", required=True, help="the registered product the records come from")
    p.add_argument("--engine", choices=("inline", "prefect"), default="inline",
                   help="inline (default: in this process, no Prefect server) or prefect (the aigc_content_audit flow)")
    p.add_argument("--prefect", dest="engine", action="store_const", const="prefect", help="same as --engine prefect")
    p.add_argument("--format", dest="fmt", choices=("jsonl", "csv"), default=None, help="default: from the file extension")
    p.add_argument("--chunk", type=int, default=10_000, help="records per chunk (default 10000)")
    p.add_argument("--double-review", action="store_true", help="every item gets a blind second review (Cohen's kappa)")
    p.add_argument("--pack", default=None, help="policy pack (default: the product's pack)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: the plan's, else random; always recorded)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes scanning chunks with --engine inline (default: one per core)")
    p.add_argument("--reaudit", metavar="REQUEST", default=None,
                   help="this run answers a content re-audit request opened by a follow-up (closed when the run completes)")
    p.set_defaults(func=cmd_run)
    p = aud.add_parser("reaudits", help="content re-audit requests opened by post-release follow-ups, still pending")
    p.set_defaults(func=cmd_reaudits)
    p = aud.add_parser("resume", help="finish an interrupted run (skips chunks already done)")
    p.add_argument("run")
    p.add_argument("--engine", choices=("inline", "prefect"), default="inline")
    p.add_argument("--prefect", dest="engine", action="store_const", const="prefect")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes scanning chunks (inline engine)")
    p.set_defaults(func=cmd_resume)
    p = aud.add_parser("list", help="list audit runs")
    p.add_argument("--product", default=None)
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_list)
    p = aud.add_parser("show", help="one run: counts, bad records, verdict; --items lists the spot-check sample")
    p.add_argument("run")
    p.add_argument("--items", action="store_true", help="list the sample items (yours labelled or not)")
    p.set_defaults(func=cmd_show)
    p = aud.add_parser("label", help="label a spot-check item: pass, or violation --category C [--severity N]; or --file LABELS")
    p.add_argument("run")
    p.add_argument("item", nargs="?", help="item number (see `audit show RUN --items`)")
    p.add_argument("verdict", nargs="?", choices=("pass", "violation"))
    p.add_argument("--category", default=None)
    p.add_argument("--severity", type=int, default=None)
    p.add_argument("--note", "-m", default="")
    p.add_argument("--second", action="store_true", help="a blind second review by another reviewer")
    p.add_argument("--file", default=None, help="batch: CSV or JSONL with item, verdict, category, severity, note, second")
    p.set_defaults(func=cmd_label)
    p = aud.add_parser("report", help="write Markdown and HTML reports of a run")
    p.add_argument("run")
    p.add_argument("--out", default=".", help="output directory (default: current)")
    p.set_defaults(func=cmd_report)


def _run_engine(ctx: Any, run_id: int, engine: str) -> Any:
    from review.services import content_audit as ca

    if engine == "prefect":
        from flows.content_audit import aigc_content_audit

        aigc_content_audit(run_id=run_id, database_url=ctx.db.url, actor=ctx.actor_or_none)
        return ca.get_run_row(ctx.db, run_id)
    descs = ca.chunk_descriptors(ctx.db, run_id)
    if ctx.json or not descs:
        return ca.run_inline(ctx.db, run_id, actor=ctx.actor_or_none, workers=_workers(ctx))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total_lines = sum(d["lines"] for d in descs)
    with Progress(TextColumn("[bold]audit {task.fields[run]}"), BarColumn(), MofNCompleteColumn(), TextColumn("lines"),
                  TextColumn("{task.fields[found]} findings"), TimeElapsedColumn(), console=output.console(),
                  transient=not output.console().is_terminal) as prog:
        task = prog.add_task("scan", total=total_lines, run=run_id, found=0)
        found = 0
        sizes = {d["seq"]: d["lines"] for d in descs}

        def tick(out: dict) -> None:
            nonlocal found
            found += out["findings"]
            prog.update(task, advance=sizes.get(out["seq"], 0), found=found)

        return ca.run_inline(ctx.db, run_id, progress=tick, actor=ctx.actor_or_none, workers=_workers(ctx))


def _workers(ctx: Any) -> int:
    w = getattr(ctx.args, "workers", 1) or 1
    if w < 1:
        from review.errors import InvalidInput

        raise InvalidInput(f"--workers {w}: give 1 or more processes")
    return w


def cmd_run(ctx: Any) -> int:
    from review.services import content_audit as ca

    from review.services import followups

    a = ctx.args
    if a.reaudit is not None:  # check before anything is written
        followups.get_pending_reaudit(ctx.db, a.reaudit, product=a.product)
    run = ca.start_run(ctx.db, a.file, product=a.product, actor=ctx.actor, fmt=a.fmt, chunk_lines=a.chunk,
                       double_review=a.double_review, engine=a.engine, pack=a.pack, seed=a.seed)
    if not ctx.json:
        output.say(f"audit run {run.id}: {run.chunks_total} chunk(s) of up to {a.chunk:,} records from {a.file}")
    run = _run_engine(ctx, run.id, a.engine)
    if a.reaudit is not None:
        followups.complete_reaudit(ctx.db, int(a.reaudit), actor=ctx.actor, note=f"content audit run {run.id}")
        if not ctx.json:
            output.say(f"content re-audit request {a.reaudit} closed by audit run {run.id}")
    return _summary(ctx, run.id)


def cmd_reaudits(ctx: Any) -> int:
    from review.services.followups import pending_reaudits

    rows = pending_reaudits(ctx.db)
    if ctx.json:
        output.emit_json(rows)
    else:
        output.table(f"Pending content re-audits ({len(rows)})", ["request", "product", "review", "follow-up check", "reason", "opened"],
                     [(r["id"], r["product"], r["review_id"], r["check_id"], r["reason"], r["created_at"][:16]) for r in rows])
    return 0


def cmd_resume(ctx: Any) -> int:
    from review.services import content_audit as ca

    run = ca.get_run_row(ctx.db, ctx.args.run)
    left = len(ca.chunk_descriptors(ctx.db, run.id))
    if not ctx.json:
        output.say(f"audit run {run.id}: {left} of {run.chunks_total} chunk(s) left to scan")
    _run_engine(ctx, run.id, ctx.args.engine)
    return _summary(ctx, run.id)


def _summary(ctx: Any, run_id: int) -> int:
    from review.services import content_audit as ca

    d = ca.get_run(ctx.db, run_id, bad_limit=10)
    r = d.run
    if ctx.json:
        output.emit_json({"run": r.id, "status": r.status, "records": r.records, "bad_records": r.bad_records,
                          "flagged_records": r.flagged_records, "findings": r.findings, "sample_size": r.sample_size, "seed": r.seed,
                          "bad": [b.message for b in d.bad]})
        return 0
    output.say(f"run {r.id} {r.status}: {r.records:,} records, {r.flagged_records:,} flagged, {r.findings:,} findings, "
               f"{r.bad_records:,} bad record(s) skipped; spot-check sample {r.sample_size:,} items (seed {r.seed})")
    for b in d.bad:
        output.say(f"  bad: {_esc(b.message)}", style="yellow")
    if r.bad_records > len(d.bad):
        output.say(f"  ... and {r.bad_records - len(d.bad)} more (`ethics-review audit report {r.id}` lists them)", style="yellow")
    return 0


def cmd_list(ctx: Any) -> int:
    from review.services import content_audit as ca

    rows = ca.list_runs(ctx.db, product=ctx.args.product, limit=ctx.args.limit)
    if ctx.json:
        output.emit_json([{**r.model_dump(mode="json"), "product": n} for r, n in rows])
        return 0
    output.table("Audit runs", ["run", "product", "status", "records", "flagged", "findings", "bad", "sample", "started"],
                 [(r.id, n, r.status, f"{r.records:,}", f"{r.flagged_records:,}", f"{r.findings:,}", r.bad_records, r.sample_size,
                   output.when(r.created_at)) for r, n in rows])
    return 0


def cmd_show(ctx: Any) -> int:
    from review.services import content_audit as ca
    from review.services import content_report
    from review.services.content_report import verdict_word

    d = ca.get_run(ctx.db, ctx.args.run)
    v = content_report.verdict(ctx.db, d.run.id)
    items = ca.sample_items(ctx.db, d.run.id, ctx.actor, blind=True) if ctx.args.items else []
    if ctx.json:
        output.emit_json({"run": d.run.model_dump(mode="json"), "product": d.product, "chunks_done": d.chunks_done,
                          "by_category": d.by_category, "bad": [b.message for b in d.bad], "verdict": v.__dict__,
                          "items": [{"item": i.seq, "record": i.record_id, "flagged": i.flagged, "categories": i.categories,
                                     "label": i.my_label.verdict if i.my_label else None} for i in items]})
        return 0
    r = d.run
    output.say(f"[bold]audit run {r.id}[/bold] {d.product} {r.status}: {d.chunks_done}/{r.chunks_total} chunks, {r.records:,} records, "
               f"{r.flagged_records:,} flagged, {r.findings:,} findings, {r.bad_records:,} bad; pack {r.pack_id} {r.pack_version}, seed {r.seed}")
    output.table("Findings", ["category", "severity", "findings", "records"], d.by_category)
    output.say(f"labelled {v.labelled}/{v.items}; pass rate {v.rate:.1%} [{v.lower:.1%}, {v.upper:.1%}] vs {v.threshold:.0%}: {verdict_word(v)}"
               + (f"; kappa {v.kappa:.3f} ({v.pairs} pairs)" if v.kappa is not None else ""))
    for b in d.bad[:10]:
        output.say(f"  bad: {_esc(b.message)}", style="yellow")
    if items:
        output.table("Spot-check items", ["item", "record", "flagged", "categories", "your label", "output"],
                     [(i.seq, i.record_id, "yes" if i.flagged else "", ",".join(i.categories), i.my_label.verdict if i.my_label else "",
                       i.output[:60]) for i in items])
    return 0


def cmd_label(ctx: Any) -> int:
    from review.errors import InvalidInput
    from review.services import content_labels
    from review.services.content_labels import read_label_file

    a = ctx.args
    if a.file:
        if a.item or a.verdict:
            raise InvalidInput("give either ITEM pass|violation or --file LABELS, not both")
        labels, where = read_label_file(a.file)
        done = content_labels.label_items(ctx.db, a.run, ctx.actor, labels, where=lambda k: where[k])
        msg = f"recorded {len(done)} label(s) from {a.file}"
    else:
        if not a.item or not a.verdict:
            raise InvalidInput("usage: ethics-review audit label RUN ITEM pass|violation [--category C --severity N] (or --file LABELS)")
        lab = content_labels.label_item(ctx.db, a.run, a.item, ctx.actor, a.verdict, category=a.category, severity=a.severity, note=a.note,
                            second=a.second)
        done = [lab]
        msg = f"item {lab.seq}: {lab.verdict}" + (f" {lab.category} (severity {lab.severity})" if lab.category else "") + \
            (" (second review)" if lab.round == 2 else "")
    if ctx.json:
        output.emit_json([x.model_dump(mode="json") for x in done])
    else:
        output.say(_esc(msg))
    return 0


def cmd_report(ctx: Any) -> int:
    from review.services.content_report import write_report

    md, htm = write_report(ctx.db, ctx.args.run, ctx.args.out or os.getcwd())
    if ctx.json:
        output.emit_json({"markdown": str(md), "html": str(htm)})
    else:
        output.say(f"wrote {md} and {htm}")
    return 0
