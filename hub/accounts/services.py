"""Managing members: organisations, users, sharing groups, API tokens, passwords and TOTP."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyotp
import pytz
from argon2 import PasswordHasher
from flask import current_app
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub import audit
from hub.accounts import sessions as web_sessions
from hub.accounts.models import (
    ApiToken,
    Organisation,
    OrgKind,
    Role,
    SharingGroup,
    User,
    group_members,
    utcnow,
)
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.extensions import db
from hub.principal import Principal

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
TOKEN_PREFIX = "hch_"
TOKEN_USE_AUDIT_WINDOW = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 12
_hashers: dict[tuple, tuple[PasswordHasher, str]] = {}


def _password_hasher() -> tuple[PasswordHasher, str]:
    """The argon2 hasher for the app's cost settings, with a dummy hash made at that cost.

    Production uses argon2-cffi's defaults (RFC 9106 low-memory profile); the test suite sets a
    cheap cost so that creating hundreds of users does not dominate its run time. Verifying an
    unknown e-mail address against the dummy hash keeps sign-in timing the same for it.
    """
    params = current_app.config.get("ARGON2_PARAMS") or {}
    key = tuple(sorted(params.items()))
    if key not in _hashers:
        hasher = PasswordHasher(**params)
        _hashers[key] = (hasher, hasher.hash("no-such-user-password"))
    return _hashers[key]


def _check_slug(slug: str, field: str = "slug") -> None:
    if not _SLUG.match(slug):
        raise ValidationFailed(
            "invalid slug",
            [{"field": field, "value": slug, "error": "lower-case letters, digits and dashes, 2-63 characters"}],
        )


# Populous zones for countries whose first listed zone (tz database order) is a small one.
_MAIN_ZONE = {"BR": "America/Sao_Paulo", "US": "America/New_York", "CA": "America/Toronto",
              "AU": "Australia/Sydney", "RU": "Europe/Moscow", "MX": "America/Mexico_City",
              "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "DE": "Europe/Berlin"}


def default_timezone(country: str) -> str:
    """The IANA zone an organisation of this country most likely keeps (UTC when unknown)."""
    code = (country or "").upper()
    if code in _MAIN_ZONE:
        return _MAIN_ZONE[code]
    zones = pytz.country_timezones.get(code)
    return zones[0] if zones else "UTC"


def create_org(slug: str, name: str, kind: str, country: str, *, timezone_name: str | None = None) -> Organisation:
    _check_slug(slug)
    try:
        kind_value = OrgKind(kind)
    except ValueError:
        raise ValidationFailed("invalid kind", [{"field": "kind", "value": kind, "error": "one of " + ", ".join(k.value for k in OrgKind)}]) from None
    if not re.fullmatch(r"[A-Za-z]{2}", country or ""):
        raise ValidationFailed("invalid country", [{"field": "country", "value": country, "error": "an ISO 3166-1 alpha-2 code, e.g. CZ"}])
    if db.session.scalar(select(Organisation).where(Organisation.slug == slug)):
        raise Conflict(f"organisation {slug} already exists")
    if timezone_name is not None:
        try:
            ZoneInfo(timezone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed("invalid timezone", [{"field": "timezone", "value": timezone_name,
                                                         "error": "an IANA zone name, e.g. Europe/Prague"}]) from None
    org = Organisation(slug=slug, name=name.strip() or slug, kind=kind_value, country=country.upper(),
                       timezone=timezone_name or default_timezone(country))
    db.session.add(org)
    db.session.commit()
    return org


def org_by_slug(slug: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(f"no organisation {slug}")
    return org


def hash_password(password: str) -> str:
    return _password_hasher()[0].hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("password too short", [{"field": "password", "error": f"at least {MIN_PASSWORD_LENGTH} characters"}])


def create_user(email: str, org_slug: str, role: str, password: str | None = None,
                *, is_operator: bool = False) -> tuple[User, str]:
    """Create a user; returns it with its password (generated when none is given)."""
    email = email.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ValidationFailed("invalid e-mail", [{"field": "email", "value": email, "error": "not an e-mail address"}])
    try:
        role_value = Role(role)
    except ValueError:
        raise ValidationFailed("invalid role", [{"field": "role", "value": role, "error": "admin, analyst or viewer"}]) from None
    org = org_by_slug(org_slug)
    if db.session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"user {email} already exists")
    password = password or secrets.token_urlsafe(12)
    check_password_strength(password)
    user = User(email=email, org=org, role=role_value, password_hash=hash_password(password),
                is_operator=is_operator)
    db.session.add(user)
    db.session.commit()
    return user, password


def user_by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def create_group(slug: str, name: str, org_slugs: list[str]) -> SharingGroup:
    _check_slug(slug)
    if db.session.scalar(select(SharingGroup).where(SharingGroup.slug == slug)):
        raise Conflict(f"sharing group {slug} already exists")
    orgs = [org_by_slug(s.strip()) for s in org_slugs if s.strip()]
    group = SharingGroup(slug=slug, name=name.strip() or slug, orgs=orgs)
    db.session.add(group)
    db.session.commit()
    return group


def verify_password(user: User | None, password: str) -> bool:
    try:
        hasher, dummy_hash = _password_hasher()
        ok = hasher.verify(user.password_hash if user else dummy_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if ok and user is not None and hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        db.session.commit()
    return ok and user is not None


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same timing either way)."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if not verify_password(user, password or "") or not user.active:
        return None
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user, current):
        raise ValidationFailed("wrong password", [{"field": "current_password", "error": "does not match"}])
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.session_epoch += 1  # sessions and remember-me cookies issued before this stop working
    web_sessions.end_other_sessions(user)
    audit.record("password_change", Principal.of(user))
    db.session.commit()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="HealthCERT Hub")


def verify_totp(secret: str, code: str) -> bool:
    return bool(secret) and pyotp.TOTP(secret).verify((code or "").replace(" ", ""), valid_window=1)


def accept_totp_sign_in(user: User, code: str) -> bool:
    """A sign-in's second factor: the code must be valid now (one step of clock drift either way)
    and from a later time step than the last accepted one, so an observed code cannot be replayed."""
    if not user.totp_secret:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    code = (code or "").replace(" ", "")
    now = time.time()
    for offset in (-1, 0, 1):
        at = now + offset * totp.interval
        step = totp.timecode(datetime.fromtimestamp(at, timezone.utc))
        if totp.verify(code, for_time=at) and (user.totp_last_step is None or step > user.totp_last_step):
            user.totp_last_step = step
            db.session.commit()
            return True
    return False


def enable_totp(user: User, secret: str, code: str) -> None:
    if not verify_totp(secret, code):
        raise ValidationFailed("wrong code", [{"field": "code", "error": "the code does not match; check the time on your device"}])
    user.totp_secret = secret
    audit.record("totp_enabled", Principal.of(user))
    db.session.commit()


def disable_totp(user: User, password: str) -> None:
    if not verify_password(user, password):
        raise ValidationFailed("wrong password", [{"field": "password", "error": "does not match"}])
    user.totp_secret = None
    audit.record("totp_disabled", Principal.of(user))
    db.session.commit()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_digest(token: str) -> str:
    """What the hub stores of a secret token (API or feed token): its SHA-256, never the token."""
    return _token_hash(token)


def create_token(user: User, label: str = "") -> str:
    """A new API token for the user; only its hash is stored, so this is the one chance to see it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=_token_hash(token), label=label[:100], prefix=token[:12]))
    audit.record("token_created", Principal.of(user), label=label[:100])
    db.session.commit()
    return token


