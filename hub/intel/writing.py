"""Writing a share: the one path every share takes (web forms, REST, TAXII, incident reports).

What a share writes is said once, by the row builders below: the item, its version, the
observables and references it names, its audience grants, the audit entry and the outbox event.
`write_new_items` executes them for a batch in one statement per table (COPY on PostgreSQL);
`write_new_version` for a new version of an item the organisation already holds. Before anything
is written, `sort_out` applies rule 11 (an id belongs to its first owner; created_by_ref is the
sharer's own identity) and the version rules, object by object.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import psycopg
from sqlalchemy import bindparam, delete, event, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, object_session

from hub import policy
from hub.accounts.models import Organisation, SharingGroup
from hub.audit import AuditEvent, chain_rows
from hub.db import (
    canonical_stix_id, copy_rows, id_chunks, id_in, insert_rows, on_postgresql, reserve_ids, us_to_datetime, utcnow,
)
from hub.extensions import db
from hub.intel import observables
from hub.intel.audience import Audience
from hub.intel.models import AudienceGrant, ItemReference, Observable, SharedItem, StixVersion
from hub.intel.references import ends_known_to, record_references, reference_rows
from hub.intel.store import allocate_date_added, finer_than_microseconds, load_json, same_moment, version_spelling
from hub.intel.validation import SCO_TYPES
from hub.outbox import Event, announce, announce_many
from hub.principal import Principal


class DatabaseRefused(Exception):
    """The database refused a batch (a concurrent writer of the same id): retry one by one."""


@dataclass
class Sorted:
    """A batch of prepared objects, sorted out against what the hub already holds."""

    new: list = field(default_factory=list)  # (key, candidate): ids new to the hub
    versions: list = field(default_factory=list)  # (key, item, candidate): new versions of our items
    unchanged: list = field(default_factory=list)  # (key, candidate): a version the hub already has
    # (key, item, candidate): a version our organisation already has, sent again; its audience
    # may have grown (a re-share with more recipients widens, rule 10)
    again: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (key, candidate, reason)


# Objects each organisation holds its own copy of when another organisation holds the id, even
# one that says the same (its audience and TLP are not the sharer's). An observable's id derives
# from its value (STIX 2.1, 2.9) and it has no versions: refusing it would tell the sharer that
# someone holds this value where it may not read, and stop it from sharing what it saw. A marking
# definition has no versions either, and the TLP its sender's objects are held to
# (hub.intel.markings) must be the sender's own definition, not whatever another organisation put
# first under the same id. Readers get one copy per id (their own first, then the first shared:
# reads.get_item, TAXII's preferred copy).
OWN_COPY_TYPES = frozenset(SCO_TYPES) | {"marking-definition"}

# Rule 11, in one answer whatever the reason (another organisation's id, or an item of one's own
# organisation that one may not read): the answer never tells which, nor anything of the item.
UNUSABLE_ID = ("this id cannot be used for your object: an id belongs to the organisation that first "
               "shared it, and only people who may read the item add versions to it; mint a new id")


def sort_out(principal: Principal, keyed, anonymous: bool) -> Sorted:
    """Decide for each (key, candidate) whether it is new, a new version, already held or refused.

    Every id of one batch must appear once (callers split versions of one id into rounds).
    """
    result = Sorted()
    keyed = list(keyed)
    if not keyed:
        return result
    stix_ids = {candidate.stix_id for _, candidate in keyed}
    _claim(stix_ids)
    # One array parameter on PostgreSQL: hundreds of placeholders cost more to send than to look up.
    held = db.session.scalars(select(SharedItem).where(id_in(SharedItem.stix_id, sorted(stix_ids)))).all()
    ours = {item.stix_id: item for item in held if policy.is_owner_org(principal, item)}
    theirs: dict[str, list[SharedItem]] = {}
    for item in held:
        if not policy.is_owner_org(principal, item):
            theirs.setdefault(item.stix_id, []).append(item)
    known = set(db.session.execute(
        select(StixVersion.item_id, StixVersion.modified_us).where(id_in(StixVersion.item_id, [i.id for i in held]))
    ).all()) if held else set()
    twins = _microsecond_twins(keyed, held, known)
    known -= twins
    other_identities = _other_member_identities(principal, keyed)
    own_identity = db.session.scalar(select(Organisation.stix_identity_id).where(Organisation.id == principal.org_id)) \
        if anonymous else None
    # Rule 11 asks "may the sharer read it?" of every copy held: once for the batch.
    readable = policy.readable_item_ids(principal, [i.id for i in held])
    same_as_held = _same_as_a_readable_copy(keyed, theirs, known, readable)
    renewed = _observables_renewed(keyed, ours)
    versioned = {item_id for item_id, modified_us in known if modified_us}

    for key, candidate in keyed:
        problem = _identity_problem(candidate, other_identities, own_identity)
        if problem:
            result.refused.append((key, candidate, problem))
            continue
        item = ours.get(candidate.stix_id)
        if item is not None:
            problem = _version_problem(item, candidate, anonymous, item.id in readable)
            if problem is None and (item.id, candidate.modified_us) in twins:
                problem = MICROSECOND_TWIN
            if problem is None and not candidate.version and item.id in versioned:
                problem = UNVERSIONED_AFTER_VERSIONS
            if problem:
                result.refused.append((key, candidate, problem))
            elif (item.id, candidate.modified_us) in known and candidate.stix_id not in renewed:
                result.again.append((key, item, candidate))
            else:
                result.versions.append((key, item, candidate))
            continue
        if candidate.stix_id not in theirs or candidate.stix_type in OWN_COPY_TYPES:
            result.new.append((key, candidate))
        elif candidate.stix_id in same_as_held:
            result.unchanged.append((key, candidate))  # e.g. ATT&CK re-shared as published
        else:
            result.refused.append((key, candidate, UNUSABLE_ID))
    return result


def _identity_problem(candidate, other_identities: set[str], own_identity: str | None) -> str | None:
    """Rule 11 for the identities an object names: never another member organisation's (as
    itself, its creator or where a sighting was seen), and, in an anonymous share (`own_identity`
    given), never the sharer's own."""
    if candidate.stix_type == "identity" and candidate.stix_id in other_identities:
        return ("this id is another member organisation's identity: an organisation's identity object is its "
                "own to publish")
    if other_identities & set(candidate.where_sighted_refs):
        return ("where_sighted_refs names another member organisation's identity: a sighting says where its "
                "sharer saw it; name your own or a location")
    if candidate.created_by_ref and candidate.created_by_ref in other_identities:
        return ("created_by_ref names another member organisation's identity: leave it out or use your "
                "organisation's own")
    if own_identity is not None and candidate.stix_id == own_identity:
        return "an anonymous share must not carry your organisation's identity"
    if own_identity is not None and own_identity in candidate.where_sighted_refs:
        return "an anonymous sighting must not name your organisation's identity in where_sighted_refs"
    return None


