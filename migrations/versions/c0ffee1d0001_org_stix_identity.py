"""organisation.stix_identity_id: each organisation's STIX identity id, stored (UUIDv4 for new ones)

Existing organisations keep the id every earlier export named (a UUIDv5 of the slug), so objects
already shared with created_by_ref still point at their author.

Revision ID: c0ffee1d0001
Revises: a1f0c0de0004
Create Date: 2026-12-03 12:30:00

"""
import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0ffee1d0001'
down_revision = 'a1f0c0de0004'
branch_labels = None
depends_on = None

# hub.accounts.models.IDENTITY_NAMESPACE, copied: a migration must not change with the code.
_LEGACY_NAMESPACE = uuid.UUID("6d1c3f0e-6a8e-4f0e-9a59-2f3b8c0a9b11")


def upgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stix_identity_id', sa.String(length=64), nullable=True))
    connection = op.get_bind()
    organisation = sa.table('organisation', sa.column('id', sa.Integer), sa.column('slug', sa.String),
                            sa.column('stix_identity_id', sa.String))
    for org_id, slug in connection.execute(sa.select(organisation.c.id, organisation.c.slug)).all():
        connection.execute(organisation.update().where(organisation.c.id == org_id).values(
            stix_identity_id=f"identity--{uuid.uuid5(_LEGACY_NAMESPACE, slug)}"))
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.alter_column('stix_identity_id', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_organisation_stix_identity_id'), ['stix_identity_id'])


def downgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organisation_stix_identity_id'), type_='unique')
        batch_op.drop_column('stix_identity_id')
