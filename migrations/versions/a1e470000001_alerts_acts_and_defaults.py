"""Alerts: sharing acts and actors on outbox entries, coalesced notifications, muted defaults

One alert per recipient and sharing act (outbox_entry.act, notification.act/lead), never to the
user who acted (outbox_entry.actor_user_id), and built-in alerts a user can turn off
(muted_default).

Revision ID: a1e470000001
Revises: f33d00000001
Create Date: 2026-12-03 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1e470000001'
down_revision = 'f33d00000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('act', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('actor_user_id', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_outbox_entry_act', ['act'], unique=False)
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('act', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lead', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index('ix_notification_act_user_id', ['act', 'user_id'], unique=False)
    op.create_table('muted_default',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_muted_default_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'rule', name=op.f('pk_muted_default'))
    )


def downgrade():
    op.drop_table('muted_default')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_act_user_id')
        batch_op.drop_column('lead')
        batch_op.drop_column('act')
    with op.batch_alter_table('outbox_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_entry_act')
        batch_op.drop_column('actor_user_id')
        batch_op.drop_column('act')
