"""A fast path for the commonest object of a large bundle: a plain relationship.

Three quarters of MITRE ATT&CK are relationships ("uses", "mitigates", "subtechnique-of"...), and
`stix2.parse` spends most of a bundle's validation time on them: it builds a typed object, checks
each property and serialises it again, only for the hub to store the object as it was sent
(hub.intel.stored_form) when the two say the same thing. For a relationship in the narrow shape
below, this module gives what the full path gives (the sent object, created/modified spelt as stix2
writes them; stix2 would accept it and read it the same) without stix2; hub.intel.validation (the OASIS schema and stix2-validator's MUST rules)
still runs on it as on every object. Anything outside the shape returns None and takes the full
path. tests/test_fastpath_sro.py checks, object by object, over both ATT&CK bundles and hundreds
of variants of their relationships, that the fast and the full path accept and reject the same
objects and prepare the same rows.
"""
from __future__ import annotations

import re

from hub.intel.fastpath import Declined, as_the_library_reads, library_stamps, plain_common_properties

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
