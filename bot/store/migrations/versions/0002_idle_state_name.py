"""the idle dialog state is stored as 'idle' (it was 'start', a word parents send)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 14:20:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE conversations SET state = 'idle' WHERE state = 'start'")


def downgrade() -> None:
    op.execute("UPDATE conversations SET state = 'start' WHERE state = 'idle'")
