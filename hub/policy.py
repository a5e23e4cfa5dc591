"""The sharing policy (../shared/SHARING_POLICY.md), implemented once.

Every read of shared data asks this module: `readable_items(principal)` is the SQL filter that
list, search, count and export queries add, and `can_read(principal, item)` is the per-item check
built from the very same filter, so the two can never disagree. Nothing else decides visibility.
"""
from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, insert, not_, or_, select, true
from sqlalchemy.orm import aliased

from hub.accounts.models import Organisation, User, group_members
from hub.audit import AuditEvent
from hub.db import canonical_stix_id, id_chunks, in_parameter
from hub.extensions import db
from hub.alerts.models import Subscription
from hub.feeds.models import Feed
from hub.incidents.models import Incident, IncidentItem, LawEnforcementCase
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
    `reader_org_id` may see: cells built from at least MIN_ORGS_PER_CELL organisations besides
    the reader's (a reader who subtracts its own figures must still face that many), or only from
    the reader's own. Callers aggregate over the published cells alone, so that no total minus
    the visible cells gives a withheld one away.
    """
    published = set()
    for key, org_ids in cells.items():
        others = set(org_ids) - {reader_org_id}
        if len(others) >= MIN_ORGS_PER_CELL or (org_ids and not others):
            published.add(key)
    return published


def shows_cell(key, org_id: int | None, published: set, reader_org_id: int | None) -> bool:
    """Rule 12 for one row of an aggregate: shown if its cell is published, or if the row is the
    reader's own organisation's (its own figures reveal nobody else)."""
    return key in published or (org_id is not None and org_id == reader_org_id)


def publishable_rows(rows, cell_of, org_of, reader_org_id: int | None) -> list:
    """Rule 12 over the rows an aggregate is built from: those in published cells, and the
    reader's own organisation's rows wherever they fall (its own figures reveal nobody else).
    Aggregate these rows alone: every total is then a sum of what the reader may see anyway."""
    cells: dict = {}
    for row in rows:
        cells.setdefault(cell_of(row), set()).add(org_of(row))
    published = publishable_cells(cells, reader_org_id)
    return [row for row in rows if shows_cell(cell_of(row), org_of(row), published, reader_org_id)]


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

    Except within the item's own organisation, for an end none of the item's writers could read
    when naming it (`ItemReference.writer_reads_end`): the reference then derives from nothing
    they knew, and hiding it would answer their question "does someone hold this id?" (rule 8)
    by reading back their own relationship. (The organisation's own copies other than RED ones
    its members read anyway, rule 5.)
    """
    held = aliased(SharedItem)
    readable_copy = aliased(SharedItem)
    hidden_end = and_(
        exists(select(held.id).where(held.stix_id == ItemReference.ref_stix_id).correlate_except(held)),
        not_(exists(select(readable_copy.id).where(
            readable_copy.stix_id == ItemReference.ref_stix_id,
            _readable_itself(principal, readable_copy),
        ).correlate_except(readable_copy))),
        or_(not_(owned_by_org_of(principal, item.owner_org_id)), ItemReference.writer_reads_end),
    )
    # Explicit correlation: a fan-out's reader columns live two queries up.
    return not_(exists(
        select(ItemReference.id).where(ItemReference.item_id == item.id, hidden_end).correlate_except(ItemReference)
    ))


def readable_items_for_organisation(org_id: int, org_kind: OrgKind) -> ColumnElement[bool]:
    """SQL on SharedItem: what every member of the organisation may read, the reader of anything
    exported for the organisation as a whole (a blocklist feed polled by its firewall).

    Its own items, its organisation grants, its sharing groups, community and CLEAR (rules 2-6,
    rule 7 on derived items); never an item granted to one named user, never TLP:RED (rule 1:
    named individuals only, which no organisation-wide export can honour).
    """
    return and_(SharedItem.tlp != TLP.red, readable_items_for(Reader(None, org_id, org_kind)))


