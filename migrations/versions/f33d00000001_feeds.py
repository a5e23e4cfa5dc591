"""Blocklist feeds: per-organisation URLs that firewalls poll, each with its own token (hash only)

Revision ID: f33d00000001
Revises: 415200000001
Create Date: 2026-12-03 14:22:47.543023

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f33d00000001'
down_revision = '415200000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('tlps', sa.JSON(), nullable=False),
    sa.Column('min_confidence', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_prefix', sa.String(length=12), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('content_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_feed_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_feed_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed')),
    sa.UniqueConstraint('public_id', name=op.f('uq_feed_public_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_feed_token_hash'))
    )
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_org_id'), ['org_id'], unique=False)



def downgrade():
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_org_id'))

    op.drop_table('feed')
