"""Content-safety audits over HTTP: upload records, the server scans them in the background
(poll ``/progress``), then runs, verdicts, spot-check items, labels and reports."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from review.api.app import ServerState, body_chunks, client, ok, page_limit, state
from review.client.local import LocalClient
from review.errors import InvalidInput
from review.services import content_audit as ca
from review.services import followups

router = APIRouter()
MAX_AUDIT_UPLOAD_BYTES = 64 * 1024 ** 3


class LabelsIn(BaseModel):
    labels: list[dict[str, Any]] = Field(description="each: item, verdict (pass|violation), category, severity, note, second, adjudicate")
    where: list[str] | None = Field(None, description="names each label's source (file:line) in error messages")


def _workers() -> int:
    return max(1, os.cpu_count() or 1)


def _scan_in_background(st: ServerState, run_id: int, actor: str) -> None:
    """Scan a run's pending chunks on a server thread (chunks in worker processes); a re-audit request the run
    serves closes with its verdict, when the spot checks are done. What stops it is reported through /progress."""
    st.audits.start(run_id, lambda: ca.run_inline(st.db, run_id, actor=actor, workers=_workers()))


@router.post("/audits", tags=["audits"], status_code=202,
             summary="Upload JSONL or CSV records and start an audit (scanned in the background; poll /audits/{run}/progress)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def start(request: Request, product: str, filename: str, fmt: str | None = None, chunk: int = 10_000, double_review: bool = False,
                pack: str | None = None, seed: int | None = None, reaudit: str | None = None,
                c: LocalClient = Depends(client)) -> JSONResponse:
    st = state(request)
    if pack is not None:
        from review.api.routes_reviews import _installed

        _installed(pack)
    uploads = st.db.data_dir / "uploads"
    uploads.mkdir(mode=0o700, parents=True, exist_ok=True)
    suffix = Path(filename).suffix.lower() if Path(filename).suffix.lower() in (".jsonl", ".csv", ".json", ".ndjson") else ".jsonl"
    fd, tmp = tempfile.mkstemp(dir=uploads, suffix=suffix)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f:
            async for part in body_chunks(request, MAX_AUDIT_UPLOAD_BYTES, what=filename,
                                          limit=f"{MAX_AUDIT_UPLOAD_BYTES // 1024 ** 3} GiB upload", fix="; split the file"):
                h.update(part)
                f.write(part)
        dest = uploads / f"{h.hexdigest()}{suffix}"
        os.replace(tmp, dest)  # content-addressed: the run reads (and resumes from) this copy
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

    def plan() -> Any:
        req = followups.get_pending_reaudit(st.db, reaudit, product=product)["id"] if reaudit is not None else None
        return ca.start_run(st.db, dest, product=product, actor=c.actor, fmt=fmt, chunk_lines=chunk, double_review=double_review,
                            engine="inline", pack=pack, seed=seed, reaudit=req)

    run = await run_in_threadpool(plan)
    _scan_in_background(st, run.id, c.actor)
    return ok(run, 202)


@router.post("/audits/{run_id}/resume", tags=["audits"], status_code=202, summary="Finish an interrupted run in the background")
def resume(run_id: str, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    c.whoami()
    run = ca.get_run_row(state(request).db, run_id)
    assert run.id is not None
    _scan_in_background(state(request), run.id, c.actor)
    return ok(run, 202)


@router.get("/audits/{run_id}/progress", tags=["audits"], summary="How far a run is (and the error that stopped it, if any)")
def progress(run_id: str, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    st = state(request)
    out = ca.run_progress(st.db, run_id)
    out["scanning"], out["error"], out["error_type"] = st.audits.status(out["run"])
    return JSONResponse(out)


@router.get("/audits", tags=["audits"], summary="Audit runs, newest first")
def list_runs(product: str | None = None, limit: int = 50, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_audits(product=product, limit=page_limit(limit)))


@router.get("/audits/{run_id}", tags=["audits"], summary="One run: counts by category, bad records")
def get_run(run_id: str, bad_limit: int = 50, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.get_audit(run_id, bad_limit=page_limit(bad_limit)))


@router.get("/audits/{run_id}/verdict", tags=["audits"], summary="Pass rate, Wilson interval, kappa")
def verdict(run_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.audit_verdict(run_id))


@router.get("/audits/{run_id}/items", tags=["audits"], summary="Your spot-check items (blind hides other reviewers' labels)")
def items(run_id: str, blind: bool = True, unlabelled_only: bool = False, offset: int = 0, limit: int | None = None,
          c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.sample_items(run_id, blind=blind, unlabelled_only=unlabelled_only, offset=offset, limit=limit))


@router.post("/audits/{run_id}/labels", tags=["audits"], summary="Label spot-check items (all or nothing)")
def label(run_id: str, body: LabelsIn, c: LocalClient = Depends(client)) -> JSONResponse:
    if body.where is not None and len(body.where) != len(body.labels):
        raise InvalidInput(f"where: {len(body.where)} names for {len(body.labels)} labels; give one per label or none")
    return ok(c.label_items(run_id, body.labels, where=body.where))


@router.get("/audits/{run_id}/report", tags=["audits"], summary="The run's report as Markdown and HTML")
def report(run_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.audit_report(run_id))
