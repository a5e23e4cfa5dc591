"""The sharing policy (../shared/SHARING_POLICY.md), implemented once.

Every read of shared data asks this module: `readable_items(principal)` is the SQL filter that
list, search, count and export queries add, and `can_read(principal, item)` is the per-item check
built from the very same filter, so the two can never disagree. Nothing else decides visibility.
"""
from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true
from sqlalchemy.orm import aliased

from hub.accounts.models import Organisation, User, group_members
from hub.extensions import db
from hub.incidents.models import IncidentItem, LawEnforcementCase
from hub.intel.models import AudienceGrant, ItemReference, SharedItem
from hub.principal import OrgKind, Principal
from hub.tlp import TLP

# Object types that carry incident reports: rule 6 narrows who may read them.
INCIDENT_TYPES = ("incident",)
# Reads of these by another organisation are audited (SHARING_POLICY.md, "Audit"), and of
# incident reports whatever their TLP.
AUDITED_READ_TLPS = (TLP.amber, TLP.amber_strict, TLP.red)
# Rule 12: a cell of an aggregate (a count, sum or chart bar) that leaves the owner organisation
# is shown only when built from at least this many distinct organisations.
MIN_ORGS_PER_CELL = 3


def is_audited_read(principal: Principal, item) -> bool:
    """Whether this principal's read of this item goes into the owner's audit log."""
    return item.owner_org_id != principal.org_id and (
        item.tlp in AUDITED_READ_TLPS or item.stix_type in INCIDENT_TYPES)


def publishable_cells(cells: Mapping[Hashable, Collection[int]], reader_org_id: int | None) -> set:
    """Rule 12, the small-cell rule: of these aggregate cells (keyed by e.g. month, attack type,
    country), each with the ids of the organisations whose data builds it, those a member of
    `reader_org_id` may see: cells built from at least MIN_ORGS_PER_CELL organisations, or only
    from the reader's own. Callers aggregate over the published cells alone, so that no total
    minus the visible cells gives a withheld one away.
    """
    published = set()
    for key, org_ids in cells.items():
        orgs = set(org_ids)
        if len(orgs) >= MIN_ORGS_PER_CELL or (orgs and orgs <= {reader_org_id}):
            published.add(key)
    return published


def publishable_rows(rows, cell_of, org_of, reader_org_id: int | None) -> list:
    """Rule 12 over the rows an aggregate is built from: those in published cells, and the
    reader's own organisation's rows wherever they fall (its own figures reveal nobody else).
    Aggregate these rows alone: every total is then a sum of what the reader may see anyway."""
    cells: dict = {}
    for row in rows:
        cells.setdefault(cell_of(row), set()).add(org_of(row))
    published = publishable_cells(cells, reader_org_id)
    return [row for row in rows if cell_of(row) in published or org_of(row) == reader_org_id]


@dataclass(frozen=True)
class Reader:
    """Who reads: one principal's values, or SQL columns of a query over many users or
    organisations, so that alerts ask the policy about every recipient in one query.

    `user_id=None` is an organisation as a whole: what every one of its members may read,
    never what only a named user may.
    """

    user_id: int | ColumnElement | None
    org_id: int | ColumnElement
    org_kind: OrgKind | ColumnElement

    @classmethod
    def of(cls, principal: Principal) -> "Reader":
        return cls(principal.user_id, principal.org_id, principal.org_kind)


def _grant_exists(item, *conditions) -> ColumnElement[bool]:
    return exists(
        select(AudienceGrant.id).where(AudienceGrant.item_id == item.id, *conditions)
        .correlate_except(AudienceGrant)  # the reader's columns may come from any enclosing query
    )


def _user_named(principal: Principal | Reader, item) -> ColumnElement[bool]:
    if principal.user_id is None:
        return false()
    return _grant_exists(item, AudienceGrant.user_id == principal.user_id)


def _org_named(principal: Principal | Reader, item) -> ColumnElement[bool]:
    return _grant_exists(item, AudienceGrant.org_id == principal.org_id)


