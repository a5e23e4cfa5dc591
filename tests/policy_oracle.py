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

    def describe(self) -> str:
        flags = [f for f, on in (("anonymous", self.anonymous), ("revoked", self.revoked),
                                 ("expired", self.expired)) if on]
        return (f"{self.stix_type} {self.key} by {self.owner} tlp={self.tlp} "
                f"audience={self.audience}" + (f" ({', '.join(flags)})" if flags else ""))


@dataclass
class WorldSpec:
    orgs: dict[str, OrgSpec] = field(default_factory=dict)
    users: dict[str, UserSpec] = field(default_factory=dict)
    groups: dict[str, GroupSpec] = field(default_factory=dict)
    items: list[ItemSpec] = field(default_factory=list)

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


def may_read(world: WorldSpec, reader: UserSpec, item: ItemSpec) -> bool:
    """May `reader` learn that `item` exists and what it says? Operators get nothing extra."""
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
    if not allowed:
        return False
    if item.stix_type in INCIDENT_TYPES:
        # Rule 6: law enforcement has no consent model yet, so only its own incidents; vendors
        # only when named themselves (their organisation, or the reader by name).
        kind = world.kind_of(reader)
        if kind == "law_enforcement":
            return own_org
        if kind == "vendor":
            org_named = item.audience == "orgs" and reader.org in item.audience_names
            return own_org or org_named or named_user
    return True


def sees_source(reader: UserSpec, item: ItemSpec) -> bool:
    """Anonymous items name their owner to the owner organisation only."""
    return not item.anonymous or reader.org == item.owner


def visible_items(world: WorldSpec, reader: UserSpec) -> list[ItemSpec]:
    return [item for item in world.items if may_read(world, reader, item)]
