"""Tables for post-release follow-ups, external feedback, notifications, gate reports and re-audit requests.

Plain table classes, no logic (``review.services.followups`` / ``feedback`` / ``gates`` /
``notifications`` hold the rules). Times are aware UTC (SQLModel's UTCDateTime).
Natural keys carry unique constraints so a step that runs twice writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


def _json(nullable: bool = False) -> Any:
    return Field(default=None if nullable else {}, sa_column=Column(JSON, nullable=nullable))


class FollowupCheck(SQLModel, table=True):
    """One post-release follow-up of a released product.

    ``SCHEDULED`` (due later) -> ``OPEN`` (visits planned, waiting for answers) ->
    ``COMPLETED`` (no risk) or ``TRIGGERED`` (a risk reopened the review); ``CANCELLED``
    when the review left monitoring. ``sequence`` numbers the checks of one review.
    """

    __tablename__ = "followup_check"
    __table_args__ = (
        sa.UniqueConstraint("review_id", "sequence", name="uq_followup_check_seq"),
        sa.Index("ix_followup_check_status_due", "status", "due_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    sequence: int
    kind: str = Field(max_length=16, description="cadence | adhoc")
    grade: str = Field(max_length=16)
    status: str = Field(max_length=16)
    due_at: datetime
    opened_at: Optional[datetime] = None
    closed_at: Optional[datetime] = None
    escalated_at: Optional[datetime] = None
    finding: Optional[str] = Field(default=None, max_length=24, description="none | new_risk | failed_control")
    feedback_id: Optional[int] = Field(default=None, description="the credible feedback that opened an ad-hoc check")
    created_at: datetime


class FollowupVisit(SQLModel, table=True):
    """A customer or user to visit in a check, with the questionnaire and (once recorded) the answers."""

    __tablename__ = "followup_visit"
    __table_args__ = (sa.UniqueConstraint("check_id", "customer", name="uq_followup_visit"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    check_id: int = Field(foreign_key="followup_check.id", index=True)
    customer: str = Field(max_length=200)
    questionnaire: list = Field(default=[], sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16, description="PENDING | RECORDED")
    answers: Optional[dict] = _json(nullable=True)
    finding: Optional[str] = Field(default=None, max_length=24)
    notes: Optional[str] = Field(default=None, sa_type=sa.Text)
    recorded_by: Optional[str] = Field(default=None, max_length=64)
    recorded_at: Optional[datetime] = None


class Feedback(SQLModel, table=True):
    """An ethics concern raised by anyone (no account), then triaged by the committee."""

    __table_args__ = (sa.Index("ix_feedback_status", "status"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    message: str = Field(sa_type=sa.Text)
    contact: Optional[str] = Field(default=None, max_length=200)
    status: str = Field(max_length=16, description="NEW | CREDIBLE | NOT_CREDIBLE")
    rationale: Optional[str] = Field(default=None, sa_type=sa.Text)
    triaged_by: Optional[str] = Field(default=None, max_length=64)
    triaged_at: Optional[datetime] = None
    check_id: Optional[int] = Field(default=None, foreign_key="followup_check.id")
    created_at: datetime


class Notification(SQLModel, table=True):
    """A message to the committee, the chair or a team; delivered to a webhook when one is configured.

    ``dedupe_key`` makes a notification idempotent (a step that runs twice notifies once).
    ``delivery``: PENDING -> SENT | FAILED | LOGGED (no webhook configured).
    """

    __table_args__ = (sa.Index("ix_notification_delivery", "delivery"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=80, description="committee | chair | team:<name> | <username>")
    review_id: Optional[int] = Field(default=None, index=True)
    subject: str = Field(max_length=300)
    body: str = Field(default="", sa_type=sa.Text)
    dedupe_key: Optional[str] = Field(default=None, max_length=160, sa_column_kwargs={"unique": True})
    delivery: str = Field(default="PENDING", max_length=16)
    error: Optional[str] = Field(default=None, sa_type=sa.Text)
    created_at: datetime
    delivered_at: Optional[datetime] = None


class GateReport(SQLModel, table=True):
    """What an automatic gate step found, per review, gate and round (rewritten when the step re-runs)."""

    __tablename__ = "gate_report"
    __table_args__ = (sa.UniqueConstraint("review_id", "gate", "round", name="uq_gate_report"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    gate: str = Field(max_length=16)
    round: int
    passed: bool
    residual_grade: Optional[str] = Field(default=None, max_length=16)
    report: dict = _json()
    created_at: datetime
    updated_at: datetime


class ReauditRequest(SQLModel, table=True):
    """A pending request to re-run the content audit of a generative product (opened by a follow-up)."""

    __tablename__ = "content_reaudit_request"
    __table_args__ = (sa.UniqueConstraint("check_id", name="uq_reaudit_check"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    check_id: int = Field(foreign_key="followup_check.id")
    status: str = Field(default="PENDING", max_length=16, description="PENDING | DONE")
    reason: str = Field(sa_type=sa.Text)
    created_at: datetime


class NotifyChannel(SQLModel, table=True):
    """A person's own notification channel (an Apprise URL: mail, Slack, Teams, ntfy...). Not imaged on the audit
    trail (the URL may hold a secret); setting or clearing it is on the trail with the URL masked."""

    __tablename__ = "notify_channel"
    username: str = Field(primary_key=True, max_length=64)
    url: str = Field(sa_type=sa.Text)
    set_by: str = Field(max_length=64)
    set_at: datetime
