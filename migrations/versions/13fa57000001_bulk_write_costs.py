"""Bulk share write costs: the audit log names ids without foreign keys; a pending TAXII add's
request is compressed with lz4

Revision ID: 13fa57000001
Revises: 5b0100000002
Create Date: 2026-12-04 00:40:00

"""
from alembic import op

from hub.db import lz4_available, lz4_statement

# revision identifiers, used by Alembic.
revision = '13fa57000001'
down_revision = '5b0100000002'
branch_labels = None
depends_on = None

_AUDIT_FOREIGN_KEYS = (
    ('fk_audit_event_actor_user_id_user_account', 'user_account', 'actor_user_id'),
    ('fk_audit_event_actor_org_id_organisation', 'organisation', 'actor_org_id'),
    ('fk_audit_event_subject_org_id_organisation', 'organisation', 'subject_org_id'),
    ('fk_audit_event_item_id_shared_item', 'shared_item', 'item_id'),
)


def _sqlite_append_only_triggers():
    # SQLite alters a table by copying it into a new one, which drops its triggers: the audit
    # log's append-only triggers are made again, as in the foundation revision.
    for action in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER audit_event_no_{action.lower()} BEFORE {action} ON audit_event
            BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
        """)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for name, _table, _column in _AUDIT_FOREIGN_KEYS:
            op.drop_constraint(name, 'audit_event', type_='foreignkey')
        if lz4_available(bind):
            op.execute(lz4_statement('taxii_pending_add', 'objects'))
    else:
        with op.batch_alter_table('audit_event', schema=None) as batch_op:
            for name, _table, _column in _AUDIT_FOREIGN_KEYS:
                batch_op.drop_constraint(name, type_='foreignkey')
        _sqlite_append_only_triggers()


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("ALTER TABLE taxii_pending_add ALTER COLUMN objects SET COMPRESSION pglz")
        for name, table, column in _AUDIT_FOREIGN_KEYS:
            op.create_foreign_key(name, 'audit_event', table, [column], ['id'])
    else:
        with op.batch_alter_table('audit_event', schema=None) as batch_op:
            for name, table, column in _AUDIT_FOREIGN_KEYS:
                batch_op.create_foreign_key(name, table, [column], ['id'])
        _sqlite_append_only_triggers()
