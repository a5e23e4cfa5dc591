"""Who will read an item, in words: "Your organisation, CERT-CZ and 2 other hospitals in CZ —
4 organisations, 9 people".

The reader set always comes from the sharing policy (`policy.readers_of`, `policy.would_read`),
so the sentence names exactly who may read; this module only puts it into words. Only the
sharer's organisation sees it (an audience names recipients, "Every shared item carries").
Organisation names come from the member directory, which every sharer already sees; people are
only ever counted, never named, unless the sharer named them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func, select

from hub import policy
from hub.accounts.models import Organisation, SharingGroup, User
from hub.db import canonical_stix_id
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.intel import manage, sightings
from hub.intel.audience import Audience, resolve_audience
from hub.intel.models import AudienceGrant, SharedItem
from hub.principal import OrgKind, Principal
from hub.tlp import TLP

# More names than this make the sentence unreadable: the rest are counted by kind and country.
NAMED_AT_MOST = 3
# Organisations named first: those a sharer most needs to know are in (or not).
_KIND_ORDER = {OrgKind.national_cert: 0, OrgKind.hospital: 1, OrgKind.law_enforcement: 2,
               OrgKind.vendor: 3, OrgKind.peer_hub: 4}
_KIND_NOUNS = {
    OrgKind.hospital: ("hospital", "hospitals"),
    OrgKind.national_cert: ("national CERT", "national CERTs"),
    OrgKind.law_enforcement: ("law-enforcement organisation", "law-enforcement organisations"),
    OrgKind.vendor: ("vendor", "vendors"),
    OrgKind.peer_hub: ("peer hub", "peer hubs"),
}


@dataclass(frozen=True)
class WhoReads:
    """Who reads (or gains access), as the sharer's organisation is told."""

    text: str
    organisations: int
    people: int
    names: tuple[str, ...]
    # Recipients left unnamed and uncounted: the anonymous source of an item this one refers to.
    concealed: bool = False

    def as_json(self) -> dict:
        return {"text": self.text, "organisations": self.organisations, "people": self.people,
                "names": list(self.names)}


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _rest_phrase(rest: list[Organisation], others_named: bool) -> str:
    """The organisations not named, by what they have in common: "2 other hospitals in CZ"."""
    kinds = {org.kind for org in rest}
    countries = {org.country for org in rest}
    one, many = _KIND_NOUNS[next(iter(kinds))] if len(kinds) == 1 else ("organisation", "organisations")
    phrase = f"{len(rest)} {'other ' if others_named else ''}{one if len(rest) == 1 else many}"
    return phrase + (f" in {next(iter(countries))}" if len(countries) == 1 else "")


def describe(readers: policy.Readers, viewer: Principal, *, concealed: frozenset[int] = frozenset(),
             gained: bool = False, chosen_only: bool = False) -> WhoReads:
    """Put a reader set into words for the sharer `viewer`. When the item refers to an item of
    a `concealed` (anonymous) source, no organisation is named or counted, whatever the set.
    `gained`: the set is who gains access by a widening. `chosen_only`: the set is the audience
    the sharer chose, not narrowed to the readers of another organisation's item it refers to."""
    if concealed:
        # Naming or counting would tell which one is the source by what is missing (an
        # organisation the sharer chose, or its own national CERT, left out of the names), and
        # hiding names only when the source is among them would tell it by when they vanish.
        return WhoReads(text=SOURCE_AMONG_RECIPIENTS, organisations=0, people=0, names=(), concealed=True)
    org_ids = readers.org_ids
    people = sum(len(users) for users in readers.people.values())
    orgs = list(db.session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))) if org_ids else []
    others = sorted((org for org in orgs if org.id != viewer.org_id),
                    key=lambda org: (_KIND_ORDER.get(org.kind, 9), org.name.casefold()))
    own = viewer.org_id in org_ids
    counts = f"{_plural(len(orgs), 'organisation', 'organisations')}, {_plural(people, 'person', 'people')}"
    members = db.session.scalar(select(func.count(Organisation.id)))
    named = others if len(others) <= NAMED_AT_MOST + 1 else others[:NAMED_AT_MOST]
    rest = others[len(named):]

    if not orgs:
        text = "Nobody else" if gained else "Nobody"
    elif len(orgs) == members and len(orgs) > 1:
        text = "Every member organisation"
    elif own and not others:
        text = "Only your organisation"
    else:
        parts = (["your organisation"] if own else []) + [org.name for org in named]
        if rest:
            parts.append(_rest_phrase(rest, others_named=bool(named)))
        text = _joined(parts)
        text = text[0].upper() + text[1:]
    if orgs:
        text = f"{text} — {counts}"
        if chosen_only:
            text = f"{text}, {ONLY_READERS_OF_REFERENCED}"
    return WhoReads(text=text, organisations=len(orgs), people=people, names=tuple(org.name for org in named))