UNVERSIONED_AFTER_VERSIONS = ("this object is held with versions (a modified timestamp): send its next version with a "
                              "later modified, not a copy without one")
MICROSECOND_TWIN = ("another version of this object modified within the same microsecond is held or sent with "
                    "it: the hub tells versions apart to the microsecond; give this version a later modified")


def _microsecond_twins(keyed, held, known: set) -> set:
    """(item id, modified_us) of held versions that a candidate falls on without being the same
    moment: another version, which the hub's version key (the microsecond) cannot hold beside
    it. STIX allows any precision, so either may be the finer one: held versions are read only
    when the candidate is finer, or when their text holds a finer timestamp (found in SQL)."""
    sent = {(candidate.stix_id, candidate.modified_us): candidate.version for _, candidate in keyed}
    stix_ids = {item.id: item.stix_id for item in held}
    hits = {(item_id, modified_us) for item_id, modified_us in known if (stix_ids[item_id], modified_us) in sent}
    if not hits:
        return set()
    finer_sent = {item_id for item_id, modified_us in hits
                  if finer_than_microseconds(sent[(stix_ids[item_id], modified_us)])}
    twins = set()
    for item_id, modified_us, body in db.session.execute(
            select(StixVersion.item_id, StixVersion.modified_us, StixVersion.body)
            .where(id_in(StixVersion.item_id, sorted({item_id for item_id, _ in hits})),
                   or_(id_in(StixVersion.item_id, sorted(finer_sent)), StixVersion.body.regexp_match(_FINER_IN_JSON)))):
        if (item_id, modified_us) in hits:
            held_version = load_json(body)
            spelt = held_version.get("modified") or held_version.get("created") or ""
            if not same_moment(spelt, sent[(stix_ids[item_id], modified_us)]):
                twins.add((item_id, modified_us))
    return twins


