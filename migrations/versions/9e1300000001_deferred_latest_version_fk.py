"""A new item's latest_version_id is checked at commit (deferred foreign key)

A bulk share then writes each item already naming its version (one COPY of the items, one of
the versions) instead of updating every new item row afterwards.

Revision ID: 9e1300000001
Revises: ad0100000001
Create Date: 2026-12-03 18:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9e1300000001'
down_revision = 'ad0100000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shared_item', schema=None) as batch_op:
        batch_op.drop_constraint('fk_shared_item_latest_version', type_='foreignkey')
        batch_op.create_foreign_key('fk_shared_item_latest_version', 'stix_version', ['latest_version_id'], ['id'],
                                    deferrable=True, initially='DEFERRED')


def downgrade():
    with op.batch_alter_table('shared_item', schema=None) as batch_op:
        batch_op.drop_constraint('fk_shared_item_latest_version', type_='foreignkey')
        batch_op.create_foreign_key('fk_shared_item_latest_version', 'stix_version', ['latest_version_id'], ['id'])
