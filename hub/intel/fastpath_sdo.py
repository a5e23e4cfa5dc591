"""A fast path for the plain domain objects of a large bundle (ATT&CK's techniques, software,
groups, mitigations...; threat actors, infrastructure, vulnerabilities, and the reports, groupings
and notes that MISP and OpenCTI exports gather them in) and for custom `x-` objects, on the model
of hub.intel.fastpath_sro.

For an object in the narrow shape below (standard properties of its type, simple `x_` custom
properties, timestamps in any precision up to microseconds) stix2.parse would accept it and read
it the same (the hub stores every object as it was sent): this module returns the sent object
(created, modified and published spelt as stix2 writes them, which the hub's columns read)
without building a stix2 object. A custom `x-` type is never checked by stix2 (parse hands it
back as it is), so the full path's result is the sent object too. hub.intel.validation runs on
every object as sent, before either path. Anything outside the shape returns None and takes the full path.
tests/test_fastpath_sdo.py checks, object by object, over both ATT&CK bundles, objects of the
other types and variants of them all, that both paths accept and reject the same objects and
prepare the same rows.
"""
from __future__ import annotations

import math
import re

import stix2.registry

from hub.intel.fastpath import (Declined, any_precision_stamp, as_the_library_reads, library_stamps,
                                plain_common_properties, text)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_CUSTOM_PROPERTY = re.compile(r"\Ax_[a-z0-9_]{1,247}\Z")
_CUSTOM_TYPE = re.compile(r"\Ax-[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_PHASE_KEYS = frozenset({"kill_chain_name", "phase_name"})

_COMMON = frozenset({"type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked", "labels",
                     "external_references", "object_marking_refs", "confidence", "lang"})
# Per type: its text properties, its lists of text, whether it has kill_chain_phases and
# first_seen/last_seen, and whether name is required (all but malware, where we require it too).
_STRINGS = {
    "attack-pattern": {"name", "description"},
    "campaign": {"name", "description", "objective"},
    "course-of-action": {"name", "description"},
    "identity": {"name", "description", "contact_information", "identity_class"},
    "infrastructure": {"name", "description"},
    "intrusion-set": {"name", "description"},
    "malware": {"name", "description"},
    "grouping": {"name", "description", "context"},
    "note": {"abstract", "content"},
    "report": {"name", "description"},
    "threat-actor": {"name", "description", "sophistication", "resource_level", "primary_motivation"},
    "tool": {"name", "description", "tool_version"},
    "vulnerability": {"name", "description"},
}
_STRING_LISTS = {
    "attack-pattern": {"aliases"},
    "campaign": {"aliases"},
    "course-of-action": set(),
    "identity": {"roles", "sectors"},
    "infrastructure": {"aliases", "infrastructure_types"},
    "intrusion-set": {"aliases", "goals"},
    "malware": {"aliases", "malware_types"},
    "grouping": set(),
    "note": {"authors"},
    "report": {"report_types"},
    "threat-actor": {"aliases", "threat_actor_types", "roles", "goals", "secondary_motivations",
                     "personal_motivations"},
    "tool": {"aliases", "tool_types"},
    "vulnerability": set(),
}
_KILL_CHAIN = frozenset({"attack-pattern", "infrastructure", "malware", "tool"})
_SEEN = frozenset({"campaign", "infrastructure", "intrusion-set", "malware", "threat-actor"})
# Objects that gather others (MISP events, OpenCTI containers): object_refs, and report's published.
_CONTAINERS = frozenset({"grouping", "note", "report"})
_REQUIRED = {kind: frozenset({"type", "spec_version", "id", "created", "modified"})
             | {"grouping": {"context", "object_refs"}, "note": {"content", "object_refs"},
                "report": {"name", "published", "object_refs"}}.get(kind, {"name"})
             for kind in _STRINGS}
_ALLOWED = {
    kind: _COMMON | _STRINGS[kind] | _STRING_LISTS[kind] | ({"kill_chain_phases"} if kind in _KILL_CHAIN else set())
    | ({"first_seen", "last_seen"} if kind in _SEEN else set()) | ({"is_family"} if kind == "malware" else set())
    | ({"object_refs"} if kind in _CONTAINERS else set()) | ({"published"} if kind == "report" else set())
    for kind in _STRINGS
}
# A reference to any STIX object but a bundle, its UUID in lower case with the RFC 4122 variant.
_OBJECT_REF = re.compile(rf"\A(?P<type>[a-z][a-z0-9-]{{1,248}}[a-z0-9])--{_UUID}\Z")


def _text_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(text(entry) for entry in value)


def _custom_value(value) -> bool:
    if isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, list) and bool(value) and all(isinstance(entry, str) for entry in value)


