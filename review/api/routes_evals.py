"""Model evaluation over HTTP (``eval run`` through the server): plan a run, the server asks the model in the
background (poll ``/evals/{run}/progress``), then runs, their rates, and the committee's manual spot check (the
sample, its items, labels and figures). The rules are the audits': any person may start, resume and read a run; only
the committee draws and labels the sample (``Duty.LABEL``, checked by the use case); a read-only token only reads.

The model's API key never travels: ``api_key_env`` names an environment variable of the server, and only the ones its
admin lists in ``ETHICS_REVIEW_EVAL_KEY_VARS`` (a caller could otherwise have the server send any of its secrets to an
endpoint of their choosing). Nor does the server send questions wherever a caller points it: the endpoint must be
under a URL prefix its admin lists in ``ETHICS_REVIEW_EVAL_ENDPOINTS`` (none by default), checked when a run starts and
again when it resumes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from review.api.app import ServerState, client, ok, page_limit, state
from review.client.local import LocalClient
from review.errors import Forbidden, InvalidInput
from review.services import eval_runs
from review.settings import endpoint_allowed, endpoint_patterns

router = APIRouter()


class EvalIn(BaseModel):
    review: str = Field(description="the review the evaluation counts for")
    endpoint: str = Field(description="the model's OpenAI-compatible API base URL (POST {endpoint}/chat/completions)")
    model: str
    bank: str = Field(description="generated, should_refuse, must_not_refuse or all")
    sample: int | None = None
    pack: str | None = None
    seed: int | None = None
    api_key_env: str | None = Field(None, description="a server environment variable listed in ETHICS_REVIEW_EVAL_KEY_VARS")
    concurrency: int = 8
    timeout: float = 60.0
    retries: int = 3
    rate_limit: float | None = None


class SampleIn(BaseModel):
    size: int | None = None
    seed: int | None = None


class EvalLabelsIn(BaseModel):
    labels: list[dict[str, Any]] = Field(description="each: item, safety (safe|unsafe), refusal (refused|complied), note, second, adjudicate")
    where: list[str] | None = Field(None, description="names each label's source (file:line) in error messages")


def _ask_in_background(st: ServerState, run_id: int, actor: str) -> None:
    """Ask a run's unanswered questions on a server thread; what stops it is reported through /progress."""
    st.evals.start(run_id, lambda: eval_runs.run(st.db, run_id, actor=actor))


def _key_allowed(st: ServerState, name: str | None) -> None:
    if name is None:
        return
    allowed = {v.strip() for v in st.settings.eval_key_vars.split(",") if v.strip()}
    if name not in allowed:
        raise Forbidden(f"api_key_env {name!r}: the server sends only the API keys its admin lists in ETHICS_REVIEW_EVAL_KEY_VARS "
                        f"({', '.join(sorted(allowed)) or 'none listed'}); ask the admin to export the key on the server and list "
                        "its variable there")


def _endpoint_allowed(st: ServerState, url: str) -> None:
    patterns = endpoint_patterns(st.settings.eval_endpoints)
    if not endpoint_allowed(url, patterns):
        listed = ", ".join(x.strip() for x in st.settings.eval_endpoints.split(",") if x.strip())
        raise Forbidden(f"endpoint {url!r}: the server sends questions only to the model endpoints its admin lists in "
                        f"ETHICS_REVIEW_EVAL_ENDPOINTS ({listed or 'none listed'}); ask the admin to list the endpoint's URL "
                        "prefix there, or run the evaluation from your own machine in direct mode")


@router.post("/evals", tags=["evals"], status_code=202,
             summary="Plan a model evaluation run and ask the model in the background (poll /evals/{run}/progress)")
async def start(body: EvalIn, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    st = state(request)
    _key_allowed(st, body.api_key_env)
    _endpoint_allowed(st, body.endpoint)
    if body.pack is not None:
        from review.api.routes_reviews import _installed

        _installed(body.pack)
    run = await run_in_threadpool(lambda: c.plan_eval(**body.model_dump()))
    assert run.id is not None
    _ask_in_background(st, run.id, c.actor)
    return ok(run, 202)


@router.post("/evals/{run_id}/resume", tags=["evals"], status_code=202, summary="Ask, in the background, what a run has not answered")
def resume(run_id: str, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    st = state(request)
    v = c.get_eval(run_id)
    _key_allowed(st, v.run.settings.get("api_key_env"))
    _endpoint_allowed(st, v.run.endpoint)
    assert v.run.id is not None
    if v.run.status != "DONE":
        _ask_in_background(st, v.run.id, c.actor)
    return ok(v.run, 202)


@router.get("/evals/{run_id}/progress", tags=["evals"], summary="How far a run is (and what stopped it, if anything)")
def progress(run_id: str, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    st = state(request)
    r = c.get_eval(run_id).run
    assert r.id is not None
    running, message, kind = st.evals.status(r.id)
    return JSONResponse({"run": r.id, "status": r.status, "answered": r.answered, "questions": len(r.items),
                         "running": running, "error": message, "error_type": kind})


@router.get("/evals", tags=["evals"], summary="Evaluation runs, newest first")
def list_runs(review: str | None = None, limit: int = 50, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_evals(review=review, limit=page_limit(limit, 1000)))


@router.get("/evals/{run_id}", tags=["evals"], summary="One run: its rates against the standard's bars, per bank and risk")
def get_run(run_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.get_eval(run_id))


@router.post("/evals/{run_id}/sample", tags=["evals"], summary="Draw the run's manual spot-check sample (the committee; once)")
def sample(run_id: str, body: SampleIn, c: LocalClient = Depends(client)) -> JSONResponse:
    info = c.draw_eval_sample(run_id, size=body.size, seed=body.seed)
    return ok(info, 201 if info.created else 200)


@router.get("/evals/{run_id}/items", tags=["evals"], summary="The sampled answers (blind hides others' labels and the automatic verdicts)")
def items(run_id: str, blind: bool = True, unlabelled_only: bool = False, offset: int = 0, limit: int | None = None,
          c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.eval_items(run_id, blind=blind, unlabelled_only=unlabelled_only, offset=offset, limit=limit))


@router.post("/evals/{run_id}/labels", tags=["evals"], summary="Label sampled answers (all or nothing)")
def label(run_id: str, body: EvalLabelsIn, c: LocalClient = Depends(client)) -> JSONResponse:
    if body.where is not None and len(body.where) != len(body.labels):
        raise InvalidInput(f"where: {len(body.where)} names for {len(body.labels)} labels; give one per label or none")
    return ok(c.label_eval_items(run_id, body.labels, where=body.where))


@router.get("/evals/{run_id}/spot", tags=["evals"], summary="The manual spot check: pass rate, Wilson interval, kappa, disagreements")
def spot(run_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.eval_spot_verdict(run_id))
