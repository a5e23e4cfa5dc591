"""stix_version.id_as_sent: the id as its sender spelt it, when not in canonical lower case

Revision ID: 13fa57000009
Revises: 13fa57000008
Create Date: 2026-12-04 18:20:00

A manifest names each version by the id its served object carries, which keeps the sender's
spelling (upper-case hex is valid STIX), without reading every body. Versions stored before are
read from their bodies once here.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000009'
down_revision = '13fa57000008'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('stix_version', sa.Column('id_as_sent', sa.String(length=200), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # Only bodies whose text holds an upper-case id (hex A-F after a type's "--") are parsed.
        op.execute("""
            UPDATE stix_version SET id_as_sent = body::jsonb ->> 'id'
            WHERE body ~ '--[0-9a-fA-F-]*[A-F]' AND (body::jsonb ->> 'id') <> lower(body::jsonb ->> 'id')
        """)
    else:
        op.execute("""
            UPDATE stix_version SET id_as_sent = json_extract(body, '$.id')
            WHERE json_extract(body, '$.id') <> lower(json_extract(body, '$.id'))
        """)


def downgrade():
    op.drop_column('stix_version', 'id_as_sent')
