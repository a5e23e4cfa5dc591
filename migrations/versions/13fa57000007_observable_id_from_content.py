"""shared_item.id_from_content: an observable whose id is the one STIX derives from its values

Revision ID: 13fa57000007
Revises: 13fa57000006
Create Date: 2026-12-04 16:40:00

Among several organisations' copies of one observable id, a read serves such a copy before one
that holds other values under the id (anyone may send any id). Items stored before are marked
false: their order among copies stays what it was (the first shared).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000007'
down_revision = '13fa57000006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('shared_item', sa.Column('id_from_content', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column('shared_item', 'id_from_content')
