"""A fast path for the commonest SROs: a plain relationship (most of a large bundle) and a plain
sighting of an indicator (what a bulk upload of observed values records, hundreds at a time).

Three quarters of MITRE ATT&CK are relationships ("uses", "mitigates", "subtechnique-of"...), and
`stix2.parse` spends most of a bundle's validation time on them: it builds a typed object, checks
each property and serialises it again, only for the hub to store the object as it was sent. For
a relationship in the narrow shape below, this module gives what the full path gives (the sent
object, created/modified spelt as stix2 writes them; stix2 would accept it and read it the same)
without stix2; hub.intel.validation (the OASIS schema and stix2-validator's MUST rules) runs on
every object as sent, before either path. Anything outside the shape returns None and takes the full
path. tests/test_fastpath_sro.py checks, object by object, over both ATT&CK bundles and hundreds
of variants of their relationships, that the fast and the full path accept and reject the same
objects and prepare the same rows; tests/test_fastpath_sighting.py does the same for sightings.
"""
from __future__ import annotations

import re

from hub.intel.fastpath import (Declined, any_precision_stamp, as_the_library_reads, library_stamps,
                                plain_common_properties)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_RELATIONSHIP_ID = re.compile(rf"\Arelationship--{_UUID}\Z")
# An object type as STIX 2.1 spells one (3-250 characters), then an RFC 4122 UUID.
_OBJECT_REF = re.compile(rf"\A(?P<type>[a-z][a-z0-9-]{{1,248}}[a-z0-9])--{_UUID}\Z")
# stix2 refuses these as either end of a relationship.
_NOT_AN_END = frozenset({"bundle", "language-content", "marking-definition", "relationship", "sighting"})
_RELATIONSHIP_TYPE = re.compile(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_CUSTOM_PROPERTY = re.compile(r"\Ax_[a-z0-9_]{1,247}\Z")

_REQUIRED = frozenset({"type", "spec_version", "id", "created", "modified", "relationship_type", "source_ref",
                       "target_ref"})
_OPTIONAL = frozenset({"description", "created_by_ref", "object_marking_refs", "external_references", "revoked"})


def _custom_value(value) -> bool:
    if isinstance(value, (str, bool)):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(entry, str) for entry in value)


def _end(value) -> bool:
    match = _OBJECT_REF.match(value) if isinstance(value, str) else None
    return match is not None and match.group("type") not in _NOT_AN_END and "--" not in match.group("type")


def parse_relationship(raw) -> dict | None:
    """The relationship as the full path would read it (the sent object), or None to take the full path."""
    if not isinstance(raw, dict) or raw.get("type") != "relationship" or not _REQUIRED <= raw.keys():
        return None
    for key in raw.keys() - _REQUIRED - _OPTIONAL:
        if not _CUSTOM_PROPERTY.match(key) or not _custom_value(raw[key]):
            return None
    try:
        stamps = library_stamps(raw)
        if stamps is None or not _checked(raw):
            return None
    except (Declined, ValueError, TypeError, OverflowError):
        return None
    return as_the_library_reads(raw, stamps)


def _checked(raw: dict) -> bool:
    if raw["spec_version"] != "2.1" or not isinstance(raw["id"], str) or not _RELATIONSHIP_ID.match(raw["id"]):
        return False
    if not isinstance(raw["relationship_type"], str) or not _RELATIONSHIP_TYPE.match(raw["relationship_type"]):
        return False
    if not _end(raw["source_ref"]) or not _end(raw["target_ref"]):
        return False
    if "description" in raw and not isinstance(raw["description"], str):
        return False
    return plain_common_properties(raw)


# --- Sightings ------------------------------------------------------------------------------------

_SIGHTING_ID = re.compile(rf"\Asighting--{_UUID}\Z")
# What a sighting may see in this shape: an indicator (what the hub records sightings of in bulk);
# anything else takes the full path, which knows every SDO type.
_SIGHTED_INDICATOR = re.compile(rf"\Aindicator--{_UUID}\Z")
_WHERE_SIGHTED = re.compile(rf"\A(?:identity|location)--{_UUID}\Z")
_SIGHTING_REQUIRED = frozenset({"type", "spec_version", "id", "created", "modified", "sighting_of_ref"})
_SIGHTING_OPTIONAL = frozenset({"count", "first_seen", "last_seen", "description", "where_sighted_refs",
                                "created_by_ref", "object_marking_refs", "external_references", "revoked"})
# STIX 2.1 bounds a sighting's count.
MAX_SIGHTING_COUNT = 999_999_999


def parse_sighting(raw) -> dict | None:
    """The sighting as the full path would read it (the sent object), or None to take the full path."""
    if (not isinstance(raw, dict) or raw.get("type") != "sighting" or not _SIGHTING_REQUIRED <= raw.keys()
            or not raw.keys() <= _SIGHTING_REQUIRED | _SIGHTING_OPTIONAL):
        return None
    try:
        stamps = library_stamps(raw)
        if stamps is None or not _sighting_checked(raw):
            return None
    except (Declined, ValueError, TypeError, OverflowError):
        return None
    return as_the_library_reads(raw, stamps)


def plain_sighting_refs(raw: dict) -> bool:
    """sighting_of_ref an indicator; where_sighted_refs and created_by_ref, if any, in the plain form."""
    if not isinstance(raw["sighting_of_ref"], str) or not _SIGHTED_INDICATOR.match(raw["sighting_of_ref"]):
        return False
    if "where_sighted_refs" in raw:
        refs = raw["where_sighted_refs"]
        if not (isinstance(refs, list) and refs and all(isinstance(r, str) and _WHERE_SIGHTED.match(r) for r in refs)):
            return False
    return plain_common_properties({key: raw[key] for key in ("created_by_ref",) if key in raw})


def _sighting_checked(raw: dict) -> bool:
    if raw["spec_version"] != "2.1" or not isinstance(raw["id"], str) or not _SIGHTING_ID.match(raw["id"]):
        return False
    if not plain_sighting_refs(raw):
        return False
    # An integer as sent (stix2 would turn true or "5" into a number).
    if "count" in raw and not (type(raw["count"]) is int and 0 <= raw["count"] <= MAX_SIGHTING_COUNT):
        return False
    first = any_precision_stamp(raw["first_seen"])[0] if "first_seen" in raw else None
    last = any_precision_stamp(raw["last_seen"])[0] if "last_seen" in raw else None
    if first is not None and last is not None and last < first:
        return False
    if "description" in raw and not isinstance(raw["description"], str):
        return False
    return plain_common_properties(raw)
