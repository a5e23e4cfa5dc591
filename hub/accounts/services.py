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

from hub import audit, policy
from hub.accounts import sessions as web_sessions
from hub.accounts.models import (
    ApiToken,
    Organisation,
    OrgKind,
    RecoveryCode,
    Role,
    SharingGroup,
    User,
    group_members,
    utcnow,
)
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
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


def create_org(slug: str, name: str, kind: str, country: str, *, timezone_name: str | None = None,
               actor: Principal | None = None) -> Organisation:
    """A new member organisation; with `actor` (an operator in the UI) audited in the same commit."""
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
    if actor is not None:
        db.session.flush()
        audit.record("org_created", actor, subject_org_id=org.id, org=org.slug)
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
                *, is_operator: bool = False, actor: Principal | None = None,
                password_change_due: bool = False) -> tuple[User, str]:
    """Create a user; returns it with its password (generated when none is given). With `actor`
    (an admin in the UI) the creation is audited in the same commit."""
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
                is_operator=is_operator, password_change_due=password_change_due)
    db.session.add(user)
    if actor is not None:
        audit.record("user_created", actor, subject_org_id=org.id, user=user.email, role=user.role.value)
    db.session.commit()
    return user, password


def user_by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def create_group(slug: str, name: str, org_slugs: list[str], *, actor: Principal | None = None) -> SharingGroup:
    _check_slug(slug)
    if db.session.scalar(select(SharingGroup).where(SharingGroup.slug == slug)):
        raise Conflict(f"sharing group {slug} already exists")
    orgs = [org_by_slug(s.strip()) for s in org_slugs if s.strip()]
    group = SharingGroup(slug=slug, name=name.strip() or slug, orgs=orgs)
    db.session.add(group)
    if actor is not None:
        audit.record("group_created", actor, group=group.slug)
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
    if not verify_password(user, password or "") or not user.is_active:
        return None
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user, current):
        raise ValidationFailed("wrong password", [{"field": "current_password", "error": "does not match"}])
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.password_change_due = False
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


def enable_totp(user: User, secret: str, code: str) -> list[str]:
    """Turn on two-factor sign-in; returns the recovery codes, which are shown this once."""
    if not verify_totp(secret, code):
        raise ValidationFailed("wrong code", [{"field": "code", "error": "the code does not match; check the time on your device"}])
    user.totp_secret = secret
    user.totp_enrolment_due = False
    codes = _issue_recovery_codes(user)
    audit.record("totp_enabled", Principal.of(user), recovery_codes=len(codes))
    db.session.commit()
    return codes


def disable_totp(user: User, password: str) -> None:
    if not verify_password(user, password):
        raise ValidationFailed("wrong password", [{"field": "password", "error": "does not match"}])
    user.totp_secret = None
    _drop_recovery_codes(user)
    audit.record("totp_disabled", Principal.of(user))
    db.session.commit()


# --- Recovery codes: single use, instead of a TOTP code when the phone is lost ---------------

RECOVERY_CODE_COUNT = 10
# 10 characters from an alphabet without look-alikes (no 0/O, 1/l/I): 50 bits, typed by hand.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_CODE = re.compile(r"^[a-z2-9]{5}-?[a-z2-9]{5}$")


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _drop_recovery_codes(user: User) -> None:
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))


def _issue_recovery_codes(user: User) -> list[str]:
    _drop_recovery_codes(user)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    hasher = _password_hasher()[0]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hasher.hash(code.replace("-", "")))
                       for code in codes)
    return codes


def regenerate_recovery_codes(user: User, password: str) -> list[str]:
    """New recovery codes for a user with two-factor sign-in; the old ones stop working."""
    if not user.totp_secret:
        raise ValidationFailed("two-factor sign-in is off", [{"field": "password", "error": "turn on two-factor sign-in first"}])
    if not verify_password(user, password):
        raise ValidationFailed("wrong password", [{"field": "password", "error": "does not match"}])
    codes = _issue_recovery_codes(user)
    audit.record("recovery_codes_regenerated", Principal.of(user), recovery_codes=len(codes))
    db.session.commit()
    return codes


def unused_recovery_codes(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used.is_(None))).all())


def looks_like_recovery_code(code: str) -> bool:
    return bool(_RECOVERY_CODE.match((code or "").strip().lower().replace(" ", "")))