def _org_in_named_group(principal: Principal | Reader, item) -> ColumnElement[bool]:
    member_groups = select(group_members.c.group_id).where(
        group_members.c.org_id == principal.org_id
    ).correlate_except(group_members)  # a column org_id belongs to the outermost query
    return _grant_exists(item, AudienceGrant.group_id.in_(member_groups))


def _belongs_to_incident(item=SharedItem) -> ColumnElement[bool]:
    """Every object filed as part of an incident report (impacts, actors, relationships)."""
    return exists(
        select(IncidentItem.id).where(IncidentItem.item_id == item.id).correlate_except(IncidentItem)
    )


def _law_enforcement_consent(principal: Principal | Reader, item) -> ColumnElement[bool]:
    """The owner's admin has consented, and not revoked, that this organisation sees the
    incident the item belongs to."""
    return exists(
        select(LawEnforcementCase.id)
        .join(IncidentItem, IncidentItem.incident_id == LawEnforcementCase.incident_id)
        .where(
            IncidentItem.item_id == item.id,
            LawEnforcementCase.org_id == principal.org_id,
            LawEnforcementCase.consent_active,
        )
        .correlate_except(LawEnforcementCase, IncidentItem)
    )


def readable_items(principal: Principal | None) -> ColumnElement[bool]:
    """SQL condition on SharedItem: may `principal` learn that the item exists and what it says?

    `None` is an anonymous visitor, who reads nothing (the operator's public CLEAR view passes
    `public_clear_items()` instead).
    """
    if principal is None:
        return false()
    return readable_items_for(Reader.of(principal))


def readable_items_for(principal: Reader, item=SharedItem) -> ColumnElement[bool]:
    """`readable_items` for a Reader, whose fields may be columns of the enclosing query.

    Rules 1-6 decide on the item itself; rule 7 then asks the same of every item it refers to
    (a relationship's ends, what a sighting saw): a derived object reveals nothing its reader
    could not read.
    """
    return and_(_readable_itself(principal, item), _references_readable(principal, item))


def _readable_itself(principal: Reader, item) -> ColumnElement[bool]:
    """Rules 1-6 on one item (`item`: SharedItem or an alias of it)."""
    own_org = item.owner_org_id == principal.org_id
    user_named = _user_named(principal, item)
    is_author = false() if principal.user_id is None else item.author_id == principal.user_id

    # Rule 1: RED reaches the named users and the author, nobody else.
    red = and_(
        item.tlp == TLP.red,
        or_(is_author, user_named),
    )
    # Rules 2-5: AMBER+STRICT, AMBER and GREEN reach the audience and the owner organisation;
    # CLEAR reaches every member.
    audience = or_(
        item.audience_community,
        _org_named(principal, item),
        _org_in_named_group(principal, item),
        user_named,
    )
    not_red = and_(
        item.tlp != TLP.red,
        or_(item.tlp == TLP.clear, own_org, audience),
    )
    general = or_(red, not_red)

    # Rule 6: incident reports. Law enforcement reads an incident only while the owner's admin
    # consents (consent acts as its audience); vendors only when named in the audience.
    is_incident = item.stix_type.in_(INCIDENT_TYPES) | _belongs_to_incident(item)
    consented = _law_enforcement_consent(principal, item)
    if not isinstance(principal.org_kind, str):  # OrgKind is a str enum
        # Many readers at once: the same rule, with the organisation kind as a column.
        is_law_enforcement = principal.org_kind == OrgKind.law_enforcement
        incident_rule = or_(
            not_(is_incident),
            own_org,
            and_(is_law_enforcement, consented),
            and_(
                not_(is_law_enforcement),
                or_(principal.org_kind != OrgKind.vendor, _org_named(principal, item), user_named),
            ),
        )
        general = or_(general, and_(is_law_enforcement, consented, item.tlp != TLP.red))
    elif principal.org_kind == OrgKind.law_enforcement:
        incident_rule = or_(not_(is_incident), own_org, consented)
        general = or_(general, and_(consented, item.tlp != TLP.red))
    elif principal.org_kind == OrgKind.vendor:
        incident_rule = or_(not_(is_incident), own_org, _org_named(principal, item), user_named)
    else:
        incident_rule = true()
    return and_(general, incident_rule)


