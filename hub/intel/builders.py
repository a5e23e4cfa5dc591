"""STIX 2.1 objects built from what a human knows, with the stix2 library.

The web forms ask for an observable type and value, or for CVE ids and references; these functions
turn the answers into objects that `hub.intel.ingest.share_objects` accepts. Patterns are built
from stix2 pattern objects, never by string formatting, so quotes in values are escaped.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import orjson
import stix2
from stix2 import (
    EqualityComparisonExpression,
    ObjectPath,
    ObservationExpression,
    StringConstant,
)

from hub.intel import fastpath_sro, observables
from hub.tlp import TLP

# The observable types the share form offers: kind -> (label, STIX object type, property path).
INDICATOR_KINDS: dict[str, tuple[str, str, list[str]]] = {
    "ipv4-addr": ("IPv4 address or network", "ipv4-addr", ["value"]),
    "ipv6-addr": ("IPv6 address or network", "ipv6-addr", ["value"]),
    "domain-name": ("Domain name", "domain-name", ["value"]),
    "url": ("URL", "url", ["value"]),
    "email-addr": ("E-mail address", "email-addr", ["value"]),
    "md5": ("File hash: MD5", "file", ["hashes", "MD5"]),
    "sha1": ("File hash: SHA-1", "file", ["hashes", "SHA-1"]),
    "sha256": ("File hash: SHA-256", "file", ["hashes", "SHA-256"]),
    "sha512": ("File hash: SHA-512", "file", ["hashes", "SHA-512"]),
}

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")


def _to_dict(obj) -> dict:
    return orjson.loads(obj.serialize())


def indicator_pattern(kind: str, value: str) -> str:
    """A one-comparison STIX pattern, e.g. [ipv4-addr:value = '198.51.100.7']."""
    _label, object_type, path = INDICATOR_KINDS[kind]
    comparison = EqualityComparisonExpression(ObjectPath(object_type, path), StringConstant(value))
    return str(ObservationExpression(comparison))


def build_indicator(
    kind: str,
    value: str,
    *,
    description: str,
    confidence: int,
    tlp: TLP,
    name: str | None = None,
    valid_until: datetime | None = None,
    created_by_ref: str | None = None,
    now: datetime | None = None,
) -> dict:
    """A STIX 2.1 indicator for one observable. The value is normalised first (ValueError if invalid)."""
    normalised = observables.normalise(kind, value)
    valid_from = now or datetime.now(timezone.utc)
    properties = {
        "pattern": indicator_pattern(kind, normalised),
        "pattern_type": "stix",
        "valid_from": valid_from,
        "created": valid_from,
        "modified": valid_from,
        "confidence": confidence,
        "object_marking_refs": [tlp.marking_id],
    }
    # STIX wants a name on every indicator: without one, say what it matches.
    properties["name"] = name or f"{INDICATOR_KINDS[kind][0]}: {normalised}"
    # ... and a description with it (stix2-validator --strict); left empty, say what it is.
    properties["description"] = description or f"Shared as an indicator of the {INDICATOR_KINDS[kind][0]} {normalised}."
    if valid_until is not None:
        properties["valid_until"] = valid_until
    if created_by_ref:
        properties["created_by_ref"] = created_by_ref
    return _to_dict(stix2.v21.Indicator(**properties))


def parse_cve_ids(text: str) -> list[str]:
    """CVE ids separated by spaces, commas or lines, upper-cased and de-duplicated in order."""
    found: list[str] = []
    for token in re.split(r"[\s,;]+", text or ""):
        if not token:
            continue
        cve = token.upper()
        if not CVE_ID.match(cve):
            raise ValueError(f"{token!r} is not a CVE id (expected CVE-YYYY-NNNN, e.g. CVE-2024-12345)")
        if cve not in found:
            found.append(cve)
    if not found:
        raise ValueError("name at least one CVE id")
    return found


def parse_reference_urls(text: str) -> list[str]:
    """One http(s) URL per line (a SHA-256 after it is allowed and left out here)."""
    return [url for url, _sha256 in parse_references(text)]


SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def parse_references(text: str) -> list[tuple[str, str | None]]:
    """One reference per line: an http(s) URL, optionally followed by the SHA-256 of what it serves."""
    references: list[tuple[str, str | None]] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        url, digest = parts[0], (parts[1] if len(parts) > 1 else None)
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.hostname or len(parts) > 2:
            raise ValueError(f"line {number}: not an http(s) URL (optionally followed by its SHA-256)")
        if digest is not None and not SHA256.match(digest):
            raise ValueError(f"line {number}: {digest!r} is not a SHA-256 (64 hexadecimal digits)")
        if url not in [known for known, _ in references]:
            references.append((url, digest.lower() if digest else None))
    return references


def external_reference(url: str, sha256: str | None) -> dict:
    """A reference to a web document. STIX 2.1 asks for the hash of what a `url` serves (a SHOULD,
    which stix2-validator --strict enforces): with the SHA-256 the reference carries url and
    hashes; without it, the URL is the document's identifier (external_id), claiming no content."""
    source = urlsplit(url).hostname or "reference"
    if sha256:
        return {"source_name": source, "url": url, "hashes": {"SHA-256": sha256}}
    return {"source_name": source, "external_id": url}


