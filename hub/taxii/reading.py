"""What a collection serves: versions of readable items, keyset-paged by date_added.

Every query starts from hub.intel.reads.readable(principal), the sharing policy's filter, and
narrows it to the collection's audience. A STIX id held by two organisations is two items; a
collection serves one of its readable copies (the caller's own organisation's first, else the
one shared first), so a client never sees two different objects under one id and never learns
of a copy it cannot read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Select, and_, exists, false, not_, or_, select
from sqlalchemy.orm import aliased

from hub import policy
from hub.extensions import db
from hub.intel import reads
from hub.intel.models import SharedItem, StixVersion
from hub.intel.store import stix_timestamp
from hub.principal import Principal
from hub.taxii.collections import Collection
from hub.taxii.filters import ObjectFilters, PageRequest, VersionSelector, encode_next, version_string


@dataclass(frozen=True)
class ServedVersion:
    stix_id: str
    date_added_us: int
    modified_us: int
    body: str | None
    # For the read audit: whose item, which TLP, an incident or not.
    id: int
    owner_org_id: int
    tlp: object
    stix_type: str

    @property
    def version(self) -> str:
        return version_string(self.modified_us, self.date_added_us)

    @property
    def date_added(self) -> str:
        return stix_timestamp(self.date_added_us)


@dataclass(frozen=True)
class VersionPage:
    versions: list[ServedVersion]
    more: bool
    next: str | None

    def date_added_headers(self) -> dict:
        """X-TAXII-Date-Added-First/Last of what is served (none for an empty page)."""
        if not self.versions:
            return {}
        return {
            "X-TAXII-Date-Added-First": self.versions[0].date_added,
            "X-TAXII-Date-Added-Last": self.versions[-1].date_added,
        }


# Built once: making an alias is costly, and these are only names in a query.
_OTHER_COPY = aliased(SharedItem, name="other_copy")
_OLDER_VERSION = aliased(StixVersion, name="older_version")


def _preferred_copy(principal: Principal, collection: Collection):
    """No other readable copy of the same STIX id in this collection comes before this item."""
    other = _OTHER_COPY
    other_is_served = (
        reads.readable(principal)
        .with_only_columns(SharedItem.id)
        .where(SharedItem.id == other.id, collection.membership)
        .correlate_except(SharedItem)
    )
    preferred = or_(
        policy.owned_by_org_of(principal, other.owner_org_id),
        and_(not_(policy.owned_by_org_of(principal, SharedItem.owner_org_id)), other.id < SharedItem.id),
    )
    # OFFSET 0 keeps PostgreSQL from turning this into an anti-join over the whole table: as a
    # per-row probe of ix_shared_item_stix_id it costs next to nothing on a page of 100, and the
    # plan keeps walking date_added in index order and stops at the page's end.
    return ~exists(
        select(other.id).where(
            other.stix_id == SharedItem.stix_id,
            other.id != SharedItem.id,
            preferred,
            exists(other_is_served),
        ).offset(0)
    )


def _served_items(principal: Principal, collection: Collection) -> Select:
    return reads.readable(principal).where(collection.membership, _preferred_copy(principal, collection))


def _version_condition(filters: ObjectFilters):
    selector = filters.versions
    if selector.all:
        return None
    conditions = []
    if selector.last:
        conditions.append(StixVersion.id == SharedItem.latest_version_id)
    if selector.first:
        older = _OLDER_VERSION
        conditions.append(~exists(
            select(older.id).where(older.item_id == StixVersion.item_id, older.modified_us < StixVersion.modified_us)
        ))
    if selector.stamps_us:
        conditions.append(or_(
            StixVersion.modified_us.in_(selector.stamps_us),
            # Unversioned objects (SCOs) go by their date_added (see version_string).
            and_(StixVersion.modified_us == 0, StixVersion.date_added_us.in_(selector.stamps_us)),
        ))
    return or_(*conditions) if conditions else false()


def page_query(
    principal: Principal,
    collection: Collection,
    page: PageRequest,
    *,
    object_id: str | None = None,
    with_body: bool = True,
) -> Select:
    """The SELECT behind a page: keyset on date_added over the served versions, limit + 1 rows."""
    filters = page.filters
    columns = [
        SharedItem.stix_id, StixVersion.date_added_us, StixVersion.modified_us,
        StixVersion.body if with_body else StixVersion.id,
        SharedItem.id, SharedItem.owner_org_id, SharedItem.tlp, SharedItem.stix_type,
    ]
    selector = filters.versions
    if selector.last and not (selector.first or selector.stamps_us or selector.all):
        # The default: one join through latest_version_id. (Joining on item_id and then testing
        # latest_version_id makes PostgreSQL multiply two join selectivities, expect one row,
        # and give up the index scan in date_added order for a hash join over everything.)
        join_on, filters = StixVersion.id == SharedItem.latest_version_id, replace(
            filters, versions=VersionSelector(all=True, last=False))
    else:
        join_on = StixVersion.item_id == SharedItem.id
    query = _served_items(principal, collection).with_only_columns(*columns).join(StixVersion, join_on)
    if object_id is not None:
        query = query.where(SharedItem.stix_id == object_id)
    if filters.ids:
        query = query.where(SharedItem.stix_id.in_(filters.ids))
    if filters.types:
        query = query.where(SharedItem.stix_type.in_(filters.types))
    if filters.spec_versions:
        query = query.where(StixVersion.spec_version.in_(filters.spec_versions))
    version_condition = _version_condition(filters)
    if version_condition is not None:
        query = query.where(version_condition)
    if page.after_us is not None:
        query = query.where(StixVersion.date_added_us > page.after_us)
    return query.order_by(StixVersion.date_added_us).limit(page.limit + 1)


def page_of_versions(
    principal: Principal,
    collection: Collection,
    page: PageRequest,
    *,
    object_id: str | None = None,
    with_body: bool = True,
) -> VersionPage:
    """One page of served versions, oldest date_added first, `limit` at most."""
    rows = db.session.execute(
        page_query(principal, collection, page, object_id=object_id, with_body=with_body)
    ).all()
    more = len(rows) > page.limit
    served = [
        ServedVersion(stix_id=r[0], date_added_us=r[1], modified_us=r[2], body=r[3] if with_body else None,
                      id=r[4], owner_org_id=r[5], tlp=r[6], stix_type=r[7])
        for r in rows[: page.limit]
    ]
    token = encode_next(served[-1].date_added_us, page.digest) if more else None
    return VersionPage(versions=served, more=more, next=token)


def object_is_served(principal: Principal, collection: Collection, object_id: str) -> bool:
    """Is there a readable item with this STIX id in the collection?"""
    query = _served_items(principal, collection).with_only_columns(SharedItem.id).where(
        SharedItem.stix_id == object_id
    )
    return db.session.execute(query.limit(1)).first() is not None


def served_item(principal: Principal, collection: Collection, object_id: str) -> SharedItem | None:
    """The item a collection serves under this STIX id, if any."""
    return db.session.scalars(_served_items(principal, collection).where(SharedItem.stix_id == object_id).limit(1)).first()


def record_reads(principal: Principal, served: list[ServedVersion]) -> None:
    """Audit reads of other organisations' AMBER, AMBER+STRICT and RED objects and incidents
    (once per item)."""
    unique = {version.id: version for version in served}
    reads.audit_reads(principal, list(unique.values()), "taxii")
