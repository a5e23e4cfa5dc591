"""An invited user chooses their own password at first sign-in (the admin saw the generated one)

Revision ID: 5b0100000002
Revises: 5b0100000001
Create Date: 2026-12-03 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b0100000002'
down_revision = '5b0100000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_change_due', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('password_change_due')
