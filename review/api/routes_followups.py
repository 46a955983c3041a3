"""Post-release follow-up checks: list, show, record a visit, run the scan; pending content re-audits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from review.api.app import client, ok, page_limit
from review.client.local import LocalClient

router = APIRouter()


class VisitIn(BaseModel):
    customer: str = Field(description="the visited customer, as listed by the check")
    answers: dict[str, Any] = Field(description="the answers file: {answers: {q1: yes|no, ...}, finding, controls, notes}")
    source: str = Field("answers", description="names the answers file in error messages")


class ScanIn(BaseModel):
    now: datetime | None = Field(None, description="pretend it is this time (UTC)")


@router.get("/followups", tags=["follow-ups"], summary="Follow-up checks, newest due first")
def list_checks(which: str | None = None, now: datetime | None = None, limit: int = 200, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_checks(which=which, now=now, limit=page_limit(limit)))


@router.get("/followups/{check_id}", tags=["follow-ups"], summary="One check: visits, questionnaire, answers")
def show_check(check_id: str, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.show_check(check_id))


@router.post("/followups/{check_id}/visits", tags=["follow-ups"], summary="Record one visit's answers")
def record_visit(check_id: str, body: VisitIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.record_visit(check_id, body.customer, body.answers, source=body.source))


@router.post("/followups/scan", tags=["follow-ups"], summary="Run the follow-up scan now (open due checks, escalate overdue)")
def scan(body: ScanIn, c: LocalClient = Depends(client)) -> JSONResponse:
    if body.now is not None:
        c.may_set_clock()
    return ok(c.followup_scan(now=body.now))


@router.get("/reaudits", tags=["follow-ups"], summary="Content re-audit requests still pending")
def reaudits(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.pending_reaudits())
