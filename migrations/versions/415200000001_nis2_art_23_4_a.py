"""nis_submission: NIS2 Art. 23(4)(a) answers (suspected malicious act, cross-border impact) and
the sender's one-time request key (a form sent twice stores one submission)

Revision ID: 415200000001
Revises: 3a41e0000001
Create Date: 2026-12-03 14:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '415200000001'
down_revision = '3a41e0000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('nis_submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspected_malicious', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('cross_border_impact', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('cross_border_countries', sa.Text(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('request_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_nis_submission_request_key'), ['request_key'])


def downgrade():
    with op.batch_alter_table('nis_submission', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_nis_submission_request_key'), type_='unique')
        batch_op.drop_column('request_key')
        batch_op.drop_column('cross_border_countries')
        batch_op.drop_column('cross_border_impact')
        batch_op.drop_column('suspected_malicious')