def organisation_wide_tlp(tlp: TLP) -> bool:
    """Rule 1: may an export read by a whole organisation (a firewall feed) carry this TLP?
    Never RED, which reaches named individuals only."""
    return tlp != TLP.red


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
    return item.id in readable_item_ids(principal, [item.id])


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


def readable_item_ids(principal: Principal | None, item_ids) -> set[int]:
    """Which of these items the principal may read: `can_read` for a batch, in one query (a share
    of thousands of objects asks about every copy the hub already holds).

    Rule 11 asks it too: new versions of an item come only from users who may read it (for RED:
    the author and the named users)."""
    item_ids = list(item_ids)
    if principal is None or not item_ids:
        return set()
    return set(_readable_among(principal, item_ids, SharedItem.id))


def readable_items_among(principal: Principal | None, item_ids) -> list[SharedItem]:
    """The items of these ids that the principal may read, loaded: `readable_item_ids` and the
    rows in one query (correlation asks it of the few items a lookup found)."""
    item_ids = list(item_ids)
    if principal is None or not item_ids:
        return []
    return _readable_among(principal, item_ids, SharedItem)


def _readable_among(principal: Principal, item_ids: list[int], what) -> list:
    statement = statement_for_reader(
        principal, ("among", what is SharedItem),
        lambda reader: select(what).where(in_parameter(SharedItem.id, "item_ids"), readable_items_for(reader)))
    found = []
    for chunk in id_chunks(item_ids):
        found += db.session.scalars(statement, {"item_ids": chunk, **reader_parameters(principal)})
    return found


# `readable_items` built into a statement once per kind of reader, the reader's ids as parameters:
# built afresh, the predicate cost more in Python (building it, deriving SQLAlchemy's cache key)
# than in PostgreSQL, and one SQL text lets the server keep its plan (psycopg prepares a statement
# run a few times). A correlation or an item page asks it of a handful of ids.
_READER_STATEMENTS: dict[tuple, object] = {}


def statement_for_reader(principal: Principal, name: tuple, build):
    """`build(reader)`, a statement filtered by `readable_items_for(reader)`, built once per kind
    of reader and `name`; the reader's ids are the parameters `reader_parameters` gives."""
    key = (db.session.get_bind().dialect.name, principal.org_kind, principal.user_id is None, name)
    statement = _READER_STATEMENTS.get(key)
    if statement is None:
        reader = Reader(None if principal.user_id is None else bindparam("reader_user_id"),
                        bindparam("reader_org_id"), principal.org_kind)
        statement = build(reader)
        _READER_STATEMENTS[key] = statement
    return statement


def reader_parameters(principal: Principal) -> dict:
    return {"reader_user_id": principal.user_id, "reader_org_id": principal.org_id}


# --- Who reads an item: the sharer's "who will see this" (rules 1-7, asked of every member) -----

@dataclass(frozen=True)
class Readers:
    """Who may read one item: the organisations all of whose members may (`orgs`, users or not
    yet), and every active user who may, by organisation (`people`: org id -> user ids)."""

    orgs: frozenset[int]
    people: Mapping[int, frozenset[int]]

    @property
    def org_ids(self) -> frozenset[int]:
        """Every organisation with at least one reader (named users bring their organisation in)."""
        return self.orgs | frozenset(org_id for org_id, users in self.people.items() if users)

    @property
    def user_ids(self) -> frozenset[int]:
        return frozenset(user_id for users in self.people.values() for user_id in users)

    def also_reading(self, other: "Readers") -> "Readers":
        """Who reads both: here, and in `other` (rule 7: what refers to an item and the item)."""
        people = {org_id: users & other.people.get(org_id, frozenset()) for org_id, users in self.people.items()}
        return Readers(self.orgs & other.orgs, {org_id: users for org_id, users in people.items() if users})

    def minus(self, before: "Readers") -> "Readers":
        """Who gains access: readers here who were not readers `before` (a widening's news)."""
        old_users = before.user_ids
        people = {org_id: frozenset(users - old_users) for org_id, users in self.people.items()}
        return Readers(self.orgs - before.org_ids, {org_id: users for org_id, users in people.items() if users})