def _kill_chain_phase(value) -> bool:
    return isinstance(value, dict) and value.keys() == _PHASE_KEYS and all(text(v) for v in value.values())


def _object_ref(value) -> bool:
    match = _OBJECT_REF.match(value) if isinstance(value, str) else None
    return match is not None and match.group("type") != "bundle" and "--" not in match.group("type")


def _unregistered_custom_type(object_type: str) -> bool:
    return (_CUSTOM_TYPE.match(object_type) is not None
            and stix2.registry.class_for_type(object_type, "2.1", "objects") is None
            and stix2.registry.class_for_type(object_type, "2.1", "observables") is None)


def parse_sdo(raw) -> dict | None:
    """The object as the full path would read it (the sent object), or None to take the full path."""
    if not isinstance(raw, dict):
        return None
    object_type = raw.get("type")
    if not isinstance(object_type, str):
        return None
    if object_type.startswith("x-"):
        # stix2.parse(allow_custom=True) returns an unknown type's dict unchecked; the full path
        # then keeps dict(raw). Only a plain custom SDO (versioned, no extensions) is taken here.
        if (_unregistered_custom_type(object_type) and "created" in raw and "modified" in raw
                and "extensions" not in raw and raw.get("spec_version") == "2.1"):
            return dict(raw)
        return None
    allowed = _ALLOWED.get(object_type)
    if allowed is None or not _REQUIRED[object_type] <= raw.keys():
        return None
    for key in raw.keys() - allowed:
        if not _CUSTOM_PROPERTY.match(key) or not _custom_value(raw[key]):
            return None
    try:
        stamps = library_stamps(raw)
        if stamps is None or not _checked(raw, object_type):
            return None
        if "published" in raw:  # validation judges stix2's spelling; the sent one is stored
            stamps["published"] = any_precision_stamp(raw["published"])[1]
    except (Declined, ValueError, TypeError, OverflowError):
        return None
    return as_the_library_reads(raw, stamps)


def _checked(raw: dict, object_type: str) -> bool:
    stix_id = raw["id"]
    if raw["spec_version"] != "2.1" or not isinstance(stix_id, str):
        return False
    if not re.fullmatch(rf"{re.escape(object_type)}--{_UUID}", stix_id):
        return False
    for key in _STRINGS[object_type]:
        if key in raw and not text(raw[key]):
            return False
    for key in _STRING_LISTS[object_type] | {"labels"}:
        if key in raw and not _text_list(raw[key]):
            return False
    if "kill_chain_phases" in raw:
        phases = raw["kill_chain_phases"]
        if not (isinstance(phases, list) and phases and all(_kill_chain_phase(p) for p in phases)):
            return False
    if "first_seen" in raw or "last_seen" in raw:
        first = any_precision_stamp(raw["first_seen"])[0] if "first_seen" in raw else None
        last = any_precision_stamp(raw["last_seen"])[0] if "last_seen" in raw else None
        if first is not None and last is not None and last < first:
            return False
    # An integer as sent (stix2 would turn true or "50" into a number); the range is validation's.
    if "confidence" in raw and not (type(raw["confidence"]) is int and 0 <= raw["confidence"] <= 100):
        return False
    if "lang" in raw and not text(raw["lang"]):
        return False
    if "object_refs" in raw:
        refs = raw["object_refs"]
        if not (isinstance(refs, list) and refs and all(_object_ref(ref) for ref in refs)):
            return False
    if "is_family" in raw and not isinstance(raw["is_family"], bool):
        return False
    if object_type == "malware" and "is_family" not in raw:
        return False
    return plain_common_properties(raw)
