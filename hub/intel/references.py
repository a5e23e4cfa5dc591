"""What a derived STIX object refers to, for rule 7 (derived data obeys its sources)."""
from __future__ import annotations

from sqlalchemy import Select, and_, or_, select, update

from hub import policy
from hub.db import canonical_stix_id, id_chunks, in_parameter, insert_rows
from hub.extensions import db
from hub.intel.models import ItemReference, SharedItem
from hub.principal import Principal

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


def ends_known_to(principal: Principal, prepared: list) -> set[str]:
    """Of the ids these objects name, those whose end the writer knows: shared alongside, in the
    same batch, or held in a copy the writer may read now (ItemReference.writer_reads_end); its
    own organisation's copies other than RED ones, every member reads (rule 5)."""
    named = {ref for candidate in prepared for ref in candidate.references}
    known = named & {candidate.stix_id for candidate in prepared}
    unknown = sorted(named - known)
    if not unknown:  # most batches (indicators, observables) name nothing: no query
        return known
    statement = policy.statement_for_reader(principal, ("references", "known ends"), _known_ends_statement)
    for chunk in id_chunks(unknown):  # one array on PostgreSQL
        known.update(db.session.scalars(statement, {"ends": chunk, **policy.reader_parameters(principal)}))
    return known


def _known_ends_statement(reader) -> Select:
    # Built once per kind of reader (policy.statement_for_reader): building the policy predicate
    # afresh for every chunk of a bulk share cost more than the query.
    return select(SharedItem.stix_id).distinct().where(
        in_parameter(SharedItem.stix_id, "ends"),
        or_(and_(policy.owned_by_org_of(reader, SharedItem.owner_org_id), policy.held_by_owner_org()),
            policy.readable_items_for(reader)))


def reference_rows(item_ids_and_refs, known: set[str]) -> list[dict]:
    """The item_reference rows of (item id, referenced STIX ids) pairs; `known`: the ends their
    writer knows (ends_known_to)."""
    return [{"item_id": item_id, "ref_stix_id": ref, "writer_reads_end": ref in known}
            for item_id, refs in item_ids_and_refs for ref in sorted(refs)]


def record_references(item_ids_and_refs: list[tuple[int, set[str]]], known: set[str]) -> None:
    """Keep the references of these items (new versions may name more; none is dropped). A
    reference already kept becomes known once a later writer knows its end: never the reverse."""
    rows = reference_rows(item_ids_and_refs, known)
    if not rows:
        return
    insert_rows(ItemReference, rows, {})
    for item_id, refs in item_ids_and_refs:
        learnt = sorted(set(refs) & known)
        if learnt:
            db.session.execute(update(ItemReference).where(
                ItemReference.item_id == item_id, ItemReference.ref_stix_id.in_(learnt), ~ItemReference.writer_reads_end,
            ).values(writer_reads_end=True).execution_options(synchronize_session=False))


def references_kept(item_id: int) -> set[str]:
    return set(db.session.scalars(select(ItemReference.ref_stix_id).where(ItemReference.item_id == item_id)))
