"""Reading the store: lists, one item, search. Every query here starts from the policy filter."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import aliased, selectinload

from hub import audit, policy
from hub.accounts.models import Organisation, SharingGroup, User
from hub.errors import NotFound, ValidationFailed
from hub.extensions import db
from hub.intel import observables, warninglists
from hub.intel.models import ItemReference, Observable, SharedItem, StixVersion
from hub.intel.store import load_json, stix_timestamp
from hub.intel.writing import OWN_COPY_TYPES
from hub.db import datetime_to_us, utcnow
from hub.db import decode_cursor as db_decode_cursor, encode_cursor as db_encode_cursor
from hub.tlp import TLP, well_known_marking
from hub.principal import Principal

MAX_PAGE = 500
DEFAULT_PAGE = 50


@dataclass
class ItemFilters:
    types: tuple[str, ...] = ()
    tlps: tuple[TLP, ...] = ()
    owner: str | None = None
    added_after: datetime | None = None
    added_before: datetime | None = None
    status: str = "all"  # all | current (not expired) | active (and not revoked) | revoked | expired
    # False: what members share, without the objects that support it (see shared_not_supporting);
    # the REST and TAXII APIs keep the default and return everything the reader may read.
    supporting: bool = True


@dataclass
class Page:
    items: list[SharedItem]
    next_cursor: str | None


def readable(principal: Principal | None) -> Select:
    """All items the principal may read, as a composable SELECT."""
    return select(SharedItem).where(policy.readable_items(principal))


def first_served_copies(principal: Principal) -> ColumnElement[bool]:
    """SQL on SharedItem: the copy of its STIX id that a read of the id serves the principal
    (get_item, TAXII): no other readable copy comes before it (served_before). Several
    organisations hold their own copies of an observable or a marking definition
    (writing.OWN_COPY_TYPES); a list or search names each id once."""
    other = aliased(SharedItem)
    return or_(
        SharedItem.stix_type.not_in(OWN_COPY_TYPES),
        ~exists(select(other.id).where(
            other.stix_id == SharedItem.stix_id, other.id != SharedItem.id, served_before(principal, other),
            policy.readable_items_for(policy.Reader.of(principal), other),
        ).correlate(SharedItem).offset(0)),  # OFFSET 0: a probe per row, not an anti-join (taxii.reading)
    )


def served_before(reader, other) -> ColumnElement[bool]:
    """SQL: a read of the STIX id serves the copy `other` rather than SharedItem's row: the
    reader's own organisation's copy first, then one whose id its values give (an observable's
    id follows from its value: a copy holding other values under that id, shared first, must not
    stand in for it), then the first shared (get_item, TAXII, lists). `serving_order` and
    `serving_key` say the same as an ORDER BY and in Python."""
    return or_(
        policy.owned_by_org_of(reader, other.owner_org_id),
        and_(not_(policy.owned_by_org_of(reader, SharedItem.owner_org_id)),
             or_(and_(other.id_from_content, not_(SharedItem.id_from_content)),
                 and_(other.id_from_content == SharedItem.id_from_content, other.id < SharedItem.id))),
    )


def serving_order(principal: Principal | None) -> tuple:
    """ORDER BY terms: the copies of one STIX id in the order a read serves them (served_before)."""
    return (case((policy.owned_by_org_of(principal, SharedItem.owner_org_id), 0), else_=1),
            case((SharedItem.id_from_content, 0), else_=1), SharedItem.id)


def serving_key(principal: Principal, item: SharedItem) -> tuple:
    """The sort key of a loaded copy in that order (served_before): the least is served."""
    return (not policy.is_owner_org(principal, item), not item.id_from_content, item.id)


def _listed(principal: Principal | None) -> Select:
    """What lists and searches show: the readable items, one copy per STIX id."""
    query = readable(principal)
    return query if principal is None else query.where(first_served_copies(principal))


def public_items() -> Select:
    """Rule 4's public view: TLP:CLEAR items that are not incidents (served only when enabled)."""
    return select(SharedItem).where(policy.public_clear_items())


def get_public_item(stix_id: str) -> SharedItem:
    item = db.session.scalars(
        public_items().where(SharedItem.stix_id == stix_id).order_by(SharedItem.id).limit(1)
    ).first()
    if item is None:
        raise NotFound(f"no object {stix_id}")
    return item


