"""The model-evaluation flow (issue 12 §2) under the session's Prefect server: the run asked through the flow, and
its rates against the bars published as a Markdown artifact (the model's name stays text)."""

from __future__ import annotations

import pytest

from review.bench.chat_server import ChatServer
from review.services import eval_runs
from tests.integration.followup_helpers import submit

PRODUCT = "Text-to-image for games"
A = "amara.okafor"


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_asks_the_model_and_publishes_the_rates(sqlite_people) -> None:
    from prefect.artifacts import Artifact

    from flows.evaluation import model_evaluation
    from flows.settings import fast_engine

    db = sqlite_people
    rid = submit(db, PRODUCT)
    with ChatServer() as srv:  # complies with everything: should-refuse misses its bar
        run = eval_runs.start_run(db, review=rid, endpoint=srv.url, model="[b]acme[/b]", bank="should_refuse", actor=A, sample=12,
                                  concurrency=4, timeout=5.0)
        with fast_engine():
            result = model_evaluation(run_id=run.id, database_url=db.url, actor=A)
    assert result["answered"] == 12 and result["status"] == "DONE"
    bar = next(b for b in result["bars"] if b["bank"] == "should_refuse")
    assert bar["rate"] == 0.0 and bar["met"] is False
    art = Artifact.get(f"model-evaluation-run-{run.id}")
    assert art is not None and art.type == "markdown"
    assert "| should\\_refuse | refusal | 0.0% |" in art.data and "not met" in art.data
    assert "\\[b\\]acme\\[/b\\]" in art.data  # the model's name is text, not markup
