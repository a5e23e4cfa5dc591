"""Feed change counter: a feed poll's ETag without reading the feed's lines

One row counts the transactions that wrote to any table a feed's lines depend on (triggers on
each, hub/feeds/changes.py); a feed's ETag and Last-Modified come from it. The per-feed content
fingerprint it replaces is dropped.

Revision ID: c011ec700001
Revises: 9e1300000001
Create Date: 2026-12-03 21:20:00

"""
from alembic import op
import sqlalchemy as sa

from hub.feeds import changes


# revision identifiers, used by Alembic.
revision = 'c011ec700001'
down_revision = '9e1300000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_change'))
    )
    op.create_table('feed_change_pending',
    sa.Column('txid', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('txid', name=op.f('pk_feed_change_pending'))
    )
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(changes.POSTGRESQL_FUNCTIONS)
        op.execute(changes.POSTGRESQL_COMMIT_TRIGGER)
        for table in changes.WATCHED_TABLES:
            op.execute(changes.postgresql_watch(table))
    else:
        for table in changes.WATCHED_TABLES:
            for statement in changes.sqlite_watch(table):
                op.execute(statement)
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.drop_column('content_fingerprint')
        batch_op.drop_column('content_changed_at')


def downgrade():
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('content_fingerprint', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    for table in changes.WATCHED_TABLES:
        if bind.dialect.name == 'postgresql':
            op.execute(f"DROP TRIGGER IF EXISTS feed_change_noted ON {table}")
        else:
            for event_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS feed_change_{event_name}_{table}")
    op.drop_table('feed_change_pending')
    op.drop_table('feed_change')
    if bind.dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS hub_feed_change_commit()")
        op.execute("DROP FUNCTION IF EXISTS hub_feed_change_noted()")
