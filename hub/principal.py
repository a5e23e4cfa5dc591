"""The acting user, as services and the policy see it: no request, no session.

`current_principal()` is the one way a view learns who is acting: the API shell and TAXII set
it from the token, the web pages from the signed-in user.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import g
from flask_login import current_user


class OrgKind(str, enum.Enum):
    hospital = "hospital"
    national_cert = "national_cert"
    law_enforcement = "law_enforcement"
    vendor = "vendor"
    peer_hub = "peer_hub"


class Role(str, enum.Enum):
    admin = "admin"
    analyst = "analyst"
    viewer = "viewer"


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    org_id: int
    org_slug: str
    org_kind: OrgKind
    country: str
    role: Role
    is_operator: bool = False

    @classmethod
    def of(cls, user) -> "Principal":
        """The principal of a user row (anything with the user's and its organisation's fields)."""
        return cls(
            user_id=user.id,
            email=user.email,
            org_id=user.org_id,
            org_slug=user.org.slug,
            org_kind=user.org.kind,
            country=user.org.country,
            role=user.role,
            is_operator=user.is_operator,
        )

    @property
    def can_share(self) -> bool:
        return self.role in (Role.admin, Role.analyst)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


def current_principal() -> Principal:
    """Who acts in this request: the API token's user, else the signed-in user."""
    principal = g.get("principal")
    if principal is None:
        principal = g.principal = Principal.of(current_user)
    return principal