def reads_at_all(org=Organisation) -> ColumnElement[bool]:
    """SQL on Organisation (or an alias): does it read anything? A deactivated organisation's
    people cannot sign in or use tokens, and nothing reaches it by any other channel either (its
    feeds, its alert subscriptions), nor is it counted among an item's readers."""
    return org.active


def readers_of(item_id: int) -> Readers:
    """Every member who may read the item now, asked of `readable_items_for` itself: the very
    rule every read path applies, so the answer is exactly who reads. A deactivated organisation
    or user reads nothing (they cannot sign in or use a token), so is never counted."""
    member_org = aliased(Organisation)
    orgs = frozenset(db.session.scalars(
        select(member_org.id).join(SharedItem, SharedItem.id == item_id)
        .where(reads_at_all(member_org), readable_items_for(Reader(None, member_org.id, member_org.kind)))))
    user_org = aliased(Organisation)
    people: dict[int, set[int]] = {}
    for user_id, org_id in db.session.execute(
        select(User.id, User.org_id).join(user_org, user_org.id == User.org_id).join(SharedItem, SharedItem.id == item_id)
        .where(User.active, reads_at_all(user_org), readable_items_for(Reader(User.id, User.org_id, user_org.kind)))
    ):
        people.setdefault(org_id, set()).add(user_id)
    return Readers(orgs, {org_id: frozenset(users) for org_id, users in people.items()})


@dataclass(frozen=True)
class DraftItem:
    """An item as it would be shared (not yet, or with a wider audience): what `would_read` asks
    the policy about. `refers_to`: STIX ids it names (a sighting's item, rule 7); `incident_id`:
    the incident it would belong to (rule 6); `consent_org_ids`: law enforcement that would
    hold the owner's consent to that incident."""

    owner_org_id: int
    author_id: int
    tlp: TLP
    stix_type: str = "indicator"
    community: bool = False
    group_ids: frozenset[int] = frozenset()
    org_ids: frozenset[int] = frozenset()
    user_ids: frozenset[int] = frozenset()
    refers_to: tuple[str, ...] = ()
    incident_id: int | None = None
    consent_org_ids: frozenset[int] = frozenset()


def would_read(draft: DraftItem) -> Readers:
    """Who would read the draft item, asked of the policy itself: the draft is written inside a
    savepoint, `readers_of` answers for it, and the savepoint is rolled back (nothing stays)."""
    savepoint = db.session.begin_nested()
    try:
        item_id = db.session.execute(insert(SharedItem).values(
            stix_id=f"{draft.stix_type}--{uuid.uuid4()}", stix_type=draft.stix_type,
            owner_org_id=draft.owner_org_id, author_id=draft.author_id, tlp=draft.tlp,
            audience_community=draft.community, anonymous=False, revoked=False, name="", search_text="",
            first_added_us=0, last_added_us=0,
        ).returning(SharedItem.id)).scalar_one()
        grants = ([{"item_id": item_id, "org_id": org_id} for org_id in draft.org_ids]
                  + [{"item_id": item_id, "group_id": group_id} for group_id in draft.group_ids]
                  + [{"item_id": item_id, "user_id": user_id} for user_id in draft.user_ids])
        if grants:
            db.session.execute(insert(AudienceGrant), grants)
        if draft.refers_to:
            db.session.execute(insert(ItemReference), [
                {"item_id": item_id, "ref_stix_id": ref} for ref in sorted(set(draft.refers_to))])
        if draft.incident_id is not None:
            db.session.execute(insert(IncidentItem).values(incident_id=draft.incident_id, item_id=item_id))
            if draft.consent_org_ids:
                _consent_in_draft(draft.incident_id, draft.consent_org_ids, draft.author_id)
        return readers_of(item_id)
    finally:
        savepoint.rollback()