# Objects that only ever support another one: links, identities, markings, sightings (shown as
# "seen by" on what they sighted) and cyber observables (the values of an indicator, an
# advisory's products). STIX 2.1 lists the SCO types; extensions may add more.
SUPPORTING_TYPES = (
    "relationship", "sighting", "identity", "marking-definition", "extension-definition",
    "language-content", "location",
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
    "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software",
    "url", "user-account", "windows-registry-key", "x509-certificate",
)
# What members share: always their own row, even when a relationship names them.
SHARED_TYPES = ("indicator", "report", "grouping", "incident", "note", "opinion")


def shared_not_supporting(principal: Principal | None) -> ColumnElement[bool]:
    """SQL on SharedItem: what a person shares (an indicator, an advisory, an incident, a
    report, a note), without the objects that support it.

    Supporting: the SUPPORTING_TYPES, and any other object (a vulnerability, a mitigation, a
    threat actor, malware) that a relationship of the same owner, which the reader may read,
    ties to something: it is shown inside that page ("Related"). A standalone vulnerability
    stays a row. Only readable relationships count, so that what is listed reveals nothing
    about relationships the reader may not read (rule 8), and only where both owners are
    revealed to the reader, so that no row's absence links two anonymous items to one source.
    """
    if principal is None:
        return SharedItem.stix_type.in_(SHARED_TYPES)
    relationship = aliased(SharedItem)
    tied = (
        select(ItemReference.id)
        .join(relationship, relationship.id == ItemReference.item_id)
        .where(ItemReference.ref_stix_id == SharedItem.stix_id,
               relationship.stix_type == "relationship",
               relationship.owner_org_id == SharedItem.owner_org_id,
               # Same owner is only told where the owner is: else it would link anonymous items.
               policy.owner_revealed_items(principal, relationship), policy.owner_revealed_items(principal),
               policy.readable_items_for(policy.Reader.of(principal), relationship))
        .correlate(SharedItem)
    )
    return or_(
        SharedItem.stix_type.in_(SHARED_TYPES),
        and_(SharedItem.stix_type.not_in(SUPPORTING_TYPES), not_(tied.exists())),
    )


def _apply_filters(query: Select, principal: Principal | None, filters: ItemFilters) -> Select:
    if filters.types:
        query = query.where(SharedItem.stix_type.in_(filters.types))
    elif not filters.supporting:
        # A type asked for by name is shown whatever it is: the reader wants those objects.
        query = query.where(shared_not_supporting(principal))
    if filters.tlps:
        query = query.where(SharedItem.tlp.in_(filters.tlps))
    if filters.owner:
        owner_id = select(Organisation.id).where(Organisation.slug == filters.owner).scalar_subquery()
        # Anonymous items never match an owner filter, except for their own organisation:
        # otherwise the filter itself would name the source.
        query = query.where(SharedItem.owner_org_id == owner_id, policy.owner_revealed_items(principal))
    if filters.added_after:
        query = query.where(SharedItem.last_added_us > datetime_to_us(filters.added_after))
    if filters.added_before:
        query = query.where(SharedItem.last_added_us < datetime_to_us(filters.added_before))
    expired = expired_items()
    if filters.status == "current":
        query = query.where(not_(expired))
    elif filters.status == "revoked":
        query = query.where(SharedItem.revoked)
    elif filters.status == "expired":
        query = query.where(expired)
    elif filters.status == "active":
        query = query.where(not_(SharedItem.revoked), not_(expired))
    return query


def expired_items() -> ColumnElement[bool]:
    """Items past their valid_until: shown as expired, out of default lists, matching and feeds."""
    return and_(SharedItem.valid_until.is_not(None), SharedItem.valid_until < datetime.now(timezone.utc))


def encode_cursor(item: SharedItem) -> str:
    return db_encode_cursor(item.last_added_us, item.id)


def decode_cursor(cursor: str) -> tuple[int, int]:
    return db_decode_cursor(cursor, int, int)


