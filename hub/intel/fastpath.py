"""A fast path for the commonest shared object: an indicator whose pattern is one comparison.

Feeds are mostly `[ipv4-addr:value = '203.0.113.9']`, `[file:hashes.'SHA-256' = '…']` and the
like. The full path (stix2.parse, the ANTLR-based STIX pattern validator, hub.intel.validation and
the observables extraction, which parses the pattern a second time) costs a few milliseconds
per object; this path checks the same rules directly in well under a tenth of that.

It is exact or it steps aside: for an object in the narrow shape described below it returns
what the full path returns (the same canonical dict, the same observables); for anything else
it returns None and the caller takes the full path. tests/test_fastpath.py proves both with
hypothesis: every object the fast path takes gives the same result through stix2 (and passes
stix2-validator), and every pattern it takes the STIX pattern validator accepts. The shape is
deliberately small; widening it means widening those tests first.
"""
from __future__ import annotations

import functools
import re
from datetime import datetime

from hub.intel import observables
from hub.tlp import TLP2_MARKING_IDS

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_INDICATOR_ID = re.compile(rf"\Aindicator--{_UUID}\Z")
_IDENTITY_REF = re.compile(rf"\Aidentity--{_UUID}\Z")
_MARKING_REF = re.compile(rf"\Amarking-definition--{_UUID}\Z")
_REFERENCE_KEYS = frozenset({"source_name", "description", "url", "external_id"})
_STAMP = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z\Z")

# One comparison, one canonical spelling. A string literal holds no quote and no backslash
# (so it needs no unescaping); hash values must look like their algorithm's digest, as the
# pattern validator requires.
_VALUE_PATTERN = re.compile(
    r"\A\[(?P<type>ipv4-addr|ipv6-addr|domain-name|url|email-addr):value = '(?P<value>[^'\\]*)'\]\Z"
)
_HASH_LENGTHS = {"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128}
_HASH_PATTERN = re.compile(
    r"\A\[file:hashes\.'(?P<algorithm>MD5|SHA-1|SHA-256|SHA-512)' = '(?P<value>[0-9a-fA-F]+)'\]\Z"
)

_REQUIRED = frozenset({"type", "spec_version", "id", "created", "modified", "pattern", "pattern_type", "valid_from"})
_OPTIONAL_STRINGS = ("name", "description")
_OPTIONAL_STRING_LISTS = ("indicator_types", "labels")
_ALLOWED = _REQUIRED | frozenset(_OPTIONAL_STRINGS) | frozenset(_OPTIONAL_STRING_LISTS) | frozenset(
    {"pattern_version", "valid_until", "revoked", "confidence", "object_marking_refs", "created_by_ref"}
)
_TLP2_IDS = frozenset(TLP2_MARKING_IDS.values())


def simple_comparison(pattern) -> tuple[str, str] | None:
    """(observable kind, literal) of a single-comparison pattern in the canonical spelling, else None."""
    if not isinstance(pattern, str):
        return None
    match = _VALUE_PATTERN.match(pattern)
    if match:
        return match.group("type"), match.group("value")
    match = _HASH_PATTERN.match(pattern)
    if match and len(match.group("value")) == _HASH_LENGTHS[match.group("algorithm")]:
        return observables.STIX_HASH_KINDS[match.group("algorithm")], match.group("value")
    return None


def is_candidate(raw) -> bool:
    """Cheap test: might the fast path take this object? (It may still step aside.)"""
    return isinstance(raw, dict) and raw.get("type") == "indicator" and simple_comparison(raw.get("pattern")) is not None


class Declined(Exception):
    """The object is outside the fast path's shape: the full path decides."""


def _stamp_us(value) -> tuple[int, str, str]:
    """(microseconds since the epoch, "YYYY-MM-DDTHH:MM:SS", fraction digits) of a UTC timestamp.

    Accepts what stix2 accepts in this form (strptime's ranges, via datetime()); years before
    1000 are declined, because stix2 would write them back without zero padding.
    """
    if not isinstance(value, str):
        raise Declined
    return _parsed_stamp(value)


# A bundle repeats its timestamps (ATT&CK: one modified for hundreds of objects), and every
# object's are read several times: each spelling is parsed once per process.
@functools.lru_cache(maxsize=4096)
def _parsed_stamp(value: str) -> tuple[int, str, str]:
    match = _STAMP.match(value)
    if match is None or int(match.group(1)) < 1000:
        raise Declined
    fraction = match.group(7) or ""
    moment = datetime(*(int(part) for part in match.groups()[:6]), int(fraction.ljust(6, "0") or 0))
    seconds = (moment - _EPOCH).days * 86400 + (moment - _EPOCH).seconds
    return seconds * 1_000_000 + moment.microsecond, value[:19], fraction


_EPOCH = datetime(1970, 1, 1)


def millisecond_stamp(value) -> str:
    """created/modified: stix2 writes millisecond precision at least; take exactly three digits."""
    _, _, fraction = _stamp_us(value)
    if len(fraction) != 3:
        raise Declined
    return value


def library_stamps(raw: dict) -> dict | None:
    """created and modified as stix2 writes them (milliseconds at least: "…00Z" becomes "…00.000Z",
    ".1Z" ".100Z", ".123400Z" ".1234Z"), or None when modified is earlier than created."""
    created_us, created = _library_stamp(raw["created"])
    modified_us, modified = _library_stamp(raw["modified"])
    if modified_us < created_us:
        return None
    return {"created": created, "modified": modified}


def _library_stamp(value) -> tuple[int, str]:
    micros, whole, fraction = _stamp_us(value)
    return micros, f"{whole}.{fraction.rstrip('0').ljust(3, '0')}Z"


def as_the_library_reads(raw: dict, stamps: dict) -> dict:
    """The sent object, with its timestamps (`stamps`) as stix2 would write them when they differ:
    the hub's columns read what the full path would give; the sent spelling is what is stored."""
    if all(raw[key] == spelt for key, spelt in stamps.items()):
        return raw
    return {**raw, **stamps}


def any_precision_stamp(value) -> tuple[int, str]:
    """valid_from/valid_until: stix2 keeps the digits given, less trailing zeros."""
    micros, whole, fraction = _stamp_us(value)
    fraction = fraction.rstrip("0")
    return micros, f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


def _string_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(entry, str) for entry in value)


