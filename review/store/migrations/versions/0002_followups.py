"""post-release follow-ups, feedback, notifications, gate reports, content re-audit requests (flows work)

Revision ID: 0002_followups
Revises: 0001_core
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0002_followups"
down_revision: Union[str, Sequence[str], None] = "0001_core"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('followup_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('kind', _S(length=16), nullable=False),
    sa.Column('grade', _S(length=16), nullable=False),
    sa.Column('status', _S(length=16), nullable=False),
    sa.Column('due_at', _T(), nullable=False),
    sa.Column('opened_at', _T(), nullable=True),
    sa.Column('closed_at', _T(), nullable=True),
    sa.Column('escalated_at', _T(), nullable=True),
    sa.Column('finding', _S(length=24), nullable=True),
    sa.Column('feedback_id', sa.Integer(), nullable=True),
    sa.Column('created_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('review_id', 'sequence', name='uq_followup_check_seq')
    )
    with op.batch_alter_table('followup_check', schema=None) as batch_op:
        batch_op.create_index('ix_followup_check_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_check_review_id'), ['review_id'], unique=False)

    op.create_table('followup_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('customer', _S(length=200), nullable=False),
    sa.Column('questionnaire', sa.JSON(), nullable=False),
    sa.Column('status', _S(length=16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=True),
    sa.Column('finding', _S(length=24), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by', _S(length=64), nullable=True),
    sa.Column('recorded_at', _T(), nullable=True),
    sa.ForeignKeyConstraint(['check_id'], ['followup_check.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('check_id', 'customer', name='uq_followup_visit')
    )
    with op.batch_alter_table('followup_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followup_visit_check_id'), ['check_id'], unique=False)

    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('contact', _S(length=200), nullable=True),
    sa.Column('status', _S(length=16), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('triaged_by', _S(length=64), nullable=True),
    sa.Column('triaged_at', _T(), nullable=True),
    sa.Column('check_id', sa.Integer(), nullable=True),
    sa.Column('created_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['followup_check.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_product_id'), ['product_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', _S(length=40), nullable=False),
    sa.Column('recipient', _S(length=80), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('subject', _S(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('dedupe_key', _S(length=160), nullable=True),
    sa.Column('delivery', _S(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('delivered_at', _T(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_delivery', ['delivery'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_review_id'), ['review_id'], unique=False)

    op.create_table('gate_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('gate', _S(length=16), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('residual_grade', _S(length=16), nullable=True),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('updated_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('review_id', 'gate', 'round', name='uq_gate_report')
    )
    with op.batch_alter_table('gate_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gate_report_review_id'), ['review_id'], unique=False)

    op.create_table('content_reaudit_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('status', _S(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['followup_check.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('check_id', name='uq_reaudit_check')
    )
    with op.batch_alter_table('content_reaudit_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_content_reaudit_request_review_id'), ['review_id'], unique=False)


def downgrade() -> None:
    for table in ('content_reaudit_request', 'gate_report', 'notification', 'feedback', 'followup_visit', 'followup_check'):
        op.drop_table(table)