def _consent_in_draft(incident_id: int, org_ids: frozenset[int], granted_by_id: int) -> None:
    """Consent as `grant_consent` would leave it (a revoked case active again), inside the draft's
    savepoint only."""
    cases = LawEnforcementCase.__table__
    held = set(db.session.scalars(select(cases.c.org_id).where(
        cases.c.incident_id == incident_id, cases.c.org_id.in_(org_ids))))
    if held:
        db.session.execute(cases.update().where(cases.c.incident_id == incident_id, cases.c.org_id.in_(held))
                           .values(consent_active=True))
    if org_ids - held:
        db.session.execute(insert(LawEnforcementCase), [
            {"public_id": str(uuid.uuid4()), "incident_id": incident_id, "org_id": org_id,
             "consent_active": True, "granted_by_id": granted_by_id}
            for org_id in sorted(org_ids - held)])


def draft_of(item: SharedItem) -> DraftItem:
    """The item as it stands (audience, references, incident), to widen as a draft."""
    grants = db.session.execute(select(AudienceGrant.org_id, AudienceGrant.group_id, AudienceGrant.user_id)
                                .where(AudienceGrant.item_id == item.id)).all()
    return DraftItem(
        owner_org_id=item.owner_org_id, author_id=item.author_id, tlp=item.tlp, stix_type=item.stix_type,
        community=item.audience_community,
        org_ids=frozenset(g.org_id for g in grants if g.org_id),
        group_ids=frozenset(g.group_id for g in grants if g.group_id),
        user_ids=frozenset(g.user_id for g in grants if g.user_id),
        refers_to=tuple(db.session.scalars(select(ItemReference.ref_stix_id).where(ItemReference.item_id == item.id))),
        incident_id=db.session.scalar(select(IncidentItem.incident_id).where(IncidentItem.item_id == item.id)),
    )


def managing_incident(item: SharedItem) -> str | None:
    """Rule 10 for incident reports: the incident (STIX id) whose page manages this item, when
    it is an incident report or an object filed with one; it is widened or revoked there, as a
    whole, never object by object from the generic item page."""
    return db.session.scalar(
        select(Incident.stix_id).join(IncidentItem, IncidentItem.incident_id == Incident.id)
        .where(IncidentItem.item_id == item.id))


def can_manage(principal: Principal, item: SharedItem) -> bool:
    """Rule 10: only the owner organisation's analysts and admins edit, revoke or widen."""
    return principal.can_share and item.owner_org_id == principal.org_id


def reveals_owner(principal: Principal | None, item: SharedItem) -> bool:
    """Anonymous items name their source only to the owner organisation."""
    return reveals_owner_to_org(None if principal is None else principal.org_id, item)


def reveals_owner_to_org(org_id: int | None, item) -> bool:
    """`reveals_owner` for an organisation (an alert subscriber's), on anything with `anonymous`
    and `owner_org_id`: only the owner organisation learns an anonymous item's source, also not
    by a filter on the source matching it."""
    return not item.anonymous or (org_id is not None and org_id == item.owner_org_id)


def owner_revealed_items(principal: Principal | None, item=SharedItem) -> ColumnElement[bool]:
    """`reveals_owner` as SQL on SharedItem (or an alias of it): the items a filter on their
    owner may match for this reader (an anonymous item matching would name its source)."""
    own = principal.org_id if principal is not None else -1
    return or_(not_(item.anonymous), item.owner_org_id == own)


def is_owner_org(principal: Principal | None, thing) -> bool:
    """Rule 5: does the principal belong to the organisation that owns `thing` (an item, an
    incident, anything with `owner_org_id`)? Its own view shows more than a recipient's."""
    return principal is not None and thing.owner_org_id == principal.org_id


def owned_by_org_of(principal: Principal | Reader | None, owner_org_id: ColumnElement) -> ColumnElement[bool]:
    """`is_owner_org` as SQL, on an owner column (SharedItem.owner_org_id, Incident.owner_org_id);
    a Reader's org_id may be a bind parameter (statement_for_reader)."""
    if principal is None:
        return false()
    return owner_org_id == principal.org_id


def sees_sharing_details(principal: Principal | None, item: SharedItem) -> bool:
    """Authorship and audience: only the owner organisation learns which of its users shared an
    item and whom it reaches (the audience names recipients; "Every shared item carries")."""
    return is_owner_org(principal, item)