def accept_recovery_code(user: User, code: str) -> bool:
    """A sign-in's second factor by recovery code: each code works once."""
    code = (code or "").strip().lower().replace(" ", "").replace("-", "")
    if not user.totp_secret or not looks_like_recovery_code(code):
        return False
    hasher = _password_hasher()[0]
    unused = db.session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used.is_(None)).with_for_update()).all()
    for candidate in unused:
        try:
            hasher.verify(candidate.code_hash, code)
        except (VerificationError, InvalidHashError):
            continue
        candidate.used = utcnow()
        audit.record("recovery_code_used", Principal.of(user), remaining=len(unused) - 1)
        db.session.commit()
        return True
    return False


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
    if api_token is None or not api_token.user.is_active:
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


# --- An organisation's admin manages its users -------------------------------------------------

def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only your organisation's admins manage its users")


def org_users(principal: Principal) -> list[User]:
    """The users of the admin's own organisation, by e-mail address."""
    _admin(principal)
    return list(db.session.scalars(select(User).where(policy.managed_users(principal)).order_by(User.email)))


def managed_user(principal: Principal, user_id: int) -> User:
    """One user the admin manages; a user of another organisation is as missing as no user."""
    _admin(principal)
    user = db.session.scalar(select(User).where(User.id == user_id, policy.managed_users(principal)))
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def invite_user(principal: Principal, email: str, role: str) -> tuple[User, str]:
    """A new user of the admin's organisation with a generated initial password, shown once."""
    _admin(principal)
    org = db.session.get(Organisation, principal.org_id)
    try:
        # The admin sees this password: the user must choose their own at first sign-in.
        return create_user(email, org.slug, role, actor=principal, password_change_due=True)
    except Conflict:
        raise ValidationFailed("e-mail taken", [{"field": "email", "value": email,
                                                  "error": "an account with this e-mail address already exists"}]) from None


def _active_admins(org_id: int) -> int:
    return len(db.session.scalars(select(User.id).where(
        User.org_id == org_id, User.role == Role.admin, User.active)).all())


def _keep_an_admin(user: User, field: str) -> None:
    if user.role == Role.admin and user.active and _active_admins(user.org_id) <= 1:
        raise ValidationFailed("last admin", [{"field": field, "error": "this is the organisation's last active admin; "
                                                                         "make someone else admin first"}])


def change_role(principal: Principal, user_id: int, role: str) -> User:
    user = managed_user(principal, user_id)
    try:
        role_value = Role(role)
    except ValueError:
        raise ValidationFailed("invalid role", [{"field": "role", "value": role, "error": "admin, analyst or viewer"}]) from None
    if role_value == user.role:
        return user
    if role_value != Role.admin:
        _keep_an_admin(user, "role")
    before = user.role.value
    user.role = role_value
    audit.record("user_role_changed", principal, user=user.email, before=before, after=role_value.value)
    db.session.commit()
    return user


def _end_all_sessions(user: User) -> None:
    user.session_epoch += 1  # remember-me cookies issued before stop working too
    db.session.execute(web_sessions.update_all_sessions_ended(user))


def set_user_active(principal: Principal, user_id: int, active: bool) -> User:
    """Deactivate (signed out everywhere, tokens refused) or reactivate a user."""
    user = managed_user(principal, user_id)
    if user.active == active:
        return user
    if not active:
        if user.id == principal.user_id:
            raise ValidationFailed("yourself", [{"field": "active", "error": "you cannot deactivate your own account"}])
        _keep_an_admin(user, "active")
        _end_all_sessions(user)
    user.active = active
    audit.record("user_reactivated" if active else "user_deactivated", principal, user=user.email)
    db.session.commit()
    return user


def reset_totp(principal: Principal, user_id: int) -> User:
    """Clear a user's two-factor sign-in and recovery codes; they must enrol again at next sign-in."""
    user = managed_user(principal, user_id)
    user.totp_secret = None
    user.totp_last_step = None
    user.totp_enrolment_due = True
    _drop_recovery_codes(user)
    _end_all_sessions(user)
    audit.record("totp_reset", principal, user=user.email)
    db.session.commit()
    return user


# --- Operators manage member organisations and sharing groups ---------------------------------

