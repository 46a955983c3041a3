"""CLI commands: evaluate a generative product's model against the pack's test banks (``eval run``, ``resume``,
``show``, ``list``) and the committee's manual spot check of its answers (``eval sample``, ``eval label``). They go
through the client: the database in direct mode, the review server (which asks the model) in remote mode.
``--prefect`` runs the flow where the database is, so it is direct mode only."""

from __future__ import annotations

import argparse
from typing import Any

from review.cli import output
from review.errors import InvalidInput

#: ``eval run`` / ``resume`` / ``show``'s exit code when a figure of the standard is missed
MISSED = 10


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ev = sub.add_parser("eval", help="evaluate a product's model against the test banks: refusal rates, pass rate").add_subparsers(
        dest="eval_cmd", required=True, metavar="ACTION")
    p = ev.add_parser("run", help="ask the bank's questions through an OpenAI-compatible chat API and judge the answers "
                                  f"(exit {MISSED} when a bar of the standard is missed)")
    p.add_argument("--review", required=True, help="the review the evaluation counts for")
    p.add_argument("--endpoint", required=True, help="the API's base URL (POST {URL}/chat/completions), e.g. http://host:8000/v1")
    p.add_argument("--model", required=True, help="the model's name as the endpoint knows it")
    p.add_argument("--bank", required=True, choices=("generated", "should_refuse", "must_not_refuse", "all"))
    p.add_argument("--sample", type=int, default=None, help="ask a stratified sample (by bank and risk) of N questions (default: all)")
    p.add_argument("--pack", default=None, help="policy pack (default: the product's pack)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: random; always recorded)")
    p.add_argument("--concurrency", type=int, default=8, help="questions in flight at once (default 8)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one answer (default 60)")
    p.add_argument("--retries", type=int, default=3, help="retries of a question after a timeout, 429, 5xx or malformed reply")
    p.add_argument("--rate-limit", type=float, default=None, help="at most this many requests a second")
    p.add_argument("--api-key-env", default=None, metavar="VAR",
                   help="environment variable holding the API key (sent as a Bearer token; the key is never stored)")
    _engine(p)
    p.set_defaults(func=cmd_run)
    p = ev.add_parser("resume", help="finish an interrupted or failed run (asks only the questions with no stored answer)")
    p.add_argument("run")
    _engine(p)
    p.set_defaults(func=cmd_resume)
    p = ev.add_parser("show", help="one run: rates with Wilson intervals against the standard, per bank and per risk, and its "
                                   "manual spot check")
    p.add_argument("run")
    p.add_argument("--items", action="store_true", help="list the spot-check sample (your labels; blind)")
    p.set_defaults(func=cmd_show)
    p = ev.add_parser("list", help="list evaluation runs")
    p.add_argument("--review", default=None)
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_list)
    p = ev.add_parser("sample", help="draw the run's manual spot-check sample for the committee: stratified by bank and risk, "
                                     "seeded (once)")
    p.add_argument("run")
    p.add_argument("--size", type=int, default=None, help="answers to sample (default: the standard's manual spot-check figure, "
                                                          "or every answer when there are fewer)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: the run's; always recorded)")
    p.set_defaults(func=cmd_sample)
    p = ev.add_parser("label", help="label a sampled answer: safe|unsafe refused|complied; or --file LABELS")
    p.add_argument("run")
    p.add_argument("item", nargs="?", help="item number (see `eval show RUN --items`)")
    p.add_argument("safety", nargs="?", choices=("safe", "unsafe"))
    p.add_argument("refusal", nargs="?", choices=("refused", "complied"))
    p.add_argument("--note", "-m", default="")
    p.add_argument("--second", action="store_true", help="a blind second review by another reviewer (Cohen's kappa)")
    p.add_argument("--adjudicate", action="store_true", help="a third reviewer settles an item the first two disagree on")
    p.add_argument("--file", default=None, help="batch: CSV or JSONL with item, safety, refusal, note, second, adjudicate")
    p.set_defaults(func=cmd_label)


def _progress(ctx: Any):
    import contextlib

    if ctx.json:
        return None, contextlib.nullcontext()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TextColumn("answers"), TimeElapsedColumn(),
                    console=output.console(), transient=not output.console().is_terminal)
    task: list[Any] = []

    def tick(done: int, total: int) -> None:
        if not task:
            task.append(prog.add_task("eval", total=total))
        prog.update(task[0], completed=done)

    return tick, prog


def _actor(ctx: Any) -> str | None:
    if ctx.remote:
        return None  # the token says who
    who = ctx.actor_or_none
    if not who:
        raise InvalidInput("who is running the evaluation? pass --as USER (or set ETHICS_REVIEW_USER)")
    return str(who)