def list_items(
    principal: Principal | None,
    filters: ItemFilters | None = None,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    newest_first: bool = True,
    base: Select | None = None,
) -> Page:
    """One keyset page of readable items, ordered by date added."""
    limit = max(1, min(limit, MAX_PAGE))
    query = base if base is not None else _listed(principal)
    query = _apply_filters(query, principal, filters or ItemFilters())
    if cursor:
        stamp, item_id = decode_cursor(cursor)
        if newest_first:
            query = query.where(or_(SharedItem.last_added_us < stamp,
                                    and_(SharedItem.last_added_us == stamp, SharedItem.id < item_id)))
        else:
            query = query.where(or_(SharedItem.last_added_us > stamp,
                                    and_(SharedItem.last_added_us == stamp, SharedItem.id > item_id)))
    order = (
        (SharedItem.last_added_us.desc(), SharedItem.id.desc())
        if newest_first
        else (SharedItem.last_added_us, SharedItem.id)
    )
    query = query.order_by(*order).limit(limit + 1).options(
        selectinload(SharedItem.latest_version), selectinload(SharedItem.owner)
    )
    items = list(db.session.scalars(query))
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor(items[-1]) if more else None)


def count_items(principal: Principal | None, filters: ItemFilters | None = None) -> int:
    query = _apply_filters(_listed(principal), principal, filters or ItemFilters())
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def get_item(principal: Principal | None, stix_id: str) -> SharedItem:
    """The readable item with this STIX id (the caller's own copy first); NotFound otherwise."""
    query = (
        readable(principal)
        .where(SharedItem.stix_id == stix_id)
        # As TAXII serves it (taxii.reading), never the latest, which whoever re-stamps a copy
        # (a widening) could choose.
        .order_by(*serving_order(principal))
        .limit(1)
    )
    item = db.session.scalars(query).first()
    if item is None:
        raise NotFound(f"no object {stix_id}")
    return item


def published_marking_detail(stix_id: str) -> dict | None:
    """The REST answer for a published TLP marking definition, or None for any other id.

    The hub stores none of them (a share accepts one as known, hub.intel.bulk), so no item holds
    it; read back, it is the object as published, public like the TLP standard itself, the same
    for every reader. Its facts are those of a public object no organisation owns."""
    marking = well_known_marking(stix_id)
    if marking is None:
        return None
    return {"object": marking, "hub": {
        "tlp": TLP.clear.value, "owner": None, "anonymous": False, "revoked": False, "expired": False,
        "date_added": marking["created"], "warning_lists": [],
        "versions": [{"modified": marking["created"], "date_added": marking["created"]}],
    }}


def read_item(principal: Principal, stix_id: str, channel: str) -> SharedItem:
    """get_item, recording the read in the owner's audit log where the policy says so."""
    item = get_item(principal, stix_id)
    audit_reads(principal, [item], channel)
    return item


def audit_reads(principal: Principal, items, channel: str) -> None:
    """Record in the owners' audit logs the reads that the policy says are audited."""
    audit.record_reads(principal, [item for item in items if policy.is_audited_read(principal, item)], channel)


def versions_of(item: SharedItem) -> list[StixVersion]:
    return list(
        db.session.scalars(
            select(StixVersion).where(StixVersion.item_id == item.id).order_by(StixVersion.modified_us)
        )
    )


