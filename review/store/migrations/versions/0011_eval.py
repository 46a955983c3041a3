"""Model evaluation runs against test banks and their answers

Revision ID: 0011_eval
Revises: 0010_name_index
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0011_eval"
down_revision: Union[str, Sequence[str], None] = "0010_name_index"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "eval_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("model", S(length=200), nullable=False),
        sa.Column("bank", S(length=16), nullable=False),
        sa.Column("pack_id", S(length=64), nullable=False),
        sa.Column("pack_version", S(length=16), nullable=False),
        sa.Column("pack_hash", S(length=64), nullable=False),
        sa.Column("standard", S(length=64), nullable=False),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_by", S(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_eval_run_review_id", "eval_run", ["review_id"])
    op.create_index("ix_eval_run_product_id", "eval_run", ["product_id"])
    op.create_table(
        "eval_answer",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("item_id", S(length=64), nullable=False),
        sa.Column("risk", S(length=8), nullable=True),
        sa.Column("lang", S(length=4), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("model", S(length=200), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("unsafe", sa.Boolean(), nullable=False),
        sa.Column("categories", S(length=400), nullable=False),
        sa.Column("answered_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_run.id"]),
        sa.PrimaryKeyConstraint("run_id", "kind", "item_id"),
    )


def downgrade() -> None:
    op.drop_table("eval_answer")
    op.drop_index("ix_eval_run_product_id", "eval_run")
    op.drop_index("ix_eval_run_review_id", "eval_run")
    op.drop_table("eval_run")
