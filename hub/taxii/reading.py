"""What a collection serves: versions of readable items, keyset-paged by date_added.

Every query is filtered by the sharing policy (policy.readable_items_for, built once per kind of
reader with the reader's ids as parameters) and narrowed to the collection's audience. A STIX id
held by two organisations is two items; a collection serves one of its readable copies (the
caller's own organisation's first, else the one shared first), so a client never sees two
different objects under one id and never learns of a copy it cannot read.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, bindparam, exists, false, or_, select
from sqlalchemy.orm import aliased

from hub import policy
from hub.extensions import db
from hub.db import in_parameter
from hub.intel import reads
from hub.intel.models import SharedItem, StixVersion
from hub.intel.store import stix_timestamp
from hub.principal import Principal
from hub.taxii.collections import Collection, membership
from hub.taxii.filters import PageRequest, VersionSelector, encode_next, version_string


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
    # The id as its sender spelt it (upper-case hex), when not the canonical stix_id.
    id_as_sent: str | None = None
    # The version as its sender spelt it, when not as version_string would.
    version_as_sent: str | None = None

    @property
    def named(self) -> str:
        """The id as the served object spells it."""
        return self.id_as_sent or self.stix_id

    @property
    def version(self) -> str:
        return self.version_as_sent or version_string(self.modified_us, self.date_added_us)

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


def _preferred_copy(reader: policy.Reader, kind: str):
    """No other readable copy of the same STIX id in this collection comes before this item."""
    other = _OTHER_COPY
    other_is_served = (
        select(SharedItem.id)
        .where(policy.readable_items_for(reader), SharedItem.id == other.id, membership(kind, reader))
        .correlate_except(SharedItem)
    )
    preferred = reads.served_before(reader, other)
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


def _served_items(reader: policy.Reader, kind: str, *columns) -> Select:
    """What a collection of this kind serves this reader: its readable items, one copy per id."""
    return select(*columns).where(policy.readable_items_for(reader), membership(kind, reader),
                                  _preferred_copy(reader, kind))


def _version_condition(selector: VersionSelector):
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
            in_parameter(StixVersion.modified_us, "stamps_us"),
            # Unversioned objects (SCOs) go by their date_added (see version_string).
            and_(StixVersion.modified_us == 0, in_parameter(StixVersion.date_added_us, "stamps_us")),
        ))
    return or_(*conditions) if conditions else false()


@dataclass(frozen=True)
class _PageShape:
    """What a page's SQL depends on besides values: one statement per shape and kind of reader."""

    collection_kind: str
    with_body: bool
    one_object: bool
    ids: bool
    types: bool
    spec_versions: bool
    versions: VersionSelector  # with stamps_us reduced to whether there are any
    after: bool


def _build_page(reader: policy.Reader, shape: _PageShape) -> Select:
    columns = [
        SharedItem.stix_id, StixVersion.date_added_us, StixVersion.modified_us,
        StixVersion.body if shape.with_body else StixVersion.id,
        SharedItem.id, SharedItem.owner_org_id, SharedItem.tlp, SharedItem.stix_type, StixVersion.id_as_sent,
        StixVersion.version_as_sent,
    ]
    selector = shape.versions
    if selector.last and not (selector.first or selector.stamps_us or selector.all):
        # The default: one join through latest_version_id. (Joining on item_id and then testing
        # latest_version_id makes PostgreSQL multiply two join selectivities, expect one row,
        # and give up the index scan in date_added order for a hash join over everything.)
        join_on, selector = StixVersion.id == SharedItem.latest_version_id, VersionSelector(all=True, last=False)
    else:
        join_on = StixVersion.item_id == SharedItem.id
    query = _served_items(reader, shape.collection_kind, *columns).join(StixVersion, join_on)
    if shape.one_object:
        query = query.where(SharedItem.stix_id == bindparam("object_id"))
    if shape.ids:
        query = query.where(in_parameter(SharedItem.stix_id, "ids"))
    if shape.types:
        query = query.where(in_parameter(SharedItem.stix_type, "types"))
    if shape.spec_versions:
        query = query.where(in_parameter(StixVersion.spec_version, "spec_versions"))
    version_condition = _version_condition(selector)
    if version_condition is not None:
        query = query.where(version_condition)
    if shape.after:
        query = query.where(StixVersion.date_added_us > bindparam("after_us"))
    return query.order_by(StixVersion.date_added_us).limit(bindparam("page_rows"))