# --- What an alert may carry (rule 1) ---------------------------------------------------------

# RED content never leaves the hub by e-mail or webhook (rule 1); the hub holds AMBER+STRICT
# back as well, since an inbox or a webhook receiver is not the recipient's organisation.
ALERT_CONTENT_WITHHELD_TLPS = (TLP.red, TLP.amber_strict)


def alert_carries_content(item) -> bool:
    """Rule 1: may an e-mail or webhook body carry the item's content (name, description,
    pattern, STIX)? Otherwise it carries the event, the id, the TLP and a link only."""
    return item.tlp not in ALERT_CONTENT_WITHHELD_TLPS


def alert_names_owner(item) -> bool:
    """May an outbound alert name the item's source? Not when its content is withheld (rule 1),
    never for an anonymous item (only the owner organisation sees the source)."""
    return alert_carries_content(item) and not item.anonymous


# --- The audit log as the owner's admin reads it ("Audit") -------------------------------------

# For a RED item the admin sees that it exists and who did what when, never its content: only
# these structural details of its events are shown; free text (a revocation reason) is not.
AUDIT_DETAILS_SHOWN_FOR_RED = frozenset({
    "audience", "added", "tlp", "anonymous", "modified_us", "channel", "revision", "stage",
    "delivery_id", "case", "org", "significant", "via"})


def audit_content_withheld() -> ColumnElement[bool]:
    """SQL on SharedItem: items whose audit events the admin reads without their content (RED)."""
    return SharedItem.tlp == TLP.red


def audit_detail_shown(key: str, *, content_withheld: bool) -> bool:
    """Whether one detail of an audit event is shown to the owner's admin ("Audit": of a RED
    item existence and actions, never content)."""
    return not content_withheld or key in AUDIT_DETAILS_SHOWN_FOR_RED


def audit_events_of(principal: Principal) -> ColumnElement[bool]:
    """SQL on AuditEvent: the events an organisation's admin reads (its items and its own users)."""
    if not principal.is_admin:
        return false()
    return AuditEvent.subject_org_id == principal.org_id


# --- Administration: who manages which accounts, organisations and groups ----------------------

def managed_users(principal: Principal) -> ColumnElement[bool]:
    """SQL on User: the accounts an organisation's admin manages, its own organisation's only."""
    if not principal.is_admin:
        return false()
    return User.org_id == principal.org_id


def administers_hub(principal: Principal) -> bool:
    """Operators run the hub: they manage member organisations and sharing groups."""
    return principal.is_operator


# --- Incident reports, NIS2 and law-enforcement cases (rule 6) ---------------------------------

def follows_nis2_reporting(principal: Principal, incident: Incident) -> bool:
    """Rule 6: the hospital itself and its country's national CERT follow an incident's NIS2
    reporting: its clocks, submissions and the CERT's advice. Other readers see the report only."""
    return is_owner_org(principal, incident) or is_national_cert_of(principal, incident)


def is_national_cert(principal: Principal) -> bool:
    """National CERTs keep the NIS2 queue and act on reports (intermediate requests, advice)."""
    return principal.org_kind == OrgKind.national_cert


def is_national_cert_of(principal: Principal, incident: Incident) -> bool:
    """Rule 6: the national CERT of the hospital's country, who follows and acts on its reports."""
    return is_national_cert(principal) and principal.country == incident.owner.country


def nis2_queue_incidents(principal: Principal) -> ColumnElement[bool]:
    """SQL on Incident, added to `readable_items`: the significant incidents of the national
    CERT's own country, which its NIS2 queue lists (rule 6)."""
    return and_(Incident.significant, Incident.owner.has(Organisation.country == principal.country))


def default_incident_audience_orgs(principal: Principal) -> ColumnElement[bool]:
    """SQL on Organisation, rule 6: besides its own organisation, a hospital's incident reaches
    by default the national CERTs of its country."""
    return and_(Organisation.kind == OrgKind.national_cert, Organisation.country == principal.country,
                Organisation.id != principal.org_id)


