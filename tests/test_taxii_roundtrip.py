"""Round-trip fidelity: what was added is served back with the same members and values.

Compared as parsed JSON (key order and whitespace may differ). The one difference allowed is in
object_marking_refs, where the hub must speak TLP 2.0: an unmarked object posted to a collection
with a default TLP gets that marking appended, and a TLP 1.0 reference is replaced in place by
its TLP 2.0 equivalent.
"""
from __future__ import annotations

import json
import uuid

import pytest

from hub.tlp import TLP
from hub.taxii.collections import set_default_tlp

GREEN = TLP.green.marking_id
AMBER = TLP.amber.marking_id
TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"


def unusual_objects(marking: str) -> list[dict]:
    """Valid STIX 2.1 in forms the stix2 library would write differently."""
    return [
        {   # the fast path's shape, but revoked: false and timestamps with 0 and 6 fraction digits
            # (created and modified need at least 3: STIX 2.1 wants them to the millisecond)
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.100000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.77']", "pattern_type": "stix",
            "valid_from": "2020-01-01T00:00:00Z", "revoked": False, "confidence": 0,
            "object_marking_refs": [marking],
        },
        {   # the fast path's exact shape (three digits): stored as sent too
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": "2021-06-01T12:30:00.000Z", "modified": "2021-06-01T12:30:00.000Z",
            "pattern": "[domain-name:value = 'example.org']", "pattern_type": "stix",
            "valid_from": "2021-06-01T12:30:00.000Z", "object_marking_refs": [marking],
        },
        {   # custom properties, unicode, integers beyond what a double holds (the hub bounds them to 64 bits), nested values
            "type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
            "created": "2022-03-04T05:06:07.123456Z", "modified": "2022-03-04T05:06:07.123456Z",
            "name": "Příliš žluťoučký kůň 🐴", "description": "Ünïcödé \u2028 \"quotes\" <b>",
            "is_family": False, "revoked": False,
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
            "x_hub_big": 9223372036854775807, "x_hub_exact": 9007199254740993, "x_hub_negative": -9223372036854775807,
            "x_hub_float": 1.5, "x_hub_nested": {"empty": [], "flag": False, "none": None, "list": [1, "zwei", 3.0]},
            "object_marking_refs": [marking],
        },
        {   # an SDO the full parser takes, with trailing zeros the library trims
            "type": "vulnerability", "spec_version": "2.1", "id": f"vulnerability--{uuid.uuid4()}",
            "created": "2019-12-31T23:59:59.000Z", "modified": "2019-12-31T23:59:59.500000Z",
            "name": "CVE-2019-0001", "lang": "en",
            "external_references": [{"source_name": "cve", "external_id": "CVE-2019-0001"}],
            "object_marking_refs": [marking],
        },
        {   # numbers the library would write otherwise (an integer where it wants a float, and the
            # reverse), a hash name outside its vocabulary, a boolean at its default
            "type": "location", "spec_version": "2.1", "id": f"location--{uuid.uuid4()}",
            "created": "2021-01-01T00:00:00.000Z", "modified": "2021-01-01T00:00:00.000Z",
            "latitude": 48, "longitude": 2, "revoked": False, "confidence": 50.0,
            "object_marking_refs": [marking],
        },
        {
            "type": "file", "spec_version": "2.1", "id": f"file--{uuid.uuid4()}", "name": "setup.exe",
            "size": 1024.0, "ctime": "2016-01-20T12:31:12.500Z", "mtime": "2016-01-20T12:31:12.000Z",
            "defanged": False, "hashes": {"sha256": "35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f"},
            "object_marking_refs": [marking],
        },
        {   # fractions finer than the microsecond, as Go's RFC3339Nano writes them
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": "2023-05-06T07:08:09.123456789Z", "modified": "2023-05-06T07:08:09.123456799Z",
            "pattern": "[url:value = 'https://example.org/ns']", "pattern_type": "stix",
            "valid_from": "2023-05-06T07:08:09.000000001Z", "x_hub_seen": "2023-05-06T07:08:09.999999999Z",
            "object_marking_refs": [marking],
        },
    ]


def _taxii_objects(reader, alias: str, ids: list[str]) -> dict[str, dict]:
    response = reader.get(reader.objects_path(alias) + "?limit=1000")
    assert response.status_code == 200
    return {o["id"]: o for o in json.loads(response.get_data()).get("objects", []) if o["id"] in ids}


