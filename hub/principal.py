"""The acting user, as services and the policy see it: no request, no session."""
from __future__ import annotations

from dataclasses import dataclass

from hub.accounts.models import OrgKind, Role, User


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
    def of(cls, user: User) -> "Principal":
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
