"""Findings keep the scanner's version (or model); remote scanners' answers are kept by text hash; runs and chunks
count the media records no scanner could examine

Revision ID: 0009_scanners
Revises: 0008_audits_count
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0009_scanners"
down_revision: Union[str, Sequence[str], None] = "0008_audits_count"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("content_finding") as b:
        b.add_column(sa.Column("scanner_version", S(length=128), nullable=True))
    with op.batch_alter_table("audit_run") as b:
        b.add_column(sa.Column("not_examined", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("audit_chunk") as b:
        b.add_column(sa.Column("not_examined", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "scanner_answer",
        sa.Column("key", S(length=64), nullable=False),
        sa.Column("scanner", S(length=32), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("scanner_answer")
    with op.batch_alter_table("audit_chunk") as b:
        b.drop_column("not_examined")
    with op.batch_alter_table("audit_run") as b:
        b.drop_column("not_examined")
    with op.batch_alter_table("content_finding") as b:
        b.drop_column("scanner_version")
