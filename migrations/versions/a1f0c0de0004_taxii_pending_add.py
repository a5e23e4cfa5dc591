"""TAXII: large add-objects requests kept until the workers have shared them

Revision ID: a1f0c0de0004
Revises: b7a1d0c0de04
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0004'
down_revision = 'b7a1d0c0de04'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('taxii_pending_add',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('collection_id', sa.String(length=36), nullable=False),
    sa.Column('objects', sa.Text(), nullable=False),
    sa.Column('done_count', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['taxii_status.id'], name=op.f('fk_taxii_pending_add_id_taxii_status'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taxii_pending_add'))
    )
    with op.batch_alter_table('taxii_pending_add', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taxii_pending_add_lease_until'), ['lease_until'], unique=False)


def downgrade():
    with op.batch_alter_table('taxii_pending_add', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxii_pending_add_lease_until'))

    op.drop_table('taxii_pending_add')
