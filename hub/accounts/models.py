"""Who is who: organisations, their users, sharing groups and API tokens."""
from __future__ import annotations

import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, String, Table, Column
from sqlalchemy import false as sa_false, true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import UTCDateTime, utcnow
from hub.extensions import db
from hub.principal import OrgKind, Role

# Every export of the same organisation names the same STIX identity: its id is drawn once
# (UUIDv4, as STIX 2.1 asks of identifiers) and stored. Organisations created before that kept
# the id they had, a UUIDv5 of their slug in this namespace (migration c0ffee1d0001).
IDENTITY_NAMESPACE = uuid.UUID("6d1c3f0e-6a8e-4f0e-9a59-2f3b8c0a9b11")


def new_identity_id() -> str:
    return f"identity--{uuid.uuid4()}"


group_members = Table(
    "sharing_group_member",
    db.metadata,
    Column("group_id", ForeignKey("sharing_group.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrgKind] = mapped_column(Enum(OrgKind, native_enum=False, length=20))
    country: Mapped[str] = mapped_column(String(2))
    # IANA zone: NIS2 deadlines are shown, and monthly ones computed, in the organisation's time.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    stix_identity_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_identity_id)
    # A deactivated organisation's users cannot sign in or use tokens; its shared items stay.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())

    users: Mapped[list["User"]] = relationship(back_populates="org")
    groups: Mapped[list["SharingGroup"]] = relationship(
        secondary=group_members, back_populates="orgs"
    )

    @property
    def identity_id(self) -> str:
        if self.stix_identity_id is None:  # not flushed yet: draw it now, the insert keeps it
            self.stix_identity_id = new_identity_id()
        return self.stix_identity_id

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=10))
    password_hash: Mapped[str] = mapped_column(String(200))
    # Bumped on password change or sign-out everywhere; part of the session id, so old
    # sessions stop working.
    session_epoch: Mapped[int] = mapped_column(default=0)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted at sign-in: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin resets the user's two-factor sign-in: the web UI asks for nothing
    # but enrolment until the user has set it up again.
    totp_enrolment_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # Set when an admin invites the user with a generated password (which the admin has seen):
    # the web UI asks for nothing but a password of the user's own until it is changed.
    password_change_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    org: Mapped[Organisation] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active and self.org.active

    def get_id(self) -> str:  # Flask-Login: what the session and remember-me cookies carry
        # With a web session (hub/accounts/sessions.py) the id names it; sign-out ends it there.
        token = getattr(self, "web_session_token", None)
        return f"{self.id}:{self.session_epoch}:{token}" if token else f"{self.id}:{self.session_epoch}"

    @property
    def can_share(self) -> bool:
        return self.role in (Role.admin, Role.analyst)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class SharingGroup(db.Model):
    __tablename__ = "sharing_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    orgs: Mapped[list[Organisation]] = relationship(
        secondary=group_members, back_populates="groups"
    )


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(12))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """One signed-in browser; the cookie carries the token, ending the row ends the cookie."""
    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: a leaked database does not hand out live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RecoveryCode(db.Model):
    """A single-use code that stands in for a TOTP code at sign-in (a lost phone)."""
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # Hashed with the password hasher: the codes are shown once, at issue, and never stored.
    code_hash: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used: Mapped[datetime | None] = mapped_column(UTCDateTime())
