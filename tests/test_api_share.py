"""POST /api/v1/share: TLP 1.0 → 2.0, the request's default TLP, bundles, idempotence, versions."""
from __future__ import annotations

import json
import uuid

import pytest
import stix2
from sqlalchemy import func, select

from hub.outbox import OutboxEntry
from hub.audit import AuditEvent
from hub.extensions import db
from hub.intel.models import StixVersion
from hub.tlp import LEGACY_MARKING_IDS, TLP, TLP2_MARKING_IDS
from tests.factories import indicator

# A non-TLP marking (e.g. a copyright statement) that an object may reference besides its TLP.
OTHER_MARKING_ID = "marking-definition--0a7a3c9b-2c55-4a4b-9a3a-5b8c6f1d2e11"


@pytest.fixture
def team(make, api):
    hospital = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    analyst = make.make_user(hospital)
    reader = make.make_user(cert)
    return {"hospital": hospital, "cert": cert, "analyst": analyst, "sharer": api(analyst),
            "reader_user": reader, "reader": api(reader)}


def stix_dict(obj) -> dict:
    return json.loads(obj.serialize())


@pytest.mark.parametrize("legacy, expected", [
    (stix2.TLP_WHITE, TLP.clear),
    (stix2.TLP_GREEN, TLP.green),
    (stix2.TLP_AMBER, TLP.amber),
    (stix2.TLP_RED, TLP.red),
])
def test_tlp_1_0_markings_are_read_back_as_tlp_2_0_only(team, legacy, expected):
    """Most tools still emit the stix2 library's TLP 1.0 markings: does the hub speak TLP 2.0?"""
    obj = stix_dict(stix2.Indicator(
        pattern="[ipv4-addr:value = '203.0.113.77']", pattern_type="stix",
        valid_from="2026-11-01T00:00:00Z", object_marking_refs=[legacy, OTHER_MARKING_ID],
    ))
    audience = {"users": [team["reader_user"].email]} if expected == TLP.red else {"orgs": [team["cert"].slug]}
    # The bundle carries the TLP 1.0 marking definition itself, as exporters do.
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
              "objects": [stix_dict(legacy), obj]}
    response = team["sharer"].post("/share", json={"bundle": bundle, "audience": audience})
    assert response.status_code == 201, response.json
    assert response.json["ids"] == [obj["id"]]

    got = team["reader"].get(f"/objects/{obj['id']}").json
    assert got["hub"]["tlp"] == expected.value
    refs = got["object"]["object_marking_refs"]
    assert TLP2_MARKING_IDS[expected] in refs
    assert OTHER_MARKING_ID in refs  # markings other than TLP are kept
    assert not set(refs) & set(LEGACY_MARKING_IDS)
    assert len([ref for ref in refs if ref in TLP2_MARKING_IDS.values()]) == 1
    listed = team["reader"].get("/objects?type=indicator").json["objects"]
    assert [o["object_marking_refs"] for o in listed] == [refs]


def test_tlp_marking_definitions_shared_are_read_back_as_published(team, app, monkeypatch):
    """Exporters put the TLP definitions in their bundles; the share accepts them as known and a
    read by id over REST, like TAXII, gives each as published (it was a 404)."""
    from hub.tlp import marking_definition

    definitions = [marking_definition(TLP.amber), stix_dict(stix2.TLP_WHITE)]
    obj = indicator("203.0.113.79", object_marking_refs=[TLP.amber.marking_id])
    response = team["sharer"].post("/share", json={"objects": [*definitions, obj], "audience": {"orgs": [team["cert"].slug]}})
    assert response.status_code == 201, response.json
    monkeypatch.setitem(app.config, "HUB_PUBLIC_CLEAR", True)
    for definition in definitions:
        for path in (f"/objects/{definition['id']}", f"/public/objects/{definition['id']}"):
            got = team["reader"].get(path)
            assert got.status_code == 200, (path, got.json)
            assert got.json["object"] == definition
            assert (got.json["hub"]["owner"], got.json["hub"]["tlp"]) == (None, "clear")
    unknown = "marking-definition--0a1b2c3d-1111-4111-8111-000000000001"
    assert team["reader"].get(f"/objects/{unknown}").status_code == 404


