"""outbound_messages: the claim walks (status, priority, id) and stops at its batch

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:00:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_due')
        batch_op.create_index('ix_outbound_messages_claim_order', ['status', 'priority', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_claim_order')
        batch_op.create_index('ix_outbound_messages_due', ['status', 'priority', 'next_attempt_at'], unique=False)
