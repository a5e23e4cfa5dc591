"""Valid STIX found in the wild at the edges of its ranges: stored and served as sent, never a 500,
and a fault of the hub's on one object never costs its neighbours (nor leaves a request pending)."""
from __future__ import annotations

import json
import uuid

import pytest
from stix2validator import ValidationOptions, validate_instance

from hub.intel import severity
from hub.taxii import pending
from hub.tlp import TLP

GREEN = TLP.green.marking_id


def sdo(object_type: str, **properties) -> dict:
    return {"type": object_type, "spec_version": "2.1", "id": f"{object_type}--{uuid.uuid4()}",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "object_marking_refs": [GREEN], **properties}


def assert_valid(obj: dict) -> None:
    result = validate_instance(obj, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]


@pytest.fixture
def sharer(app, make, member_of, taxii, api, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a crash answers 500, as in production
    user = member_of(make.make_org("hospital", "CZ"))
    return {"taxii": taxii(user), "api": api(user)}


def assert_stored_as_sent(client, obj: dict) -> None:
    """A valid object, posted alone, is stored and served back as sent."""
    assert_valid(obj)
    status = client.post(client.objects_path("community"), {"objects": [obj]}).json
    assert status["success_count"] == 1, status
    assert served(client, obj) == obj


def never_expiring_indicator() -> dict:
    return sdo("indicator", pattern="[ipv4-addr:value = '198.51.100.1']", pattern_type="stix",
               valid_from="2024-01-01T00:00:00Z", valid_until="9999-12-31T23:59:59.999999Z")


def served(client, obj: dict) -> dict:
    body = json.loads(client.get(client.objects_path("community") + f"{obj['id']}/").get_data())
    return body["objects"][0]


def test_an_indicator_valid_until_the_last_moment_of_year_9999_is_stored_with_its_neighbour(sharer):
    client = sharer["taxii"]
    neighbour, never = sdo("malware", name="neighbour", is_family=False), never_expiring_indicator()
    assert_valid(never)
    response = client.post(client.objects_path("community"), {"objects": [neighbour, never]})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.json["success_count"] == 2, response.json
    assert served(client, never) == never

    again = {**never_expiring_indicator(), "valid_until": "9999-12-31T23:59:59.999999999Z"}
    shared = sharer["api"].post("/share", json={"objects": [again], "audience": "community"})
    assert shared.status_code == 201, shared.get_data(as_text=True)
    assert sharer["api"].get(f"/objects/{again['id']}").json["object"] == again


def test_a_large_add_with_a_never_expiring_indicator_completes(app, sharer, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 3)
    client = sharer["taxii"]
    objects = [sdo("malware", name=f"m{n}", is_family=False) for n in range(3)] + [never_expiring_indicator()]
    status = client.post(client.objects_path("community"), {"objects": objects}).json
    assert status["status"] == "pending"
    pending.complete_pending_add(status["id"])
    done = client.get(f"/api/status/{status['id']}/").json
    assert (done["status"], done["success_count"]) == ("complete", 4), done


@pytest.mark.parametrize("reference", [
    {"source_name": "cwe", "url": "https://cwe.mitre.org/data/definitions/79.html"},
    {"source_name": "cwe", "external_id": "NVD-CWE-Other"},
    {"source_name": "cwe", "external_id": "NVD-CWE-noinfo"},
    {"source_name": "cwe", "description": "Improper input validation"},
])
def test_a_cwe_reference_without_a_numbered_id_is_accepted(sharer, reference):
    vulnerability = sdo("vulnerability", name="CVE-2024-0001",
                        external_references=[{"source_name": "cve", "external_id": "CVE-2024-0001"}, reference])
    assert_valid(vulnerability)
    client = sharer["taxii"]
    status = client.post(client.objects_path("community"), {"objects": [vulnerability]}).json
    assert status["success_count"] == 1, status
    assert served(client, vulnerability) == vulnerability
    again = {**vulnerability, "id": f"vulnerability--{uuid.uuid4()}"}
    assert sharer["api"].post("/share", json={"objects": [again], "audience": "community"}).status_code == 201


def test_a_cwe_reference_with_a_malformed_id_is_still_refused(sharer):
    vulnerability = sdo("vulnerability", name="CVE-2024-0002",
                        external_references=[{"source_name": "cwe", "external_id": "CWE-XSS"}])
    client = sharer["taxii"]
    status = client.post(client.objects_path("community"), {"objects": [vulnerability]}).json
    assert status["failure_count"] == 1
    assert "'CWE-XSS' is not a CWE id" in status["failures"][0]["message"]


@pytest.mark.parametrize("first_seen", ["0999-01-01T00:00:00Z", "0001-01-01T00:00:00.5Z"])
def test_a_timestamp_before_year_1000_is_accepted_and_served_as_sent(sharer, first_seen):
    campaign = sdo("campaign", name="Old", first_seen=first_seen)
    assert_stored_as_sent(sharer["taxii"], campaign)


def test_an_indicator_valid_until_before_year_1000_is_stored_as_sent(sharer):
    old = sdo("indicator", pattern="[ipv4-addr:value = '198.51.100.2']", pattern_type="stix",
              valid_from="0900-01-01T00:00:00Z", valid_until="0999-01-01T00:00:00Z")
    assert_stored_as_sent(sharer["taxii"], old)


@pytest.mark.parametrize("value", [-9223372036854775808, 9223372036854775807])
def test_the_64_bit_integer_range_is_accepted_whole(sharer, value):
    malware = sdo("malware", name="m", is_family=False, x_hub_edge=value)
    assert_stored_as_sent(sharer["taxii"], malware)


def test_one_integer_past_the_64_bit_range_is_refused_alone(sharer):
    client = sharer["taxii"]
    ok = sdo("malware", name="fine", is_family=False)
    past = sdo("malware", name="m", is_family=False, x_hub_edge=-9223372036854775809)
    body = json.dumps({"objects": [ok, past]}).encode()  # orjson writes 64-bit integers only
    status = client.post(client.objects_path("community"), body).json
    assert (status["success_count"], status["failure_count"]) == (1, 1), status
    assert "beyond 64 bits" in status["failures"][0]["message"]


@pytest.mark.parametrize("large", [False, True])
def test_a_fault_of_the_hub_on_one_object_fails_that_object_alone(app, sharer, monkeypatch, large):
    """Whatever the next unforeseen input is, it costs only itself: the status reports it, its
    neighbours are stored, and a large add still completes."""
    if large:
        monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 3)
    client = sharer["taxii"]
    objects = [sdo("malware", name=f"m{n}", is_family=False) for n in range(3)]
    cursed = objects[1]["id"]
    checked = severity.problems_in

    def failing_on_one(obj):
        if obj.get("id") == cursed:
            raise RuntimeError("an unforeseen fault")
        return checked(obj)

    monkeypatch.setattr(severity, "problems_in", failing_on_one)
    status = client.post(client.objects_path("community"), {"objects": objects}).json
    if large:
        pending.complete_pending_add(status["id"])
        status = client.get(f"/api/status/{status['id']}/").json
    assert (status["status"], status["success_count"], status["failure_count"]) == ("complete", 2, 1), status
    assert status["failures"][0]["id"] == cursed
    assert "internal error" in status["failures"][0]["message"]
    assert served(client, objects[2]) == objects[2]


