"""Loading warning lists from MISP's warninglists, as shipped by the `pymispwarninglists` package.

Each list's entries are normalised with hub.intel.observables into (kind, value, match) rows:
- MISP `cidr` lists: networks are "cidr" rows, single addresses "exact" rows;
- `string` lists: "exact" rows of whichever kind the entry is (IP, hash, e-mail, URL, domain);
  an entry with a leading dot (".google.com") means the domain and everything under it: "suffix";
- `hostname` lists: MISP matches the name and its subdomains: "suffix" rows (IPs stay "exact");
- `substring` lists (disposable e-mail domains, analysis sandboxes): MISP matches any value
  containing the entry; the hub takes domains as "suffix" rows instead, since a substring test
  over any value ("0-mail.com" inside "a0-mail.com.evil.example") flags unrelated names;
- `regex` lists (two, for e-mail local parts and phone numbers) are not loaded.
Entries that do not normalise as any kind the list stands for are skipped.
"""
from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pymispwarninglists
from pymispwarninglists.api import WarningList as MispWarningList
from pymispwarninglists.exceptions import PyMISPWarningListsError
from sqlalchemy import delete, func, select

from hub.db import insert_rows, utcnow
from hub.errors import NotFound, ValidationFailed
from hub.extensions import db
from hub.intel import observables
from hub.intel.models import WarningList, WarningListEntry, WarningListStamp

LISTS_DIR = Path(pymispwarninglists.__file__).parent / "data" / "misp-warninglists" / "lists"
SUPPORTED_TYPES = ("string", "hostname", "substring", "cidr")
HASH_KINDS = tuple(observables.HASH_LENGTHS)
ALL_KINDS = ("ipv4-addr", "ipv6-addr", *HASH_KINDS, "email-addr", "url", "domain-name")

# MISP attribute types (a list's matching_attributes) -> the hub's observable kinds.
ATTRIBUTE_KINDS = {
    "ip-src": ("ipv4-addr", "ipv6-addr"), "ip-dst": ("ipv4-addr", "ipv6-addr"),
    "ip-src|port": ("ipv4-addr", "ipv6-addr"), "ip-dst|port": ("ipv4-addr", "ipv6-addr"),
    "domain|ip": ("domain-name", "ipv4-addr", "ipv6-addr"),
    "domain": ("domain-name",), "hostname": ("domain-name",), "hostname|port": ("domain-name",),
    "url": ("url",), "uri": ("url",),
    "email": ("email-addr",), "email-src": ("email-addr",), "email-dst": ("email-addr",),
    "target-email": ("email-addr",), "whois-registrant-email": ("email-addr",),
    "dns-soa-email": ("email-addr",),
    **{name: (name,) for name in HASH_KINDS},
    **{f"filename|{name}": (name,) for name in HASH_KINDS},
}

# Loaded by `hub warninglists load` without names, by the demo and `make run`. All from MISP's
# warninglists (github.com/MISP/misp-warninglists) via pymispwarninglists:
DEFAULT_LISTS = (
    # public DNS resolvers (MISP's compilation of public-dns.info and resolver operators)
    "public-dns-v4", "public-dns-v6",
    # reserved and special-purpose ranges (IANA / the RFCs named)
    "rfc1918", "rfc5735", "rfc6598", "rfc3849", "ipv6-linklocal", "multicast",
    # CDN and cloud ranges, as published by the providers
    "akamai", "cloudflare", "fastly", "amazon-aws", "google-gcp", "microsoft-azure",
    # top domains: Cisco Umbrella's top 10,000 (exact names, not their subdomains)
    "cisco_top10k",
    # hashes of empty files
    "empty-hashes",
)


@dataclass(frozen=True)
class AvailableList:
    name: str
    title: str
    misp_type: str
    entries: int
    supported: bool


def _path(name: str) -> Path:
    path = LISTS_DIR / name / "list.json"
    # Names are directory names of the package: nothing else is read.
    if "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"no warning list {name!r} in pymispwarninglists; `hub warninglists available` lists them")
    return path


def _read(name: str) -> dict:
    with open(_path(name), encoding="utf-8") as source:
        return json.load(source)


def available() -> list[AvailableList]:
    """Every list the installed pymispwarninglists ships, by name."""
    found = []
    for path in sorted(LISTS_DIR.glob("*/list.json")):
        with open(path, encoding="utf-8") as source:
            raw = json.load(source)
        found.append(AvailableList(path.parent.name, raw.get("name", ""), raw.get("type", ""),
                                   len(raw.get("list") or []), raw.get("type") in SUPPORTED_TYPES))
    return found