def test_tlp_1_0_marking_agreeing_with_the_request_tlp_is_accepted(team):
    obj = indicator(object_marking_refs=[stix2.TLP_WHITE.id])
    response = team["sharer"].post("/share", json={"objects": [obj], "tlp": "clear", "audience": "own"})
    assert response.status_code == 201
    assert team["reader"].get(f"/objects/{obj['id']}").json["object"]["object_marking_refs"] == [TLP.clear.marking_id]


def test_unmarked_object_takes_the_request_tlp(team):
    unmarked = indicator("203.0.113.80")
    marked = indicator("203.0.113.81", object_marking_refs=[TLP.amber_strict.marking_id])
    response = team["sharer"].post("/share", json={"objects": [unmarked, marked], "tlp": "amber+strict",
                                                   "audience": {"orgs": [team["cert"].slug]}})
    assert response.status_code == 201
    for obj in (unmarked, marked):
        got = team["reader"].get(f"/objects/{obj['id']}").json
        assert got["hub"]["tlp"] == "amber+strict"
        assert got["object"]["object_marking_refs"] == [TLP.amber_strict.marking_id]


def test_objects_marked_differently_share_under_their_own_tlp_when_no_tlp_is_requested(team):
    green = indicator("203.0.113.82", object_marking_refs=[TLP.green.marking_id])
    amber = indicator("203.0.113.83", object_marking_refs=[stix2.TLP_AMBER.id])
    response = team["sharer"].post("/share", json={"objects": [green, amber], "audience": "community"})
    assert response.status_code == 201
    assert team["reader"].get(f"/objects/{green['id']}").json["hub"]["tlp"] == "green"
    assert team["reader"].get(f"/objects/{amber['id']}").json["hub"]["tlp"] == "amber"


def test_bundle_form_shares_every_object(team):
    vulnerability = stix_dict(stix2.Vulnerability(name="CVE-2026-40001", external_references=[
        {"source_name": "cve", "external_id": "CVE-2026-40001"}]))
    mitigation = stix_dict(stix2.CourseOfAction(name="Update the infusion pump firmware to 4.2"))
    relation = stix_dict(stix2.Relationship(mitigation["id"], "mitigates", vulnerability["id"]))
    report = stix_dict(stix2.Report(name="Advisory: infusion pumps", published="2026-11-02T00:00:00Z",
                                    report_types=["vulnerability"],
                                    object_refs=[vulnerability["id"], mitigation["id"], relation["id"]]))
    bundle = stix_dict(stix2.Bundle(vulnerability, mitigation, relation, report))
    response = team["sharer"].post("/share", json={"bundle": bundle, "tlp": "green", "audience": "community"})
    assert response.status_code == 201
    assert response.json["ids"] == [vulnerability["id"], mitigation["id"], relation["id"], report["id"]]
    got = team["reader"].get(f"/objects/{report['id']}").json
    assert got["object"]["object_refs"] == report["object_refs"]
    assert got["hub"]["owner"] == team["hospital"].slug
    types = {o["type"] for o in team["reader"].get("/objects").json["objects"]}
    assert types == {"vulnerability", "course-of-action", "relationship", "report"}


def _counts():
    db.session.rollback()
    return (
        db.session.scalar(select(func.count()).select_from(StixVersion)),
        db.session.scalar(select(func.count()).select_from(OutboxEntry)),
        db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(("share", "update")))),
    )


def test_reposting_the_same_object_is_idempotent(team):
    obj = indicator("203.0.113.90")
    body = {"objects": [obj], "tlp": "green", "audience": "community"}
    first = team["sharer"].post("/share", json=body)
    assert first.status_code == 201
    before = _counts()
    again = team["sharer"].post("/share", json=body)
    assert again.status_code == 201
    assert again.json == first.json
    assert _counts() == before
    got = team["reader"].get(f"/objects/{obj['id']}").json
    assert len(got["hub"]["versions"]) == 1
    assert [o["id"] for o in team["reader"].get("/objects").json["objects"]] == [obj["id"]]


