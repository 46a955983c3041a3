"""Post-release follow-up flows: the nightly scan and the hourly escalation.

The scan is set-based: the service finds the id ranges holding due checks, and each
range (25,000 ids by default) is one task that opens its checks in one transaction.
There is never one task per product (a task run costs 15-20 ms of engine overhead).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.settings import database
from review.services import followups
from review.services.notifications import deliver_pending
from review.store.db import utcnow


def _scan_name() -> str:
    return f"followup-scan {utcnow():%Y-%m-%d %H:%M}"


def _escalation_name() -> str:
    return f"followup-escalation {utcnow():%Y-%m-%d %H:%M}"


@task(name="open-due-checks", task_run_name="open due checks {lo}-{hi}", cache_policy=NO_CACHE)
def open_due_checks(lo: int, hi: int, now: datetime, database_url: str | None = None) -> dict[str, Any]:
    return followups.open_due(database(database_url), lo, hi, now=now).to_json()


@task(name="escalate-overdue-checks", cache_policy=NO_CACHE)
def escalate_overdue_checks(now: datetime, database_url: str | None = None) -> dict[str, Any]:
    return followups.escalate_overdue(database(database_url), now=now).to_json()


@task(name="deliver-notifications", cache_policy=NO_CACHE)
def deliver_notifications(database_url: str | None = None) -> dict[str, int]:
    d = deliver_pending(database(database_url))
    return {"sent": d.sent, "failed": d.failed, "logged": d.logged}


@flow(name="followup-scan", flow_run_name=_scan_name)
def post_release_followups(now: datetime | None = None, chunk: int = 25_000, database_url: str | None = None) -> dict[str, Any]:
    """Open every due follow-up check (visits, questionnaire, content re-audit requests) and escalate the overdue ones."""
    now = now or utcnow()
    db = database(database_url)
    totals = followups.ScanResult()
    ranges = followups.due_ranges(db, now=now, chunk=chunk)
    for lo, hi in ranges:
        part = open_due_checks(lo, hi, now, database_url)
        for k in ("opened", "visits", "reaudits", "cancelled"):
            setattr(totals, k, getattr(totals, k) + part[k])
    totals.escalated = escalate_overdue_checks(now, database_url)["escalated"]
    out = {**totals.to_json(), "ranges": len(ranges), "notifications": deliver_notifications(database_url)}
    get_run_logger().info("follow-up scan: %s", out)
    return out


@flow(name="followup-escalation", flow_run_name=_escalation_name)
def followup_escalation(now: datetime | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Escalate to the chair the open checks overdue by the pack's ``overdue_escalation_days``."""
    now = now or utcnow()
    out = escalate_overdue_checks(now, database_url)
    out["notifications"] = deliver_notifications(database_url)
    get_run_logger().info("follow-up escalation: %s", out)
    return out
