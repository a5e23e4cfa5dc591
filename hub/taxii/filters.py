"""TAXII URL query parameters (spec 3.4): added_after, limit, next and match[...].

Malformed parameters are a 400, as the spec requires. `next` is an opaque token holding the
date_added of the last object served (the keyset position) and a digest of the endpoint and
collection it belongs to. The position is all a page needs: a client that follows `next` without
the original added_after (OpenCTI's taxii2 connector does) continues exactly where it stopped,
and the filters sent along with `next` are applied as given.
"""
from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import request

from hub.intel.store import stix_timestamp, version_spelling
from hub import bounds
from hub.taxii.errors import TaxiiError

MAX_PAGE = 1000
# TAXII timestamps are UTC with a "Z". A version is an object's modified, which STIX writes in any
# precision: digits beyond the microsecond, the hub's unit, are cut (for added_after, whose
# date_added values are whole microseconds, that cut asks the same question).
_TIMESTAMP = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?Z\Z")
# Positions and limits are stored and compared as 64-bit integers: anything longer is refused
# here, before it reaches the database as an out-of-range parameter.
_INTEGER = re.compile(r"^[0-9]{1,19}\Z")
MAX_INTEGER = 2**63 - 1
_KEYWORDS = ("all", "first", "last")


def parse_timestamp_us(text: str) -> int:
    """A TAXII/STIX timestamp in microseconds since the epoch; ValueError when malformed."""
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError("expected a UTC timestamp such as 2026-11-01T10:00:00.000Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    moment = datetime(year, month, day, hour, minute, second)  # ValueError for 2026-02-30
    bounds.bounded_instant(moment.replace(tzinfo=timezone.utc))
    fraction = (match.group(7) or "")[:6].ljust(6, "0")
    return calendar.timegm(moment.timetuple()) * 1_000_000 + int(fraction or 0)


@dataclass(frozen=True)
class VersionSelector:
    """match[version]: `last` unless told otherwise; `all`; `first`; exact versions (µs)."""

    all: bool = False
    first: bool = False
    last: bool = True
    stamps_us: tuple[int, ...] = ()


@dataclass(frozen=True)
class ObjectFilters:
    added_after_us: int | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionSelector = field(default_factory=VersionSelector)
    spec_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageRequest:
    filters: ObjectFilters
    limit: int
    # Serve only what was added after this (added_after or the position in `next`).
    after_us: int | None
    digest: str


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise TaxiiError(400, f"{name} must not be given more than once")
    return values[0] if values else None


def _list(field_name: str) -> tuple[str, ...]:
    value = _single(f"match[{field_name}]")
    if value is None:
        return ()
    parts = tuple(part for part in value.split(","))
    if not all(parts):
        raise TaxiiError(400, f"match[{field_name}] has an empty value", {"value": value[:200]})
    return parts


def _versions(allowed: bool) -> VersionSelector:
    values = _list("version") if allowed else ()
    if not values:
        return VersionSelector()
    if len(set(values)) != len(values):
        raise TaxiiError(400, "match[version] must not repeat a value")
    if "all" in values:
        if len(values) > 1:
            raise TaxiiError(400, "match[version]=all cannot be combined with other versions")
        return VersionSelector(all=True, last=False)
    stamps = []
    for value in values:
        if value in _KEYWORDS:
            continue
        try:
            stamps.append(parse_timestamp_us(value))
        except ValueError as exc:
            raise TaxiiError(400, "match[version] takes all, first, last or timestamps",
                             {"value": value[:100], "error": str(exc)}) from None
    return VersionSelector(first="first" in values, last="last" in values, stamps_us=tuple(sorted(set(stamps))))


def _limit() -> int:
    value = _single("limit")
    if value is None:
        return MAX_PAGE
    try:
        return min(bounds.parse_count(value, 1), MAX_PAGE)
    except bounds.OutOfBounds:
        raise TaxiiError(400, "limit must be a positive integer", {"value": value[:50]}) from None


def _digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode_next(after_us: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"{after_us}.{digest}".encode()).decode().rstrip("=")


def _decode_next(token: str, digest: str) -> int | None:
    """The position a token continues from; None for a token another query issued.

    OpenCTI's TAXII connector keeps one set of parameters for every collection it polls: the
    `next` of the last page of one collection goes with the first request to the next one.
    Refusing it lost that collection; ignoring it serves the collection from added_after (or its
    start), as without the token. A token this server never issued is refused."""
    try:
        padded = token + "=" * (-len(token) % 4)
        position, token_digest = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").split(".")
        if not _INTEGER.match(position) or int(position) > MAX_INTEGER:
            raise ValueError(position)
    except (ValueError, binascii.Error, UnicodeError):
        raise TaxiiError(400, "next is not a value this server issued") from None
    if token_digest != digest:
        return None
    return int(position)


def page_request(scope: str, *, match: tuple[str, ...], paged: bool = True) -> PageRequest:
    """Parse the request's filter parameters; `match` names the match[] fields the endpoint supports.

    `scope` (collection, endpoint, object) is bound into `next`: a token is a position in its own
    query only, and ignored by any other (_decode_next). With `next`, the page starts after the
    token's position, or after added_after if the client sends a later one.
    """
    added_after = _single("added_after") if paged else None
    added_after_us = None
    if added_after is not None:
        try:
            added_after_us = parse_timestamp_us(added_after)
        except ValueError as exc:
            raise TaxiiError(400, "added_after must be a timestamp", {"value": added_after[:100], "error": str(exc)}) from None
    filters = ObjectFilters(
        added_after_us=added_after_us,
        ids=_list("id") if "id" in match else (),
        types=_list("type") if "type" in match else (),
        versions=_versions("version" in match) if "version" in match else VersionSelector(all=True, last=False),
        spec_versions=_list("spec_version") if "spec_version" in match else (),
    )
    digest = _digest(scope)
    after_us = added_after_us
    token = _single("next") if paged else None
    if token is not None:
        position = _decode_next(token, digest)
        if position is not None:
            after_us = position if after_us is None else max(after_us, position)
    return PageRequest(filters=filters, limit=_limit() if paged else MAX_PAGE, after_us=after_us, digest=digest)


def version_string(modified_us: int, date_added_us: int) -> str:
    """The TAXII version of a stored version: its STIX modified (or created) timestamp.

    Objects without either (SCOs) are versioned by when the hub added them, which is stable.
    """
    if modified_us == 0:
        return stix_timestamp(date_added_us)
    return version_spelling(modified_us)
