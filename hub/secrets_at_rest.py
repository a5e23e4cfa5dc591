"""Secrets the hub must be able to use again (webhook signing keys), encrypted at rest.

A signing secret cannot be hashed like a password: every delivery needs it in clear. So the
column holds a Fernet token (AES-128-CBC + HMAC-SHA256, from the `cryptography` library) whose
key is derived with HKDF from `HUB_SECRETS_KEYS` (comma-separated, newest first, so keys can be
rotated) or, when that is unset, from SECRET_KEY. A database dump alone reveals no secret.
"""
from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    def derive(key: str) -> Fernet:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"healthcert-hub secrets at rest").derive(key.encode())
        return Fernet(base64.urlsafe_b64encode(raw))

    return MultiFernet([derive(key) for key in keys])


def _fernet() -> MultiFernet:
    configured = current_app.config.get("HUB_SECRETS_KEYS") or ""
    keys = tuple(k.strip() for k in configured.split(",") if k.strip()) or (current_app.config["SECRET_KEY"],)
    return _fernet_for(keys)


class EncryptedText(TypeDecorator):
    """A text column stored encrypted; reads and writes need an app context (for the key)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return _fernet().encrypt(value.encode()).decode("ascii")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _fernet().decrypt(value.encode("ascii")).decode()


def seal(value: str) -> str:
    """`value` encrypted and authenticated, to carry where it may be read (a session cookie)."""
    return _fernet().encrypt(value.encode()).decode("ascii")


def unseal(sealed: str, *, max_age: int) -> str | None:
    """What `seal` sealed, if untampered and at most `max_age` seconds old; else None."""
    try:
        return _fernet().decrypt(sealed.encode("ascii"), ttl=max_age).decode()
    except (InvalidToken, ValueError, TypeError, AttributeError):
        return None