def _references_readable(principal: Reader, item) -> ColumnElement[bool]:
    """Rule 7: every item this one refers to, if the hub holds it, has a copy the reader may read.

    An end the hub does not hold reveals nothing and does not hide the relationship (ATT&CK
    relationships often point at objects shared elsewhere); an end it holds but the reader may
    not read hides it, so a relationship or sighting never names what the reader cannot see.
    """
    held = aliased(SharedItem)
    readable_copy = aliased(SharedItem)
    hidden_end = and_(
        exists(select(held.id).where(held.stix_id == ItemReference.ref_stix_id).correlate_except(held)),
        not_(exists(select(readable_copy.id).where(
            readable_copy.stix_id == ItemReference.ref_stix_id,
            _readable_itself(principal, readable_copy),
        ).correlate_except(readable_copy))),
    )
    # Explicit correlation: a fan-out's reader columns live two queries up.
    return not_(exists(
        select(ItemReference.id).where(ItemReference.item_id == item.id, hidden_end).correlate_except(ItemReference)
    ))


def held_by_owner_org() -> ColumnElement[bool]:
    """Items that tell about their owner organisation as a whole (correlation, "we hold this").

    Rule 5: the owner organisation sees its own items except RED ones, which only the named
    users and the author read; so a RED item never makes "my organisation holds this" true for
    a member who may not read it.
    """
    return SharedItem.tlp != TLP.red


def public_clear_items() -> ColumnElement[bool]:
    """Rule 4's unauthenticated view: CLEAR, non-incident items only. Off unless configured."""
    return and_(
        SharedItem.tlp == TLP.clear,
        not_(SharedItem.stix_type.in_(INCIDENT_TYPES)),
        not_(_belongs_to_incident()),
    )


def can_read(principal: Principal | None, item: SharedItem) -> bool:
    """Per-item check, evaluated with the same SQL condition as every list."""
    if principal is None:
        return False
    return bool(
        db.session.scalar(
            select(exists().where(SharedItem.id == item.id, readable_items(principal)))
        )
    )


def users_who_may_read(item_id: int, user_ids) -> set[int]:
    """Of these users, the active ones who may read the item now: whom a notification about it
    may reach (rule 7), e.g. no longer the liaison once consent is revoked."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    user_org = aliased(Organisation)
    return set(db.session.scalars(
        select(User.id)
        .join(user_org, user_org.id == User.org_id)
        .join(SharedItem, SharedItem.id == item_id)
        .where(User.id.in_(user_ids), User.active,
               readable_items_for(Reader(User.id, User.org_id, user_org.kind)))
    ))


def may_add_version(principal: Principal, item: SharedItem) -> bool:
    """Rule 11: new versions of an item come only from users who may read it (for RED: the
    author and the named users)."""
    return can_read(principal, item)


def can_manage(principal: Principal, item: SharedItem) -> bool:
    """Rule 10: only the owner organisation's analysts and admins edit, revoke or widen."""
    return principal.can_share and item.owner_org_id == principal.org_id


def reveals_owner(principal: Principal | None, item: SharedItem) -> bool:
    """Anonymous items name their source only to the owner organisation."""
    if not item.anonymous:
        return True
    return principal is not None and principal.org_id == item.owner_org_id


def check_audience_for_tlp(tlp: TLP, community: bool, group_ids, org_ids, user_ids) -> str | None:
    """Rule 1 on writing: a RED item's audience is named users only. Returns the problem, if any."""
    if tlp == TLP.red and (community or group_ids or org_ids or not user_ids):
        return "a TLP:RED item must be shared with named users only (audience {\"users\": [...]})"
    return None
