"""staff_desk: staff users and their offices for `csbot desk`; audit_records.detail

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 17:00:00
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('all_offices', sa.Boolean(), nullable=False),
    sa.Column('supervisor', sa.Boolean(), nullable=False),
    sa.Column('disabled_at', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('locked_until', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_users_username'))
    )
    op.create_table('staff_user_offices',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('office_code', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_user_offices_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'office_code', name=op.f('pk_staff_user_offices'))
    )
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detail', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_column('detail')
    op.drop_table('staff_user_offices')
    op.drop_table('staff_users')
