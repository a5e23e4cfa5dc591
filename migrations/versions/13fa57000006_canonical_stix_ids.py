"""STIX ids kept canonical (hex in lower case) in the hub's keys: shared_item.stix_id, item_reference.ref_stix_id

Revision ID: 13fa57000006
Revises: 13fa57000005
Create Date: 2026-12-04 13:20:00

The hub now compares STIX ids whatever the case of their UUID's hex (hub.db.StixId). Ids stored
before in upper case are written in lower case, except where the organisation (or the item)
already holds the same id in lower case: those rows stay as they are, reachable by their own
spelling only, rather than break the unique keys. Stored object bodies are not touched.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '13fa57000006'
down_revision = '13fa57000005'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "UPDATE shared_item SET stix_id = lower(stix_id) WHERE stix_id <> lower(stix_id) AND NOT EXISTS ("
        " SELECT 1 FROM shared_item AS held WHERE held.owner_org_id = shared_item.owner_org_id"
        " AND held.stix_id = lower(shared_item.stix_id))"
    )
    op.execute(
        "UPDATE item_reference SET ref_stix_id = lower(ref_stix_id) WHERE ref_stix_id <> lower(ref_stix_id)"
        " AND NOT EXISTS (SELECT 1 FROM item_reference AS held WHERE held.item_id = item_reference.item_id"
        " AND held.ref_stix_id = lower(item_reference.ref_stix_id))"
    )


def downgrade():
    pass  # the spelling an id had before is not kept; lower case is a valid spelling of every id