def page_query(
    principal: Principal,
    collection: Collection,
    page: PageRequest,
    *,
    object_id: str | None = None,
    with_body: bool = True,
) -> tuple[Select, dict]:
    """The SELECT behind a page, and its parameters: keyset on date_added over the served
    versions, limit + 1 rows.

    Built once per shape of request and kind of reader (policy.statement_for_reader), every value
    a parameter: built afresh, the policy's predicate cost a TAXII read twice its time in
    PostgreSQL (a GET by id: 9 of 13 ms).
    """
    filters = page.filters
    selector = filters.versions
    shape = _PageShape(
        collection_kind=collection.kind, with_body=with_body, one_object=object_id is not None,
        ids=bool(filters.ids), types=bool(filters.types), spec_versions=bool(filters.spec_versions),
        versions=VersionSelector(all=selector.all, first=selector.first, last=selector.last,
                                 stamps_us=(0,) if selector.stamps_us else ()),
        after=page.after_us is not None,
    )
    statement = policy.statement_for_reader(principal, ("taxii-page", shape), lambda reader: _build_page(reader, shape))
    parameters = {**policy.reader_parameters(principal), **collection.parameters(), "page_rows": page.limit + 1}
    if object_id is not None:
        parameters["object_id"] = object_id
    for name in ("ids", "types", "spec_versions"):
        if getattr(filters, name):
            parameters[name] = list(getattr(filters, name))
    if selector.stamps_us:
        parameters["stamps_us"] = list(selector.stamps_us)
    if page.after_us is not None:
        parameters["after_us"] = page.after_us
    return statement, parameters


def page_of_versions(
    principal: Principal,
    collection: Collection,
    page: PageRequest,
    *,
    object_id: str | None = None,
    with_body: bool = True,
) -> VersionPage:
    """One page of served versions, oldest date_added first, `limit` at most."""
    statement, parameters = page_query(principal, collection, page, object_id=object_id, with_body=with_body)
    rows = db.session.execute(statement, parameters).all()
    more = len(rows) > page.limit
    served = [
        ServedVersion(stix_id=r[0], date_added_us=r[1], modified_us=r[2], body=r[3] if with_body else None,
                      id=r[4], owner_org_id=r[5], tlp=r[6], stix_type=r[7], id_as_sent=r[8],
                      version_as_sent=r[9])
        for r in rows[: page.limit]
    ]
    token = encode_next(served[-1].date_added_us, page.digest) if more else None
    return VersionPage(versions=served, more=more, next=token)


def _served_with_id(principal: Principal, collection: Collection, what):
    statement = policy.statement_for_reader(
        principal, ("taxii-served", collection.kind, what is SharedItem),
        lambda reader: _served_items(reader, collection.kind, what)
        .where(SharedItem.stix_id == bindparam("object_id")).limit(1))
    return statement, {**policy.reader_parameters(principal), **collection.parameters()}


def object_is_served(principal: Principal, collection: Collection, object_id: str) -> bool:
    """Is there a readable item with this STIX id in the collection?"""
    statement, parameters = _served_with_id(principal, collection, SharedItem.id)
    return db.session.execute(statement, {**parameters, "object_id": object_id}).first() is not None


def served_item(principal: Principal, collection: Collection, object_id: str) -> SharedItem | None:
    """The item a collection serves under this STIX id, if any."""
    statement, parameters = _served_with_id(principal, collection, SharedItem)
    return db.session.scalars(statement, {**parameters, "object_id": object_id}).first()


def record_reads(principal: Principal, served: list[ServedVersion]) -> None:
    """Audit reads of other organisations' AMBER, AMBER+STRICT and RED objects and incidents
    (once per item)."""
    unique = {version.id: version for version in served}
    reads.audit_reads(principal, list(unique.values()), "taxii")
