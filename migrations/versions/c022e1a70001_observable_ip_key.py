"""observable.ip_key: addresses as sortable keys, so "which addresses does this network hold"
is an index range scan (CIDR correlation, issue 14)

Revision ID: c022e1a70001
Revises: c0ffee1d0002
Create Date: 2026-12-03 14:40:00

"""
import ipaddress

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c022e1a70001'
down_revision = 'c0ffee1d0002'
branch_labels = None
depends_on = None


def _key(value):
    # hub.intel.observables.ip_key, copied: a migration must not change with the code.
    try:
        address = ipaddress.ip_network(value, strict=False).network_address
    except ValueError:
        return None
    width = 8 if address.version == 4 else 32
    return f"{address.version}:{int(address):0{width}x}"


def upgrade():
    with op.batch_alter_table('observable', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ip_key', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_observable_ip_key', ['ip_key'], unique=False)
    connection = op.get_bind()
    observable = sa.table('observable', sa.column('id', sa.BigInteger), sa.column('kind', sa.String),
                          sa.column('value', sa.String), sa.column('ip_key', sa.String))
    rows = connection.execute(sa.select(observable.c.id, observable.c.value).where(
        observable.c.kind.in_(['ipv4-addr', 'ipv6-addr']))).all()
    for row_id, value in rows:
        connection.execute(observable.update().where(observable.c.id == row_id).values(ip_key=_key(value)))


def downgrade():
    with op.batch_alter_table('observable', schema=None) as batch_op:
        batch_op.drop_index('ix_observable_ip_key')
        batch_op.drop_column('ip_key')