def _observables_renewed(keyed, ours: dict) -> set[str]:
    """Ids of unversioned objects (observables: no modified, no created) that the organisation
    holds and sends again with other content: each is written as its next version, which
    replaces the held one (write_new_versions), where "already shared" would drop what changed (a
    feed's new score, a note added). The TLP and version rules apply as to any new version."""
    sent = {item.latest_version_id: candidate for _, candidate in keyed if not candidate.version
            for item in [ours.get(candidate.stix_id)] if item is not None}
    if not sent:
        return set()
    # Only a held copy without versions itself: a version with a modified is never rewritten.
    return {sent[version_id].stix_id for version_id, modified_us, body in db.session.execute(
        select(StixVersion.id, StixVersion.modified_us, StixVersion.body).where(id_in(StixVersion.id, sorted(sent))))
        if modified_us == 0 and body != sent[version_id].body}


# A timestamp written finer than the microsecond, in a stored body's JSON text.
_FINER_IN_JSON = r'[0-9]T[0-9:]{8}[.][0-9]{7,}Z"'


def _claim(stix_ids: set[str]) -> None:
    """Hold these ids until the transaction ends, so that two first shares of one id at the same
    time cannot both find it unheld and both become its owner (rule 11): the second waits, then
    sees the first's item. Transaction-level advisory locks on PostgreSQL, taken in one sorted
    order so that two overlapping batches cannot deadlock; SQLite has one writer at a time."""
    if not on_postgresql():
        return
    db.session.execute(text(
        "SELECT pg_advisory_xact_lock(k) FROM "
        "(SELECT DISTINCT hashtextextended(id, 1311) AS k FROM unnest(CAST(:ids AS text[])) AS id ORDER BY k) AS claims"
    ), {"ids": sorted(stix_ids)})


def _same_as_a_readable_copy(keyed, theirs: dict, known: set, readable: set) -> set[str]:
    """Ids of candidates (other than OWN_COPY_TYPES) that another organisation's copy the sharer
    may read already holds: the same version with the same content (their TLP markings aside:
    ATT&CK re-shared as published under another TLP). A copy that says something else under the
    same version is not "already shared" (it was reported so and dropped)."""
    copies = {(other.id, candidate.modified_us): candidate for _, candidate in keyed
              if candidate.stix_type not in OWN_COPY_TYPES
              for other in theirs.get(candidate.stix_id, ())
              if (other.id, candidate.modified_us) in known and other.id in readable}
    if not copies:
        return set()
    same = set()
    for item_id, modified_us, body in db.session.execute(
            select(StixVersion.item_id, StixVersion.modified_us, StixVersion.body)
            .where(id_in(StixVersion.item_id, sorted({item_id for item_id, _ in copies})))):
        candidate = copies.get((item_id, modified_us))
        if candidate is not None and _content(load_json(body)) == _content(load_json(candidate.body)):
            same.add(candidate.stix_id)
    return same


def _content(obj: dict) -> dict:
    return {key: value for key, value in obj.items() if key != "object_marking_refs"}