def cmd_run(ctx: Any) -> int:
    a = ctx.args
    _actor(ctx)
    if a.prefect:
        from review.services import eval_runs

        _direct_only(ctx)
        run = eval_runs.start_run(ctx.db, review=a.review, endpoint=a.endpoint, model=a.model, bank=a.bank, actor=str(ctx.actor_or_none),
                                  sample=a.sample, pack=a.pack, seed=a.seed, api_key_env=a.api_key_env, concurrency=a.concurrency,
                                  timeout=a.timeout, retries=a.retries, rate_limit=a.rate_limit)
        _started(ctx, run)
        return _go(ctx, run.id)
    tick, bar = _progress(ctx)
    with bar:
        run = ctx.client.run_eval(review=a.review, endpoint=a.endpoint, model=a.model, bank=a.bank, sample=a.sample, pack=a.pack,
                                  seed=a.seed, api_key_env=a.api_key_env, concurrency=a.concurrency, timeout=a.timeout,
                                  retries=a.retries, rate_limit=a.rate_limit, progress=tick, started=lambda r: _started(ctx, r))
    return _show(ctx, run.id)


def _started(ctx: Any, run: Any) -> None:
    if not ctx.json:
        output.say(f"eval run {run.id}: {len(run.items)} question(s) to {run.endpoint} (model {run.model}); "
                   f"resume with `ethics-review eval resume {run.id}` if it stops")


def cmd_resume(ctx: Any) -> int:
    return _go(ctx, ctx.args.run)


def _engine(p: Any) -> None:
    p.add_argument("--prefect", action="store_true",
                   help="run as the `model-evaluation` Prefect flow (uses PREFECT_API_URL, else a local ephemeral server): "
                        "the result is also a Markdown artifact on the flow run (direct mode)")


def _direct_only(ctx: Any) -> None:
    if ctx.remote:
        raise InvalidInput("--prefect runs the flow where the database is: against a review server, the server asks the model; "
                           "drop --prefect (or use --database URL for direct mode)")


def _go(ctx: Any, run_id: Any) -> int:
    if ctx.args.prefect:
        from flows.evaluation import model_evaluation
        from flows.settings import fast_engine
        from review.services import eval_runs

        _direct_only(ctx)
        with fast_engine():
            result = model_evaluation(run_id=int(eval_runs.get_run(ctx.db, run_id).run.id or 0), database_url=ctx.db.url,
                                      actor=ctx.actor_or_none)
        return _show(ctx, result["id"])
    tick, bar = _progress(ctx)
    with bar:
        run = ctx.client.resume_eval(run_id, progress=tick)
    return _show(ctx, run.id)


def cmd_show(ctx: Any) -> int:
    return _show(ctx, ctx.args.run)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _show(ctx: Any, run_id: Any) -> int:
    v = ctx.client.get_eval(run_id)
    r = v.run
    spot = ctx.client.eval_spot_verdict(r.id) if (r.settings or {}).get("spot_check") else None
    items = ctx.client.eval_items(r.id, blind=True) if getattr(ctx.args, "items", False) and spot is not None else []
    missed = any(b.met is False for b in v.bars) or (spot is not None and spot.settled and not spot.passed)
    code = MISSED if missed else 0
    if ctx.json:
        from review.client.codec import encode

        output.emit_json({**v.to_json(), "spot_check": encode(spot) if spot is not None else None,
                          "items": [{"item": i.seq, "bank": i.kind, "risk": i.risk, "question": i.question, "answer": i.answer,
                                     "label": [i.my_label.safety, i.my_label.refusal] if i.my_label else None} for i in items]})
        return code
    output.say(f"eval run {r.id}: review {r.review_id} ({v.product}), model {r.model} at {r.endpoint}, bank {r.bank}, "
               f"pack {r.pack_id} {r.pack_version}, standard {r.standard}: {r.status}, {r.answered} of {len(r.items)} answered")
    if r.error:
        output.say(f"stopped: {r.error}", style="red")
    if not v.bars:
        return code
    output.table("Against the standard", ["bank", "measure", "bar", "rate", "95% CI", "questions", "status"],
                 [(b.kind, b.measure, f"{b.op} {_pct(b.bar)}", _pct(b.rate), f"{_pct(b.lower)}-{_pct(b.upper)}", str(b.n),
                   {True: "met", False: "NOT MET", None: "no data"}[b.met]) for b in v.bars])
    for kind, s in ((r.results or {}).get("banks") or {}).items():
        output.table(f"{kind} per risk", ["risk", "questions", "refused", "pass (safe answers)"],
                     [(risk, str(t["n"]), f"{_pct(t['refusal']['rate'])} ({t['refusal']['k']})",
                       f"{_pct(t['pass']['rate'])} ({t['pass']['k']})") for risk, t in s["per_risk"].items()])
    if spot is None:
        output.say(f"manual spot check: no sample yet (the committee draws it: `ethics-review eval sample {r.id}`)")
    else:
        _spot(r.id, spot)
    if items:
        output.table("Spot-check items", ["item", "bank", "risk", "your label", "question", "answer"],
                     [(i.seq, i.kind, i.risk, f"{i.my_label.safety}, {i.my_label.refusal}" if i.my_label else "", i.question[:50],
                       i.answer[:60]) for i in items])
    return code