def kinds_of(raw: dict) -> tuple[str, ...]:
    """The observable kinds a MISP list stands for (all kinds when it names none we know)."""
    kinds = {kind for attribute in raw.get("matching_attributes") or [] for kind in ATTRIBUTE_KINDS.get(attribute, ())}
    return tuple(kind for kind in ALL_KINDS if kind in kinds) or ALL_KINDS


def _ip_row(entry: str, kinds: tuple[str, ...]) -> tuple[str, str, str] | None:
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
    kind = f"ipv{network.version}-addr"
    if kind not in kinds:
        return None
    if network.prefixlen == network.max_prefixlen:
        return kind, str(network.network_address), "exact"
    return kind, network.compressed, "cidr"


def _domain_row(entry: str, match: str) -> tuple[str, str, str] | None:
    try:
        return "domain-name", observables.normalise_domain(entry), match
    except (ValueError, UnicodeError):
        return None


def entry_row(misp_type: str, entry: str, kinds: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(kind, normalised value, match) for one MISP entry, or None when it is none we store."""
    entry = entry.strip()
    if not entry:
        return None
    ip_row = _ip_row(entry, kinds)
    if ip_row is not None:
        return ip_row
    if misp_type == "cidr":
        return None
    domain_kinds = {"domain-name", "url", "email-addr"} & set(kinds)
    if misp_type in ("hostname", "substring") or entry.startswith("."):
        return _domain_row(entry.lstrip("."), "suffix") if domain_kinds else None
    for kind in kinds:  # a string list: the first kind the entry is a valid value of
        if kind in ("ipv4-addr", "ipv6-addr"):
            continue
        if kind == "url" and "://" not in entry:
            continue
        if kind == "email-addr" and "@" not in entry:
            continue
        try:
            return kind, observables.normalise(kind, entry), "exact"
        except (ValueError, UnicodeError):
            continue
    if domain_kinds and "domain-name" not in kinds:  # a URL list naming bare hosts
        return _domain_row(entry, "exact")
    return None


def _bump_stamp() -> None:
    token = uuid.uuid4().hex
    stamp = db.session.get(WarningListStamp, 1)
    if stamp is None:
        db.session.add(WarningListStamp(id=1, token=token))
    else:
        stamp.token = token


def load(names: list[str]) -> list[WarningList]:
    """Load (or reload) lists by name, replacing their entries; one transaction for all."""
    problems = []
    raws = {}
    for name in dict.fromkeys(names):
        try:
            raw = _read(name)
            MispWarningList(raw)  # the package's own check of the list's shape and type
        except (NotFound, PyMISPWarningListsError, KeyError, ValueError) as error:
            problems.append({"field": "names", "value": name, "error": getattr(error, "message", str(error))})
            continue
        if raw["type"] not in SUPPORTED_TYPES:
            problems.append({"field": "names", "value": name,
                             "error": f"MISP list type {raw['type']!r} is not supported (only {', '.join(SUPPORTED_TYPES)})"})
            continue
        raws[name] = raw
    if problems:
        raise ValidationFailed("some warning lists cannot be loaded; nothing was loaded", problems)
    loaded = []
    try:
        for name, raw in raws.items():
            loaded.append(_replace(name, raw))
        _bump_stamp()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return loaded


def _replace(name: str, raw: dict) -> WarningList:
    existing = db.session.scalar(select(WarningList).where(WarningList.name == name))
    if existing is not None:
        _delete(existing)
    kinds = kinds_of(raw)
    rows = {}
    for entry in raw.get("list") or []:
        row = entry_row(raw["type"], str(entry), kinds)
        if row is not None:
            rows[row] = None
    record = WarningList(name=name, title=str(raw.get("name", ""))[:300], description=str(raw.get("description", "")),
                         misp_type=raw["type"], misp_version=int(raw.get("version", 0)),
                         applies_to=",".join(kinds), entry_count=len(rows), loaded_at=utcnow())
    db.session.add(record)
    db.session.flush()
    insert_rows(WarningListEntry, [{"kind": kind, "value": value, "match": match} for kind, value, match in rows],
                {"list_id": record.id})
    return record


def _delete(record: WarningList) -> None:
    # Explicit: SQLite enforces ON DELETE CASCADE only with its foreign-key pragma on.
    db.session.execute(delete(WarningListEntry).where(WarningListEntry.list_id == record.id))
    db.session.delete(record)
    db.session.flush()


def drop(name: str) -> None:
    """Remove a loaded list and its entries."""
    record = db.session.scalar(select(WarningList).where(WarningList.name == name))
    if record is None:
        raise NotFound(f"warning list {name!r} is not loaded")
    _delete(record)
    _bump_stamp()
    db.session.commit()


def loaded() -> list[WarningList]:
    return list(db.session.scalars(select(WarningList).order_by(WarningList.name)))


def loaded_entry_count() -> int:
    return db.session.scalar(select(func.count(WarningListEntry.id))) or 0
