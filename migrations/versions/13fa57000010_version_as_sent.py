"""stix_version.version_as_sent: a version's modified (else created) as its sender spelt it

Revision ID: 13fa57000010
Revises: 13fa57000009
Create Date: 2026-12-04 19:10:00

A manifest and the versions endpoint name each version by the object's modified, as the object
served and the add's status spell it; the column holds it where the hub's own spelling of the
same moment (milliseconds at least, trailing zeros dropped) would differ, e.g. ".120000Z" or a
timestamp of nine digits. Versions stored before are read from their bodies here.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000010'
down_revision = '13fa57000009'
branch_labels = None
depends_on = None

# A fraction the hub spells the same: three digits, or four to six ending in a digit other than 0.
_SPELT_ALIKE = r'\.[0-9]{3}Z$|\.[0-9]{3}[0-9]{0,2}[1-9]Z$'


def upgrade():
    op.add_column('stix_version', sa.Column('version_as_sent', sa.Text(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # Only bodies holding a modified or created spelt otherwise are parsed.
        op.execute(f"""
            UPDATE stix_version SET version_as_sent = sent.version
            FROM (SELECT id, coalesce(body::jsonb ->> 'modified', body::jsonb ->> 'created') AS version
                  FROM stix_version
                  WHERE modified_us <> 0
                    AND body ~ '"(modified|created)":"[^"]*T[0-9:]{{8}}(Z|[.][0-9]{{1,2}}Z|[.][0-9]{{4,}}Z)"') AS sent
            WHERE sent.id = stix_version.id AND sent.version !~ '{_SPELT_ALIKE}'
        """)
    else:
        # The embedded hub's SQLite: every versioned row, alike or not (the reader prefers the column).
        op.execute("""
            UPDATE stix_version
            SET version_as_sent = coalesce(json_extract(body, '$.modified'), json_extract(body, '$.created'))
            WHERE modified_us <> 0
        """)


def downgrade():
    op.drop_column('stix_version', 'version_as_sent')
