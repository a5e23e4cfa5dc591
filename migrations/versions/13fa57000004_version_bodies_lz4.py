"""Bulk share write costs: STIX version bodies compressed with lz4

Revision ID: 13fa57000004
Revises: 13fa57000003
Create Date: 2026-12-04 10:45:00

"""
from alembic import op

from hub.db import lz4_available, lz4_statement

# revision identifiers, used by Alembic.
revision = '13fa57000004'
down_revision = '13fa57000003'
branch_labels = None
depends_on = None


# Only values written from now on: bodies already stored stay as they are (PostgreSQL reads both).
def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql' and lz4_available(bind):
        op.execute(lz4_statement('stix_version', 'body'))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(lz4_statement('stix_version', 'body', 'default'))
