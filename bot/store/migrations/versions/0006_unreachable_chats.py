"""unreachable_chats: Telegram chats that blocked the bot (the outbound queue skips them)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unreachable_chats',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('marked_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'recipient', name=op.f('pk_unreachable_chats'))
    )


def downgrade() -> None:
    op.drop_table('unreachable_chats')