def _draft(principal: Principal, tlp: TLP, audience: Audience, **extra) -> policy.DraftItem:
    return policy.DraftItem(owner_org_id=principal.org_id, author_id=principal.user_id, tlp=tlp,
                            community=audience.community, group_ids=audience.group_ids,
                            org_ids=audience.org_ids, user_ids=audience.user_ids, **extra)


def _readers_told(principal: Principal, draft: policy.DraftItem,
                  item_id: int | None = None) -> tuple[policy.Readers, bool]:
    """Who the principal may be told reads the draft (or the item `item_id`, as it stands), and
    whether that is only its chosen audience.

    Rule 7 makes the readers of what refers to an item depend on that item's readers. Only the
    principal's own organisation's copies that it may read enter the answer: another
    organisation's copy has an audience its owner alone may learn, and whether one exists out of
    the principal's sight must not show (rule 8). When an end has no such copy: the chosen
    audience, and the rule in words."""
    if not draft.refers_to:
        return (policy.readers_of(item_id) if item_id is not None else policy.would_read(draft)), False
    own_copies = policy.own_readable_copies(principal, draft.refers_to)
    chosen = policy.would_read(replace(draft, refers_to=()))
    if len(own_copies) < len({canonical_stix_id(stix_id) for stix_id in draft.refers_to}):
        return chosen, True
    for copy_id in own_copies.values():
        chosen = chosen.also_reading(policy.readers_of(copy_id))
    return chosen, False


def preview(principal: Principal, tlp: TLP, audience: Audience, *, stix_type: str = "indicator",
            refers_to: tuple[str, ...] = ()) -> WhoReads:
    """Who would read what the principal is about to share with this TLP and audience."""
    readers, chosen_only = _readers_told(principal, _draft(principal, tlp, audience, stix_type=stix_type,
                                                           refers_to=refers_to))
    return describe(readers, principal, chosen_only=chosen_only)


SOURCE_AMONG_RECIPIENTS = ("Organisations not named or counted: the item this one refers to has an anonymous "
                           "source, who may be among them")
ONLY_READERS_OF_REFERENCED = "each only if it may also read the item this one refers to"
ANONYMOUS_SOURCE_SIGHTING = ("The item's source (not named), your organisation and the national CERTs of your "
                             "country, among those who may read the item")


def sighting_default(principal: Principal, item: SharedItem) -> WhoReads:
    """Who reads a sighting of this item recorded with the defaults ("We saw this too"): its
    TLP and audience as `sightings.record_sighting` chooses them, and rule 7 (readers of the
    item only). An anonymous item's source receives it unnamed."""
    if not policy.reveals_owner(principal, item):
        # Names or counts would tell the source by what is missing from them (its country's
        # national CERT, say, when the CERT is the source): the rule in words, the same for every
        # source.
        return WhoReads(text=ANONYMOUS_SOURCE_SIGHTING, organisations=0, people=0, names=(), concealed=True)
    return preview(principal, policy.default_sighting_tlp(item.tlp), sightings.default_audience(principal, item),
                   stix_type="sighting", refers_to=(item.stix_id,))


