"""Audit chunks keep their records' id hashes (duplicates across chunks are bad records)

Revision ID: 0007_chunk_keys
Revises: 0006_audit_state
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0007_chunk_keys"
down_revision: Union[str, Sequence[str], None] = "0006_audit_state"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("audit_chunk") as b:
        b.add_column(sa.Column("keys", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_chunk") as b:
        b.drop_column("keys")