def national_certs_following(org, owner_kind: str, owner_country: str) -> ColumnElement[bool] | None:
    """SQL on Organisation (`org`: it or an alias), rule 6: the national CERTs that follow the
    incidents of an organisation of this kind and country: a hospital's, those of its country;
    None: nobody follows another kind's."""
    if owner_kind != OrgKind.hospital.value:
        return None
    return and_(org.kind == OrgKind.national_cert, org.country == owner_country)


def sees_incident_internals(principal: Principal, incident: Incident) -> bool:
    """Who wrote each revision, and to whom law enforcement consent was given (with the cases):
    the owner organisation's own view of its report, never a recipient's (rule 6)."""
    return is_owner_org(principal, incident)


def manages_consents(principal: Principal, incident: Incident) -> bool:
    """Rule 6: the owner organisation's admin grants and revokes law enforcement's consent."""
    return is_owner_org(principal, incident) and principal.is_admin


def is_law_enforcement(principal: Principal) -> bool:
    """Law-enforcement organisations keep a case queue and see an incident's case (rule 6)."""
    return principal.org_kind == OrgKind.law_enforcement


def liaison_cases(principal: Principal) -> ColumnElement[bool]:
    """SQL on LawEnforcementCase, rule 6: the cases law enforcement sees, its own while the
    owner's consent is active; revoking consent hides the case from then on."""
    return and_(LawEnforcementCase.org_id == principal.org_id, LawEnforcementCase.consent_active)


def is_case_liaison(principal: Principal, case: LawEnforcementCase) -> bool:
    """Rule 6 per case: the principal's organisation is its law-enforcement party and consent is
    active. Its every view of the case is audited for the hospital."""
    return case.org_id == principal.org_id and case.consent_active


def can_read_case(principal: Principal, case: LawEnforcementCase) -> bool:
    """A case, its messages, evidence and chain of custody are read by its two parties only: the
    hospital, and the liaison while consent is active (rule 6). Anyone else: as if absent (rule 8)."""
    return is_case_liaison(principal, case) or is_owner_org(principal, case.incident)


def is_case_law_enforcement(principal: Principal, case: LawEnforcementCase) -> bool:
    """The principal's organisation is the case's law-enforcement party: only it moves the case
    through its statuses and asks the hospital for information."""
    return case.org_id == principal.org_id


def may_receive_consent(org: Organisation) -> bool:
    """Rule 6: consent to see an incident is given to law-enforcement organisations only."""
    return org.kind == OrgKind.law_enforcement


def publishes_advisories(org_kind: OrgKind) -> bool:
    """Advisories are published by vendors and national CERTs (their analysts and admins) only."""
    return org_kind in (OrgKind.vendor, OrgKind.national_cert)


# --- Subscriptions (they name what an organisation watches for) ---------------------------------

def visible_subscriptions(principal: Principal) -> ColumnElement[bool]:
    """SQL on Subscription: a user's own subscriptions; for an admin, every subscription of the
    organisation. Nobody outside the organisation learns what it watches for."""
    if principal.is_admin:
        return Subscription.org_id == principal.org_id
    return (Subscription.user_id == principal.user_id) & (Subscription.scope == "user") \
        & (Subscription.org_id == principal.org_id)


def can_manage_subscription(principal: Principal, subscription: Subscription) -> bool:
    """The owner manages a user subscription; an admin any subscription of the organisation."""
    if subscription.org_id != principal.org_id:
        return False
    return principal.is_admin or (subscription.scope == "user" and subscription.user_id == principal.user_id)


# --- Blocklist feeds (they name what an organisation blocks, and carry its readable items) -------

def organisation_feeds(principal: Principal) -> ColumnElement[bool]:
    """SQL on Feed: an organisation's feeds are seen by its own members only; to anyone else a feed
    id answers as if absent (rule 8), since a feed reads as the organisation."""
    return and_(Feed.org_id == principal.org_id, Feed.deleted.is_(False))


