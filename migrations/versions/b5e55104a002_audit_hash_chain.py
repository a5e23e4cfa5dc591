"""audit log: each entry carries the hash of the one before it (prev_hash, hash)

Revision ID: b5e55104a002
Revises: b5e55104a001
Create Date: 2026-12-03 11:55:00.000000

Existing entries are chained in id order. The append-only triggers are lifted for that one
UPDATE and put back (on SQLite, where making the columns NOT NULL rebuilds the table, they are
created again afterwards).
"""
from alembic import op
import sqlalchemy as sa

from hub.audit import GENESIS_HASH, HASHED_FIELDS, entry_hash


# revision identifiers, used by Alembic.
revision = 'b5e55104a002'
down_revision = 'b5e55104a001'
branch_labels = None
depends_on = None

audit_event = sa.table(
    'audit_event',
    sa.column('id', sa.BigInteger()),
    sa.column('at', sa.DateTime(timezone=True)),
    sa.column('action', sa.String()),
    sa.column('actor_user_id', sa.Integer()),
    sa.column('actor_org_id', sa.Integer()),
    sa.column('subject_org_id', sa.Integer()),
    sa.column('item_id', sa.BigInteger()),
    sa.column('stix_id', sa.String()),
    sa.column('detail', sa.Text()),
    sa.column('prev_hash', sa.String()),
    sa.column('hash', sa.String()),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.add_column('audit_event', sa.Column('prev_hash', sa.String(length=64), nullable=True))
    op.add_column('audit_event', sa.Column('hash', sa.String(length=64), nullable=True))
    _drop_append_only_triggers()
    _chain_existing_entries()
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
    _create_append_only_triggers()


def downgrade():
    _drop_append_only_triggers()
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
    _create_append_only_triggers()


def _chain_existing_entries():
    bind = op.get_bind()
    prev = GENESIS_HASH
    rows = bind.execute(sa.select(audit_event).order_by(audit_event.c.id)).mappings().all()
    for row in rows:
        digest = entry_hash({name: row[name] for name in HASHED_FIELDS}, prev)
        bind.execute(audit_event.update().where(audit_event.c.id == row["id"])
                     .values(prev_hash=prev, hash=digest))
        prev = digest


def _drop_append_only_triggers():
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_event")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")


def _create_append_only_triggers():
    # As in the foundation revision; on PostgreSQL its function audit_event_append_only() stays.
    if _postgresql():
        op.execute("""
            CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
        """)
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_event_no_{action.lower()} BEFORE {action} ON audit_event
                BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
            """)