def bulk_sighting_default(principal: Principal) -> WhoReads:
    """Who reads the sightings of a bulk upload besides the source of each matched item (which
    differs per item): the default sighting audience without a source, at GREEN."""
    own = policy.DraftItem(owner_org_id=principal.org_id, author_id=principal.user_id, tlp=TLP.green)
    return preview(principal, TLP.green, sightings.default_audience(principal, own), stix_type="sighting")


def of_item(principal: Principal, item: SharedItem) -> WhoReads | None:
    """Who reads a shared item now; None unless the principal's organisation owns it (only the
    owner learns whom an item reaches)."""
    if not policy.sees_sharing_details(principal, item):
        return None
    concealed = frozenset(policy.concealed_recipients(principal, [item.id]).get(item.id, set()))
    readers, chosen_only = _readers_told(principal, policy.draft_of(item), item.id)
    return describe(readers, principal, concealed=concealed, chosen_only=chosen_only)


def _widened(draft: policy.DraftItem, audience: Audience) -> policy.DraftItem:
    return policy.DraftItem(**{**draft.__dict__, "community": draft.community or audience.community,
                               "group_ids": draft.group_ids | audience.group_ids,
                               "org_ids": draft.org_ids | audience.org_ids,
                               "user_ids": draft.user_ids | audience.user_ids})


def gained_by_widening(principal: Principal, item: SharedItem, audience: Audience) -> WhoReads:
    """Who gains access to the item when `audience` is added to its audience: the policy's
    readers after, less its readers now (both as the principal may be told them: see `_readers_told`)."""
    concealed = frozenset(policy.concealed_recipients(principal, [item.id]).get(item.id, set()))
    draft = policy.draft_of(item)
    before, chosen_only = _readers_told(principal, draft, item.id)
    after, _ = _readers_told(principal, _widened(draft, audience))
    return describe(after.minus(before), principal, concealed=concealed, gained=True, chosen_only=chosen_only)


def gained_by_consent(principal: Principal, incident_item: SharedItem, org_id: int) -> WhoReads:
    """Who gains access to an incident report when its owner's admin consents to this
    law-enforcement organisation (rule 6)."""
    return gained_by_each_consent(principal, incident_item, [org_id])[org_id]


def gained_by_each_consent(principal: Principal, incident_item: SharedItem, org_ids: list[int]) -> dict[int, WhoReads]:
    """`gained_by_consent` for each of these organisations, the report's readers now read once."""
    draft, now = policy.draft_of(incident_item), policy.readers_of(incident_item.id)
    return {org_id: describe(policy.would_read(policy.DraftItem(**{**draft.__dict__, "consent_org_ids": frozenset({org_id})}))
                             .minus(now), principal, gained=True)
            for org_id in org_ids}


# Item types a share form previews; an incident report follows rule 6 as well.
PREVIEW_TYPES = ("indicator", "report", "vulnerability", "sighting", "incident")
_NAME_SEPARATORS = (",", ";", "\n", "\r", "\t", " ")


def _names(values: list[str]) -> list[str]:
    text = " ".join(values)
    for separator in _NAME_SEPARATORS[:-1]:
        text = text.replace(separator, " ")
    return [name for name in text.split(" ") if name]


def chosen_audience(principal: Principal, *, audience: str | None, groups: list[str], orgs: list[str],
                    users: list[str]) -> Audience:
    """An audience as a form sends it (the chosen kind, and the names ticked or typed), resolved
    like a share's; a problem raises ValidationFailed naming the form field ("audience",
    "groups", "orgs", "users")."""
    lists = {"groups": _names(groups), "orgs": _names(orgs), "users": _names(users)}
    if audience in ("community", "own"):
        spec = audience
    elif audience in lists:
        if not lists[audience]:
            raise ValidationFailed("invalid audience", [{"field": audience, "error": f"name at least one of the {audience}"}])
        spec = {audience: lists[audience]}
    else:
        raise ValidationFailed("invalid audience", [{"field": "audience", "value": audience or "",
                                                     "error": "one of community, groups, orgs, users, own"}])
    try:
        return resolve_audience(principal, spec)
    except ValidationFailed as error:  # its fields are "audience.groups": the form calls them "groups"
        raise ValidationFailed(error.message, [{**detail, "field": str(detail.get("field", "")).rpartition(".")[2]}
                                               for detail in error.details]) from None


