"""hub.intel.fastpath_sdo is exact or steps aside: object by object, the share path with it and
without it (stix2.parse then hub.intel.validation) accepts and rejects the same objects and
prepares the same rows: every non-relationship object of both ATT&CK bundles, and variants of
them that drop, replace or retype properties (by hand and at random)."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from hub.intel import fastpath_sdo, ingest
from hub.tlp import TLP

ATTACK = Path("/work/shared/data/attack")
BUNDLES = [ATTACK / "mobile-attack-17.1.json", ATTACK / "ics-attack-18.1.json"]
UUID = "0b4f8a52-7c2e-4c49-9d1c-5b6e2f1a3c4d"

pytestmark = pytest.mark.skipif(not all(b.exists() for b in BUNDLES), reason="the ATT&CK bundles are not on this machine")


def _objects() -> list[dict]:
    found = []
    for bundle in BUNDLES:
        found += [o for o in json.loads(bundle.read_text())["objects"] if o["type"] != "relationship"]
    return found


def _outcome(raw, fast: bool, monkeypatch):
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(fastpath_sdo, "parse_sdo", lambda raw: None)
        try:
            return ingest.prepare_object(copy.deepcopy(raw), TLP.green, False)
        except ingest.ObjectRejected:
            return "rejected"
        except Exception as exc:  # noqa: BLE001 - a crash must be the same crash either way
            return f"raised {type(exc).__name__}: {exc}"


def _assert_same(raw, monkeypatch) -> bool:
    """True when the fast path takes the object (else both ways are the same full path)."""
    if fastpath_sdo.parse_sdo(copy.deepcopy(raw)) is None:
        return False
    fast, full = _outcome(raw, True, monkeypatch), _outcome(raw, False, monkeypatch)
    assert fast == full, (raw, fast, full)
    return True


def test_every_attack_object_prepares_the_same_and_most_take_the_fast_path(monkeypatch):
    objects = _objects()
    taken = sum(_assert_same(raw, monkeypatch) for raw in objects)
    eligible = [o for o in objects if o["type"] != "marking-definition"]
    assert taken >= 0.95 * len(eligible), (taken, len(eligible))


_VALUES = [5, 1.5, "", None, [], {}, True, False, "X", ["a"], [5], [""], {"a": 1}, "2020-01-01T00:00:00Z"]
_STAMPS = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.123456Z",
           "2020-01-01T00:00:00.1234567Z", "2020-13-01T00:00:00.000Z", "0999-01-01T00:00:00.000Z",
           "2020-01-01 00:00:00.000Z", "2020-01-01T00:00:00.000+01:00", "2030-01-01T00:00:00.000Z",
           "2020-02-30T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z", 5]
_TYPES = ["attack-pattern", "campaign", "course-of-action", "identity", "intrusion-set", "malware", "tool",
          "indicator", "relationship", "x-mitre-tactic", "x-custom", "x_custom", "X-Custom", "x-", "threat-actor",
          "marking-definition", "bundle", "file", "note"]
_EXTERNAL = [[], [{}], [{"source_name": "a"}], [{"source_name": "a", "url": "not a url"}],
             [{"source_name": "a", "url": "https://x.example", "hashes": {"SHA-256": "ab" * 32}}],
             [{"source_name": "cve", "external_id": "CVE-1"}], [{"source_name": "capec", "external_id": "CAPEC-x"}],
             [{"source_name": 5, "url": "https://x.example"}], [{"source_name": "a", "external_id": 7}],
             [{"source_name": "a", "external_id": ""}], [{"source_name": "", "external_id": "x"}],
             [{"source_name": "a", "description": "d", "x_extra": "y"}], "https://x.example",
             [{"source_name": "mitre-attack", "url": "https://attack.mitre.org/techniques/T1/", "external_id": "T1"}]]
_PHASES = [[], [{}], [{"kill_chain_name": "mitre-attack"}], [{"kill_chain_name": "a", "phase_name": "b"}],
           [{"kill_chain_name": "", "phase_name": "b"}], [{"kill_chain_name": "a", "phase_name": 5}],
           [{"kill_chain_name": "a", "phase_name": "b", "x_c": "d"}], [{"kill_chain_name": "Mitre Attack", "phase_name": "B c"}],
           {"kill_chain_name": "a", "phase_name": "b"}, ["a"]]
_CUSTOM = {"x_a": 1, "x_b": "s", "x_A": "s", "x-mitre-foo": "s", "x_": 1, "x_c": 1.5, "x_d": {"a": 1}, "x_e": [],
           "x_f": [1], "foo_bar": "s", "x_" + "a" * 260: "s", "x_g": None, "x_h": True, "x_i": ["a", "b"],
           "lang": "en", "confidence": 50, "labels": ["a"], "start_time": "2020-01-01T00:00:00Z",
           "granular_markings": [], "extensions": {}, "x_j": 10**30, "x_k": -0.0, "x_l": 1e300, "x_m": "",
           "aliases": ["a"], "is_family": True, "first_seen": "2020-01-01T00:00:00Z", "kill_chain_phases": [],
           "identity_class": "organization", "sectors": ["health-care"], "roles": ["a"], "goals": ["g"],
           "malware_types": ["trojan"], "tool_types": ["remote-access"], "tool_version": "1",
           "objective": "o", "contact_information": "c", "name": "n", "description": "d", "confidence": 150}
_SEEN = [("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"), ("2021-01-01T00:00:00Z", "2020-01-01T00:00:00Z"),
         ("2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00Z"), ("2020-01-01T00:00:00.5Z", "2020-01-01T00:00:00.25Z"),
         ("2020-01-01T00:00:00.1234567Z", None), (None, "2020-13-01T00:00:00Z"), ("0999-01-01T00:00:00Z", None),
         ("1800-01-01T00:00:00Z", None), (None, "2020-01-01T00:00:00.100Z")]
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
    suffix = base["id"].split("--", 1)[1]
    for object_type in _TYPES:
        yield {**base, "type": object_type, "id": f"{object_type}--{suffix}"}
        yield {**base, "type": object_type}
    for key, value in _CUSTOM.items():
        yield {**base, key: value}
    for references in _EXTERNAL:
        yield {**base, "external_references": references}
    for phases in _PHASES:
        yield {**base, "kill_chain_phases": phases}
    for first, last in _SEEN:
        seen = {k: v for k, v in (("first_seen", first), ("last_seen", last)) if v is not None}
        yield {**{k: v for k, v in base.items() if k not in ("first_seen", "last_seen")}, **seen}
    for refs in ([], [f"marking-definition--{UUID}"], ["marking-definition--bad"], [f"identity--{UUID}"], [5],
                 [TLP.green.marking_id], [TLP.green.marking_id, TLP.red.marking_id]):
        yield {**base, "object_marking_refs": refs}
    for ref in ("identity--x", f"organization--{UUID}", f"identity--{UUID}"):
        yield {**base, "created_by_ref": ref}
    for revoked in ("true", 1, True, False):
        yield {**base, "revoked": revoked}
    yield {**base, "spec_version": "2.0"}
    kind = base["type"]
    yield {**base, "id": f"{kind}--{UUID.upper()}"}
    yield {**base, "id": f"{kind}--0b4f8a52-7c2e-4c49-cd1c-5b6e2f1a3c4d"}
    yield {**base, "id": f"{kind}--0b4f8a52-7c2e-1c49-9d1c-5b6e2f1a3c4d"}


def _random_variants(base: dict, rng: random.Random, count: int):
    """Drop, replace and retype properties at random, a few at a time."""
    pool = _VALUES + _STAMPS + [[{"source_name": "a", "url": "u"}], [{"kill_chain_name": "a", "phase_name": "b"}]]
    for _ in range(count):
        variant = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            action = rng.choice(("drop", "replace", "add", "retype"))
            key = rng.choice(sorted(variant)) if variant else "name"
            if action == "drop":
                variant.pop(key, None)
            elif action == "replace":
                variant[key] = copy.deepcopy(rng.choice(pool))
            elif action == "add":
                extra_key = rng.choice(sorted(_CUSTOM))
                variant[extra_key] = copy.deepcopy(_CUSTOM[extra_key])
            else:
                value = variant.get(key)
                variant[key] = ([value] if not isinstance(value, list) else (value[0] if value else None))
        yield variant


def _bases() -> list[dict]:
    """Unlike shapes: per type, the first object, one with the most properties, one revoked or deprecated."""
    objects, bases = _objects(), []
    for kind in sorted({o["type"] for o in objects} - {"marking-definition"}):
        of_kind = [o for o in objects if o["type"] == kind]
        picks = [of_kind[0], max(of_kind, key=len),
                 next((o for o in of_kind if o.get("revoked") or o.get("x_mitre_deprecated")), of_kind[-1])]
        for pick in picks:
            if all(pick is not b for b in bases):
                bases.append(pick)
    return bases


def test_variants_of_attack_objects_are_judged_the_same_either_way(monkeypatch):
    checked = taken = 0
    rng = random.Random(20261203)
    for base in _bases():
        for variant in [*_variants(base), *_random_variants(base, rng, 40)]:
            taken += _assert_same(variant, monkeypatch)
            checked += 1
    assert checked > 3000 and taken > 1000, (checked, taken)


# Types other feeds share (MISP and OpenCTI exports), which ATT&CK does not hold.
_OTHER_BASES = [
    {"type": "threat-actor", "spec_version": "2.1", "id": f"threat-actor--{UUID}", "created": "2024-03-01T10:00:00.000Z",
     "modified": "2024-03-02T10:00:00.000Z", "name": "Ward Wiper crew", "description": "Targets hospitals.",
     "threat_actor_types": ["crime-syndicate"], "aliases": ["WW"], "roles": ["agent"], "goals": ["extortion"],
     "sophistication": "expert", "resource_level": "organization", "primary_motivation": "personal-gain",
     "secondary_motivations": ["dominance"], "personal_motivations": ["revenge"], "first_seen": "2023-01-01T00:00:00Z",
     "last_seen": "2024-02-01T00:00:00.5Z", "confidence": 80, "lang": "en", "labels": ["ransomware"],
     "external_references": [{"source_name": "cert", "url": "https://cert.example/ww"}]},
    {"type": "infrastructure", "spec_version": "2.1", "id": f"infrastructure--{UUID}",
     "created": "2024-03-01T10:00:00.000Z", "modified": "2024-03-01T10:00:00.000Z", "name": "C2 cluster",
     "infrastructure_types": ["command-and-control"], "aliases": ["c2-a"], "first_seen": "2024-01-01T00:00:00.000Z",
     "kill_chain_phases": [{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "command-and-control"}],
     "x_opencti_score": 70},
    {"type": "vulnerability", "spec_version": "2.1", "id": f"vulnerability--{UUID}", "created": "2024-03-01T10:00:00.000Z",
     "modified": "2024-03-01T10:00:00.000Z", "name": "CVE-2024-0001", "description": "Infusion pump firmware.",
     "external_references": [{"source_name": "cve", "external_id": "CVE-2024-0001"}], "confidence": 0,
     "object_marking_refs": [TLP.amber.marking_id]},
]
_REFS = [f"malware--{UUID}", f"relationship--{UUID}", f"x-custom--{UUID}", f"ipv4-addr--{UUID}"]
_OTHER_BASES += [
    {"type": "report", "spec_version": "2.1", "id": f"report--{UUID}", "created": "2024-03-01T10:00:00.000Z",
     "modified": "2024-03-01T10:00:00.000Z", "name": "Ward Wiper campaign", "published": "2024-03-01T10:00:00.000Z",
     "report_types": ["campaign"], "object_refs": _REFS, "labels": ["misp-event"]},
    {"type": "grouping", "spec_version": "2.1", "id": f"grouping--{UUID}", "created": "2024-03-01T10:00:00Z",
     "modified": "2024-03-01T10:00:00.1Z", "name": "MISP event 42", "context": "suspicious-activity",
     "object_refs": _REFS[:2], "x_misp_event_id": "42"},
    {"type": "note", "spec_version": "2.1", "id": f"note--{UUID}", "created": "2024-03-01T10:00:00.000Z",
     "modified": "2024-03-01T10:00:00.000Z", "abstract": "Triage", "content": "Seen at two hospitals.",
     "authors": ["CERT analyst"], "object_refs": _REFS[:1]},
]
_OTHER_PROPERTIES = {"confidence": [0, 100, 101, -1, True, 50.0, "50"], "lang": ["en", "fr-CA", "", "english", 5],
                     "sophistication": ["expert", "", 3, ["expert"]], "threat_actor_types": [["nation-state"], [], "x"],
                     "infrastructure_types": [["botnet"], [""], None], "primary_motivation": ["ideology", None],
                     "personal_motivations": [["revenge"], "revenge"], "is_family": [True],
                     "object_refs": [[], [f"bundle--{UUID}"], [f"marking-definition--{UUID}"], [f"malware--{UUID.upper()}"],
                                     f"malware--{UUID}", [5], [f"malware--{UUID}"] * 2, ["malware--x"],
                                     [f"malware--0b4f8a52-7c2e-4c49-cd1c-5b6e2f1a3c4d"], [f"x--{UUID}"]],
                     "published": _STAMPS + ["2024-03-01T10:00:00.000000Z", "2024-03-01T10:00:00.120Z"],
                     "context": ["suspicious-activity", "", 5], "content": ["c", "", None], "abstract": ["", "a"],
                     "authors": [["a"], [], [""], "a"], "report_types": [["threat-report"], "x", [""]]}


def test_threat_actors_infrastructure_vulnerabilities_reports_groupings_and_notes_are_judged_the_same_either_way(monkeypatch):
    checked = taken = 0
    rng = random.Random(13)
    for base in _OTHER_BASES:
        assert _assert_same(base, monkeypatch), base["type"]  # the plain object takes the fast path
        extra = [{**base, key: value} for key, values in _OTHER_PROPERTIES.items() for value in values]
        for variant in [*_variants(base), *extra, *_random_variants(base, rng, 60)]:
            taken += _assert_same(variant, monkeypatch)
            checked += 1
    assert checked > 2000 and taken > 400, (checked, taken)
