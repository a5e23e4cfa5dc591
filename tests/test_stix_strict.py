"""The hub's own STIX passes stix2-validator --strict: its SHOULDs too, not only its MUSTs.

Everything the hub writes itself, read back the ways a member reads it: the share forms' objects
(hub/intel/builders.py: indicators of every kind the form offers, advisories) through REST and
TAXII, organisation and hub identities, and the incident export (GET /api/v1/incidents/<id>/stix)
with its extension definitions, relationships and sightings.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from stix2validator import ValidationOptions, validate_instance

from hub.incidents import stix as incident_stix
from hub.intel import advisories, builders, severity
from hub.tlp import TLP
from tests import factories as f
from tests.incidents_support import build_world, report

# What `stix2-validator --strict` does: every warning (a SHOULD of the specification) is an error.
STRICT = ValidationOptions(version="2.1", strict=True)
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)


def strict_problems(objects: list[dict]) -> list[str]:
    """One line per warning or error, empty when every object passes."""
    problems = []
    for obj in objects:
        result = validate_instance(obj, STRICT)
        if not result.is_valid:
            problems += [str(error) for error in result.errors]
    return problems


@pytest.fixture
def world():
    return build_world()


def _form_objects(org) -> list[dict]:
    """What the indicator and advisory forms build for this organisation."""
    values = {"ipv4-addr": "198.51.100.7", "ipv6-addr": "2001:db8::7", "domain-name": "c2.evil.example",
              "url": "https://evil.example/payload.bin?x=1", "email-addr": "ceo@spoofed.example",
              "md5": "d41d8cd98f00b204e9800998ecf8427e", "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
              "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
    objects = [
        builders.build_indicator(kind, value, description="seen in our logs", confidence=70, tlp=TLP.green,
                                 valid_until=datetime(2027, 1, 1, tzinfo=timezone.utc),
                                 created_by_ref=org.identity_id, now=NOW)
        for kind, value in values.items()
    ]
    objects.append(builders.build_indicator("domain-name", "anonymous.example", description="", confidence=50,
                                            tlp=TLP.green, now=NOW))
    objects += advisories.build_advisory(advisories.Advisory(
        title="PumpCo InfuseSafe firmware advisory", summary="Remote code execution in the pump firmware.",
        cve_ids=["CVE-2026-50001", "CVE-2026-50002"],
        products=[advisories.AffectedProduct("PumpCo", "InfuseSafe", "< 4.2", "4.2"),
                  advisories.AffectedProduct("PumpCo", "Hub")],
        mitigation="Apply firmware 4.2.",
        cvss=[severity.score_cvss("v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
              severity.score_cvss("v4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")],
        cwe_ids=["CWE-787", "CWE-306"],
        references=builders.parse_references(
            "https://pumpco.example/advisories/2026-11.pdf " + "0f" * 32 + "\nhttps://www.cve.org/CVERecord?id=CVE-2026-50001")),
        tlp=TLP.green, created_by_ref=org.identity_id, now=NOW)
    return objects


def test_what_the_share_forms_build_passes_strict_validation(world):
    assert not (problems := strict_problems(_form_objects(world.hospital))), "\n".join(problems)


def test_the_share_forms_objects_read_back_through_rest_and_taxii_pass_strict_validation(world, api, taxii):
    built = _form_objects(world.hospital)
    f.share(world.hospital_analyst, built, tlp="green", audience="community")
    reader = api(world.cert)
    through_rest = [reader.get(f"/objects/{obj['id']}").json["object"] for obj in built]
    assert [obj["id"] for obj in through_rest] == [obj["id"] for obj in built]
    assert not (problems := strict_problems(through_rest)), "\n".join(problems)
    client = taxii(world.cert)
    through_taxii = client.get(client.objects_path("community")).json["objects"]
    assert {obj["id"] for obj in built} <= {obj["id"] for obj in through_taxii}
    assert not (problems := strict_problems(through_taxii)), "\n".join(problems)


def test_identities_pass_strict_validation(world):
    identities = [incident_stix.hub_identity()] + [
        incident_stix.organisation_identity(user.org) for user in (world.hospital_analyst, world.other_hospital_analyst)]
    assert not (problems := strict_problems(identities)), "\n".join(problems)


def test_identity_ids_are_uuid4_and_stable_per_organisation(world, make):
    import uuid

    for org in (world.hospital, make.make_org("hospital", "CZ")):
        assert uuid.UUID(org.identity_id.split("--")[1]).version == 4
        assert org.identity_id == org.identity_id  # stored, not drawn on each read
    assert world.hospital.identity_id != world.other_hospital_analyst.org.identity_id


def test_the_incident_export_passes_strict_validation(world, api):
    readable = f.share(world.hospital_analyst, [f.indicator("203.0.113.9")], tlp="green", audience="own")
    response = api(world.hospital_analyst).post("/incidents", json=report(indicators=[readable.stix_id]))
    assert response.status_code == 201, response.json
    incident_id = response.json["id"]
    for user in (world.hospital_analyst, world.cert):
        bundle = api(user).get(f"/incidents/{incident_id}/stix").json
        types = {obj["type"] for obj in bundle["objects"]}
        assert {"incident", "identity", "extension-definition", "relationship"} <= types
        assert not (problems := strict_problems(bundle["objects"])), "\n".join(problems)
