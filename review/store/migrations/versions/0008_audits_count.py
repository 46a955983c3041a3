"""Audit runs are attached to a review and a control, carry the re-audit request they serve, and keep their verdict;
assessments keep the pack cross-checks a submission did not pass (warnings); people may set their own notification channel; evidence blobs may live in the database

Revision ID: 0008_audits_count
Revises: 0007_chunk_keys
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0008_audits_count"
down_revision: Union[str, Sequence[str], None] = "0007_chunk_keys"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("audit_run") as b:
        b.add_column(sa.Column("review_id", sa.Integer(), sa.ForeignKey("review.id", name="fk_audit_run_review"), nullable=True))
        b.add_column(sa.Column("control_id", sa.String(length=32), nullable=True))
        b.add_column(sa.Column("reaudit_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("verdict", sa.String(length=8), nullable=True))
        b.add_column(sa.Column("verdict_at", UTC(), nullable=True))
        b.create_index("ix_audit_run_review_id", ["review_id"])
    with op.batch_alter_table("assessment") as b:
        b.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
    op.create_table(
        "evidence_chunk",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "seq"),
    )
    op.create_table(
        "notify_channel",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("notify_channel")
    op.drop_table("evidence_chunk")
    with op.batch_alter_table("assessment") as b:
        b.drop_column("warnings")
    with op.batch_alter_table("audit_run") as b:
        b.drop_index("ix_audit_run_review_id")
        for c in ("verdict_at", "verdict", "reaudit_id", "control_id", "review_id"):
            b.drop_column(c)
