"""STIX 2.1 conformance: hub.intel.validation accepts and rejects what stix2-validator does.

The corpus (tests/stix_corpus) holds every STIX 2.1 object type, extension-defined and custom
objects, and invalid counterparts with the reason expected. The share path is checked too, for
what the hub accepts beyond its former rules (SPEC_ALLOWED) and refuses beyond stix2-validator.
"""
from __future__ import annotations

import copy
import random

import orjson
import pytest
from stix2validator import ValidationOptions, validate_instance

from hub.intel.ingest import ObjectRejected, prepare_object
from hub.tlp import TLP, TLP_BY_MARKING_ID
from hub.intel.validation import SCO_TYPES, validate_object
from tests.stix_corpus import BEYOND_THE_VALIDATOR, HUB_STRICTER, INVALID, SPEC_ALLOWED, VALID

OPTIONS = ValidationOptions(version="2.1")
SDO_TYPES = {
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
    "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note",
    "observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability",
}


def _ids(cases):
    return [case.name for case in cases]


def stix2validator_errors(obj: dict) -> list[str]:
    return [str(error) for error in validate_instance(obj, OPTIONS).errors]


def test_the_corpus_covers_every_stix_2_1_object_type():
    types = {case.obj["type"] for case in VALID}
    assert SDO_TYPES | {"relationship", "sighting"} | SCO_TYPES <= types
    assert {"marking-definition", "language-content", "extension-definition"} <= types
    extension_kinds = {kind for case in VALID if case.obj["type"] == "extension-definition"
                       for kind in case.obj["extension_types"]}
    assert extension_kinds == {"new-sdo", "new-sco", "property-extension", "toplevel-property-extension"}
    assert len(SCO_TYPES) == 18 and len(SDO_TYPES) == 19


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_a_valid_object_is_accepted_by_both(case):
    assert validate_object(case.obj) == []
    assert stix2validator_errors(case.obj) == []


@pytest.mark.parametrize("case", INVALID, ids=_ids(INVALID))
def test_an_invalid_object_is_rejected_by_both_with_the_same_reason(case):
    problems = [str(problem) for problem in validate_object(case.obj)]
    assert any(case.reason in problem for problem in problems), problems
    theirs = stix2validator_errors(case.obj)
    assert any(case.reason in error for error in theirs), theirs
    # The same first reason, less stix2-validator's "<id>: " prefix.
    assert theirs[0].endswith(problems[0])


@pytest.mark.parametrize("case", SPEC_ALLOWED, ids=_ids(SPEC_ALLOWED))
def test_what_stix_2_1_allows_is_shared(case):
    prepared = prepare_object(case.obj, TLP.green, anonymous=False)
    # The hub keys an id in lower case (hub.db.canonical_stix_id); the object keeps it as sent.
    assert prepared is not None and prepared.stix_id == case.obj["id"].lower()
    assert orjson.loads(prepared.body)["id"] == case.obj["id"]


@pytest.mark.parametrize("case", BEYOND_THE_VALIDATOR + HUB_STRICTER, ids=_ids(BEYOND_THE_VALIDATOR + HUB_STRICTER))
def test_the_share_path_refuses_what_stix2_validator_lets_through(case):
    assert stix2validator_errors(case.obj) == []
    assert validate_object(case.obj) == []  # the agreement holds here too
    with pytest.raises(ObjectRejected, match=case.reason):
        prepare_object(case.obj, TLP.green, anonymous=False)


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_the_share_path_stores_a_valid_object_exactly_as_sent(case):
    """Same members, same values: only a TLP marking is added to an object that carries none."""
    prepared = prepare_object(case.obj, TLP.green, anonymous=False)
    if case.obj["type"] == "marking-definition" and case.obj["id"] in TLP_BY_MARKING_ID:
        assert prepared is None
        return
    stored = orjson.loads(prepared.body)
    marking = [] if TLP_BY_MARKING_ID.keys() & set(case.obj.get("object_marking_refs", [])) else [TLP.green.marking_id]
    assert stored == {**case.obj, **({"object_marking_refs": case.obj.get("object_marking_refs", []) + marking}
                                     if marking else {})}


