"""alerts: consents (never deleted), events keyed by their source record, one alert per chat

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 16:36:40.019518
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_consents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=2), nullable=False),
    sa.Column('words_shown', sa.Text(), nullable=False),
    sa.Column('given_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_consents'))
    )
    with op.batch_alter_table('alert_consents', schema=None) as batch_op:
        batch_op.create_index('ix_alert_consents_chat', ['channel', 'recipient'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_consents_person_id'), ['person_id'], unique=False)
        batch_op.create_index('uq_alert_consents_in_force', ['person_id', 'channel', 'recipient'], unique=True, sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))

    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source_key', sa.String(length=64), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('recorded_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', bot.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events')),
    sa.UniqueConstraint('person_id', 'kind', 'source_key', name='uq_alert_events_key')
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index('ix_alert_events_undispatched', ['dispatched_at', 'id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('outbound_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', bot.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['alert_events.id'], name=op.f('fk_alerts_event_id_alert_events')),
    sa.ForeignKeyConstraint(['outbound_message_id'], ['outbound_messages.id'], name=op.f('fk_alerts_outbound_message_id_outbound_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('person_id', 'kind', 'event_date', 'channel', 'recipient', name='uq_alerts_once')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_chat', ['channel', 'recipient', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_outbound_message_id'), ['outbound_message_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_outbound_message_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_event_id'))
        batch_op.drop_index('ix_alerts_chat')

    op.drop_table('alerts')
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_events_undispatched')

    op.drop_table('alert_events')
    with op.batch_alter_table('alert_consents', schema=None) as batch_op:
        batch_op.drop_index('uq_alert_consents_in_force', sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_alert_consents_person_id'))
        batch_op.drop_index('ix_alert_consents_chat')

    op.drop_table('alert_consents')
