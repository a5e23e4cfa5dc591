"""TAXII: a large add cut into slices that several workers share at once

Each request in flight becomes one slice holding its progress, so a request queued before the
upgrade is continued where it stood.

Revision ID: c0ffee1d0002
Revises: c0ffee1d0001
Create Date: 2026-12-03 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0ffee1d0002'
down_revision = 'c0ffee1d0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('taxii_pending_slice',
    sa.Column('status_id', sa.String(length=36), nullable=False),
    sa.Column('slice_no', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('done_count', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['status_id'], ['taxii_pending_add.id'], name=op.f('fk_taxii_pending_slice_status_id_taxii_pending_add'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('status_id', 'slice_no', name=op.f('pk_taxii_pending_slice'))
    )
    with op.batch_alter_table('taxii_pending_slice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taxii_pending_slice_lease_until'), ['lease_until'], unique=False)
    op.execute("INSERT INTO taxii_pending_slice (status_id, slice_no, done_count, lease_until) "
               "SELECT id, 0, done_count, lease_until FROM taxii_pending_add")
    with op.batch_alter_table('taxii_pending_add', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slice_count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.drop_index(batch_op.f('ix_taxii_pending_add_lease_until'))
        batch_op.drop_column('lease_until')
        batch_op.drop_column('done_count')
    with op.batch_alter_table('taxii_pending_add', schema=None) as batch_op:
        batch_op.alter_column('slice_count', existing_type=sa.Integer(), server_default=None)


def downgrade():
    # A request cut into several slices cannot go back to one counter: only single-slice requests
    # keep their progress; the others start again (sharing twice is harmless, counted once).
    with op.batch_alter_table('taxii_pending_add', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_taxii_pending_add_lease_until'), ['lease_until'], unique=False)
    op.execute("UPDATE taxii_pending_add SET done_count = (SELECT s.done_count FROM taxii_pending_slice s "
               "WHERE s.status_id = taxii_pending_add.id AND s.slice_no = 0) WHERE slice_count = 1 "
               "AND EXISTS (SELECT 1 FROM taxii_pending_slice s WHERE s.status_id = taxii_pending_add.id)")
    with op.batch_alter_table('taxii_pending_add', schema=None) as batch_op:
        batch_op.alter_column('done_count', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_column('slice_count')
    with op.batch_alter_table('taxii_pending_slice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxii_pending_slice_lease_until'))
    op.drop_table('taxii_pending_slice')