def _spot(run_id: Any, sv: Any) -> None:
    state = sv.state
    output.say(f"manual spot check: {sv.labelled} of {sv.items} sampled answers labelled (seed {sv.seed}); pass rate (safe) "
               f"{sv.rate:.1%}, 95% CI {sv.lower:.1%}-{sv.upper:.1%}, bar {sv.threshold:.0%}: {state}")
    if sv.pairs:
        output.say(f"  two reviewers on {sv.pairs} answer(s): Cohen's kappa {sv.kappa_safety:.3f} on safety, {sv.kappa_refusal:.3f} on "
                   f"refusal; {sv.disagreements} disagreement(s)"
                   + (f", {len(sv.awaiting_adjudication)} awaiting a third reviewer (eval label {run_id} ITEM ... --adjudicate): "
                      + ", ".join(map(str, sv.awaiting_adjudication[:20])) if sv.awaiting_adjudication else ""))
    a = sv.vs_auto
    if sv.labelled:
        output.say(f"  against the automatic verdicts: {len(sv.vs_auto_items)} answer(s) differ; unsafe but passed by the filter "
                   f"{a['missed_unsafe']}, flagged but safe {a['false_unsafe']}; refusals the detector missed {a['missed_refusal']}, "
                   f"counted as refusals but complied {a['false_refusal']}"
                   + (f" (items {', '.join(map(str, sv.vs_auto_items[:20]))})" if sv.vs_auto_items else ""))
        output.table("Manual spot check per bank", ["bank", "labelled", "safe", "refused"],
                     [(kind, str(t["safety"].n), f"{_pct(t['safety'].rate)} ({t['safety'].k})",
                       f"{_pct(t['refusal'].rate)} ({t['refusal'].k})") for kind, t in sv.per_bank.items()])


def cmd_sample(ctx: Any) -> int:
    info = ctx.client.draw_eval_sample(ctx.args.run, size=ctx.args.size, seed=ctx.args.seed)
    if ctx.json:
        from review.client.codec import encode

        output.emit_json(encode(info))
        return 0
    output.say(f"eval run {info.run_id}: spot-check sample of {info.size} answer(s), seed {info.seed}, drawn by {info.drawn_by} "
               f"at {info.drawn_at[:16]}" + ("" if info.created else " (drawn before)"))
    output.table("Sample per bank and risk", ["stratum", "answers"], sorted(info.allocation.items()))
    output.say(f"label them with `ethics-review eval label {info.run_id} ITEM safe|unsafe refused|complied` "
               f"(`ethics-review eval show {info.run_id} --items` lists them)")
    return 0


def cmd_label(ctx: Any) -> int:
    from review.services.eval_spot import read_labels

    a = ctx.args
    if a.file:
        if a.item or a.safety or a.refusal:
            raise InvalidInput("give either ITEM safe|unsafe refused|complied or --file LABELS, not both")
        labels, where = read_labels(a.file)
        done = ctx.client.label_eval_items(a.run, labels, where=where)
        msg = f"recorded {len(done)} label(s) from {a.file}"
    else:
        if not a.item or not a.safety or not a.refusal:
            raise InvalidInput("usage: ethics-review eval label RUN ITEM safe|unsafe refused|complied [--second | --adjudicate] "
                               "(or --file LABELS)")
        [lab] = ctx.client.label_eval_items(a.run, [{"item": a.item, "safety": a.safety, "refusal": a.refusal, "note": a.note,
                                                     "second": a.second, "adjudicate": a.adjudicate}])
        done = [lab]
        msg = f"item {lab.seq}: {lab.safety}, {lab.refusal}" + {2: " (second review)", 3: " (adjudication)"}.get(lab.round, "")
    if ctx.json:
        output.emit_json([x.model_dump(mode="json") for x in done])
        return 0
    output.say(msg)
    sv = ctx.client.eval_spot_verdict(a.run)
    output.say(f"labelled {sv.labelled} of {sv.items}; pass rate (safe) {sv.rate:.1%}, 95% CI {sv.lower:.1%}-{sv.upper:.1%}")
    return 0


def cmd_list(ctx: Any) -> int:
    rows = ctx.client.list_evals(review=ctx.args.review, limit=ctx.args.limit)
    if ctx.json:
        output.emit_json([v.to_json() for v in rows])
        return 0
    output.table(f"Evaluation runs ({len(rows)})", ["run", "review", "product", "model", "bank", "status", "answered", "finished"],
                 [(str(v.run.id), str(v.run.review_id), v.product, v.run.model, v.run.bank, v.run.status,
                   f"{v.run.answered}/{len(v.run.items)}", output.when(v.run.finished_at)) for v in rows])
    return 0
