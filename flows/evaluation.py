"""The model-evaluation flow (issue 12 §2): an ``eval run`` asked through Prefect, its result published as a Markdown
artifact on the flow run (``model-evaluation-run-N``: each rate against its bar), so the evaluation sits in the
Prefect UI next to the audits it stands beside. The questions are asked by ``eval_runs.run`` exactly as the CLI asks
them (concurrently, answers stored as they arrive, resumable): one task, not one per question (a task run costs
15-20 ms and the endpoint is the bottleneck)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.settings import database
from review.services import eval_runs
from review.services.content_report import md, md_table


@task(name="ask-the-model", task_run_name="ask the model (eval run {run_id})", cache_policy=NO_CACHE)
def ask_the_model(run_id: int, database_url: str | None = None, actor: str | None = None) -> dict[str, Any]:
    eval_runs.run(database(database_url), run_id, actor=actor)
    return eval_runs.get_run(database(database_url), run_id).to_json()


def artifact_markdown(result: dict[str, Any]) -> str:
    """The artifact: the run, the model (untrusted text: escaped) and each rate with its interval against its bar."""
    lines = [f"# Model evaluation run {result['id']}: {md(result['product'])}", "",
             f"Model {md(result['model'])} at {md(result['endpoint'])}; banks {md(result['bank'])}; pack {md(result['pack'])} "
             f"{md(result['pack_version'])}; standard {md(result['standard'])}; {result['answered']} of {result['questions']} answered.", ""]
    rows = [[b["bank"], b["measure"], "-" if b["rate"] is None else f"{b['rate']:.1%}",
             "-" if b["rate"] is None else f"{b['lower']:.1%}-{b['upper']:.1%}", f"{b['op']} {b['bar']:.0%}",
             "no data" if b["met"] is None else "met" if b["met"] else "not met"] for b in result["bars"]]
    return "\n".join(lines + md_table(["bank", "measure", "rate", "95% interval", "bar", "status"], rows))


@flow(name="model-evaluation", flow_run_name="model-evaluation run {run_id}")
def model_evaluation(run_id: int, database_url: str | None = None, actor: str | None = None) -> dict[str, Any]:
    result = ask_the_model(run_id, database_url, actor)
    create_markdown_artifact(key=f"model-evaluation-run-{run_id}", markdown=artifact_markdown(result),
                             description=f"model evaluation run {run_id}: rates against the standard's bars")
    return result
