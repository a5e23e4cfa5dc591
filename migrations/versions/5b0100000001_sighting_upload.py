"""A bulk sighting upload's result is stored and shown on its own page (POST-redirect-GET)

Revision ID: 5b0100000001
Revises: c011ec700001
Create Date: 2026-12-03 21:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b0100000001'
down_revision = 'c011ec700001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sighting_upload',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('value_count', sa.Integer(), nullable=False),
        sa.Column('matched_count', sa.Integer(), nullable=False),
        sa.Column('unmatched_count', sa.Integer(), nullable=False),
        sa.Column('sighting_count', sa.Integer(), nullable=False),
        sa.Column('shown_matches', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sighting_upload_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sighting_upload')),
    )
    with op.batch_alter_table('sighting_upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sighting_upload_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sighting_upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sighting_upload_user_id'))
    op.drop_table('sighting_upload')