def parse_indicator(raw) -> dict | None:
    """The canonical form of a simple indicator, exactly as the full path would produce it; else None."""
    if not is_candidate(raw) or not _REQUIRED <= raw.keys() or not raw.keys() <= _ALLOWED:
        return None
    try:
        return _parse_checked(raw)
    except (Declined, ValueError, TypeError, OverflowError):
        return None  # the full path will say what is wrong


def _parse_checked(raw: dict) -> dict | None:
    if raw["spec_version"] != "2.1" or raw["pattern_type"] != "stix":
        return None
    if not isinstance(raw["id"], str) or not _INDICATOR_ID.match(raw["id"]):
        return None
    if raw.get("pattern_version", "2.1") != "2.1":
        return None
    created, modified = millisecond_stamp(raw["created"]), millisecond_stamp(raw["modified"])
    if modified < created:  # same format: text order is time order
        return None
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": raw["id"],
        "created": created,
        "modified": modified,
        "pattern": raw["pattern"],
        "pattern_type": "stix",
        "pattern_version": "2.1",
    }
    valid_from_us, obj["valid_from"] = any_precision_stamp(raw["valid_from"])
    if "valid_until" in raw:
        valid_until_us, obj["valid_until"] = any_precision_stamp(raw["valid_until"])
        if valid_until_us <= valid_from_us:
            return None
    for name in _OPTIONAL_STRINGS:
        if name in raw:
            if not isinstance(raw[name], str):
                return None
            obj[name] = raw[name]
    for name in _OPTIONAL_STRING_LISTS:
        if name in raw:
            if not _string_list(raw[name]):
                return None
            obj[name] = list(raw[name])
    if "revoked" in raw:
        if not isinstance(raw["revoked"], bool):
            return None
        if raw["revoked"]:  # stix2 leaves out an optional property left at its default
            obj["revoked"] = True
    if "confidence" in raw:
        confidence = raw["confidence"]
        if type(confidence) is not int or not 0 <= confidence <= 100:
            return None
        obj["confidence"] = confidence
    if "created_by_ref" in raw:
        if not isinstance(raw["created_by_ref"], str) or not _IDENTITY_REF.match(raw["created_by_ref"]):
            return None
        obj["created_by_ref"] = raw["created_by_ref"]
    if "object_marking_refs" in raw:
        refs = raw["object_marking_refs"]
        if not _string_list(refs) or not set(refs) <= _TLP2_IDS:
            return None
        obj["object_marking_refs"] = list(refs)
    return obj


def pattern_observables(obj: dict) -> set[tuple[str, str]] | None:
    """The observables of a simple indicator, as observables.from_object finds them; else None."""
    if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
        return None
    comparison = simple_comparison(obj.get("pattern"))
    if comparison is None:
        return None
    kind, value = comparison
    try:
        return {(kind, observables.normalise(kind, value))}
    except Exception:  # the full path drops a value it cannot normalise, whatever the error
        return set()


# What the fast paths for relationships and SDOs (fastpath_sro, fastpath_sdo) check alike.

def text(value) -> bool:
    return isinstance(value, str) and value != ""


def plain_external_reference(value) -> bool:
    return (
        isinstance(value, dict) and text(value.get("source_name")) and value.keys() <= _REFERENCE_KEYS
        and all(text(entry) for entry in value.values())
        and any(key in value for key in ("description", "url", "external_id"))
    )


def plain_common_properties(raw: dict) -> bool:
    """created_by_ref, markings, external references and revoked in the forms stix2 keeps as sent."""
    if "created_by_ref" in raw and not (isinstance(raw["created_by_ref"], str)
                                        and _IDENTITY_REF.match(raw["created_by_ref"])):
        return False
    if "object_marking_refs" in raw:
        refs = raw["object_marking_refs"]
        if not (isinstance(refs, list) and refs and all(isinstance(r, str) and _MARKING_REF.match(r) for r in refs)):
            return False
    if "external_references" in raw:
        references = raw["external_references"]
        if not (isinstance(references, list) and references and all(plain_external_reference(r) for r in references)):
            return False
    return "revoked" not in raw or isinstance(raw["revoked"], bool)
