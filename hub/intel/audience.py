"""Audiences: who a sharer names, resolved against the member directory."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from hub.accounts.models import Organisation, SharingGroup, User, group_members
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.principal import Principal

AUDIENCE_KINDS = ("community", "groups", "orgs", "users", "own")


@dataclass(frozen=True)
class Audience:
    community: bool = False
    group_ids: frozenset[int] = field(default_factory=frozenset)
    org_ids: frozenset[int] = field(default_factory=frozenset)
    user_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_own(self) -> bool:
        return not (self.community or self.group_ids or self.org_ids or self.user_ids)


def resolve_audience(principal: Principal, spec, where: str = "audience") -> Audience:
    """Turn the API/form spelling of an audience into ids; unknown names are a 422 naming them.

    Accepted: "community", "own", {"groups": [slug…]}, {"orgs": [slug…]}, {"users": [email…]}.
    A sharer may name only sharing groups its own organisation belongs to.
    """
    if spec in ("community", "own"):
        return Audience(community=spec == "community")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValidationFailed(
            "invalid audience",
            [{"field": where, "error": 'expected "community", "own", or one of '
              '{"groups": [...]}, {"orgs": [...]}, {"users": [...]}'}],
        )
    (kind, names), = spec.items()
    if kind not in ("groups", "orgs", "users") or not isinstance(names, list) or not names \
            or not all(isinstance(name, str) for name in names):
        raise ValidationFailed(
            "invalid audience",
            [{"field": f"{where}.{kind}", "error": "expected a non-empty list of names"}],
        )
    names = sorted({name.strip().lower() if kind == "users" else name.strip() for name in names})
    if kind == "groups":
        member_groups = select(group_members.c.group_id).where(
            group_members.c.org_id == principal.org_id
        )
        found = dict(
            db.session.execute(
                select(SharingGroup.slug, SharingGroup.id).where(
                    SharingGroup.slug.in_(names), SharingGroup.id.in_(member_groups)
                )
            ).all()
        )
        problem = "unknown sharing group, or one your organisation is not a member of"
    elif kind == "orgs":
        found = dict(
            db.session.execute(
                select(Organisation.slug, Organisation.id).where(Organisation.slug.in_(names))
            ).all()
        )
        problem = "unknown organisation"
    else:
        found = dict(
            db.session.execute(
                select(User.email, User.id).where(User.email.in_(names), User.active)
            ).all()
        )
        problem = "unknown user"
    missing = [name for name in names if name not in found]
    if missing:
        raise ValidationFailed(
            "the audience names unknown recipients",
            [{"field": f"{where}.{kind}", "value": name, "error": problem} for name in missing],
        )
    ids = frozenset(found.values())
    return Audience(
        group_ids=ids if kind == "groups" else frozenset(),
        org_ids=ids if kind == "orgs" else frozenset(),
        user_ids=ids if kind == "users" else frozenset(),
    )
