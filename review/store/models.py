"""Core tables: products, reviews, assessments, controls, evidence, decisions, people, audit log.

Plain table classes, no logic (services hold the rules, the domain holds the maths).
Times are aware UTC (SQLModel's UTCDateTime), read back identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


def _json(nullable: bool = False) -> Any:
    return Field(default=None if nullable else {}, sa_column=Column(JSON, nullable=nullable))


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, sa_column_kwargs={"unique": True}, index=True)
    display_name: str = Field(max_length=120)
    team: str = Field(max_length=80, index=True)
    roles: str = Field(max_length=120, description="comma-separated roles")
    active: bool = True
    created_at: datetime


class Product(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, sa_column_kwargs={"unique": True}, index=True)
    owner_team: str = Field(max_length=80, index=True)
    business_line: str = Field(max_length=80)
    description: str = Field(default="", sa_type=sa.Text)
    profile: dict = _json()
    policy_id: str = Field(max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime


#: SQLite only (migration 0010): the FTS5 trigram index of ``product.name``, kept in sync by triggers.
#: Not in the SQLModel metadata: migrations create it, ``create_all`` and TRUNCATE leave it alone.
PRODUCT_NAME_FTS = sa.table("product_name_fts", sa.column("rowid", sa.Integer), sa.column("name", sa.Text))


class Review(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_review_gate_status", "gate", "status"),
        sa.Index("ix_review_grade", "grade"),
        sa.Index("ix_review_assignee", "assignee"),
        sa.Index("ix_review_due_at", "due_at"),
        sa.Index("ix_review_assignee_status_due", "assignee", "status", "due_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    gate: str = Field(max_length=16)
    status: str = Field(max_length=20)
    grade: Optional[str] = Field(default=None, max_length=16)
    #: What the grade is called under the pack that graded it ("Level IV (very high impact)" for a canada-aia
    #: UNACCEPTABLE; the grade itself under the default pack), kept with the grade so a listing loads no pack.
    grade_label: Optional[str] = Field(default=None, max_length=60)
    suspended_from: Optional[str] = Field(default=None, max_length=16)
    assignee: Optional[str] = Field(default=None, max_length=64)
    submitted_by: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)
    policy_version: str = Field(max_length=16)
    priority: int = Field(default=0, description="higher first; set from the grade")
    due_at: Optional[datetime] = None
    #: Submission round: bumped by every (re)submission and reopening; quorum counts per round.
    round: int = Field(default=1)
    #: Optimistic lock: every state change is ``UPDATE ... WHERE version = :seen``.
    version: int = Field(default=1)
    created_at: datetime
    updated_at: datetime


class PolicySnapshot(SQLModel, table=True):
    """The exact pack content that graded something, by content hash (for replay)."""

    __tablename__ = "policy_snapshot"
    content_hash: str = Field(primary_key=True, max_length=64)
    pack_id: str = Field(max_length=64)
    version: str = Field(max_length=16)
    body: dict = _json()
    created_at: datetime


class Assessment(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    gate: str = Field(max_length=16)
    kind: str = Field(max_length=16, description="initiation | residual | override")
    pack_id: str = Field(max_length=64)
    pack_version: str = Field(max_length=16)
    pack_hash: str = Field(max_length=64)
    answers: dict = _json()
    dimension_scores: dict = _json()
    dimension_levels: dict = _json()
    base_grade: str = Field(max_length=16)
    grade: str = Field(max_length=16)
    triggers_fired: list = Field(default=[], sa_column=Column(JSON, nullable=False))
    mitigation: dict = _json()
    rationale: Optional[str] = Field(default=None, sa_type=sa.Text)
    created_by: str = Field(max_length=64)
    created_at: datetime
    #: the pack cross-checks this submission did not pass at level warn: [{"id", "message"}]
    warnings: Optional[list] = Field(default=None, sa_column=Column(JSON, nullable=True))


class ControlRequirement(SQLModel, table=True):
    __tablename__ = "control_requirement"
    __table_args__ = (sa.UniqueConstraint("review_id", "control_id", name="uq_control_requirement"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    control_id: str = Field(max_length=32)
    title: str = Field(max_length=200)
    dimension: str = Field(max_length=64)
    required_from: str = Field(max_length=16)
    verify_gate: str = Field(max_length=16)
    evidence_expected: str = Field(sa_type=sa.Text)
    status: str = Field(max_length=20, index=True)
    rationale: Optional[str] = Field(default=None, sa_type=sa.Text)
    updated_by: Optional[str] = Field(default=None, max_length=64)
    updated_at: datetime


class Evidence(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    control_id: str = Field(max_length=32)
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    size: int
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime


class EvidenceChunk(SQLModel, table=True):
    """An evidence blob stored in the database (``review.services.evidence_store``): content-addressed, in chunks."""

    __tablename__ = "evidence_chunk"
    sha256: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


class Decision(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    gate: str = Field(max_length=16)
    action: str = Field(max_length=24)
    rationale: str = Field(sa_type=sa.Text)
    actor: str = Field(max_length=64)
    actor_roles: str = Field(max_length=120)
    grade: Optional[str] = Field(default=None, max_length=16)
    pack_version: str = Field(max_length=16)
    round: int = Field(default=1)
    created_at: datetime


class ConflictDeclaration(SQLModel, table=True):
    __tablename__ = "conflict_declaration"
    __table_args__ = (sa.UniqueConstraint("username", "product_id", name="uq_conflict"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    reason: str = Field(sa_type=sa.Text)
    created_at: datetime


class AuditLog(SQLModel, table=True):
    """Append-only (database triggers refuse UPDATE and DELETE); each row carries the hash of the row before it.

    ``fmt`` 2 rows also carry ``state``: the after-image of every state row the use case
    changed (``"review/7": {...}``), ``state_keys``: ``key=sha256(image)`` pairs, and ``mac``:
    an HMAC of the row hash under the server's audit key (kept outside the database).
    """

    __tablename__ = "audit_log"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime
    actor: str = Field(max_length=64)
    action: str = Field(max_length=48)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64, index=True)
    before: Optional[dict] = _json(nullable=True)
    after: Optional[dict] = _json(nullable=True)
    policy_version: Optional[str] = Field(default=None, max_length=80)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    fmt: int = Field(default=2, sa_column_kwargs={"server_default": "1"})
    state: Optional[dict] = _json(nullable=True)
    state_keys: Optional[str] = Field(default=None, sa_type=sa.Text)
    mac: Optional[str] = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's head (last id and hash): catches rows deleted from the end."""

    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    last_id: int
    last_hash: str = Field(max_length=64)


class ApiToken(SQLModel, table=True):
    """A personal API token: only its SHA-256 is stored; the token itself is shown once.

    A token reads ``ert_<id>_<secret>``; the id finds the row, the hash proves the secret.
    ``scope``: read (GET only) or write. Expired or revoked tokens are refused.
    """

    __tablename__ = "api_token"
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    name: str = Field(default="", max_length=120, description="what the token is for (a laptop, a CI job)")
    scope: str = Field(max_length=8, description="read | write")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_by: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    revoked_at: Optional[datetime] = None
    revoked_by: Optional[str] = Field(default=None, max_length=64)
    last_used_at: Optional[datetime] = None


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of the audit chain's head (also kept outside the database by whoever took it)."""

    __tablename__ = "audit_checkpoint"
    id: Optional[int] = Field(default=None, primary_key=True)
    head_id: int
    head_hash: str = Field(max_length=64)
    at: datetime
    key_id: str = Field(max_length=16)
    document: str = Field(sa_type=sa.Text, description="the signed JSON document, exactly as signed and handed out")