def _operator(principal: Principal) -> None:
    if not policy.administers_hub(principal):
        raise Forbidden("only the hub's operators manage organisations and sharing groups")


def all_organisations(principal: Principal) -> list[Organisation]:
    _operator(principal)
    return list(db.session.scalars(select(Organisation).order_by(Organisation.slug)))


def register_org(principal: Principal, slug: str, name: str, kind: str, country: str) -> Organisation:
    _operator(principal)
    try:
        return create_org(slug, name, kind, country, actor=principal)
    except Conflict:
        raise ValidationFailed("slug taken", [{"field": "slug", "value": slug,
                                                "error": "an organisation with this slug already exists"}]) from None


def edit_org(principal: Principal, slug: str, name: str, kind: str, country: str) -> Organisation:
    _operator(principal)
    org = org_by_slug(slug)
    if not name.strip():
        raise ValidationFailed("invalid name", [{"field": "name", "error": "a name is required"}])
    try:
        kind_value = OrgKind(kind)
    except ValueError:
        raise ValidationFailed("invalid kind", [{"field": "kind", "value": kind, "error": "one of " + ", ".join(k.value for k in OrgKind)}]) from None
    if not re.fullmatch(r"[A-Za-z]{2}", country or ""):
        raise ValidationFailed("invalid country", [{"field": "country", "value": country, "error": "an ISO 3166-1 alpha-2 code, e.g. CZ"}])
    before = {"name": org.name, "kind": org.kind.value, "country": org.country}
    org.name, org.kind, org.country = name.strip(), kind_value, country.upper()
    after = {"name": org.name, "kind": org.kind.value, "country": org.country}
    changed = {key: f"{before[key]} → {after[key]}" for key in before if before[key] != after[key]}
    if changed:
        audit.record("org_edited", principal, subject_org_id=org.id, org=org.slug, **changed)
    db.session.commit()
    return org


def set_org_active(principal: Principal, slug: str, active: bool) -> Organisation:
    """Deactivate a member (its users signed out, sign-in and tokens refused) or reactivate it."""
    _operator(principal)
    org = org_by_slug(slug)
    if org.id == principal.org_id and not active:
        raise ValidationFailed("own organisation", [{"field": "active", "error": "you cannot deactivate your own organisation"}])
    if org.active == active:
        return org
    org.active = active
    if not active:
        for user in org.users:
            _end_all_sessions(user)
    audit.record("org_reactivated" if active else "org_deactivated", principal, subject_org_id=org.id, org=org.slug)
    db.session.commit()
    return org


def all_groups(principal: Principal) -> list[SharingGroup]:
    _operator(principal)
    return list(db.session.scalars(select(SharingGroup).order_by(SharingGroup.slug)
                                   .options(selectinload(SharingGroup.orgs))))


def group_by_slug(principal: Principal, slug: str) -> SharingGroup:
    _operator(principal)
    group = db.session.scalar(select(SharingGroup).where(SharingGroup.slug == slug))
    if group is None:
        raise NotFound(f"no sharing group {slug}")
    return group


def register_group(principal: Principal, slug: str, name: str) -> SharingGroup:
    _operator(principal)
    try:
        return create_group(slug, name, [], actor=principal)
    except Conflict:
        raise ValidationFailed("slug taken", [{"field": "slug", "value": slug,
                                                "error": "a sharing group with this slug already exists"}]) from None


def add_group_member(principal: Principal, group_slug: str, org_slug: str) -> SharingGroup:
    group = group_by_slug(principal, group_slug)
    try:
        org = org_by_slug(org_slug.strip())
    except NotFound:
        raise ValidationFailed("unknown organisation", [{"field": "org", "value": org_slug,
                                                          "error": "no member organisation has this slug"}]) from None
    if org not in group.orgs:
        group.orgs.append(org)
        audit.record("group_member_added", principal, subject_org_id=org.id, group=group.slug, org=org.slug)
    db.session.commit()
    return group


def remove_group_member(principal: Principal, group_slug: str, org_slug: str) -> SharingGroup:
    group = group_by_slug(principal, group_slug)
    org = org_by_slug(org_slug)
    if org in group.orgs:
        group.orgs.remove(org)
        audit.record("group_member_removed", principal, subject_org_id=org.id, group=group.slug, org=org.slug)
    db.session.commit()
    return group
