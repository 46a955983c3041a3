"""AIGC content-safety audits: runs, chunks, findings, bad records, spot checks

Revision ID: 0003_content
Revises: 0002_followups
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0003_content"
down_revision: Union[str, Sequence[str], None] = "0002_followups"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "audit_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("fmt", S(length=8), nullable=False),
        sa.Column("source_bytes", sa.BigInteger(), nullable=False),
        sa.Column("pack_id", S(length=64), nullable=False),
        sa.Column("pack_version", S(length=16), nullable=False),
        sa.Column("pack_hash", S(length=64), nullable=False),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("engine", S(length=16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("double_review", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("bad_records", sa.Integer(), nullable=False),
        sa.Column("flagged_records", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("started_by", S(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_run_product_id", "audit_run", ["product_id"])
    op.create_table(
        "audit_chunk",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("byte_start", sa.BigInteger(), nullable=False),
        sa.Column("byte_end", sa.BigInteger(), nullable=False),
        sa.Column("line_start", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["audit_run.id"]),
        sa.PrimaryKeyConstraint("run_id", "seq"),
    )
    op.create_table(
        "content_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("record_id", S(length=128), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", S(length=16), nullable=False),
        sa.Column("scanner", S(length=32), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=False),
        sa.Column("span_end", sa.Integer(), nullable=False),
        sa.Column("category", S(length=64), nullable=False),
        sa.Column("subcode", S(length=64), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("level", S(length=8), nullable=False),
        sa.Column("matched", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["audit_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "record_id", "field", "scanner", "span_start", "span_end", "category", name="uq_content_finding_key"),
    )
    op.create_index("ix_content_finding_run_line", "content_finding", ["run_id", "line"])
    op.create_index("ix_content_finding_run_category", "content_finding", ["run_id", "category"])
    op.create_table(
        "audit_bad_record",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", S(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["audit_run.id"]),
        sa.PrimaryKeyConstraint("run_id", "line"),
    )
    op.create_table(
        "spot_check_item",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stratum", S(length=80), nullable=False),
        sa.Column("record_id", S(length=128), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("categories", S(length=400), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("modality", S(length=8), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["audit_run.id"]),
        sa.PrimaryKeyConstraint("run_id", "seq"),
        sa.UniqueConstraint("run_id", "record_id", name="uq_spot_check_item_record"),
    )
    op.create_table(
        "spot_check_label",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reviewer", S(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("verdict", S(length=12), nullable=False),
        sa.Column("category", S(length=64), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("labelled_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["run_id", "seq"], ["spot_check_item.run_id", "spot_check_item.seq"]),
        sa.PrimaryKeyConstraint("run_id", "seq", "reviewer"),
    )


def downgrade() -> None:
    op.drop_table("spot_check_label")
    op.drop_table("spot_check_item")
    op.drop_table("audit_bad_record")
    op.drop_index("ix_content_finding_run_category", table_name="content_finding")
    op.drop_index("ix_content_finding_run_line", table_name="content_finding")
    op.drop_table("content_finding")
    op.drop_table("audit_chunk")
    op.drop_index("ix_audit_run_product_id", table_name="audit_run")
    op.drop_table("audit_run")
