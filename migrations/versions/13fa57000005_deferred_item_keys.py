"""Bulk share write costs: an item's observables, references and grants may be written before it

Revision ID: 13fa57000005
Revises: 13fa57000004
Create Date: 2026-12-04 11:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000005'
down_revision = '13fa57000004'
branch_labels = None
depends_on = None

_KEYS = (
    ('observable', 'fk_observable_item_id_shared_item'),
    ('item_reference', 'fk_item_reference_item_id_shared_item'),
    ('audience_grant', 'fk_audience_grant_item_id_shared_item'),
)


def _deferred(deferred: bool):
    bind = op.get_bind()
    for table, name in _KEYS:
        if bind.dialect.name == 'postgresql':
            op.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {name} "
                       + ("DEFERRABLE INITIALLY DEFERRED" if deferred else "NOT DEFERRABLE"))
        else:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_constraint(name, type_='foreignkey')
                batch_op.create_foreign_key(name, 'shared_item', ['item_id'], ['id'], ondelete='CASCADE',
                                            **({'deferrable': True, 'initially': 'DEFERRED'} if deferred else {}))


def upgrade():
    _deferred(True)


def downgrade():
    _deferred(False)