def _taxii_object(reader, alias: str, stix_id: str) -> dict:
    response = reader.get(reader.objects_path(alias) + f"{stix_id}/")
    assert response.status_code == 200
    objects = json.loads(response.get_data())["objects"]
    assert len(objects) == 1
    return objects[0]


def _rest_object(api_client, stix_id: str) -> dict:
    response = api_client.get(f"/objects/{stix_id}")
    assert response.status_code == 200
    return json.loads(response.get_data())["object"]


def _served_everywhere(sharer_taxii, sharer_api, alias, stix_id, listed) -> list[dict]:
    return [listed[stix_id], _taxii_object(sharer_taxii, alias, stix_id), _rest_object(sharer_api, stix_id)]


@pytest.fixture
def sharer(make, member_of, taxii, api):
    org = make.make_org("hospital", "CZ", slug="plzen-hospital")
    user = member_of(org)
    return {"org": org, "taxii": taxii(user), "api": api(user)}


def test_objects_added_over_taxii_are_served_back_as_sent(sharer):
    posted = unusual_objects(GREEN)
    response = sharer["taxii"].post(sharer["taxii"].objects_path("community"), {"objects": posted})
    assert response.status_code == 202 and response.json["success_count"] == len(posted), response.json
    listed = _taxii_objects(sharer["taxii"], "community", [o["id"] for o in posted])
    for sent in posted:
        for served in _served_everywhere(sharer["taxii"], sharer["api"], "community", sent["id"], listed):
            assert served == sent


def test_objects_shared_over_the_rest_api_are_served_back_as_sent(sharer):
    posted = unusual_objects(AMBER)
    response = sharer["api"].post("/share", json={"objects": posted, "audience": "community"})
    assert response.status_code in (200, 201), response.json
    listed = _taxii_objects(sharer["taxii"], "community", [o["id"] for o in posted])
    for sent in posted:
        for served in _served_everywhere(sharer["taxii"], sharer["api"], "community", sent["id"], listed):
            assert served == sent


def test_only_the_marking_differs_when_the_hub_must_mark(sharer):
    """Unmarked objects take the collection's default; TLP 1.0 becomes TLP 2.0 in place."""
    set_default_tlp("plzen-hospital", "community", TLP.green)
    unmarked = [{k: v for k, v in o.items() if k != "object_marking_refs"} for o in unusual_objects(GREEN)]
    other_marking = "marking-definition--3e7c5c8b-5f62-4a1d-9d8c-1c2b3a4d5e6f"
    tlp1 = {**unusual_objects(GREEN)[2], "object_marking_refs": [TLP1_GREEN, other_marking]}
    posted = unmarked + [tlp1]
    response = sharer["taxii"].post(sharer["taxii"].objects_path("community"), {"objects": posted})
    assert response.json["success_count"] == len(posted), response.json
    listed = _taxii_objects(sharer["taxii"], "community", [o["id"] for o in posted])
    for sent in unmarked:
        for served in _served_everywhere(sharer["taxii"], sharer["api"], "community", sent["id"], listed):
            assert served == {**sent, "object_marking_refs": [GREEN]}
    for served in _served_everywhere(sharer["taxii"], sharer["api"], "community", tlp1["id"], listed):
        assert served == {**tlp1, "object_marking_refs": [GREEN, other_marking]}


def test_a_value_the_library_would_convert_is_refused_naming_the_property(sharer):
    """A string where STIX wants an integer is refused, as stix2-validator refuses it; its
    neighbour in the envelope is shared all the same."""
    valid = unusual_objects(GREEN)[2]
    sent = {**unusual_objects(GREEN)[2], "confidence": "50"}
    response = sharer["taxii"].post(sharer["taxii"].objects_path("community"), {"objects": [sent, valid]})
    assert (response.json["success_count"], response.json["failure_count"]) == (1, 1), response.json
    [failure] = response.json["failures"]
    assert failure["id"] == sent["id"] and "confidence: '50' is not of type 'integer'" in failure["message"]
    assert sharer["api"].get(f"/objects/{sent['id']}").status_code == 404


