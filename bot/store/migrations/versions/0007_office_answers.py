"""office_answers: the offices' answers to parents' messages; office message status sent -> mailed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('office_answers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('author', sa.String(length=254), nullable=False),
    sa.Column('mail_message_id', sa.String(length=254), nullable=True),
    sa.Column('received_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['office_messages.id'], name=op.f('fk_office_answers_message_id_office_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_office_answers')),
    sa.UniqueConstraint('mail_message_id', name=op.f('uq_office_answers_mail_message_id'))
    )
    with op.batch_alter_table('office_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_office_answers_message_id'), ['message_id'], unique=False)
    # "sent" is now "mailed": an answer can follow it.
    op.execute("UPDATE office_messages SET status = 'mailed' WHERE status = 'sent'")


def downgrade() -> None:
    op.execute(
        "UPDATE office_messages SET status = 'sent' WHERE status IN ('mailed', 'answered', 'read')"
    )
    with op.batch_alter_table('office_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_office_answers_message_id'))
    op.drop_table('office_answers')
