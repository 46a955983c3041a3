"""Tables for AIGC content-safety audits: runs, their chunks, findings, bad input records,
the spot-check sample and reviewers' labels. Plain tables; the services hold the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


def _json(nullable: bool = False) -> Any:
    return Field(default=None if nullable else {}, sa_column=Column(JSON, nullable=nullable))


class AuditRun(SQLModel, table=True):
    __tablename__ = "audit_run"
    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    source: str = Field(sa_type=sa.Text, description="input file path")
    fmt: str = Field(max_length=8)
    source_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    pack_id: str = Field(max_length=64)
    pack_version: str = Field(max_length=16)
    pack_hash: str = Field(max_length=64)
    status: str = Field(max_length=16, description="RUNNING, SCANNED (sample drawn) or FAILED")
    engine: str = Field(max_length=16)
    seed: int = Field(sa_type=sa.BigInteger)
    double_review: bool = False
    settings: dict = _json()  # chunk size, csv columns, sampling plan as used
    chunks_total: int = 0
    records: int = 0
    bad_records: int = 0
    flagged_records: int = 0
    findings: int = 0
    sample_size: int = 0
    started_by: str = Field(max_length=64)
    created_at: datetime
    finished_at: Optional[datetime] = None
    review_id: Optional[int] = Field(default=None, foreign_key="review.id", index=True, description="the review the audit counts for")
    control_id: Optional[str] = Field(default=None, max_length=32, description="the pack's audit control it evidences or fails")
    reaudit_id: Optional[int] = Field(default=None, description="the follow-up's re-audit request it serves (closed by the verdict)")
    verdict: Optional[str] = Field(default=None, max_length=8, description="pass | fail, once every sampled item is labelled (and adjudicated)")
    verdict_at: Optional[datetime] = None
    not_examined: int = Field(default=0, description="image/audio/video records with no text a scanner could read (only a URI)")


class AuditChunk(SQLModel, table=True):
    __tablename__ = "audit_chunk"
    run_id: int = Field(foreign_key="audit_run.id", primary_key=True)
    seq: int = Field(primary_key=True)
    byte_start: int = Field(sa_type=sa.BigInteger)
    byte_end: int = Field(sa_type=sa.BigInteger)
    line_start: int
    lines: int
    done: bool = False
    records: int = 0
    bad: int = 0
    flagged: int = 0
    findings: int = 0
    not_examined: int = 0
    finished_at: Optional[datetime] = None
    keys: Optional[bytes] = Field(default=None, sa_type=sa.LargeBinary, description="(id hash, line) pairs: duplicate ids across chunks")


class ContentFinding(SQLModel, table=True):
    __tablename__ = "content_finding"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "record_id", "field", "scanner", "span_start", "span_end", "category", name="uq_content_finding_key"),
        sa.Index("ix_content_finding_run_line", "run_id", "line"),
        sa.Index("ix_content_finding_run_category", "run_id", "category"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="audit_run.id")
    record_id: str = Field(max_length=128)
    line: int
    field: str = Field(max_length=16)
    scanner: str = Field(max_length=32)
    span_start: int
    span_end: int
    category: str = Field(max_length=64)
    subcode: Optional[str] = Field(default=None, max_length=64)
    severity: int
    level: str = Field(max_length=8)
    matched: str = Field(sa_type=sa.Text)
    rule_id: str = Field(sa_type=sa.Text)
    score: Optional[float] = None
    scanner_version: Optional[str] = Field(default=None, max_length=128, description="the scanner's version or the model behind the finding")


class ScannerAnswer(SQLModel, table=True):
    """A remote scanner's answer for one text, by a hash of (scanner, model, text): a resumed or
    repeated audit does not ask the endpoint again."""

    __tablename__ = "scanner_answer"
    key: str = Field(primary_key=True, max_length=64)
    scanner: str = Field(max_length=32)
    answer: dict = _json()
    created_at: datetime


class BadInputRecord(SQLModel, table=True):
    __tablename__ = "audit_bad_record"
    run_id: int = Field(foreign_key="audit_run.id", primary_key=True)
    line: int = Field(primary_key=True)
    field: str = Field(max_length=32)
    value: str = Field(sa_type=sa.Text)
    message: str = Field(sa_type=sa.Text)


class SpotCheckItem(SQLModel, table=True):
    __tablename__ = "spot_check_item"
    __table_args__ = (sa.UniqueConstraint("run_id", "record_id", name="uq_spot_check_item_record"),)
    run_id: int = Field(foreign_key="audit_run.id", primary_key=True)
    seq: int = Field(primary_key=True, description="1-based item number within the run's sample")
    stratum: str = Field(max_length=80)
    record_id: str = Field(max_length=128)
    line: int
    flagged: bool
    categories: str = Field(default="", max_length=400, description="comma-separated finding categories")
    prompt: str = Field(sa_type=sa.Text)
    output: str = Field(sa_type=sa.Text)
    modality: str = Field(max_length=8)
    meta: dict = _json()


class SpotCheckLabel(SQLModel, table=True):
    __tablename__ = "spot_check_label"
    run_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    reviewer: str = Field(primary_key=True, max_length=64)
    __table_args__ = (sa.ForeignKeyConstraint(["run_id", "seq"], ["spot_check_item.run_id", "spot_check_item.seq"]),)
    round: int = Field(description="1: first review, 2: blind second review")
    verdict: str = Field(max_length=12, description="pass or violation")
    category: Optional[str] = Field(default=None, max_length=64)
    severity: Optional[int] = None
    note: str = Field(default="", sa_type=sa.Text)
    labelled_at: datetime