def _other_member_identities(principal: Principal, keyed) -> set[str]:
    named = {candidate.created_by_ref for _, candidate in keyed if candidate.created_by_ref}
    named |= {candidate.stix_id for _, candidate in keyed if candidate.stix_type == "identity"}
    named |= {ref for _, candidate in keyed for ref in candidate.where_sighted_refs if ref.startswith("identity--")}
    if not named:
        return set()
    return set(db.session.scalars(select(Organisation.stix_identity_id).where(
        Organisation.stix_identity_id.in_(named), Organisation.id != principal.org_id)))


def _version_problem(item: SharedItem, candidate, anonymous: bool, readable: bool) -> str | None:
    """Why a candidate cannot be a new version of the organisation's item (`readable`: whether the
    sharer may read it; rule 11 lets only readers add versions, policy.readable_item_ids)."""
    if not readable:
        return UNUSABLE_ID
    if item.tlp != candidate.tlp:
        return f"this item was shared as {item.tlp.label}; a new version cannot change its TLP"
    if item.anonymous != anonymous:
        return "a new version cannot change whether the item is anonymous"
    if item.revoked:
        return "this item is revoked; a revoked object cannot get new versions"
    return None


# --- Row builders: what a share writes, said once ----------------------------------------------

def item_row(principal: Principal, candidate, audience: Audience, anonymous: bool, stamp: int) -> dict:
    return {
        "stix_id": candidate.stix_id,
        "stix_type": candidate.stix_type,
        "owner_org_id": principal.org_id,
        "author_id": principal.user_id,
        "tlp": candidate.tlp.value,
        "audience_community": audience.community,
        "anonymous": anonymous,
        "revoked": candidate.revoked,
        "valid_until": us_to_datetime(candidate.valid_until_us) if candidate.valid_until_us else None,
        "name": candidate.name,
        "search_text": candidate.search_text,
        "id_from_content": candidate.id_from_content,
        "first_added_us": stamp,
        "last_added_us": stamp,
    }


def version_row(item_id: int, candidate, stamp: int) -> dict:
    return {"item_id": item_id, "modified_us": candidate.modified_us, "date_added_us": stamp,
            "spec_version": candidate.spec_version, "body": candidate.body, "id_as_sent": candidate.id_as_sent,
            "version_as_sent": version_as_sent(candidate.version, candidate.modified_us)}


def id_as_sent(stix_id: str) -> str | None:
    """The id as sent, where it is not the hub's canonical key (upper-case hex)."""
    return None if stix_id == canonical_stix_id(stix_id) else stix_id


def version_as_sent(version: str, modified_us: int) -> str | None:
    """The version as sent, where the hub's own spelling of its moment would say it otherwise."""
    if not version or not modified_us:
        return None
    return None if version == version_spelling(modified_us) else version


def observable_rows(item_id: int, candidate) -> list[dict]:
    return [{"item_id": item_id, "kind": kind, "value": value, "ip_key": observables.ip_key(kind, value)}
            for kind, value in sorted(candidate.observables)]


def grant_keys(audience: Audience) -> list[tuple[int | None, int | None, int | None]]:
    return ([(org_id, None, None) for org_id in sorted(audience.org_ids)]
            + [(None, group_id, None) for group_id in sorted(audience.group_ids)]
            + [(None, None, user_id) for user_id in sorted(audience.user_ids)])


def grant_rows(item_id: int, keys) -> list[dict]:
    return [{"item_id": item_id, "org_id": org_id, "group_id": group_id, "user_id": user_id}
            for org_id, group_id, user_id in keys]


def audience_detail(audience: Audience, keys=None, community: bool | None = None):
    """The audience as the audit log records it (ids; the log page turns them into names)."""
    keys = grant_keys(audience) if keys is None else keys
    community = audience.community if community is None else community
    if not keys and not community:
        return "own"
    return {"community": community,
            "org_ids": sorted(k[0] for k in keys if k[0] is not None),
            "group_ids": sorted(k[1] for k in keys if k[1] is not None),
            "user_ids": sorted(k[2] for k in keys if k[2] is not None)}


