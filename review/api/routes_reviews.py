"""Reviews: submit, list, show, assign, decide, evidence, verify, waive, advance, standing, grade,
residual, replay, conflicts; policy lookups, the dashboard and the audit log."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from review.api.app import body_chunks, client, ok, page_limit, principal, read_body, state
from review.client.codec import encode
from review.client.local import LocalClient
from review.errors import InvalidInput
from review.services.queries import ReviewFilter
from review.services.tokens import Principal

router = APIRouter()


class Versioned(BaseModel):
    expected_version: int | None = Field(None, description="refuse (409) if the review changed since this version")


class AssignIn(Versioned):
    assignee: str | None = Field(None, description="default: you")


class DecisionIn(BaseModel):
    decision: str = Field(description="approve, request-changes or reject")
    rationale: str
    expected_version: int | None = Field(None, description="refuse (409) if the review changed since this version")


class VerdictIn(BaseModel):
    verdict: str = Field(description="pass or fail")
    rationale: str = ""
    expected_version: int | None = Field(None, description="refuse (409) if the review changed since this version")


class RationaleIn(BaseModel):
    rationale: str


class StandingIn(Versioned):
    action: str = Field(description="suspend, resume, withdraw or reopen")
    rationale: str
    to_gate: str | None = Field(None, description="with reopen: INITIATION, DEVELOPMENT or RELEASE")


class OverrideIn(Versioned):
    grade: str
    rationale: str


class ConflictIn(BaseModel):
    product: str
    reason: str


def _stepped(pair: tuple[Any, Any], key: str) -> dict[str, Any]:
    value, step = pair
    return {key: encode(value), "step": encode(step)}


# ---- submit, list, show ------------------------------------------------------------------------
@router.post("/reviews", tags=["reviews"], status_code=201, summary="Submit a product for its initiation review",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object", "properties": {"product": {"type": "object"}, "answers": {"type": "object"}}}},
                 "application/yaml": {"schema": {"type": "string"}}}}})
async def submit(request: Request, source: str = "submission", c: LocalClient = Depends(client)) -> JSONResponse:
    """The product file (``{product: {...}, answers: {...}}``) as JSON, or as YAML with ``Content-Type: application/yaml``.
    ``source`` names the file in error messages."""
    from policies.loader import parse_yaml

    from review.limits import PRODUCT_FILE_ENV, product_file_bytes

    raw = await read_body(request, product_file_bytes(), what=f"{source} (raise {PRODUCT_FILE_ENV} on the server)")
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        doc = parse_yaml(raw, source)
    else:
        try:
            doc = json.loads(raw or b"null")
        except ValueError as exc:
            raise InvalidInput(f"{source}: malformed JSON: {exc}; send the product file as JSON or with Content-Type: application/yaml") from None
    return JSONResponse(_stepped(await run_in_threadpool(c.submit, doc, source=source), "review"), status_code=201)


@router.get("/reviews", tags=["reviews"], summary="Reviews, filtered, sorted and paged")
def list_reviews(gate: str | None = None, status: str | None = None, grade: str | None = None, assignee: str | None = None,
                 mine: bool = False, team: str | None = None, overdue: bool = False, search: str | None = None, sort: str = "id",
                 asc: bool = False, limit: int = 50, offset: int = 0, with_total: bool = True, count_cap: int | None = None,
                 c: LocalClient = Depends(client)) -> JSONResponse:
    f = ReviewFilter(gate=gate, status=status, grade=grade, assignee=c.actor if mine else assignee, overdue=overdue, search=search, team=team)
    return ok(c.list_reviews(f, sort=sort, descending=not asc, limit=limit, offset=offset, with_total=with_total, count_cap=count_cap))


@router.get("/reviews/{review_id}", tags=["reviews"], summary="One review in full")
def show(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.show_review(review_id))


@router.get("/reviews/{review_id}/permissions", tags=["reviews"], summary="What you may do on this review now, and why not")
def permissions(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.permissions(review_id))


@router.get("/reviews/{review_id}/assignees", tags=["reviews"], summary="Committee members and whether each may take the review")
def assignees(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.assignees(review_id))


@router.post("/reviews/{review_id}/submit", tags=["reviews"], summary="Submit the review's current gate")
def submit_gate(review_id: str, body: Versioned | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    return JSONResponse(_stepped(c.submit_gate(review_id, expected_version=body.expected_version if body else None), "review"))


# ---- committee actions -------------------------------------------------------------------------
@router.post("/reviews/{review_id}/assign", tags=["reviews"], summary="Assign a reviewer (SUBMITTED -> IN_REVIEW)")
def assign(review_id: str, body: AssignIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.assign(review_id, body.assignee, expected_version=body.expected_version))


@router.post("/reviews/{review_id}/decisions", tags=["reviews"], summary="Approve, request changes or reject, with a rationale")
def decide(review_id: str, body: DecisionIn, c: LocalClient = Depends(client)) -> JSONResponse:
    out, step = c.decide(review_id, body.decision, rationale=body.rationale, expected_version=body.expected_version)
    return JSONResponse({"outcome": encode(out), "step": encode(step)})


@router.post("/reviews/{review_id}/controls/{control_id}/verify", tags=["controls"], summary="Verify a control's evidence: pass or fail")
def verify(review_id: str, control_id: str, body: VerdictIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return JSONResponse(_stepped(c.verify(review_id, control_id, body.verdict, rationale=body.rationale,
                                          expected_version=body.expected_version), "control"))


@router.post("/reviews/{review_id}/controls/{control_id}/waive", tags=["controls"], summary="Waive a control (chair), with a rationale")
def waive(review_id: str, control_id: str, body: RationaleIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return JSONResponse(_stepped(c.waive(review_id, control_id, rationale=body.rationale), "control"))


@router.post("/reviews/{review_id}/advance", tags=["reviews"], summary="Move an approved review to the next gate")
def advance(review_id: str, body: Versioned | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    return JSONResponse(_stepped(c.advance(review_id, expected_version=body.expected_version if body else None), "review"))


@router.post("/reviews/{review_id}/standing", tags=["reviews"], summary="Suspend, resume, withdraw or reopen, with a rationale")
def standing(review_id: str, body: StandingIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.change_standing(review_id, body.action, rationale=body.rationale, to_gate=body.to_gate, expected_version=body.expected_version))


@router.post("/reviews/{review_id}/grade-override", tags=["reviews"], summary="Override the grade (chair), with a rationale")
def override(review_id: str, body: OverrideIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.override_grade(review_id, body.grade, rationale=body.rationale, expected_version=body.expected_version))


@router.get("/reviews/{review_id}/residual", tags=["reviews"], summary="The residual grade (credit for verified controls only)")
def residual(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.residual(review_id))


@router.get("/reviews/{review_id}/replay", tags=["reviews"], summary="Recompute the grade from the stored answers and pack")
def replay(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.replay(review_id))


@router.get("/reviews/{review_id}/notifications", tags=["reviews"], summary="Every notification about this review")
def review_notifications(review_id: str, limit: int = 100, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.review_notifications(review_id, limit=page_limit(limit)))


@router.post("/conflicts", tags=["reviews"], status_code=201, summary="Declare a conflict of interest on a product (you are recused)")
def conflict(body: ConflictIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.declare_conflict(body.product, reason=body.reason), 201)


# ---- evidence ----------------------------------------------------------------------------------
@router.post("/reviews/{review_id}/controls/{control_id}/evidence", tags=["controls"], status_code=201,
             summary="Attach a file as evidence (the raw file is the body; ?filename= names it)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def add_evidence(review_id: str, control_id: str, filename: str, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    st = state(request)
    incoming = st.db.data_dir / "incoming"
    incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=incoming)
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in body_chunks(request, st.settings.max_evidence_mb * 1024 * 1024, what=filename,
                                           limit=f"{st.settings.max_evidence_mb} MiB evidence",
                                           fix=" (ETHICS_REVIEW_MAX_EVIDENCE_MB on the server)"):
                f.write(chunk)
        ev = await run_in_threadpool(c.add_evidence_upload, review_id, control_id, Path(tmp), filename=filename)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return ok(ev, 201)


@router.get("/reviews/{review_id}/evidence", tags=["controls"], summary="Evidence files attached to a review")
def list_evidence(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_evidence(review_id))


@router.get("/reviews/{review_id}/evidence/{evidence_id}", tags=["controls"], summary="Download one evidence file")
def download_evidence(review_id: str, evidence_id: str, c: LocalClient = Depends(client)) -> FileResponse:
    ev, path = c.evidence_file(review_id, evidence_id)
    return FileResponse(path, media_type="application/octet-stream", filename=ev.filename,
                        headers={"X-Content-SHA256": ev.sha256, "X-Content-Type-Options": "nosniff"})


@router.get("/reviews/{review_id}/report", tags=["reviews"], summary="The review's dossier as Markdown and HTML")
def review_report(review_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.review_report(review_id))


@router.get("/reports/process", tags=["reviews"], summary="The review process over a period, along the six dimensions")
def process_report(start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"), now: datetime | None = None,
                   c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.process_report(start, end, now=now))


@router.get("/evidence/check", tags=["controls"], summary="Every evidence file (of one review, or all) is in the store and unchanged")
def check_evidence(review: str | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.check_evidence(review))


# ---- policies, dashboard, audit log -------------------------------------------------------------
@router.get("/policies/{pack}/labels", tags=["policies"], summary="Question texts and option labels of a pack")
def labels(pack: str, c: LocalClient = Depends(client)) -> JSONResponse:
    questions, options = c.questionnaire_labels(pack)
    return JSONResponse({"questions": questions, "options": [[q, o, label] for (q, o), label in options.items()]})


@router.get("/policies/{pack}/categories", tags=["policies"], summary="A pack's content categories (code, title, default severity)")
def categories(pack: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.pack_categories(pack))


@router.get("/policies/{pack}/preview", tags=["policies"], summary="Which reviews would change grade under an installed pack")
def preview(pack: str, status: str | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    _installed(pack)
    return ok(c.preview_pack(pack, status=status))


def _installed(pack: str) -> None:
    from policies.loader import available_packs

    if pack not in available_packs():
        raise InvalidInput(f"pack {pack!r} is not installed on the server; installed: {', '.join(available_packs())}")


@router.get("/dashboard/grades", tags=["dashboard"], summary="Reviews per grade")
def grades(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.grade_distribution())


@router.get("/dashboard/levels", tags=["dashboard"], summary="Reviews per grade as each review's pack names it (label)")
def levels(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.level_distribution())


@router.get("/dashboard/funnel", tags=["dashboard"], summary="Reviews per gate and status")
def funnel(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.gate_funnel())


@router.get("/dashboard/overdue", tags=["dashboard"], summary="Open reviews past their committee SLA")
def overdue(now: datetime | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.overdue_counts(now=now))


@router.get("/audit-log", tags=["audit log"], summary="The last audit rows (of one review)")
def audit_log(review: str | None = None, limit: int = 50, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.audit_log(review_id=review, limit=page_limit(limit)))


@router.get("/audit-log/verify", tags=["audit log"], summary="Verify the chain, the row MACs and every state row against the log")
def audit_verify(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.verify_audit_log())


class VerifyIn(BaseModel):
    checkpoints: list[dict[str, Any]] = Field(default_factory=list, description="signed checkpoint documents kept outside the database")
    state: bool = True


@router.post("/audit-log/verify", tags=["audit log"], summary="Verify, also against checkpoints kept outside the database")
def audit_verify_with(body: VerifyIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.verify_audit_log(checkpoints=body.checkpoints, state=body.state))


@router.post("/audit-log/checkpoints", tags=["audit log"], status_code=201, summary="Sign the chain's head now (keep the document elsewhere)")
def audit_checkpoint(c: LocalClient = Depends(client)) -> JSONResponse:
    return JSONResponse(c.audit_checkpoint(), status_code=201)


@router.get("/audit-log/export", tags=["audit log"], summary="The whole log with its checkpoints, as JSON Lines (chair or admin)")
def audit_export(c: LocalClient = Depends(client)) -> StreamingResponse:
    import io
    import queue
    import threading

    c.may_export_audit_log()  # refuse before streaming starts
    lines: queue.Queue[str | None] = queue.Queue(maxsize=1000)

    class _Out(io.TextIOBase):
        def write(self, s: str) -> int:
            lines.put(s, timeout=60)  # a reader that went away stops the export instead of parking this thread
            return len(s)

    def produce() -> None:
        try:
            c.export_audit_log(_Out())
        finally:
            try:
                lines.put(None, timeout=60)  # the end mark, bounded like every line: a reader that left frees this thread
            except queue.Full:
                pass

    threading.Thread(target=produce, daemon=True).start()

    def stream():
        while (item := lines.get()) is not None:
            yield item

    return StreamingResponse(stream(), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="audit-log.jsonl"'})


@router.get("/audit-log/public-key", tags=["audit log"], summary="The public key that checks checkpoints and exports")
def audit_public_key(c: LocalClient = Depends(client)) -> PlainTextResponse:
    return PlainTextResponse(c.audit_public_key(), media_type="application/x-pem-file")


@router.get("/whoami", include_in_schema=False)
def whoami(who: Principal = Depends(principal)) -> JSONResponse:
    return JSONResponse({"username": who.username, "scope": who.scope, "via": who.via})
