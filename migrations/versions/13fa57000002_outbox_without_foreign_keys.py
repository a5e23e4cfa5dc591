"""Bulk share write costs: outbox entries name their item and version without foreign keys

Revision ID: 13fa57000002
Revises: 13fa57000001
Create Date: 2026-12-04 02:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000002'
down_revision = '13fa57000001'
branch_labels = None
depends_on = None

# An entry is written with its item and version, in their transaction, by the one write path,
# and nothing deletes items: the row-by-row checks of these keys were two fifths of the cost of
# writing a bulk share's outbox.
_OUTBOX_FOREIGN_KEYS = (
    ('fk_outbox_entry_item_id_shared_item', 'shared_item', 'item_id', 'CASCADE'),
    ('fk_outbox_entry_version_id_stix_version', 'stix_version', 'version_id', None),
)


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name, _table, _column, _on_delete in _OUTBOX_FOREIGN_KEYS:
            op.drop_constraint(name, 'outbox_entry', type_='foreignkey')
    else:
        with op.batch_alter_table('outbox_entry', schema=None) as batch_op:
            for name, _table, _column, _on_delete in _OUTBOX_FOREIGN_KEYS:
                batch_op.drop_constraint(name, type_='foreignkey')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name, table, column, on_delete in _OUTBOX_FOREIGN_KEYS:
            op.create_foreign_key(name, 'outbox_entry', table, [column], ['id'], ondelete=on_delete)
    else:
        with op.batch_alter_table('outbox_entry', schema=None) as batch_op:
            for name, table, column, on_delete in _OUTBOX_FOREIGN_KEYS:
                batch_op.create_foreign_key(name, table, [column], ['id'], ondelete=on_delete)