@pytest.mark.parametrize("case", INVALID, ids=_ids(INVALID))
def test_the_share_path_refuses_what_stix2_validator_refuses(case):
    with pytest.raises(ObjectRejected):
        prepare_object(case.obj, TLP.green, anonymous=False)


def test_the_share_path_gives_the_validation_reason():
    case = next(case for case in INVALID if case.name == "modified-before-created")
    with pytest.raises(ObjectRejected, match="must be later than or equal to 'created'"):
        prepare_object(case.obj, TLP.green, anonymous=False)


def test_validation_and_stix2_validator_agree_on_every_object_of_the_corpus():
    corpus = VALID + INVALID + SPEC_ALLOWED + BEYOND_THE_VALIDATOR + HUB_STRICTER
    disagreements = [
        case.name for case in corpus
        if bool(validate_object(case.obj)) != bool(stix2validator_errors(case.obj))
    ]
    assert disagreements == []


def _marked(obj: dict, tlp: TLP = TLP.green) -> dict:
    return {**obj, "object_marking_refs": [tlp.marking_id]}


def test_what_stix_2_1_allows_is_shared_through_the_api_and_read_back(make, api):
    hospital = make.make_org("hospital", "CZ")
    sharer = api(make.make_user(hospital))
    objects = [_marked(case.obj) for case in SPEC_ALLOWED]
    response = sharer.post("/share", json={"objects": objects, "audience": "community"})
    assert response.status_code == 201, response.json
    for obj in objects:
        assert sharer.get(f"/objects/{obj['id']}").json["object"]["type"] == obj["type"]


def test_a_taxii_post_reports_the_validation_reason_per_object(make, member_of, taxii):
    sharer = taxii(member_of(make.make_org("hospital", "CZ")))
    invalid = [case for case in INVALID if case.name in {
        "modified-before-created", "lang-not-rfc5646", "process-uuid-v5", "custom-object-without-modified"}]
    allowed = [_marked(case.obj) for case in SPEC_ALLOWED]
    envelope = allowed + [_marked(case.obj) for case in invalid]
    status = sharer.post(sharer.objects_path("community"), {"objects": envelope}).json
    assert status["success_count"] == len(allowed), status.get("failures")
    messages = [failure["message"] for failure in status["failures"]]  # in the order posted
    assert len(messages) == len(invalid)
    for case, message in zip(invalid, messages):
        assert case.reason in message


_JUNK = [None, 0, -1, 70000, 1.5, "", "x", "UPPER", [], ["x"], {}, {"a": 1}, True, "2026-02-29T00:00:00Z",
         "2026-01-01T00:00:00.5Z", "file--00000001-1111-4111-8111-000000000001", "https://a.example/", "a@b.c"]