def audit_row(action: str, principal: Principal, item_id: int, stix_id: str, detail: dict, at) -> dict:
    return {"at": at, "action": action, "actor_user_id": principal.user_id, "actor_org_id": principal.org_id,
            "subject_org_id": principal.org_id, "item_id": item_id, "stix_id": stix_id,
            "detail": orjson.dumps(detail).decode()}


def share_detail(candidate, anonymous: bool, audience_described) -> dict:
    return {"tlp": candidate.tlp.value, "anonymous": anonymous, "audience": audience_described,
            "modified_us": candidate.modified_us}


# --- Executing them ----------------------------------------------------------------------------

def write_new_items(principal: Principal, prepared: list, audience: Audience, anonymous: bool, *,
                    announced_as: Event = Event.shared) -> list[int]:
    """Write objects new to the hub, one statement per table for the whole batch. No commit."""
    if not prepared:
        return []
    if on_postgresql():
        return _write_new_items_postgresql(principal, prepared, audience, anonymous, announced_as)
    stamps = allocate_date_added(len(prepared))
    item_ids = insert_returning_ids(SharedItem.__table__, [
        item_row(principal, candidate, audience, anonymous, stamp) for candidate, stamp in zip(prepared, stamps)])
    version_ids = insert_returning_ids(StixVersion.__table__, [
        version_row(item_id, candidate, stamp) for candidate, item_id, stamp in zip(prepared, item_ids, stamps)])
    _point_to_their_versions(item_ids)
    insert_all(Observable.__table__, _observable_rows_of(prepared, item_ids))
    # New items hold no reference yet, and each candidate names a set: plain rows, no conflict to skip.
    insert_all(ItemReference.__table__, reference_rows(zip(item_ids, (candidate.references for candidate in prepared)),
                                                       ends_known_to(principal, prepared)))
    insert_all(AudienceGrant.__table__, _grant_rows_of(audience, item_ids))
    insert_all(AuditEvent.__table__, chain_rows(_share_audit_rows(principal, prepared, item_ids, audience, anonymous)))
    # Remembered on the session, so that alert dispatch (after commit) queues these as every other event.
    announce_many(announced_as, list(zip(item_ids, version_ids)), actor_id=principal.user_id,
                  stix_types={candidate.stix_type for candidate in prepared})
    db.session.flush()
    return item_ids


def _write_new_items_postgresql(principal: Principal, prepared: list, audience: Audience, anonymous: bool,
                                announced_as: Event) -> list[int]:
    """PostgreSQL: every row made, and every row that carries no stamp written, before the
    date_added lock, which writers take in turn until they commit; under it only the stamps, the
    COPYs of items and versions and the audit chain.

    The ids come from the tables' sequences, and the item and its version name each other, which
    the deferred foreign key (latest_version_id) allows until commit: no UPDATE of every new item
    afterwards (each one a second copy of the row and of its ten index entries). The outbox
    entries, which hold no foreign key, are written before the lock too. Building the other rows
    under the lock was two fifths of the time writers waited for each other. Observables,
    references and grants name their item with a deferred foreign key (migration 13fa57000005):
    they go in before it, and only the key checks, at commit, are left under the lock.
    """
    item_ids = reserve_ids(SharedItem.__table__, len(prepared))
    version_ids = reserve_ids(StixVersion.__table__, len(prepared))
    announce_many(announced_as, list(zip(item_ids, version_ids)), actor_id=principal.user_id,
                  stix_types={candidate.stix_type for candidate in prepared})
    # Stamped (0 until then) once the lock is held.
    items = [{"id": item_id, "latest_version_id": version_id, **item_row(principal, candidate, audience, anonymous, 0)}
             for candidate, item_id, version_id in zip(prepared, item_ids, version_ids)]
    versions = [{"id": version_id, **version_row(item_id, candidate, 0)}
                for candidate, item_id, version_id in zip(prepared, item_ids, version_ids)]
    observables = _observable_rows_of(prepared, item_ids)
    references = reference_rows(zip(item_ids, (candidate.references for candidate in prepared)),
                                ends_known_to(principal, prepared))
    grants = _grant_rows_of(audience, item_ids)
    audit = _share_audit_rows(principal, prepared, item_ids, audience, anonymous)

    insert_all(Observable.__table__, observables)
    insert_all(ItemReference.__table__, references)
    insert_all(AudienceGrant.__table__, grants)
    for item, version, stamp in zip(items, versions, allocate_date_added(len(prepared))):
        item["first_added_us"] = item["last_added_us"] = version["date_added_us"] = stamp
    _copy(SharedItem.__table__, items)
    _copy(StixVersion.__table__, versions)
    now = utcnow()  # the log's times follow its chain, which writers extend in turn
    for row in audit:
        row["at"] = now
    insert_all(AuditEvent.__table__, chain_rows(audit))
    db.session.flush()
    return item_ids


