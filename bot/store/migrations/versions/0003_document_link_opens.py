"""document_link_opens: opens per document link, for the per-link limit of GET /d/

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_link_opens',
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('opens', sa.Integer(), nullable=False),
    sa.Column('expires_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_digest', name=op.f('pk_document_link_opens'))
    )
    with op.batch_alter_table('document_link_opens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_link_opens_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_link_opens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_link_opens_expires_at'))
    op.drop_table('document_link_opens')
