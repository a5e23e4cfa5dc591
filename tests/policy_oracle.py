"""A second, independent reading of SHARING_POLICY.md, for the policy test matrix.

It decides "may this user read this item?" over plain descriptions of organisations, users,
sharing groups and items, written from the policy text alone: it imports nothing from `hub`, so
the matrix compares hub/policy.py against a separately written statement of the same rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ORG_KINDS = ("hospital", "national_cert", "law_enforcement", "vendor", "peer_hub")
TLPS = ("clear", "green", "amber", "amber+strict", "red")
AUDIENCE_KINDS = ("community", "groups", "orgs", "users", "own")
INCIDENT_TYPES = ("incident",)


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    kind: str
    country: str


@dataclass(frozen=True)
class UserSpec:
    email: str
    org: str  # organisation slug
    role: str
    is_operator: bool = False


@dataclass(frozen=True)
class GroupSpec:
    slug: str
    orgs: frozenset[str]


@dataclass(frozen=True)
class ItemSpec:
    key: str  # unique word in the item's text, also its name in failure messages
    stix_type: str
    owner: str  # organisation slug
    author: str  # e-mail
    tlp: str
    audience: str  # one of AUDIENCE_KINDS
    audience_names: tuple[str, ...] = ()  # group slugs, org slugs or e-mails, per `audience`
    anonymous: bool = False
    revoked: bool = False
    expired: bool = False
    observable: str | None = None  # the indicator's IPv4 value
    # The incident report (its key) this object was filed as part of: the incident object itself,
    # and what the report filed with it (threat actor, its relationship, new indicators).
    incident: str | None = None
    # What a derived object (relationship, sighting) names: keys of items, or STIX ids of
    # objects the hub does not hold.
    refs: tuple[str, ...] = ()

    def describe(self) -> str:
        flags = [f for f, on in (("anonymous", self.anonymous), ("revoked", self.revoked),
                                 ("expired", self.expired)) if on]
        return (f"{self.stix_type} {self.key} by {self.owner} tlp={self.tlp} "
                f"audience={self.audience}" + (f" ({', '.join(flags)})" if flags else ""))


@dataclass(frozen=True)
class ConsentSpec:
    """A law-enforcement case: the owner's admin consented that `org` sees incident `incident`;
    `active` is False once the consent was revoked."""
    incident: str  # the incident item's key
    org: str  # the law-enforcement organisation's slug
    active: bool


@dataclass(frozen=True)
class ReportSpec:
    """An incident report as the dashboard counts it: its cell and whether its owner published
    an anonymised summary of it."""
    incident: str  # the incident item's key
    month: str  # YYYY-MM of detection
    attack_type: str
    summary: bool = False


@dataclass
class WorldSpec:
    orgs: dict[str, OrgSpec] = field(default_factory=dict)
    users: dict[str, UserSpec] = field(default_factory=dict)
    groups: dict[str, GroupSpec] = field(default_factory=dict)
    items: list[ItemSpec] = field(default_factory=list)
    consents: list[ConsentSpec] = field(default_factory=list)
    reports: list[ReportSpec] = field(default_factory=list)

    def item(self, key: str) -> ItemSpec | None:
        if not hasattr(self, "_by_key") or len(self._by_key) != len(self.items):
            self._by_key = {item.key: item for item in self.items}
        return self._by_key.get(key)

    def kind_of(self, user: UserSpec) -> str:
        return self.orgs[user.org].kind

    def users_of(self, org_slug: str) -> list[UserSpec]:
        return [user for user in self.users.values() if user.org == org_slug]


def reached_orgs(world: WorldSpec, item: ItemSpec) -> set[str]:
    """Organisations whose every user is in the audience (rules 2-3)."""
    if item.audience == "community":
        return set(world.orgs)
    if item.audience == "groups":
        return {org for slug in item.audience_names for org in world.groups[slug].orgs}
    if item.audience == "orgs":
        return set(item.audience_names)
    return set()  # users and own name no organisation


def default_incident_audience(world: WorldSpec, owner: str) -> tuple[str, ...]:
    """Rule 6: an incident filed without an audience reaches its own organisation and the
    national CERTs of its country."""
    country = world.orgs[owner].country
    return tuple(sorted(slug for slug, org in world.orgs.items()
                        if org.kind == "national_cert" and org.country == country and slug != owner))


def consent_active(world: WorldSpec, incident_key: str, org: str) -> bool:
    return any(c.incident == incident_key and c.org == org and c.active for c in world.consents)


def _readable_itself(world: WorldSpec, reader: UserSpec, item: ItemSpec) -> bool:
    """Rules 1-6 on the item alone."""
    own_org = reader.org == item.owner
    named_user = item.audience == "users" and reader.email in item.audience_names
    if item.tlp == "red":
        # Rule 1: the named users and the author, nobody else (not even the owner organisation).
        allowed = named_user or reader.email == item.author
    elif item.tlp == "clear":
        # Rule 4: every signed-in member, whatever the audience.
        allowed = True
    else:
        # Rules 2, 3 and 5: the audience's users and the owner organisation.
        allowed = own_org or named_user or reader.org in reached_orgs(world, item)
    if item.stix_type in INCIDENT_TYPES or item.incident is not None:
        # Rule 6, for the incident and every object filed with it.
        kind = world.kind_of(reader)
        if kind == "law_enforcement" and not own_org:
            # Only while the owner's admin consents (the consent is its way in, whatever the
            # audience says); a report never filed through the hub has no consent at all.
            return (item.incident is not None and item.tlp != "red"
                    and consent_active(world, item.incident, reader.org))
        if kind == "vendor":
            # Only when named themselves (their organisation, or the reader by name).
            org_named = item.audience == "orgs" and reader.org in item.audience_names
            return allowed and (own_org or org_named or named_user)
    return allowed


def may_read(world: WorldSpec, reader: UserSpec, item: ItemSpec) -> bool:
    """May `reader` learn that `item` exists and what it says? Operators get nothing extra."""
    if not _readable_itself(world, reader, item):
        return False
    # Rule 7: a derived object reveals what it names, so it is readable only if every named item
    # the hub holds is; an id the hub does not hold reveals nothing and hides nothing. Within the
    # derived object's own organisation, an item its author may not read hides nothing either
    # (rule 8: reading back one's own relationship never tells whether someone holds its end).
    author = next((user for user in world.users.values() if user.email == item.author), None)
    for ref in item.refs:
        named = world.item(ref)
        if named is None or may_read(world, reader, named):
            continue
        if reader.org == item.owner and (author is None or not may_read(world, author, named)):
            continue
        return False
    return True


def visible_cases(world: WorldSpec, reader: UserSpec) -> list[ConsentSpec]:
    """A case is between its two parties: the incident's owner organisation (always, also after
    revocation: it keeps the history) and the law-enforcement organisation while consent lasts."""
    found = []
    for case in world.consents:
        owner = world.item(case.incident).owner
        if reader.org == owner or (reader.org == case.org and case.active):
            found.append(case)
    return found


MIN_ORGS_PER_CELL = 3  # rule 12: "fewer than 3 organisations"


def dashboard_rows(world: WorldSpec, reader: UserSpec) -> list[tuple[str, str, ReportSpec]]:
    """What a reader's dashboard counts: (source, owner, report) for each report it may read,
    and each published summary of a report it may not read (summaries are anonymised and
    published to every member); then rule 12: a cell (month, attack type, country) built from
    fewer than 3 organisations besides the reader's is dropped (the reader can subtract its own),
    except the reader's own organisation's rows."""
    rows = []
    for report in world.reports:
        incident = world.item(report.incident)
        if may_read(world, reader, incident):
            rows.append(("report", incident.owner, report))
        elif report.summary:
            rows.append(("summary", incident.owner, report))

    def cell(row):
        return row[2].month, row[2].attack_type, world.orgs[row[1]].country

    orgs_in: dict = {}
    for row in rows:
        orgs_in.setdefault(cell(row), set()).add(row[1])
    return [row for row in rows if row[1] == reader.org or len(orgs_in[cell(row)] - {reader.org}) >= MIN_ORGS_PER_CELL]


def summaries_seen(world: WorldSpec, reader: UserSpec) -> list[tuple[str, str, str | None]]:
    """Every member reads every published summary as (month, attack type, country); the country
    is withheld (None) unless 3 organisations besides the reader's publish summaries there, or the
    summary is the reader's own."""
    publishers: dict[str, set[str]] = {}
    for report in world.reports:
        if report.summary:
            owner = world.item(report.incident).owner
            publishers.setdefault(world.orgs[owner].country, set()).add(owner)
    seen = []
    for report in world.reports:
        if report.summary:
            owner = world.item(report.incident).owner
            country = world.orgs[owner].country
            shown = owner == reader.org or len(publishers[country] - {reader.org}) >= MIN_ORGS_PER_CELL
            seen.append((report.month, report.attack_type, country if shown else None))
    return sorted(seen, key=str)


def sees_source(reader: UserSpec, item: ItemSpec) -> bool:
    """Anonymous items name their owner to the owner organisation only."""
    return not item.anonymous or reader.org == item.owner


def visible_items(world: WorldSpec, reader: UserSpec) -> list[ItemSpec]:
    return [item for item in world.items if may_read(world, reader, item)]
