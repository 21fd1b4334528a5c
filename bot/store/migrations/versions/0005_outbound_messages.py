"""outbound_messages: the one queue of messages the bot sends outside a webhook answer

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:05:00
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbound_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages'))
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_messages_due', ['status', 'priority', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbound_messages_chat', ['channel', 'recipient', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_messages_provider_id'), ['provider_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_messages_provider_id'))
        batch_op.drop_index('ix_outbound_messages_chat')
        batch_op.drop_index('ix_outbound_messages_due')
    op.drop_table('outbound_messages')