def named_users_only(tlp: TLP | None) -> bool:
    """Rule 1 on writing: a RED item reaches named users only, so it never takes an audience of
    organisations (a collection's default, an incident report, a widening to groups)."""
    return tlp == TLP.red


def check_audience_for_tlp(tlp: TLP, community: bool, group_ids, org_ids, user_ids) -> str | None:
    """Rule 1 on writing: a RED item's audience is named users only. Returns the problem, if any."""
    if named_users_only(tlp) and (community or group_ids or org_ids or not user_ids):
        return "a TLP:RED item must be shared with named users only (audience {\"users\": [...]})"
    return None


# --- Sightings (rule 7: derived data obeys its sources) ------------------------------------------

def default_sighting_tlp(item_tlp: TLP) -> TLP:
    """A sighting's TLP when the sighter names none: GREEN, or the sighted item's own TLP when that
    is narrower (AMBER, AMBER+STRICT, RED), so that a sighting never reads wider than its source."""
    return item_tlp if item_tlp.rank > TLP.green.rank else TLP.green


def default_sighting_audience_orgs(principal: Principal, item: SharedItem) -> ColumnElement[bool]:
    """SQL on Organisation: who hears of a sighting by default: the sighted item's owner
    organisation, the sighting organisation, and the national CERTs of the sighter's country.
    (Rule 7 still hides the sighting from anyone who may not read the item.)"""
    return or_(
        Organisation.id == item.owner_org_id,
        Organisation.id == principal.org_id,
        and_(Organisation.kind == OrgKind.national_cert, Organisation.country == principal.country),
    )


def concealed_recipients(principal: Principal, item_ids: Collection[int]) -> dict[int, set[int]]:
    """Per item, the anonymous sources of the items it refers to (a sighting's sighting_of_ref)
    that `principal`, to whom its recipients are described, may read: the source is what its
    owner must never learn ("Every shared item carries": only the owner sees the source). An
    anonymous copy the principal may not read is, for it, as if absent (rule 8): concealing names
    because of it would tell that it exists.

    Whoever describes such an item's recipients names no organisation at all, whatever the
    audience: naming all but one, or hiding names only when the source is among them, would
    each tell the source (by what is missing, or by when the names disappear)."""
    item_ids = set(item_ids)
    if not item_ids:
        return {}
    concealed: dict[int, set[int]] = {}
    for item_id, org_id in db.session.execute(_concealed_sources(principal).where(ItemReference.item_id.in_(item_ids))):
        concealed.setdefault(item_id, set()).add(org_id)
    return concealed


def refers_to_concealed_source(principal: Principal, item_id: ColumnElement) -> ColumnElement[bool]:
    """`concealed_recipients` as SQL on an item id column: does the item refer to an anonymous
    item of another organisation that the principal may read?"""
    return item_id.in_(_concealed_sources(principal).with_only_columns(ItemReference.item_id))


def _concealed_sources(principal: Principal):
    sharer = aliased(SharedItem)
    source = aliased(SharedItem)
    return (select(ItemReference.item_id, source.owner_org_id).distinct()
            .join(sharer, sharer.id == ItemReference.item_id)
            .join(source, source.stix_id == ItemReference.ref_stix_id)
            .where(source.anonymous, source.owner_org_id != sharer.owner_org_id,
                   _readable_itself(Reader.of(principal), source)))


def own_readable_copies(principal: Principal, stix_ids: Collection[str]) -> dict[str, int]:
    """Of these STIX ids, those of which the principal's own organisation holds a copy the
    principal may read: {canonical id: item id}. What the principal may be told about the readers
    of what refers to them (rule 7) rests on these alone: another organisation's copy is its
    owner's to describe, and one out of the principal's sight must not show (rule 8)."""
    ids = {canonical_stix_id(stix_id) for stix_id in stix_ids}
    if not ids:
        return {}
    return dict(db.session.execute(select(SharedItem.stix_id, SharedItem.id).where(
        SharedItem.stix_id.in_(ids), owned_by_org_of(principal, SharedItem.owner_org_id), readable_items(principal))).all())
