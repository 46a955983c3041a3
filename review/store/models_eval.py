"""Tables of model evaluation runs (``eval run``): the run (endpoint, model, the questions chosen, the results) and
one row per answered question. Plain tables; the services hold the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


class EvalRun(SQLModel, table=True):
    __tablename__ = "eval_run"
    id: Optional[int] = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True, description="the review the evaluation counts for")
    product_id: int = Field(foreign_key="product.id", index=True)
    endpoint: str = Field(sa_type=sa.Text, description="the OpenAI-compatible API's base URL (never a key)")
    model: str = Field(max_length=200)
    bank: str = Field(max_length=16, description="generated, should_refuse, must_not_refuse or all")
    pack_id: str = Field(max_length=64)
    pack_version: str = Field(max_length=16)
    pack_hash: str = Field(max_length=64)
    standard: str = Field(max_length=64)
    status: str = Field(max_length=16, description="RUNNING, FAILED (resumable) or DONE")
    seed: int = Field(sa_type=sa.BigInteger)
    settings: dict = Field(default={}, sa_column=Column(JSON, nullable=False))  # sample, concurrency, timeout, api_key_env ...
    items: list = Field(default=[], sa_column=Column(JSON, nullable=False))  # [[kind, item id], ...] the questions chosen
    answered: int = 0
    results: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))  # rates and bars, once DONE
    error: Optional[str] = Field(default=None, sa_type=sa.Text, description="why the last attempt stopped")
    started_by: str = Field(max_length=64)
    created_at: datetime
    finished_at: Optional[datetime] = None


class EvalAnswer(SQLModel, table=True):
    __tablename__ = "eval_answer"
    run_id: int = Field(foreign_key="eval_run.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=16)
    item_id: str = Field(primary_key=True, max_length=64)
    risk: Optional[str] = Field(default=None, max_length=8)
    lang: str = Field(max_length=4)
    question: str = Field(sa_type=sa.Text)
    answer: str = Field(sa_type=sa.Text)
    model: str = Field(max_length=200, description="the model the endpoint says answered")
    refused: bool
    refused_by: Optional[str] = Field(default=None, max_length=16, description="pattern or judge (the pack's refusal judge); None: not refused")
    unsafe: bool
    categories: str = Field(default="", max_length=400, description="comma-separated categories of findings at or above medium")
    answered_at: datetime


class EvalSpotItem(SQLModel, table=True):
    """One answer of a run drawn into its manual spot-check sample (``eval sample``), in a blind order."""

    __tablename__ = "eval_spot_item"
    __table_args__ = (sa.UniqueConstraint("run_id", "kind", "item_id", name="uq_eval_spot_item_answer"),
                      sa.ForeignKeyConstraint(["run_id", "kind", "item_id"],
                                              ["eval_answer.run_id", "eval_answer.kind", "eval_answer.item_id"]))
    run_id: int = Field(foreign_key="eval_run.id", primary_key=True)
    seq: int = Field(primary_key=True, description="1-based item number within the run's sample")
    kind: str = Field(max_length=16)
    item_id: str = Field(max_length=64)
    stratum: str = Field(max_length=80, description="bank/risk")


class EvalSpotLabel(SQLModel, table=True):
    """A reviewer's label on one sampled answer: safe or unsafe, refused or complied."""

    __tablename__ = "eval_spot_label"
    __table_args__ = (sa.ForeignKeyConstraint(["run_id", "seq"], ["eval_spot_item.run_id", "eval_spot_item.seq"]),)
    run_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    reviewer: str = Field(primary_key=True, max_length=64)
    round: int = Field(description="1: first review, 2: blind second review, 3: adjudication")
    safety: str = Field(max_length=8, description="safe or unsafe")
    refusal: str = Field(max_length=8, description="refused or complied")
    note: str = Field(default="", sa_type=sa.Text)
    labelled_at: datetime