def test_an_observable_sent_again_with_other_properties_is_kept_as_sent(sharer):
    """An observable has no versions (no `modified`): an organisation sending it again with other
    properties (a feed's score, a description added) has its copy renewed, never "already shared"
    with the new content dropped; sent again as it is, it stays as it was."""
    client = sharer["taxii"]
    first = {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
             "value": "198.51.100.3", "object_marking_refs": [GREEN], "x_feed_score": 50}
    assert_stored_as_sent(client, first)
    version_before = client.get(client.objects_path("community") + f"{first['id']}/versions/").json["versions"]

    renewed = {**first, "x_feed_score": 80, "x_feed_note": "seen in a ransomware intrusion"}
    status = client.post(client.objects_path("community"), {"objects": [renewed]}).json
    assert status["success_count"] == 1 and "already shared" not in json.dumps(status), status
    assert served(client, renewed) == renewed
    versions = client.get(client.objects_path("community") + f"{first['id']}/versions/").json["versions"]
    assert len(versions) == 1 and versions != version_before, (version_before, versions)
    assert status["successes"][0]["version"] == versions[0]
    assert sharer["api"].get(f"/objects/{first['id']}").json["object"] == renewed

    again = client.post(client.objects_path("community"), {"objects": [renewed]}).json
    assert again["successes"][0]["message"] == "already shared", again
    assert client.get(client.objects_path("community") + f"{first['id']}/versions/").json["versions"] == versions

    other_tlp = {**renewed, "object_marking_refs": [TLP.amber.marking_id], "x_feed_score": 90}
    refused = client.post(client.objects_path("community"), {"objects": [other_tlp]}).json
    assert refused["failure_count"] == 1, refused
    assert served(client, renewed) == renewed