def preview_request(principal: Principal, *, tlp: str | None, stix_type: str | None, **audience) -> WhoReads:
    """A share form's choices as sent by its page (`GET /audience/preview`), checked like the
    share itself: a problem raises ValidationFailed naming the form field ("tlp", "type", or
    those of `chosen_audience`)."""
    try:
        level = TLP.parse((tlp or "").replace(" ", "+"))  # a bare "+" in a query string is a space
    except (ValueError, KeyError):
        raise ValidationFailed("invalid tlp", [{"field": "tlp", "value": tlp or "",
                                                "error": "one of " + ", ".join(t.value for t in TLP)}]) from None
    kind = stix_type or "indicator"
    if kind not in PREVIEW_TYPES:
        raise ValidationFailed("invalid type", [{"field": "type", "value": kind,
                                                 "error": "one of " + ", ".join(PREVIEW_TYPES)}])
    chosen = chosen_audience(principal, **audience)
    problem = policy.check_audience_for_tlp(level, chosen.community, chosen.group_ids, chosen.org_ids, chosen.user_ids)
    if problem:
        raise ValidationFailed("invalid audience", [{"field": "audience", "error": problem}])
    return preview(principal, level, chosen, stix_type=kind)


def chosen_recipients(principal: Principal, item: SharedItem) -> list[str] | None:
    """The item's audience as its owner chose it, by name ("every member organisation", the
    sharing group "CZ hospitals + CERT-CZ", "FN Brno", a person's e-mail); None unless the
    principal's organisation owns the item. When an anonymous source receives it, no organisation
    is named."""
    if not policy.sees_sharing_details(principal, item):
        return None
    if item.audience_community:
        return ["every member organisation"]
    concealed = policy.concealed_recipients(principal, [item.id]).get(item.id, set())
    grants = db.session.execute(select(AudienceGrant.org_id, AudienceGrant.group_id, AudienceGrant.user_id)
                                .where(AudienceGrant.item_id == item.id)).all()
    group_ids = {g.group_id for g in grants if g.group_id}
    org_ids = {g.org_id for g in grants if g.org_id}
    # As in `describe`: no organisation named, whichever they are.
    source_among_them = bool(concealed) and bool(org_ids)
    if source_among_them:
        org_ids = set()
    user_ids = {g.user_id for g in grants if g.user_id}
    groups = db.session.scalars(select(SharingGroup.name).where(SharingGroup.id.in_(group_ids))).all() if group_ids else []
    orgs = db.session.scalars(select(Organisation.name).where(Organisation.id.in_(org_ids))).all() if org_ids else []
    people = db.session.scalars(select(User.email).where(User.id.in_(user_ids))).all() if user_ids else []
    named = [f"sharing group “{name}”" for name in sorted(groups)] + sorted(orgs) + sorted(people)
    if source_among_them:
        named.append(SOURCE_AMONG_RECIPIENTS[0].lower() + SOURCE_AMONG_RECIPIENTS[1:])
    return named or ["your organisation only"]


def widening_request(principal: Principal, stix_id: str, **audience) -> WhoReads:
    """Who gains access to the principal's own item with this audience added, as a widening
    form sends it; refused like the widening itself (404 unreadable, 403 not the owner's, a
    TLP:RED item to organisations)."""
    item = manage.managed_item(principal, stix_id)
    added = chosen_audience(principal, **audience)
    manage.check_widening(item, added)
    return gained_by_widening(principal, item, added)