def test_same_object_twice_in_one_request_is_stored_once(team):
    obj = indicator("203.0.113.91")
    response = team["sharer"].post("/share", json={"objects": [obj, dict(obj)], "tlp": "green", "audience": "community"})
    assert response.status_code == 201
    assert response.json["ids"] == [obj["id"]]
    assert len(team["reader"].get(f"/objects/{obj['id']}").json["hub"]["versions"]) == 1


def test_a_newer_version_is_added_and_becomes_the_object(team):
    first = indicator("203.0.113.92", description="first sighting")
    newer = {**first, "modified": "2026-11-05T08:30:00.000Z", "description": "confirmed C2", "confidence": 90}
    body = {"tlp": "green", "audience": "community"}
    assert team["sharer"].post("/share", json={"objects": [first], **body}).status_code == 201
    assert team["sharer"].post("/share", json={"objects": [newer], **body}).status_code == 201

    got = team["reader"].get(f"/objects/{first['id']}").json
    assert got["object"]["description"] == "confirmed C2"
    assert got["object"]["modified"] == "2026-11-05T08:30:00.000Z"
    versions = got["hub"]["versions"]
    assert [v["modified"] for v in versions] == ["2026-11-01T10:00:00.000Z", "2026-11-05T08:30:00.000Z"]
    assert versions[0]["date_added"] < versions[1]["date_added"]
    assert [o["description"] for o in team["reader"].get("/objects").json["objects"]] == ["confirmed C2"]

    # an older version arriving late is kept in the history but does not replace the newest
    older = {**first, "modified": "2026-11-03T00:00:00.000Z", "description": "interim"}
    assert team["sharer"].post("/share", json={"objects": [older], **body}).status_code == 201
    got = team["reader"].get(f"/objects/{first['id']}").json
    assert got["object"]["description"] == "confirmed C2"
    assert [v["modified"][:10] for v in got["hub"]["versions"]] == ["2026-11-01", "2026-11-03", "2026-11-05"]


def test_a_new_version_cannot_change_the_tlp(team):
    obj = indicator("203.0.113.93")
    team["sharer"].post("/share", json={"objects": [obj], "tlp": "green", "audience": "community"})
    newer = {**obj, "modified": "2026-11-06T00:00:00.000Z"}
    response = team["sharer"].post("/share", json={"objects": [newer], "tlp": "clear", "audience": "community"})
    assert response.status_code == 422
    assert response.json["details"][0]["id"] == obj["id"]
    assert len(team["reader"].get(f"/objects/{obj['id']}").json["hub"]["versions"]) == 1


def test_custom_properties_survive_the_round_trip(team):
    obj = indicator("203.0.113.94", x_hub_ward="ICU", x_hub_devices=["pump-7", "pump-9"])
    assert team["sharer"].post("/share", json={"objects": [obj], "tlp": "green", "audience": "community"}).status_code == 201
    got = team["reader"].get(f"/objects/{obj['id']}").json["object"]
    assert got["x_hub_ward"] == "ICU" and got["x_hub_devices"] == ["pump-7", "pump-9"]


def test_anonymous_share_hides_the_owner_from_recipients_but_not_from_the_owner(team):
    obj = indicator("203.0.113.95")
    response = team["sharer"].post("/share", json={"objects": [obj], "tlp": "green", "audience": "community",
                                                   "anonymous": True})
    assert response.status_code == 201
    theirs = team["reader"].get(f"/objects/{obj['id']}").json
    assert theirs["hub"]["owner"] is None and theirs["hub"]["anonymous"] is True
    assert "author" not in theirs["hub"] and "audience" not in theirs["hub"]
    assert team["hospital"].slug not in json.dumps(theirs)
    ours = team["sharer"].get(f"/objects/{obj['id']}").json
    assert ours["hub"]["owner"] == team["hospital"].slug
    assert ours["hub"]["author"] == team["analyst"].email
    assert ours["hub"]["audience"] == "community"