def _nanosecond_note(stix_id: str, modified: str) -> dict:
    return {"type": "x-hub-ward-note", "spec_version": "2.1", "id": stix_id, "created": "2023-05-06T07:08:09.100Z",
            "modified": modified, "x_text": modified, "revoked": False, "object_marking_refs": [GREEN]}


def test_versions_finer_than_the_microsecond_are_never_confused(sharer):
    """The hub keys versions to the microsecond: a version that falls on a held one's microsecond
    without being the same moment is refused, saying why (it was reported stored and dropped, or
    failed the batch); the same moment spelt with a trailing zero is the held version."""
    client, stix_id = sharer["taxii"], f"x-hub-ward-note--{uuid.uuid4()}"
    first = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123456789Z")
    twin = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123456700Z")
    again = _nanosecond_note(stix_id, "2023-05-06T07:08:09.1234567890Z")
    later = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123457Z")
    assert client.post(client.objects_path("community"), {"objects": [first]}).json["success_count"] == 1
    status = client.post(client.objects_path("community"), {"objects": [twin, again, later]}).json
    assert status["success_count"] == 2 and status["failure_count"] == 1, status
    assert "same microsecond" in status["failures"][0]["message"]
    collection = client.collections()["community"]["id"]
    # Versions are named as sent (the object's modified), and asked for by that name, the hub
    # serves that version.
    versions = client.get(f"/api/collections/{collection}/objects/{stix_id}/versions/").json["versions"]
    assert versions == [first["modified"], later["modified"]]
    asked = client.get(client.objects_path("community") + f"{stix_id}/?match[version]={first['modified']}")
    assert json.loads(asked.get_data())["objects"] == [first]
    assert _taxii_object(client, "community", stix_id) == later


def test_an_object_with_nanosecond_timestamps_is_revoked_keeping_what_was_sent(sharer):
    """Revoking writes the stored object again with revoked true and a later modified, every
    other member as sent (the stix2 library could not read its timestamps, and rewrites others)."""
    note = _nanosecond_note(f"x-hub-ward-note--{uuid.uuid4()}", "2023-05-06T07:08:09.123456789Z")
    indicator = unusual_objects(GREEN)[-1]
    response = sharer["api"].post("/share", json={"objects": [note, indicator], "audience": "community"})
    assert response.status_code == 201, response.json
    for sent in (note, indicator):
        revoked = sharer["api"].post(f"/objects/{sent['id']}/revoke", json={})
        assert revoked.status_code == 200, revoked.json
        served = _rest_object(sharer["api"], sent["id"])
        assert served["revoked"] is True and served["modified"] > sent["modified"]
        assert {k: v for k, v in served.items() if k not in ("revoked", "modified")} == {
            k: v for k, v in sent.items() if k not in ("revoked", "modified")}


def test_a_version_falling_on_a_finer_held_versions_microsecond_is_refused(sharer):
    """The reverse of the case above: the held version is the finer one (…123456789), the one sent
    is written to the microsecond (…123456, an earlier moment). It was reported "already shared"
    and dropped."""
    client, stix_id = sharer["taxii"], f"x-hub-ward-note--{uuid.uuid4()}"
    first = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123456789Z")
    assert client.post(client.objects_path("community"), {"objects": [first]}).json["success_count"] == 1
    coarser = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123456Z")
    status = client.post(client.objects_path("community"), {"objects": [coarser]}).json
    assert status["failure_count"] == 1 and "same microsecond" in status["failures"][0]["message"], status
    same = _nanosecond_note(stix_id, "2023-05-06T07:08:09.12345678900Z")  # the held moment, spelt longer
    assert client.post(client.objects_path("community"), {"objects": [same]}).json["success_count"] == 1


def test_two_versions_in_one_microsecond_in_one_rest_share_are_refused(sharer):
    """The REST share sent one of them and reported both stored."""
    stix_id = f"x-hub-ward-note--{uuid.uuid4()}"
    first = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123456100Z")
    second = _nanosecond_note(stix_id, "2023-05-06T07:08:09.123456900Z")
    refused = sharer["api"].post("/share", json={"objects": [first, second], "audience": "community"})
    assert refused.status_code == 422 and "same microsecond" in str(refused.json)
    again = sharer["api"].post("/share", json={"objects": [first, {**first}], "audience": "community"})
    assert again.status_code == 201  # the same version twice is one version
