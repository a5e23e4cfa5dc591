"""taxii: status resources, collection default TLPs, an index for paging by latest version

Revision ID: a1f0c0de0002
Revises: a1f0c0de0001
Create Date: 2026-11-23 02:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1f0c0de0002'
down_revision = 'a1f0c0de0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shared_item', schema=None) as batch_op:
        batch_op.create_index('ix_shared_item_latest_version_id', ['latest_version_id'], unique=True)

    op.create_table('taxii_status',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('collection_id', sa.String(length=36), nullable=False),
    sa.Column('request_timestamp_us', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('total_count', sa.Integer(), nullable=False),
    sa.Column('success_count', sa.Integer(), nullable=False),
    sa.Column('failure_count', sa.Integer(), nullable=False),
    sa.Column('pending_count', sa.Integer(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_taxii_status_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taxii_status'))
    )
    with op.batch_alter_table('taxii_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taxii_status_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxii_status_user_id'), ['user_id'], unique=False)

    op.create_table('taxii_collection_default',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('collection_id', sa.String(length=36), nullable=False),
    sa.Column('tlp', sa.Enum('clear', 'green', 'amber', 'amber+strict', 'red', name='tlp', native_enum=False, length=12), nullable=False),
    sa.Column('set_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_taxii_collection_default_org_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_user_id'], ['user_account.id'], name=op.f('fk_taxii_collection_default_set_by_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taxii_collection_default')),
    sa.UniqueConstraint('org_id', 'collection_id', name=op.f('uq_taxii_collection_default_org_id_collection_id'))
    )
    with op.batch_alter_table('taxii_collection_default', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taxii_collection_default_org_id'), ['org_id'], unique=False)


def downgrade():
    with op.batch_alter_table('taxii_collection_default', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxii_collection_default_org_id'))

    op.drop_table('taxii_collection_default')
    with op.batch_alter_table('taxii_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxii_status_user_id'))
        batch_op.drop_index(batch_op.f('ix_taxii_status_created'))

    op.drop_table('taxii_status')
    with op.batch_alter_table('shared_item', schema=None) as batch_op:
        batch_op.drop_index('ix_shared_item_latest_version_id')