def _observable_rows_of(prepared: list, item_ids: list[int]) -> list[dict]:
    return [row for candidate, item_id in zip(prepared, item_ids) for row in observable_rows(item_id, candidate)]


def _grant_rows_of(audience: Audience, item_ids: list[int]) -> list[dict]:
    keys = grant_keys(audience)
    return [row for item_id in item_ids for row in grant_rows(item_id, keys)]


def _share_audit_rows(principal, prepared, item_ids, audience, anonymous) -> list[dict]:
    described, now = audience_detail(audience), utcnow()
    return [audit_row("share", principal, item_id, candidate.stix_id, share_detail(candidate, anonymous, described), now)
            for candidate, item_id in zip(prepared, item_ids)]


def _point_to_their_versions(item_ids: list[int]) -> None:
    """latest_version_id of new items (one version each), in one statement for the batch (SQLite)."""
    items, versions = SharedItem.__table__, StixVersion.__table__
    for chunk in id_chunks(item_ids):
        db.session.execute(update(items).where(versions.c.item_id == items.c.id, id_in(items.c.id, chunk))
                           .values(latest_version_id=versions.c.id).execution_options(synchronize_session=False))


def write_again(principal: Principal, pairs: list, audience: Audience) -> None:
    """A version the organisation already holds, shared again: only its audience may grow. No commit."""
    now = utcnow()
    widened = []
    for item, _candidate in pairs:
        added = add_audience(item, audience, added_anew=False)
        if added:
            widened.append(item.id)
            announce(Event.widened, item.id, item.latest_version_id, actor_id=principal.user_id)
            insert_all(AuditEvent.__table__, chain_rows([
                audit_row("widen", principal, item.id, item.stix_id, {"added": added}, now)]))
    _added_anew(widened)


