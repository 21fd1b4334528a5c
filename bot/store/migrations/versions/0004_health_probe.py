"""health_probe: the one row /healthz rewrites to prove the database accepts writes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:50:00
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa
import bot.store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('health_probe',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('checked_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_probe'))
    )
    op.bulk_insert(table, [{'id': 1, 'checked_at': dt.datetime.now(dt.UTC)}])


def downgrade() -> None:
    op.drop_table('health_probe')
