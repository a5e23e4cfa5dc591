"""What a derived STIX object refers to, for rule 7 (derived data obeys its sources)."""
from __future__ import annotations

from sqlalchemy import select

from hub.db import canonical_stix_id, insert_rows
from hub.extensions import db
from hub.intel.models import ItemReference

# The properties through which a relationship or sighting names other objects. A sighting's
# where_sighted_refs name the sighting organisations' identities: not content the policy guards.
REFERENCE_PROPERTIES = {
    "relationship": ("source_ref", "target_ref"),
    "sighting": ("sighting_of_ref", "observed_data_refs"),
}


def references_of(obj: dict) -> set[str]:
    """The STIX ids a relationship or sighting refers to; empty for any other object."""
    found: set[str] = set()
    for prop in REFERENCE_PROPERTIES.get(obj.get("type"), ()):
        value = obj.get(prop)
        for ref in ([value] if isinstance(value, str) else value if isinstance(value, list) else []):
            if isinstance(ref, str) and "--" in ref:
                found.add(canonical_stix_id(ref[:100]))
    return found


def reference_rows(item_ids_and_refs) -> list[dict]:
    """The item_reference rows of (item id, referenced STIX ids) pairs."""
    return [{"item_id": item_id, "ref_stix_id": ref} for item_id, refs in item_ids_and_refs for ref in sorted(refs)]


def record_references(item_ids_and_refs: list[tuple[int, set[str]]]) -> None:
    """Keep the references of these items (new versions may name more; none is dropped)."""
    rows = reference_rows(item_ids_and_refs)
    if rows:
        insert_rows(ItemReference, rows, {})


def references_kept(item_id: int) -> set[str]:
    return set(db.session.scalars(select(ItemReference.ref_stix_id).where(ItemReference.item_id == item_id)))