def write_new_versions(principal: Principal, pairs: list, audience: Audience, anonymous: bool) -> None:
    """Write new versions of items the organisation holds, and union the audience in. No commit.

    An item whose audience grows is announced and audited as widened too (rule 10), so that
    subscribers who follow widenings hear of it whichever way it happened.
    """
    if not pairs:
        return
    db.session.flush()
    known = ends_known_to(principal, [candidate for _item, candidate in pairs])  # one query, before the lock
    stamps = allocate_date_added(len(pairs))
    now = utcnow()
    widened, gave_up_place = [], []
    for (item, candidate), stamp in zip(pairs, stamps):
        if item.id_from_content and not candidate.id_from_content:
            gave_up_place.append(item.stix_id)
        # A copy without a version reaches here only for an object held without versions either
        # (sort_out refuses it otherwise: UNVERSIONED_AFTER_VERSIONS).
        if candidate.version:
            version_id = insert_returning_ids(StixVersion.__table__, [version_row(item.id, candidate, stamp)])[0]
            latest_modified = db.session.scalar(select(func.max(StixVersion.modified_us))
                                                .where(StixVersion.item_id == item.id, StixVersion.id != version_id))
        else:
            # An observable has no versions (STIX 2.1, 3.6): its one version takes the content sent
            # (sort_out: _observables_renewed) and a new date_added, which is its TAXII version.
            version_id, latest_modified = item.latest_version_id, None
            db.session.execute(update(StixVersion).where(StixVersion.id == version_id)
                               .values(body=candidate.body, date_added_us=stamp, id_as_sent=candidate.id_as_sent,
                                       version_as_sent=None)
                               .execution_options(synchronize_session=False))
            db.session.execute(delete(Observable).where(Observable.item_id == item.id)
                               .execution_options(synchronize_session=False))
        changes = {"last_added_us": stamp}
        if latest_modified is None or candidate.modified_us >= latest_modified:
            # The id_from_content of what is served now: an observable renewed with other values
            # loses its place before the copies that say what its id says (reads.served_before).
            changes.update(latest_version_id=version_id, name=candidate.name, search_text=candidate.search_text,
                           id_from_content=candidate.id_from_content,
                           valid_until=us_to_datetime(candidate.valid_until_us) if candidate.valid_until_us else None,
                           revoked=item.revoked or candidate.revoked)
        db.session.execute(update(SharedItem).where(SharedItem.id == item.id).values(**changes)
                           .execution_options(synchronize_session=False))
        added = add_audience(item, audience, added_anew=False)
        if added:
            widened.append(item.id)
        insert_rows(Observable, observable_rows(item.id, candidate), {})
        record_references([(item.id, candidate.references)], known)
        # The widening first: new readers hear that the item now reaches them, then of the version.
        rows = []
        if added:
            announce(Event.widened, item.id, version_id, actor_id=principal.user_id)
            rows.append(audit_row("widen", principal, item.id, item.stix_id, {"added": added}, now))
        announce(Event.revoked if candidate.revoked else Event.updated, item.id, version_id,
                 actor_id=principal.user_id)
        rows.append(audit_row("update", principal, item.id, item.stix_id,
                              share_detail(candidate, anonymous, added or "own"), now))
        insert_all(AuditEvent.__table__, chain_rows(rows))
        db.session.expire(item)
    _added_anew(widened)  # after the batch's stamps, which are all taken by now
    _served_anew(principal, gave_up_place)
    db.session.flush()


def _served_anew(principal: Principal, stix_ids: list[str]) -> None:
    """Another organisation's copy of an id that an observable renewed with other values gave up
    (reads.served_before: a copy that says what its id says goes first) may now be what a reader
    is served under the id: stamped anew (_added_anew), so that a reader polling with
    added_after receives it, not the copy it had for ever."""
    if stix_ids:
        _added_anew(list(db.session.scalars(select(SharedItem.id).where(
            id_in(SharedItem.stix_id, sorted(set(stix_ids))), ~policy.owned_by_org_of(principal, SharedItem.owner_org_id)))))


def add_audience(item: SharedItem, audience: Audience, *, added_anew: bool = True) -> dict | None:
    """Union an audience into an item's grants (nobody is ever removed, rule 10), and stamp the
    widened item's versions anew (_added_anew) unless the caller does it for a batch.

    Returns what was added, as the audit log records it, or None when everyone named already
    had it. No commit.
    """
    had = set(db.session.execute(select(AudienceGrant.org_id, AudienceGrant.group_id, AudienceGrant.user_id)
                                 .where(AudienceGrant.item_id == item.id)).all())
    added = [key for key in grant_keys(audience) if key not in had]
    newly_community = audience.community and not item.audience_community
    if newly_community:
        db.session.execute(update(SharedItem).where(SharedItem.id == item.id).values(audience_community=True)
                           .execution_options(synchronize_session=False))
    insert_all(AudienceGrant.__table__, grant_rows(item.id, added))
    if not added and not newly_community:
        return None
    if added_anew:
        _added_anew([item.id])
    db.session.expire(item)
    return audience_detail(audience, added, newly_community)