def _property_paths(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            if path or key not in ("type", "id"):
                yield path + (key,)
                yield from _property_paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield path + (index,)
            yield from _property_paths(item, path + (index,))


def test_validation_and_stix2_validator_agree_on_mutated_corpus_objects():
    """Any property, at any depth, replaced by junk: both accept or both reject (a crash of
    stix2-validator counts as a rejection: the object is malformed)."""
    rng = random.Random(13)
    disagreements = []
    for case in VALID:
        paths = list(_property_paths(case.obj))
        for _ in range(3):
            obj, path = copy.deepcopy(case.obj), rng.choice(paths)
            target = obj
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = rng.choice(_JUNK)
            try:
                theirs = not stix2validator_errors(obj)
            except Exception:  # noqa: BLE001
                theirs = False
            if theirs != (not validate_object(obj)):
                disagreements.append((case.name, path, target[path[-1]]))
    assert disagreements == []


_SPELLINGS = [
    "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.100Z", "2020-01-01T00:00:00.099999Z",
    "2020-01-01T00:00:00.000001Z", "2019-12-31T23:59:59.999Z", "2020-02-30T00:00:00Z", "2019-02-29T12:00:00.000Z",
    "2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "0999-01-01T00:00:00.000Z", "2020-01-01T00:00:00Z\n",
    "2020-02-30T00:00:00Z\n", "2020-01-01 00:00:00Z", "2020-01-01T00:00:00.1234567Z", "2020-01-01T00:00:00+00:00",
]


def test_validation_and_stix2_validator_agree_on_timestamps_in_any_spelling():
    """Timestamps compared (modified/created, last_seen/first_seen, valid_until/valid_from) or
    merely present in a custom property, in every precision and some impossible dates: both
    accept or both reject, with the same first reason (hub.intel.validation skips strptime and
    dateutil when every timestamp is plainly real and in order)."""
    rng = random.Random(2026)
    pairs = {"indicator": ("valid_from", "valid_until"), "malware": ("first_seen", "last_seen"),
             "campaign": ("first_seen", "last_seen"), "relationship": ("start_time", "stop_time")}
    bases = [case.obj for case in VALID if case.obj.get("type") in pairs][:8]
    assert {obj["type"] for obj in bases} >= {"indicator", "relationship"}
    disagreements = []
    for base in bases:
        earlier, later = pairs[base["type"]]
        for _ in range(40):
            obj = copy.deepcopy(base)
            for key in rng.sample(["created", "modified", earlier, later, "x_seen"], 2):
                # A trailing newline passes stix2-validator's schema regex ("Z$"), not the hub's
                # (stricter, as STIX 2.1 means): only where no schema looks.
                obj[key] = rng.choice(_SPELLINGS if key == "x_seen" else [s for s in _SPELLINGS if "\n" not in s])
            try:
                theirs = stix2validator_errors(obj)
            except Exception:  # noqa: BLE001
                theirs = ["crashed"]
            ours = [str(problem) for problem in validate_object(obj)]
            if bool(theirs) != bool(ours) or (theirs and theirs != ["crashed"] and not theirs[0].endswith(ours[0])):
                disagreements.append((obj["type"], {k: obj.get(k) for k in ("created", "modified", earlier, later, "x_seen")},
                                      theirs[:1], ours[:1]))
    assert disagreements == []


# Objects that each give one of stix2-validator's MUST rules something to find, beyond the corpus.
def _rule_cases() -> list[dict]:
    base = {case.name: case.obj for case in VALID}
    held_indicator = {**base["indicator"], "pattern": "[ipv4-addr:value = '198.51.100.7'"}
    return [
        {**base["marking-definition"], "granular_markings": [{"marking_ref": base["marking-definition"]["id"],
                                                              "selectors": ["definition"]}]},
        {**base["file"], "name_enc": "klingon"},
        {**{key: value for key, value in base["artifact"].items() if key not in ("payload_bin", "hashes")},
         "url": "https://example.org/a.zip", "id": "artifact--00000001-1111-5111-8111-000000000001"},
        {**base["relationship"], "lang": "english"},
        {**base["observed-data-2"], "objects": {
            "0": {"type": "software", "id": "software--00000001-1111-4111-8111-000000000001", "name": "pump-os",
                  "languages": ["english"]},
            "1": {"type": "network-traffic", "id": "network-traffic--00000001-1111-4111-8111-000000000001",
                  "protocols": ["tcp"], "src_ref": "9", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            "2": {"type": "directory", "id": "directory--00000001-1111-4111-8111-000000000001", "path": "/tmp",
                  "path_enc": "klingon"}}},
        {**base["x-hub-ward-note"], "x_held": [held_indicator]},
        {**base["x-hub-ward-note"], "x_held": [{**base["process"], "id": "process--00000001-1111-5111-8111-000000000001"}]},
    ]


@pytest.mark.parametrize("obj", [case.obj for case in VALID + INVALID + BEYOND_THE_VALIDATOR + HUB_STRICTER]
                         + _rule_cases())
def test_the_must_rules_skipped_for_an_object_could_not_have_found_anything(obj, monkeypatch):
    """validation runs only the MUST rules that can apply to an object's type and properties; every
    rule run on every object finds exactly the same problems."""
    from hub.intel import validation

    chosen = validation._must_problems(copy.deepcopy(obj))
    monkeypatch.setattr(validation, "_applicable", lambda instance, rules: rules)
    assert chosen == validation._must_problems(copy.deepcopy(obj))


def test_the_rule_cases_do_trip_their_rules():
    from hub.intel import validation

    assert all(validation._must_problems(obj) for obj in _rule_cases())
