"""Everything the API hands out is valid STIX 2.1, checked with the OASIS stix2-validator."""
from __future__ import annotations

import json
import uuid

import pytest
import stix2
from stix2validator import ValidationOptions, validate_instance, validate_parsed_json

from hub.tlp import TLP, TLP2_MARKING_IDS, marking_definition
from tests.factories import indicator

OPTIONS = ValidationOptions(version="2.1")


def assert_valid(obj: dict) -> None:
    result = validate_instance(obj, OPTIONS)
    assert result.is_valid, (obj.get("id"), [str(error) for error in result.errors])


def stix_dict(obj) -> dict:
    return json.loads(obj.serialize())


@pytest.mark.parametrize("tlp", list(TLP))
def test_tlp_2_0_marking_definitions_are_valid(tlp):
    definition = marking_definition(tlp)
    assert_valid(definition)
    assert definition["id"] == TLP2_MARKING_IDS[tlp]


def _varied_objects() -> list[dict]:
    observables = [
        indicator("198.51.100.99"),
        indicator("2001:db8:abcd::42", "ipv6-addr"),
        indicator("update-check.evil.example", "domain-name"),
        indicator("https://evil.example/payload.bin?x=1", "url"),
        indicator("ceo@spoofed-hospital.example", "email-addr"),
        indicator(pattern="[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
        indicator(pattern="[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"),
        indicator("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "file"),
        indicator(pattern="[ipv4-addr:value = '203.0.113.0/24'] OR [domain-name:value = 'x.example']",
                  description="two ways in", confidence=70, valid_until="2027-01-01T00:00:00Z",
                  indicator_types=["malicious-activity"], labels=["ransomware"]),
    ]
    vulnerability = stix_dict(stix2.Vulnerability(name="CVE-2026-50001", external_references=[
        {"source_name": "cve", "external_id": "CVE-2026-50001"}]))
    mitigation = stix_dict(stix2.CourseOfAction(name="Apply firmware 4.2", description="Vendor fix"))
    software = stix_dict(stix2.Software(name="InfuseSafe pump firmware", vendor="PumpCo", version="4.1"))
    mitigates = stix_dict(stix2.Relationship(mitigation["id"], "mitigates", vulnerability["id"]))
    report = stix_dict(stix2.Report(
        name="PumpCo advisory 2026-11", published="2026-11-02T00:00:00Z", report_types=["vulnerability"],
        object_refs=[vulnerability["id"], mitigation["id"], software["id"], mitigates["id"]],
        external_references=[{"source_name": "PumpCo", "url": "https://pumpco.example/advisories/2026-11"}]))
    custom_property = indicator("203.0.113.123", x_hub_ward="ICU", x_hub_devices=["pump-7"])
    custom_object = {"type": "x-hub-ward-note", "spec_version": "2.1", "id": f"x-hub-ward-note--{uuid.uuid4()}",
                     "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
                     "x_text": "isolate ward 3 pumps"}
    return [*observables, vulnerability, mitigation, software, mitigates, report, custom_property, custom_object]


def test_every_object_read_back_through_the_api_is_valid_stix(make, api):
    hospital = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    sharer, reader = api(make.make_user(hospital)), api(make.make_user(cert))

    varied = _varied_objects()
    assert sharer.post("/share", json={"objects": varied, "tlp": "green", "audience": "community"}).status_code == 201
    legacy = stix_dict(stix2.Indicator(pattern="[domain-name:value = 'tlp1.example']", pattern_type="stix",
                                       object_marking_refs=[stix2.TLP_AMBER]))
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [stix_dict(stix2.TLP_AMBER), legacy]}
    assert sharer.post("/share", json={"bundle": bundle, "audience": {"orgs": [cert.slug]}}).status_code == 201
    anonymous = indicator("203.0.113.124")
    assert sharer.post("/share", json={"objects": [anonymous], "tlp": "clear", "anonymous": True}).status_code == 201
    revoked = varied[0]["id"]
    assert sharer.post(f"/objects/{revoked}/revoke").status_code == 200
    newer = {**varied[1], "modified": "2026-11-20T00:00:00.000Z", "confidence": 85}
    assert sharer.post("/share", json={"objects": [newer], "tlp": "green", "audience": "community"}).status_code == 201

    listed = reader.get("/objects?limit=500").json["objects"]
    assert len(listed) == len(varied) + 2
    read_back = listed + [reader.get(f"/objects/{obj['id']}").json["object"] for obj in listed]
    for obj in read_back:
        assert_valid(obj)

    by_id = {obj["id"]: obj for obj in listed}
    assert by_id[revoked]["revoked"] is True
    assert by_id[legacy["id"]]["object_marking_refs"] == [TLP.amber.marking_id]
    assert by_id[varied[-2]["id"]]["x_hub_ward"] == "ICU"
    assert by_id[varied[1]["id"]]["confidence"] == 85

    # A bundle of what was read, carrying the TLP 2.0 definitions it references, is valid too.
    markings = {ref for obj in listed for ref in obj.get("object_marking_refs", [])}
    definitions = [marking_definition(tlp) for tlp in TLP if tlp.marking_id in markings]
    assert len(definitions) == len(markings) == 3
    result = validate_parsed_json({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                   "objects": definitions + listed}, OPTIONS)
    assert result.is_valid, [str(error) for error in result.errors]