def _added_anew(item_ids: list[int]) -> None:
    """Items that enter collections whose readers may have paged past their versions already (a
    widening, a new member of a group they were shared with): each version gets a new date_added,
    so that a reader polling with added_after or next receives it now. Whoever could read it before
    may receive it again (the same id and version, which a TAXII client takes as known), never
    not at all."""
    if not item_ids:
        return
    versions = db.session.execute(
        select(StixVersion.id, StixVersion.item_id).where(id_in(StixVersion.item_id, item_ids))
        .order_by(StixVersion.date_added_us)).all()
    if not versions:
        return
    stamps = allocate_date_added(len(versions))
    last_stamp = {item_id: stamp for (_version_id, item_id), stamp in zip(versions, stamps)}
    versions_table, items_table = StixVersion.__table__, SharedItem.__table__
    db.session.execute(
        update(versions_table).where(versions_table.c.id == bindparam("version_id"))
        .values(date_added_us=bindparam("stamp")),
        [{"version_id": version_id, "stamp": stamp} for (version_id, _item_id), stamp in zip(versions, stamps)])
    db.session.execute(
        update(items_table).where(items_table.c.id == bindparam("item_id")).values(last_added_us=bindparam("stamp")),
        [{"item_id": item_id, "stamp": stamp} for item_id, stamp in last_stamp.items()])


# An organisation that joins a sharing group may read, from then on, what was shared with the
# group before: for its TAXII readers those items are added now (accounts.services.add_group_member
# appends to SharingGroup.orgs; the items are stamped anew when that transaction commits).
_GROUPS_JOINED = "hub.intel.groups_joined"


@event.listens_for(SharingGroup.orgs, "append")
def _note_a_group_joined(group: SharingGroup, _org, _initiator) -> None:
    session = object_session(group)
    if session is not None and group.id is not None:  # a group being created holds nothing yet
        session.info.setdefault(_GROUPS_JOINED, set()).add(group.id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_groups_joined(session: Session, _previous_transaction) -> None:
    session.info.pop(_GROUPS_JOINED, None)  # the membership was not kept


@event.listens_for(Session, "before_commit")
def _group_items_added_anew(session: Session) -> None:
    joined = session.info.pop(_GROUPS_JOINED, None)
    if not joined:
        return
    item_ids = list(session.scalars(
        select(AudienceGrant.item_id).where(AudienceGrant.group_id.in_(sorted(joined))).distinct()))
    if item_ids:
        _added_anew(item_ids)


def rounds(keyed):
    """Split (key, candidate) pairs so that each round names a STIX id once, versions in order."""
    result: list[list] = []
    seen: dict[str, int] = {}
    for key, candidate in keyed:
        position = seen.get(candidate.stix_id, 0)
        seen[candidate.stix_id] = position + 1
        if position == len(result):
            result.append([])
        result[position].append((key, candidate))
    return result


def insert_returning_ids(table, rows: list[dict]) -> list[int]:
    """Insert rows; their new primary keys, in order."""
    if not rows:
        return []
    if on_postgresql():
        # Reserved ids, then the rows streamed in with COPY: a fraction of the time of a
        # multi-row INSERT ... RETURNING for a thousand rows.
        ids = reserve_ids(table, len(rows))
        _copy(table, [{"id": row_id, **row} for row_id, row in zip(ids, rows)])
        return ids
    return list(db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars())


def insert_all(table, rows: list[dict]) -> None:
    if not rows:
        return
    if on_postgresql():
        _copy(table, rows)
    else:
        db.session.execute(insert(table), rows)


def _copy(table, rows: list[dict]) -> None:
    try:
        copy_rows(table, rows)
    except psycopg.Error as exc:
        raise DatabaseRefused(str(exc)) from exc
