"""CLI commands: AIGC content-safety audits (run, resume, list, show, label, report)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from review import errors
from review.cli import output


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    aud = sub.add_parser("audit", help="AIGC content-safety audits: scan records, spot-check, verdict, report").add_subparsers(
        dest="audit_cmd", required=True, metavar="ACTION")
    p = aud.add_parser("run", help="audit a JSONL or CSV file of records (id, product, prompt, output, modality, metadata)")
    p.add_argument("file", help="a path, or a URL: file://, http(s)://, s3:// or gs:// (with s3fs / gcsfs)")
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
                   help="processes scanning chunks on this machine, inline or --engine prefect (default: one per core)")
    p.add_argument("--reaudit", metavar="REQUEST", default=None,
                   help="this run answers a content re-audit request opened by a follow-up (closed when the run's verdict is in)")
    _cluster_options(p)
    p.set_defaults(func=cmd_run)
    p = aud.add_parser("reaudits", help="content re-audit requests opened by post-release follow-ups, still pending")
    p.set_defaults(func=cmd_reaudits)
    p = aud.add_parser("resume", help="finish an interrupted run (skips chunks already done)")
    p.add_argument("run")
    p.add_argument("--engine", choices=("inline", "prefect"), default="inline")
    p.add_argument("--prefect", dest="engine", action="store_const", const="prefect")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes scanning chunks on this machine (default: one per core)")
    _cluster_options(p)
    p.set_defaults(func=cmd_resume)
    p = aud.add_parser("list", help="list audit runs")
    p.add_argument("--product", default=None)
    p.add_argument("--limit", type=int, default=50)
    output.csv_option(p)
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
    p.add_argument("--adjudicate", action="store_true",
                   help="double review: a third reviewer settles an item the first two disagree on (before the verdict)")
    p.add_argument("--file", default=None, help="batch: CSV or JSONL with item, verdict, category, severity, note, second, adjudicate")
    p.set_defaults(func=cmd_label)
    clf = aud.add_parser("classifier", help="the pack's offline classifier (a softmax regression)").add_subparsers(
        dest="classifier_cmd", required=True, metavar="ACTION")
    p = clf.add_parser("evaluate", help="its recall and false-positive rate at the pack's threshold")
    p.add_argument("--pack", default="default", help="policy pack (default: default)")
    p.add_argument("--cv", action="store_true", help="recompute the grouped cross-validation from the seed set (slower)")
    p.set_defaults(func=cmd_classifier_evaluate)
    p = aud.add_parser("report", help="write Markdown and HTML reports of a run")
    p.add_argument("run")
    p.add_argument("--out", default=".", help="output directory (default: current)")
    p.set_defaults(func=cmd_report)


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help="run the chunk tasks on this Dask cluster (tcp://HOST:8786) through the Prefect flow; the database must be "
                        "PostgreSQL and the input readable by every worker (pip install 'ethics-review[cluster]')")
    g.add_argument("--dask-workers", type=int, default=0, metavar="N",
                   help="start a local Dask cluster of N worker processes for the chunk tasks (as --cluster, on this machine)")


def _check_cluster(a: Any) -> None:
    """A bad --cluster address fails before the run is planned (nothing written)."""
    if a.cluster:
        from flows.content_audit import check_cluster

        check_cluster(a.cluster)


def _progress(ctx: Any):
    """A progress bar on a terminal (None under --json or when not a terminal): ``(callback, context manager)``."""
    import contextlib

    if ctx.json:
        return None, contextlib.nullcontext()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("[bold]audit {task.fields[run]}"), BarColumn(), MofNCompleteColumn(), TextColumn("lines"),
                    TextColumn("{task.fields[found]} findings"), TimeElapsedColumn(), console=output.console(),
                    transient=not output.console().is_terminal)
    task: list[Any] = []

    def tick(p: dict) -> None:
        if not task:
            task.append(prog.add_task("scan", total=p["lines_total"], run=p["run"], found=0))
        prog.update(task[0], completed=p["lines_done"], found=p["findings"])

    return tick, prog


def _workers(ctx: Any) -> int:
    w = getattr(ctx.args, "workers", 1) or 1
    if w < 1:
        from review.errors import InvalidInput

        raise InvalidInput(f"--workers {w}: give 1 or more processes")
    return w


def cmd_run(ctx: Any) -> int:
    a = ctx.args
    tick, bar = _progress(ctx)

    def started(run: Any) -> None:
        if not ctx.json:
            output.say(f"audit run {run.id}: {run.chunks_total} chunk(s) of up to {a.chunk:,} records from {a.file}")

    _check_cluster(a)
    with bar:
        run = ctx.client.run_audit(a.file, product=a.product, fmt=a.fmt, chunk_lines=a.chunk, double_review=a.double_review, pack=a.pack,
                                   seed=a.seed, reaudit=a.reaudit, engine=a.engine, workers=_workers(ctx), progress=tick, started=started,
                                   cluster=a.cluster, dask_workers=a.dask_workers)
    if a.reaudit is not None and not ctx.json:
        output.say(f"audit run {run.id} serves content re-audit request {a.reaudit}: it closes when the spot-check verdict is in")
    return _summary(ctx, run.id)


def cmd_reaudits(ctx: Any) -> int:
    rows = ctx.client.pending_reaudits()
    if ctx.json:
        output.emit_json(rows)
    else:
        output.table(f"Pending content re-audits ({len(rows)})", ["request", "product", "review", "follow-up check", "reason", "opened"],
                     [(r["id"], r["product"], r["review_id"], r["check_id"], r["reason"], r["created_at"][:16]) for r in rows])
    return 0


def cmd_resume(ctx: Any) -> int:
    d = ctx.client.get_audit(ctx.args.run, bad_limit=1)
    if not ctx.json:
        output.say(f"audit run {d.run.id}: {d.run.chunks_total - d.chunks_done} of {d.run.chunks_total} chunk(s) left to scan")
    _check_cluster(ctx.args)
    tick, bar = _progress(ctx)
    with bar:
        ctx.client.resume_audit(d.run.id, engine=ctx.args.engine, workers=_workers(ctx), progress=tick, cluster=ctx.args.cluster,
                                dask_workers=ctx.args.dask_workers)
    return _summary(ctx, d.run.id)


def _summary(ctx: Any, run_id: int) -> int:
    d = ctx.client.get_audit(run_id, bad_limit=10)
    r = d.run
    if r.status == "FAILED" and r.records == 0:
        for b in d.bad[1:]:
            output.err(f"bad: {b.message}")
        raise errors.InvalidInput(f"{r.source}: no valid record to audit ({r.bad_records:,} rejected"
                           + (f"; the first: {d.bad[0].message}" if d.bad else "; the file holds none")
                           + f"); fix the file and start a new run (audit run {r.id} is FAILED)")
    if ctx.json:
        output.emit_json({"run": r.id, "status": r.status, "records": r.records, "bad_records": r.bad_records,
                          "flagged_records": r.flagged_records, "not_examined": r.not_examined, "findings": r.findings,
                          "sample_size": r.sample_size, "seed": r.seed, "bad": [b.message for b in d.bad]})
        return 0
    output.say(f"run {r.id} {r.status}: {r.records:,} records, {r.flagged_records:,} flagged, {r.findings:,} findings, "
               f"{r.bad_records:,} bad record(s) skipped; spot-check sample {r.sample_size:,} items (seed {r.seed})")
    _not_examined(r)
    for b in d.bad:
        output.say(f"  bad: {b.message}", style="yellow")
    if r.bad_records > len(d.bad):
        output.say(f"  ... and {r.bad_records - len(d.bad)} more (`ethics-review audit report {r.id}` lists them)", style="yellow")
    return 0


def _not_examined(r: Any) -> None:
    if r.not_examined:
        output.say(f"  {r.not_examined:,} image/audio/video record(s) not examined: only a URI, no caption, OCR or transcript the pack "
                   "names (content_safety.media_text_fields); neither clean nor passed", style="yellow")


def cmd_list(ctx: Any) -> int:
    rows = ctx.client.list_audits(product=ctx.args.product, limit=ctx.args.limit)
    if ctx.json or ctx.args.format == "csv":
        records = [{**r.model_dump(mode="json"), "product": n} for r, n in rows]
        output.emit_json(records) if ctx.json else output.emit_csv(records)
        return 0
    output.table("Audit runs", ["run", "product", "status", "records", "flagged", "findings", "bad", "sample", "started"],
                 [(r.id, n, r.status, f"{r.records:,}", f"{r.flagged_records:,}", f"{r.findings:,}", r.bad_records, r.sample_size,
                   output.when(r.created_at)) for r, n in rows])
    return 0


def cmd_show(ctx: Any) -> int:
    from review.services.content_report import verdict_word

    d = ctx.client.get_audit(ctx.args.run)
    v = ctx.client.audit_verdict(d.run.id)
    items = ctx.client.sample_items(d.run.id, blind=True) if ctx.args.items else []
    if ctx.json:
        output.emit_json({"run": d.run.model_dump(mode="json"), "product": d.product, "chunks_done": d.chunks_done,
                          "by_category": d.by_category, "bad": [b.message for b in d.bad], "verdict": v.__dict__,
                          "items": [{"item": i.seq, "record": i.record_id, "flagged": i.flagged, "categories": i.categories,
                                     "label": i.my_label.verdict if i.my_label else None} for i in items]})
        return 0
    r = d.run
    output.line((f"audit run {r.id}", "bold"), f" {d.product} {r.status}: {d.chunks_done}/{r.chunks_total} chunks, {r.records:,} records, "
                f"{r.flagged_records:,} flagged, {r.findings:,} findings, {r.bad_records:,} bad; pack {r.pack_id} {r.pack_version}, seed {r.seed}")
    _not_examined(r)
    output.table("Findings", ["category", "severity", "findings", "records"], d.by_category)
    output.say(f"labelled {v.labelled}/{v.items}; pass rate {v.rate:.1%} [{v.lower:.1%}, {v.upper:.1%}] vs {v.threshold:.0%}: {verdict_word(v)}"
               + (f"; kappa {v.kappa:.3f} ({v.pairs} pairs)" if v.kappa is not None else ""))
    if r.review_id is not None:
        output.say(f"counts for review R-{r.review_id}" + (f", control {r.control_id}" if r.control_id else " (it requires no audit control)")
                   + (f"; verdict {r.verdict.upper()} since {output.when(r.verdict_at)}" if r.verdict else "; the verdict is not in yet"))
    if v.awaiting_adjudication:
        output.say(f"{len(v.awaiting_adjudication)} disagreement(s) wait for a third reviewer (audit label {r.id} ITEM VERDICT --adjudicate): "
                   + ", ".join(map(str, v.awaiting_adjudication[:20])), style="yellow")
    elif v.awaiting_second:
        output.say(f"{v.awaiting_second} item(s) wait for their second review", style="yellow")
    for b in d.bad[:10]:
        output.say(f"  bad: {b.message}", style="yellow")
    if items:
        output.table("Spot-check items", ["item", "record", "flagged", "categories", "your label", "output"],
                     [(i.seq, i.record_id, "yes" if i.flagged else "", ",".join(i.categories), i.my_label.verdict if i.my_label else "",
                       i.output[:60]) for i in items])
    return 0


def cmd_label(ctx: Any) -> int:
    from review.errors import InvalidInput
    from review.services.content_labels import read_label_file

    a = ctx.args
    if a.file:
        if a.item or a.verdict:
            raise InvalidInput("give either ITEM pass|violation or --file LABELS, not both")
        labels, where = read_label_file(a.file)
        done = ctx.client.label_items(a.run, labels, where=where)
        msg = f"recorded {len(done)} label(s) from {a.file}"
    else:
        if not a.item or not a.verdict:
            raise InvalidInput("usage: ethics-review audit label RUN ITEM pass|violation [--category C --severity N] (or --file LABELS)")
        lab = ctx.client.label_item(a.run, a.item, a.verdict, category=a.category, severity=a.severity, note=a.note, second=a.second,
                                    adjudicate=a.adjudicate)
        done = [lab]
        msg = f"item {lab.seq}: {lab.verdict}" + (f" {lab.category} (severity {lab.severity})" if lab.category else "") + \
            {2: " (second review)", 3: " (adjudication)"}.get(lab.round, "")
    if ctx.json:
        output.emit_json([x.model_dump(mode="json") for x in done])
        return 0
    output.say(msg)
    v = ctx.client.audit_verdict(a.run)
    if v.final:
        output.say(f"the verdict is in: {v.final.upper()} (pass rate {v.rate:.1%}, {v.confidence:.0%} interval {v.lower:.1%}-{v.upper:.1%}, "
                   f"bar {v.threshold:.0%}); `ethics-review audit show {a.run}` says what it did", style="bold")
    elif v.awaiting_adjudication:
        output.say(f"{len(v.awaiting_adjudication)} item(s) wait for a third reviewer (--adjudicate): "
                   + ", ".join(map(str, v.awaiting_adjudication[:20])))
    return 0


def cmd_classifier_evaluate(ctx: Any) -> int:
    from review.services.content_audit import evaluate_classifier

    ev = evaluate_classifier(ctx.args.pack, cv=ctx.args.cv)
    if ctx.json:
        output.emit_json(ev)
        return 0
    output.say(f"classifier of pack {ev['pack']} {ev['version']}: softmax regression ({ev['kind']}, weights v{ev['weights_version']}), "
               f"threshold {ev['threshold']}")
    rows = []
    for name, what in (("held_out", "held out"), ("unseen", "never trained on")):
        r = ev.get(name)
        if r:
            rows.append((what, f"{r['recall']:.1%} of {r['harmful']}", f"{r['false_positive_rate']:.2%} of {r['benign']}",
                         r.get("source", "benign sentences; obvious harmful requests")))
    output.table("Recall and false-positive rate", ["set", "recall (harmful)", "false positives (benign)", "measured on"], rows)
    if ev.get("held_out") is None:
        output.say("no held-out figures stored for this threshold: run with --cv", style="yellow")
    return 0


def cmd_report(ctx: Any) -> int:
    from review.services.content_report import write_report_files

    rep = ctx.client.audit_report(ctx.args.run)
    md, htm = write_report_files(rep.run_id, rep.markdown, rep.html, ctx.args.out or os.getcwd())
    if ctx.json:
        output.emit_json({"markdown": str(md), "html": str(htm)})
    else:
        output.say(f"wrote {md} and {htm}")
    return 0
