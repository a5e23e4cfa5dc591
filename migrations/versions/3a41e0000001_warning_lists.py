"""Warning lists: lists of known-benign values loaded from MISP's warninglists

Revision ID: 3a41e0000001
Revises: c022e1a70001
Create Date: 2026-12-03 14:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3a41e0000001'
down_revision = 'c022e1a70001'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('warning_list',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('misp_type', sa.String(length=16), nullable=False),
    sa.Column('misp_version', sa.BigInteger(), nullable=False),
    sa.Column('applies_to', sa.String(length=200), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_list')),
    sa.UniqueConstraint('name', name=op.f('uq_warning_list_name'))
    )
    op.create_table('warning_list_entry',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('list_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=2048), nullable=False),
    sa.Column('match', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['warning_list.id'], name=op.f('fk_warning_list_entry_list_id_warning_list'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_list_entry'))
    )
    with op.batch_alter_table('warning_list_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_list_entry_list_id'), ['list_id'], unique=False)
        batch_op.create_index('ix_warning_list_entry_kind_value', ['kind', 'value'], unique=False)
    op.create_table('warning_list_stamp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_list_stamp'))
    )


def downgrade():
    op.drop_table('warning_list_stamp')
    with op.batch_alter_table('warning_list_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_warning_list_entry_kind_value')
        batch_op.drop_index(batch_op.f('ix_warning_list_entry_list_id'))
    op.drop_table('warning_list_entry')
    op.drop_table('warning_list')
