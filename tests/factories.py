"""Small generators so that each test builds exactly the world it needs."""
from __future__ import annotations

import itertools
import uuid

from hub.accounts import services as accounts
from hub.accounts.models import Organisation, User
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.tlp import TLP
from hub.principal import Principal

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def make_org(kind: str = "hospital", country: str = "CZ", slug: str | None = None) -> Organisation:
    n = next(_counter)
    slug = slug or f"{kind.replace('_', '-')}-{n}"
    return accounts.create_org(slug, f"{kind.title()} {n}", kind, country)


def make_user(org: Organisation, role: str = "analyst", email: str | None = None) -> User:
    email = email or f"{role}{next(_counter)}@{org.slug}.test"
    user, _ = accounts.create_user(email, org.slug, role, PASSWORD)
    return user


def make_group(slug: str, *orgs: Organisation):
    return accounts.create_group(slug, slug, [org.slug for org in orgs])


def principal(user: User) -> Principal:
    return Principal.of(user)


def indicator(value: str = "198.51.100.7", kind: str = "ipv4-addr", **extra) -> dict:
    path = "value" if kind != "file" else "hashes.'SHA-256'"
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z",
        "modified": "2026-11-01T10:00:00.000Z",
        "name": f"Indicator {value}",
        "pattern": f"[{kind}:{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T10:00:00.000Z",
    }
    obj.update(extra)
    return obj


def share(user: User, objects=None, *, tlp: str = "green", audience="community", anonymous=False):
    """Share as `user` through the service; returns the first item."""
    p = principal(user)
    items = share_objects(
        p,
        objects or [indicator()],
        audience=resolve_audience(p, audience),
        tlp=TLP.parse(tlp),
        anonymous=anonymous,
    )
    return items[0]
