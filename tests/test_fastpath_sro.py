"""hub.intel.fastpath_sro is exact or steps aside: object by object, the share path with it and
without it (stix2.parse then hub.intel.validation) accepts and rejects the same relationships and
prepares the same rows: every relationship of both ATT&CK bundles, and variants of them that
break or stretch each property."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hub.intel import fastpath_sro, ingest
from hub.tlp import TLP

ATTACK = Path("/work/shared/data/attack")
BUNDLES = [ATTACK / "mobile-attack-17.1.json", ATTACK / "ics-attack-18.1.json"]
UUID = "0b4f8a52-7c2e-4c49-9d1c-5b6e2f1a3c4d"

pytestmark = pytest.mark.skipif(not all(b.exists() for b in BUNDLES), reason="the ATT&CK bundles are not on this machine")


def _relationships() -> list[dict]:
    found = []
    for bundle in BUNDLES:
        found += [o for o in json.loads(bundle.read_text())["objects"] if o["type"] == "relationship"]
    return found


def _outcome(raw, fast: bool, monkeypatch):
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(fastpath_sro, "parse_relationship", lambda raw: None)
        try:
            return ingest.prepare_object(copy.deepcopy(raw), TLP.green, False)
        except ingest.ObjectRejected:
            return "rejected"


def _assert_same(raw, monkeypatch) -> bool:
    """True when the fast path takes the object (else both ways are the same full path)."""
    if fastpath_sro.parse_relationship(copy.deepcopy(raw)) is None:
        return False
    fast, full = _outcome(raw, True, monkeypatch), _outcome(raw, False, monkeypatch)
    assert fast == full, (raw, fast, full)
    return True


def test_every_attack_relationship_prepares_the_same_and_most_take_the_fast_path(monkeypatch):
    relationships = _relationships()
    taken = sum(_assert_same(raw, monkeypatch) for raw in relationships)
    assert taken >= 0.95 * len(relationships), (taken, len(relationships))


_VALUES = [5, 1.5, "", None, [], {}, True, "X", ["a"], [5], {"a": 1}]
_STAMPS = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.123456Z",
           "2020-01-01T00:00:00.1234567Z", "2020-13-01T00:00:00.000Z", "0999-01-01T00:00:00.000Z",
           "2020-01-01 00:00:00.000Z", "2020-01-01T00:00:00.000+01:00", "2030-01-01T00:00:00.000Z"]
_REFS = [f"marking-definition--{UUID}", f"sighting--{UUID}", f"relationship--{UUID}", f"bundle--{UUID}",
         f"language-content--{UUID}", f"x-mitre-tactic--{UUID}", f"Attack-Pattern--{UUID}", f"ab--{UUID}",
         f"abc--{UUID}", f"a-b--{UUID}", f"attack-pattern-{UUID}", f"attack-pattern--{UUID.upper()}",
         "attack-pattern--0b4f8a52-7c2e-4c49-cd1c-5b6e2f1a3c4d", "attack-pattern--not-a-uuid",
         f"identity--{UUID}", f"x--{UUID}", f"attack--pattern--{UUID}", f"x_custom--{UUID}"]
_EXTERNAL = [[], [{}], [{"source_name": "a"}], [{"source_name": "a", "url": "not a url"}],
             [{"source_name": "a", "url": "https://x.example", "hashes": {"SHA-256": "ab" * 32}}],
             [{"source_name": "cve", "external_id": "CVE-1"}], [{"source_name": "capec", "external_id": "CAPEC-x"}],
             [{"source_name": 5, "url": "https://x.example"}], [{"source_name": "a", "external_id": 7}],
             [{"source_name": "a", "external_id": ""}], [{"source_name": "", "external_id": "x"}],
             [{"source_name": "a", "description": "d", "x_extra": "y"}], "https://x.example",
             [{"source_name": "mitre-attack", "url": "https://attack.mitre.org/techniques/T1/", "external_id": "T1"}]]
_CUSTOM = {"x_a": 1, "x_b": "s", "x_A": "s", "x-mitre-foo": "s", "x_": 1, "x_c": 1.5, "x_d": {"a": 1}, "x_e": [],
           "x_f": [1], "foo_bar": "s", "x_" + "a" * 260: "s", "x_g": None, "x_h": True, "x_i": ["a", "b"],
           "lang": "en", "confidence": 50, "labels": ["a"], "start_time": "2020-01-01T00:00:00Z",
           "granular_markings": [], "extensions": {}, "x_j": 10**30}
_STAMP_PAIRS = [("2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z"), ("2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.10Z"),
                ("2020-01-01T00:00:00.123400Z", "2020-01-01T00:00:00.1234Z"), ("2020-01-01T00:00:00.000000Z", "2021-01-01T00:00:00Z"),
                ("2020-01-01T00:00:00.000001Z", "2020-01-01T00:00:00Z"), ("2020-01-01T00:00:00.0005Z", "2020-01-01T00:00:00.000Z"),
                ("2020-01-01T00:00:00.120000Z", "2020-01-01T00:00:00.12Z"), ("2019-12-31T23:59:59.9999Z", "2020-01-01T00:00:00Z"),
                ("2020-02-29T00:00:00Z", "2020-03-01T00:00:00.5Z"), ("2019-02-29T00:00:00Z", "2020-01-01T00:00:00Z"),
                ("2020-01-01T00:00:00.1234567Z", "2020-01-01T00:00:00.1234567Z"), ("0999-01-01T00:00:00Z", "2020-01-01T00:00:00Z")]


def _variants(base: dict):
    for key in list(base):
        yield {k: v for k, v in base.items() if k != key}
        for value in _VALUES:
            yield {**base, key: value}
    for key in ("created", "modified"):
        for stamp in _STAMPS:
            yield {**base, key: stamp}
    yield {**base, "created": base["modified"], "modified": "2000-01-01T00:00:00.000Z"}
    for created, modified in _STAMP_PAIRS:  # other precisions than milliseconds, in and out of order
        yield {**base, "created": created, "modified": modified}
    for key in ("source_ref", "target_ref"):
        for ref in _REFS:
            yield {**base, key: ref}
    for relationship_type in ("Uses", "uses it", "x_uses", "-uses", "uses-", "uses--it", "subtechnique-of", "a"):
        yield {**base, "relationship_type": relationship_type}
    for key, value in _CUSTOM.items():
        yield {**base, key: value}
    for references in _EXTERNAL:
        yield {**base, "external_references": references}
    for refs in ([], [f"marking-definition--{UUID}"], ["marking-definition--bad"], [f"identity--{UUID}"], [5],
                 [TLP.green.marking_id], [TLP.green.marking_id, TLP.red.marking_id]):
        yield {**base, "object_marking_refs": refs}
    for ref in ("identity--x", f"organization--{UUID}", f"identity--{UUID}"):
        yield {**base, "created_by_ref": ref}
    for revoked in ("true", 1, True, False):
        yield {**base, "revoked": revoked}
    yield {**base, "spec_version": "2.0"}
    yield {**base, "id": f"relationship--{UUID.upper()}"}
    yield {**base, "id": "relationship--0b4f8a52-7c2e-4c49-cd1c-5b6e2f1a3c4d"}
    yield {**base, "id": "relationship--0b4f8a52-7c2e-1c49-9d1c-5b6e2f1a3c4d"}


def test_variants_of_attack_relationships_are_judged_the_same_either_way(monkeypatch):
    relationships = _relationships()
    # Unlike shapes: the first relationship, one with a description, one revoked or deprecated.
    bases = [relationships[0], next(r for r in relationships if "description" in r),
             next((r for r in relationships if r.get("revoked") or r.get("x_mitre_deprecated")), relationships[-1])]
    checked = taken = 0
    for base in bases:
        for variant in _variants(base):
            taken += _assert_same(variant, monkeypatch)
            checked += 1
    assert checked > 300 and taken > 60, (checked, taken)
