"""item_reference.writer_reads_end: whether a writer of the referring item could read the end

Revision ID: 13fa57000008
Revises: 13fa57000007
Create Date: 2026-12-04 16:40:00

Within a relationship's or sighting's own organisation, an end that none of its writers could
read no longer hides it (rule 7 against rule 8: hiding it told the writer that someone holds the
id). References stored before are marked true: they keep hiding as they did.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000008'
down_revision = '13fa57000007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('item_reference', sa.Column('writer_reads_end', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    op.drop_column('item_reference', 'writer_reads_end')