def build_sighting(
    sighting_of_ref: str,
    *,
    count: int,
    first_seen: datetime,
    last_seen: datetime,
    tlp: TLP,
    description: str | None = None,
    where_sighted_ref: str | None = None,
    created_by_ref: str | None = None,
    now: datetime | None = None,
) -> dict:
    """A STIX 2.1 sighting of one object: "we saw this too", `count` times between first_seen and
    last_seen, at the sighting organisation (where_sighted_refs) unless it stays anonymous.
    ValueError if STIX refuses it (e.g. sighting_of_ref is not an SDO)."""
    stamp = now or datetime.now(timezone.utc)
    plain = _plain_sighting(sighting_of_ref, count=count, first_seen=first_seen, last_seen=last_seen, tlp=tlp,
                            description=description, where_sighted_ref=where_sighted_ref,
                            created_by_ref=created_by_ref, now=stamp)
    if plain is not None:
        return plain
    properties = {
        "sighting_of_ref": sighting_of_ref,
        "count": count,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "created": stamp,
        "modified": stamp,
        "object_marking_refs": [tlp.marking_id],
    }
    if description:
        properties["description"] = description
    if where_sighted_ref:
        properties["where_sighted_refs"] = [where_sighted_ref]
    if created_by_ref:
        properties["created_by_ref"] = created_by_ref
    try:
        return _to_dict(stix2.v21.Sighting(**properties))
    except stix2.exceptions.STIXError as exc:
        raise ValueError(str(exc)) from None


def _plain_sighting(sighting_of_ref: str, *, count: int, first_seen: datetime, last_seen: datetime, tlp: TLP,
                    description: str | None, where_sighted_ref: str | None, created_by_ref: str | None,
                    now: datetime) -> dict | None:
    """The sighting of an indicator exactly as stix2 builds and serialises it, as a plain dict: a
    bulk upload records hundreds, and the library's object costs milliseconds each. None when
    anything is outside that narrow shape (the library then builds it and says what is wrong).
    tests/test_fastpath_sighting.py compares the two, member by member."""
    sighted = {"sighting_of_ref": sighting_of_ref}
    if where_sighted_ref:
        sighted["where_sighted_refs"] = [where_sighted_ref]
    if created_by_ref:
        sighted["created_by_ref"] = created_by_ref
    stamps = (now, first_seen, last_seen)
    if (any(moment.tzinfo is None or moment.year < 1000 for moment in stamps) or last_seen < first_seen
            or type(count) is not int or not 0 <= count <= fastpath_sro.MAX_SIGHTING_COUNT
            or not fastpath_sro.plain_sighting_refs(sighted)):
        return None
    obj = {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}"}
    if created_by_ref:
        obj["created_by_ref"] = created_by_ref
    obj["created"] = obj["modified"] = _stamp(now, least_digits=3)
    if description:
        obj["description"] = description
    obj["first_seen"] = _stamp(first_seen, least_digits=0)
    obj["last_seen"] = _stamp(last_seen, least_digits=0)
    obj["count"] = count
    obj["sighting_of_ref"] = sighting_of_ref
    if where_sighted_ref:
        obj["where_sighted_refs"] = [where_sighted_ref]
    obj["object_marking_refs"] = [tlp.marking_id]
    return obj


def _stamp(moment: datetime, *, least_digits: int) -> str:
    """A UTC timestamp as stix2 writes it: microseconds less trailing zeros, at least `least_digits`
    fraction digits (created and modified: milliseconds at least; first/last_seen: as precise as given)."""
    moment = moment.astimezone(timezone.utc)
    fraction = f"{moment.microsecond:06d}".rstrip("0").ljust(least_digits, "0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"
