"""item_reference: what relationships and sightings refer to (rule 7), filled from stored versions

Revision ID: b7a1d0c0de04
Revises: b5e55104a002
Create Date: 2026-12-03 12:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


revision = 'b7a1d0c0de04'
down_revision = 'b5e55104a002'
branch_labels = None
depends_on = None

# As hub/intel/references.py says it (a migration keeps its own copy: the code may move on).
REFERENCE_PROPERTIES = {
    "relationship": ("source_ref", "target_ref"),
    "sighting": ("sighting_of_ref", "observed_data_refs"),
}


def upgrade():
    op.create_table('item_reference',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ref_stix_id', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['shared_item.id'], name=op.f('fk_item_reference_item_id_shared_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_reference')),
    sa.UniqueConstraint('item_id', 'ref_stix_id', name=op.f('uq_item_reference_item_id_ref_stix_id'))
    )
    with op.batch_alter_table('item_reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_reference_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_reference_ref_stix_id'), ['ref_stix_id'], unique=False)

    connection = op.get_bind()
    versions = connection.execute(sa.text(
        "SELECT v.item_id, v.body FROM stix_version v JOIN shared_item i ON i.id = v.item_id "
        "WHERE i.stix_type IN ('relationship', 'sighting')"
    ))
    rows = set()
    for item_id, body in versions:
        obj = json.loads(body)
        for prop in REFERENCE_PROPERTIES.get(obj.get("type"), ()):
            value = obj.get(prop)
            for ref in ([value] if isinstance(value, str) else value if isinstance(value, list) else []):
                if isinstance(ref, str) and "--" in ref:
                    rows.add((item_id, ref[:100]))
    if rows:
        table = sa.table('item_reference', sa.column('item_id'), sa.column('ref_stix_id'))
        op.bulk_insert(table, [{"item_id": item_id, "ref_stix_id": ref} for item_id, ref in sorted(rows)])


def downgrade():
    with op.batch_alter_table('item_reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_reference_ref_stix_id'))
        batch_op.drop_index(batch_op.f('ix_item_reference_item_id'))
    op.drop_table('item_reference')
