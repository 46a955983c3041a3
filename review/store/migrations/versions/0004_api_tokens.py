"""Personal API tokens (hash only)

Revision ID: 0004_api_tokens
Revises: 0003_content
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0004_api_tokens"
down_revision: Union[str, Sequence[str], None] = "0003_content"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", S(length=64), nullable=False),
        sa.Column("name", S(length=120), nullable=False),
        sa.Column("scope", S(length=8), nullable=False),
        sa.Column("token_hash", S(length=64), nullable=False),
        sa.Column("created_by", S(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("revoked_at", UTC(), nullable=True),
        sa.Column("revoked_by", S(length=64), nullable=True),
        sa.Column("last_used_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_token_username", "api_token", ["username"])


def downgrade() -> None:
    op.drop_index("ix_api_token_username", table_name="api_token")
    op.drop_table("api_token")
