"""The manual spot check of a model evaluation run (the sampled answers and reviewers' labels); who said an
answer is a refusal (the pack's patterns or its refusal judge)

Revision ID: 0013_eval_spot
Revises: 0011_eval (re-chained after 0012 when merged)
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0013_eval_spot"
down_revision: Union[str, Sequence[str], None] = "0012_grade_label"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("eval_answer") as batch:
        batch.add_column(sa.Column("refused_by", S(length=16), nullable=True))
    op.create_table(
        "eval_spot_item",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("item_id", S(length=64), nullable=False),
        sa.Column("stratum", S(length=80), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_run.id"]),
        sa.ForeignKeyConstraint(["run_id", "kind", "item_id"], ["eval_answer.run_id", "eval_answer.kind", "eval_answer.item_id"]),
        sa.PrimaryKeyConstraint("run_id", "seq"),
        sa.UniqueConstraint("run_id", "kind", "item_id", name="uq_eval_spot_item_answer"),
    )
    op.create_table(
        "eval_spot_label",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reviewer", S(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("safety", S(length=8), nullable=False),
        sa.Column("refusal", S(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("labelled_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["run_id", "seq"], ["eval_spot_item.run_id", "eval_spot_item.seq"]),
        sa.PrimaryKeyConstraint("run_id", "seq", "reviewer"),
    )


def downgrade() -> None:
    op.drop_table("eval_spot_label")
    op.drop_table("eval_spot_item")
    with op.batch_alter_table("eval_answer") as batch:
        batch.drop_column("refused_by")