def search(principal: Principal, text: str, *, limit: int = 50, supporting: bool = True) -> list[tuple[SharedItem, str]]:
    """Items matching an observable value (normalised, exact) or containing the text; without
    supporting objects when `supporting` is False (see shared_not_supporting)."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("empty search", [{"field": "q", "error": "type a value or some words"}])
    if len(text) > 2048:
        raise ValidationFailed("search too long", [{"field": "q", "error": "at most 2048 characters"}])
    values = {value for _kind, value in observables.interpretations(text)}
    matched: dict[int, tuple[SharedItem, str]] = {}
    base = _listed(principal) if supporting else _listed(principal).where(shared_not_supporting(principal))
    if values:
        by_value = (
            base
            .where(SharedItem.id.in_(select(Observable.item_id).where(Observable.value.in_(values))))
            .order_by(SharedItem.last_added_us.desc())
            .limit(limit)
        )
        for item in db.session.scalars(by_value):
            matched[item.id] = (item, "observable")
    needle = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    by_text = (
        base
        .where(SharedItem.search_text.like(f"%{needle}%", escape="\\"))
        .order_by(SharedItem.last_added_us.desc())
        .limit(limit)
    )
    for item in db.session.scalars(by_text):
        matched.setdefault(item.id, (item, "text"))
    results = sorted(matched.values(), key=lambda pair: pair[0].last_added_us, reverse=True)[:limit]
    return results


def readable_counts_by_observable(principal: Principal, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """How many items the principal may read name each (kind, normalised value); absent when none."""
    counts: dict[tuple[str, str], int] = {}
    wanted = set(pairs)
    values = sorted({value for _kind, value in wanted})
    for start in range(0, len(values), 500):  # SQLite caps the parameters of one statement
        rows = db.session.execute(
            select(Observable.kind, Observable.value, func.count(func.distinct(SharedItem.id)))
            .join(SharedItem, SharedItem.id == Observable.item_id)
            .where(policy.readable_items(principal), Observable.value.in_(values[start:start + 500]))
            .group_by(Observable.kind, Observable.value)
        )
        for kind, value, count in rows:
            if (kind, value) in wanted:
                counts[(kind, value)] = count
    return counts


def stix_object(item: SharedItem) -> dict:
    return load_json(item.latest_version.body)


def is_expired(item: SharedItem) -> bool:
    if item.valid_until is None:
        return False
    return item.valid_until < utcnow()  # a UTCDateTime column: aware on every database


def list_metadata(principal: Principal | None, items) -> dict[int, dict]:
    """The hub's facts a list row shows (not the audience or author), for a page of items in two
    queries however long the page: by item id."""
    items = list(items)
    if not items:
        return {}
    listed = warninglists.listed_in_items([item.id for item in items])
    revealed = {item.owner_org_id for item in items if policy.reveals_owner(principal, item)}
    slugs = dict(db.session.execute(select(Organisation.id, Organisation.slug)
                                    .where(Organisation.id.in_(revealed))).all()) if revealed else {}
    return {item.id: {
        "tlp": item.tlp.value,
        "owner": slugs.get(item.owner_org_id) if policy.reveals_owner(principal, item) else None,
        "anonymous": item.anonymous,
        "revoked": item.revoked,
        "expired": is_expired(item),
        "date_added": stix_timestamp(item.last_added_us),
        # Values the item names that are known to be benign (its own content: nothing new revealed).
        "warning_lists": [found.as_json() for found in listed.get(item.id, [])],
    } for item in items}


def hub_metadata(principal: Principal | None, item: SharedItem, *, with_versions: bool = False) -> dict:
    """The hub's own facts about an item, as the principal may see them."""
    meta = list_metadata(principal, [item])[item.id]
    if policy.sees_sharing_details(principal, item):
        meta["author"] = item.author.email
        meta["audience"] = describe_audience(principal, item)
    if with_versions:
        meta["versions"] = [
            {"modified": load_json(v.body).get("modified"), "date_added": stix_timestamp(v.date_added_us)}
            for v in versions_of(item)
        ]
    return meta


def describe_audience(principal: Principal, item: SharedItem) -> dict | str:
    """The owner's view of who an item reaches (owner organisation only: it names recipients)."""
    if item.audience_community:
        return "community"
    parts: dict[str, list[str]] = {}
    concealed = policy.concealed_recipients(principal, [item.id]).get(item.id, set())
    # It refers to an anonymous item (a sighting of it): no organisation is named, whichever they
    # are (see policy.concealed_recipients).
    hide_orgs = bool(concealed)
    for grant in item.grants:
        if grant.org_id and hide_orgs:
            parts["orgs"] = ["(not named: the item it refers to has an anonymous source)"]
        elif grant.org_id:
            parts.setdefault("orgs", []).append(db.session.get(Organisation, grant.org_id).slug)
        elif grant.group_id:
            parts.setdefault("groups", []).append(db.session.get(SharingGroup, grant.group_id).slug)
        elif grant.user_id:
            parts.setdefault("users", []).append(db.session.get(User, grant.user_id).email)
    return {kind: sorted(names) for kind, names in parts.items()} or "own"