# Schemes under which an API token is sent: OAuth's Bearer, and Token, which some TAXII and
# REST clients (OpenCTI connectors, DRF-style tooling) send instead.
TOKEN_SCHEMES = ("bearer", "token")


def token_from_authorization(header: str | None) -> str | None:
    """The API token of an `Authorization: Bearer <token>` or `Token <token>` header, else None.

    The one parser for every channel (REST API, TAXII), so the accepted schemes cannot drift.
    """
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() not in TOKEN_SCHEMES:
        return None
    return token.strip() or None


def principal_from_authorization(header: str | None, *, channel: str = "api") -> Principal | None:
    """Who an `Authorization: Bearer|Token <API token>` header acts for, or None."""
    token = token_from_authorization(header)
    user = user_for_token(token, channel=channel) if token else None
    return Principal.of(user) if user is not None else None


def user_for_token(token: str, *, channel: str = "api") -> User | None:
    """The active user a token belongs to, or None; the use is audited."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    api_token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False))
    )
    if api_token is None or not api_token.user.active:
        return None
    now = utcnow()
    last_used = api_token.last_used
    # One audit row per token per minute of use: a SIEM polling TAXII would otherwise pay a
    # database commit on every page and flood the owner's log with identical lines.
    if last_used is None or now - last_used >= TOKEN_USE_AUDIT_WINDOW:
        api_token.last_used = now
        audit.record("token_use", Principal.of(api_token.user), token=api_token.prefix, channel=channel)
        db.session.commit()
    return api_token.user


def revoke_token(user: User, token_id: int) -> None:
    api_token = db.session.get(ApiToken, token_id)
    if api_token is None or api_token.user_id != user.id:
        raise NotFound("no such token")
    api_token.revoked = True
    audit.record("token_revoked", Principal.of(user), label=api_token.label)
    db.session.commit()


def groups_of_org(org_id: int) -> list[SharingGroup]:
    return list(db.session.scalars(
        select(SharingGroup).join(group_members, group_members.c.group_id == SharingGroup.id)
        .where(group_members.c.org_id == org_id).order_by(SharingGroup.slug)
        .options(selectinload(SharingGroup.orgs))
    ))


def member_directory(kind: OrgKind | None = None, country: str | None = None) -> list[Organisation]:
    """Every member organisation, optionally of one kind or country: whom a sharer can name."""
    query = select(Organisation).order_by(Organisation.slug)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    if country is not None:
        query = query.where(Organisation.country == country.upper())
    return list(db.session.scalars(query))
