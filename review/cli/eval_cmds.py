"""CLI commands: evaluate a generative product's model against the pack's test banks (``eval run``, ``resume``,
``show``, ``list``). They work on the database itself (direct mode), as ``bank import`` does."""

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
    p = ev.add_parser("show", help="one run: rates with Wilson intervals against the standard, per bank and per risk")
    p.add_argument("run")
    p.set_defaults(func=cmd_show)
    p = ev.add_parser("list", help="list evaluation runs")
    p.add_argument("--review", default=None)
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_list)


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


def _actor(ctx: Any) -> str:
    who = ctx.actor_or_none
    if not who:
        raise InvalidInput("who is running the evaluation? pass --as USER (or set ETHICS_REVIEW_USER)")
    return str(who)


def cmd_run(ctx: Any) -> int:
    from review.services import eval_runs

    a = ctx.args
    run = eval_runs.start_run(ctx.db, review=a.review, endpoint=a.endpoint, model=a.model, bank=a.bank, actor=_actor(ctx),
                              sample=a.sample, pack=a.pack, seed=a.seed, api_key_env=a.api_key_env, concurrency=a.concurrency,
                              timeout=a.timeout, retries=a.retries, rate_limit=a.rate_limit)
    if not ctx.json:
        output.say(f"eval run {run.id}: {len(run.items)} question(s) to {run.endpoint} (model {run.model}); "
                   f"resume with `ethics-review eval resume {run.id}` if it stops")
    return _go(ctx, run.id)


def cmd_resume(ctx: Any) -> int:
    return _go(ctx, ctx.args.run)


def _engine(p: Any) -> None:
    p.add_argument("--prefect", action="store_true",
                   help="run as the `model-evaluation` Prefect flow (uses PREFECT_API_URL, else a local ephemeral server): "
                        "the result is also a Markdown artifact on the flow run")


def _go(ctx: Any, run_id: Any) -> int:
    from review.services import eval_runs

    if ctx.args.prefect:
        from flows.evaluation import model_evaluation
        from flows.settings import fast_engine

        with fast_engine():
            result = model_evaluation(run_id=int(eval_runs.get_run(ctx.db, run_id).run.id or 0), database_url=ctx.db.url,
                                      actor=ctx.actor_or_none)
        return _show(ctx, result["id"])
    tick, bar = _progress(ctx)
    with bar:
        run = eval_runs.run(ctx.db, run_id, actor=ctx.actor_or_none, progress=tick)
    return _show(ctx, run.id)


def cmd_show(ctx: Any) -> int:
    return _show(ctx, ctx.args.run)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _show(ctx: Any, run_id: Any) -> int:
    from review.services import eval_runs

    v = eval_runs.get_run(ctx.db, run_id)
    missed = any(b.met is False for b in v.bars)
    code = MISSED if missed else 0
    if ctx.json:
        output.emit_json(v.to_json())
        return code
    r = v.run
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
    return code


def cmd_list(ctx: Any) -> int:
    from review.services import eval_runs

    rows = eval_runs.list_runs(ctx.db, review=ctx.args.review, limit=ctx.args.limit)
    if ctx.json:
        output.emit_json([v.to_json() for v in rows])
        return 0
    output.table(f"Evaluation runs ({len(rows)})", ["run", "review", "product", "model", "bank", "status", "answered", "finished"],
                 [(str(v.run.id), str(v.run.review_id), v.product, v.run.model, v.run.bank, v.run.status,
                   f"{v.run.answered}/{len(v.run.items)}", output.when(v.run.finished_at)) for v in rows])
    return 0