def test_a_manifest_and_a_share_answer_name_an_id_as_its_sender_spelt_it(sharer):
    """Upper-case hex is valid STIX and is served back as sent: the manifest names the object by
    the id the object carries, and the REST share answer by the id the request gave."""
    client = sharer["taxii"]
    loud = sdo("malware", name="upper-case id", is_family=False)
    loud["id"] = "malware--" + str(uuid.uuid4()).upper()
    assert_stored_as_sent(client, loud)
    manifest = client.get(client.objects_path("community").replace("/objects/", "/manifest/")).json
    assert loud["id"] in [record["id"] for record in manifest["objects"]], manifest

    louder = sdo("tool", name="upper-case id too")
    louder["id"] = "tool--" + str(uuid.uuid4()).upper()
    shared = sharer["api"].post("/share", json={"objects": [louder], "audience": "community"})
    assert shared.json["ids"] == [louder["id"]], shared.json
    assert sharer["api"].get(f"/objects/{louder['id']}").json["object"] == louder
    manifest = client.get(client.objects_path("community").replace("/objects/", "/manifest/"),
                          query_string={"match[id]": louder["id"].lower()}).json
    assert [record["id"] for record in manifest["objects"]] == [louder["id"]], manifest


@pytest.mark.parametrize("modified", ["2024-03-01T00:00:00.123456789Z", "2024-03-01T00:00:00.120000Z",
                                      "2024-03-01T00:00:00.123400Z"])
def test_a_manifest_and_the_versions_endpoint_name_a_version_as_the_object_and_the_status_do(sharer, modified):
    """TAXII 2.1: a manifest record's version, and each of an object's versions, is its modified:
    the same spelling as the object served and the add's status, not the hub's own (to the
    microsecond, milliseconds at least), which a client comparing versions takes for another."""
    client = sharer["taxii"]
    objects = client.objects_path("community")
    obj = sdo("malware", name="spelt as sent", is_family=False, modified=modified)
    status = client.post(objects, {"objects": [obj]}).json
    assert status["successes"][0]["version"] == modified
    assert served(client, obj) == obj
    manifest = client.get(objects.replace("/objects/", "/manifest/"), query_string={"match[id]": obj["id"]}).json
    assert [record["version"] for record in manifest["objects"]] == [modified]
    assert client.get(objects + f"{obj['id']}/versions/").json["versions"] == [modified]
    by_version = client.get(objects + f"{obj['id']}/", query_string={"match[version]": modified}).get_data()
    assert json.loads(by_version)["objects"] == [obj]


def test_a_large_add_with_an_integer_past_64_bits_refuses_that_object_alone(app, sharer, monkeypatch):
    """As a small add does (an integer beyond 64 bits): the neighbours are stored, never a 500."""
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 2)
    client = sharer["taxii"]
    fine = [sdo("malware", name=f"fine {n}", is_family=False) for n in range(2)]
    past = sdo("malware", name="past", is_family=False, x_edge=2 ** 64)
    response = client.post(client.objects_path("community"), json.dumps({"objects": fine + [past]}).encode())
    assert response.status_code == 202, response.get_data(as_text=True)
    pending.complete_pending_add(response.json["id"])
    status = client.get(f"/api/status/{response.json['id']}/").json
    assert (status["success_count"], status["failure_count"]) == (2, 1), status
    assert status["failures"][0]["id"] == past["id"] and "64 bits" in status["failures"][0]["message"], status
    for obj in fine:
        assert served(client, obj) == obj


@pytest.mark.parametrize("digits", [9, 20, 32])
def test_a_version_with_a_long_fraction_is_named_as_sent_and_can_be_asked_for(sharer, digits):
    """STIX sets no limit on a timestamp's fraction: the manifest and versions name the version
    the object carries, and match[version] takes that name back."""
    client = sharer["taxii"]
    objects = client.objects_path("community")
    modified = "2020-01-01T00:00:00." + "1" * digits + "Z"
    obj = sdo("malware", name="long fraction", is_family=False, created="2019-01-01T00:00:00.000Z", modified=modified)
    assert client.post(objects, {"objects": [obj]}).json["successes"][0]["version"] == modified
    [record] = client.get(objects.replace("/objects/", "/manifest/"), query_string={"match[id]": obj["id"]}).json["objects"]
    assert record["version"] == modified
    assert client.get(objects + f"{obj['id']}/versions/").json["versions"] == [modified]
    asked = client.get(objects + f"{obj['id']}/", query_string={"match[version]": modified})
    assert asked.status_code == 200, asked.get_data(as_text=True)
    assert json.loads(asked.get_data())["objects"] == [obj]


@pytest.mark.parametrize("modified, refusal", [
    ("2020-01-01T00:00:00." + "1" * 33 + "Z", "more than 32 digits"),  # named back in a URL: 414 from the server
    ("1970-01-01T00:00:00.000Z", "from 1970-01-01T00:00:00.000001Z on"),  # the hub's "no version"
])
def test_a_version_the_hub_could_not_name_back_is_refused_saying_why(sharer, modified, refusal):
    client = sharer["taxii"]
    obj = sdo("malware", name="unnameable version", is_family=False, created=modified, modified=modified)
    status = client.post(client.objects_path("community"), {"objects": [obj, sdo("tool", name="neighbour")]}).json
    assert (status["success_count"], status["failure_count"]) == (1, 1), status
    assert refusal in status["failures"][0]["message"], status
