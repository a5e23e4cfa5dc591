"""Incident reports through the REST API: filing, revisions, STIX export, NIS2, bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.incidents.models import Incident, IncidentRevision
from hub.incidents.stix import HUB_HEALTHCARE_EXTENSION, INCIDENT_CORE_EXTENSION
from hub.intel.models import SharedItem
from tests import factories as f
from tests.incidents_support import build_world, report


@pytest.fixture
def world():
    return build_world()


def file(api, user, **overrides):
    response = api(user).post("/incidents", json=report(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_a_filed_report_reads_back_as_filed(api, world):
    incident_id = file(api, world.hospital_analyst)

    answer = api(world.hospital_admin).get(f"/incidents/{incident_id}").json
    assert answer["id"] == incident_id and incident_id.startswith("incident--")
    assert answer["owner"] == world.hospital.slug and answer["tlp"] == "amber"
    report_back = answer["report"]
    assert report_back["title"] == "Ransomware encrypted the EHR"
    assert report_back["detected_at"] == "2026-03-28T05:45:00+00:00"
    assert report_back["services"] == ["ehr", "emergency", "imaging"]
    assert report_back["impact"]["procedures_cancelled"] == 41
    assert report_back["impact"]["ransom_demanded"] == {"amount": 2500000, "currency": "USD"}
    assert [r["number"] for r in answer["revisions"]] == [1]
    assert answer["revisions"][0]["author"] == world.hospital_analyst.email


def test_bad_input_names_every_wrong_field_and_writes_nothing(api, world):
    response = api(world.hospital_analyst).post("/incidents", json=report(
        title="", detected_at="yesterday", attack_type="hacking", services=["ehr", "spa"],
        impact={"diversions_count": -1, "downtime_hours": "long", "mood": 3}, colour="red"))

    assert response.status_code == 422
    fields = {d["field"] for d in response.json["details"]}
    assert fields == {"title", "detected_at", "attack_type", "services", "impact.diversions_count",
                      "impact.downtime_hours", "impact.mood", "colour"}
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert db.session.scalar(select(func.count()).select_from(SharedItem)) == 0


@pytest.mark.parametrize("body, field", [
    ({"tlp": "red"}, "tlp"),
    ({"tlp": "purple"}, "tlp"),
    ({"audience": {"orgs": ["no-such-org"]}}, "audience.orgs"),
    ({"indicators": ["indicator--00000000-0000-4000-8000-000000000000"]}, "indicators"),
    ({"started_at": "2026-03-29T00:00:00+00:00"}, "started_at"),
    ({"detected_at": "28 March, early"}, "detected_at"),
])
def test_reports_the_hub_cannot_accept_are_refused_with_the_field(api, world, body, field):
    response = api(world.hospital_analyst).post("/incidents", json=report(**body))
    assert response.status_code == 422
    assert field in {d["field"] for d in response.json["details"]}
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_non_json_bodies_and_viewers_are_refused(api, world, client):
    analyst = api(world.hospital_analyst)
    assert analyst.post("/incidents", data="title=x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert analyst.post("/incidents", data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert api(world.hospital_viewer).post("/incidents", json=report()).status_code == 403
    assert client.post("/api/v1/incidents", json=report()).status_code == 401


def test_patient_data_in_the_narrative_is_flagged_until_the_author_confirms(api, world):
    narrative = "Patient Jana Nováková, born 12.3.1957, was transferred; call her son on +420 603 123 456."
    flagged = api(world.hospital_analyst).post("/incidents", json=report(narrative=narrative))

    assert flagged.status_code == 422
    kinds = {(d["field"], d["kind"]) for d in flagged.json["details"]}
    assert kinds == {("narrative", "name_with_birth_date"), ("narrative", "phone_number")}
    assert all("603 123 456" not in d["excerpt"] for d in flagged.json["details"])
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0

    confirmed = api(world.hospital_analyst).post("/incidents", json=report(narrative=narrative, confirm_personal_data=True))
    assert confirmed.status_code == 201
    assert db.session.scalars(select(IncidentRevision)).one().personal_data_confirmed is True


def test_an_update_is_a_new_revision_and_every_revision_is_kept(api, world):
    incident_id = file(api, world.hospital_analyst)
    hospital = api(world.hospital_analyst)

    updated = hospital.put(f"/incidents/{incident_id}", json=report(
        contained_at="2026-03-30T12:00:00+02:00", impact={"patient_care_disrupted": "yes", "downtime_hours": 96}))
    assert updated.status_code == 200 and updated.json["revision"] == 2

    latest = hospital.get(f"/incidents/{incident_id}").json
    assert [r["number"] for r in latest["revisions"]] == [1, 2]
    assert latest["report"]["impact"] == {"patient_care_disrupted": "yes", "downtime_hours": 96}
    first = hospital.get(f"/incidents/{incident_id}/revisions/1").json["report"]
    assert first["impact"]["downtime_hours"] == 72
    versions = hospital.get(f"/objects/{incident_id}").json["hub"]["versions"]
    assert len(versions) == 2
    assert hospital.put(f"/incidents/{incident_id}", json=report(tlp="green")).status_code == 422
    assert api(world.other_hospital_analyst).put(f"/incidents/{incident_id}", json=report()).status_code == 404


def test_the_stix_export_is_valid_and_carries_the_incident_extensions(api, world):
    from stix2validator import ValidationOptions, validate_instance

    readable = f.share(world.hospital_analyst, [f.indicator("203.0.113.9")], tlp="green", audience="own")
    incident_id = file(api, world.hospital_analyst, indicators=[readable.stix_id])
    # The CERT can read the incident but not the hospital's own-only indicator: no link for it.
    for user, expect_link in ((world.hospital_analyst, True), (world.cert, False)):
        bundle = api(user).get(f"/incidents/{incident_id}/stix").json
        assert bundle["type"] == "bundle"
        options = ValidationOptions(version="2.1")
        for obj in bundle["objects"]:
            result = validate_instance(obj, options)
            assert result.is_valid, (obj["type"], [str(e) for e in result.errors])
        [incident] = [o for o in bundle["objects"] if o["type"] == "incident"]
        core = incident["extensions"][INCIDENT_CORE_EXTENSION]
        assert core["incident_types"] == ["ransomware"]
        assert core["confidentiality_impacts"][0]["record_count"] == 12000
        assert core["monetary_impacts"][0] == {"variety": "ransom-demand", "currency": "usd",
                                               "min_amount": 2500000, "max_amount": 2500000}
        healthcare = incident["extensions"][HUB_HEALTHCARE_EXTENSION]
        assert healthcare["emergency_diversions"] == {"count": 4, "hours": 18.5}
        assert healthcare["patient_care_disrupted"] == "yes"
        types = sorted(o["type"] for o in bundle["objects"])
        assert "threat-actor" in types
        assert {o["id"] for o in bundle["objects"] if o["type"] == "extension-definition"} == {
            INCIDENT_CORE_EXTENSION, HUB_HEALTHCARE_EXTENSION}
        links = [o for o in bundle["objects"] if o["type"] == "relationship" and o["target_ref"] == readable.stix_id]
        assert bool(links) is expect_link
        sightings = [o for o in bundle["objects"] if o["type"] == "sighting"]
        if expect_link:
            [sighting] = sightings
            assert sighting["sighting_of_ref"] == readable.stix_id
            assert sighting["where_sighted_refs"] == [world.hospital.identity_id]
            assert any(o["id"] == world.hospital.identity_id for o in bundle["objects"])
            assert sighting["description"] == f"Seen during incident {incident_id}"
        else:
            assert sightings == []
    schema = api(world.cert).get(f"/extension-definitions/{HUB_HEALTHCARE_EXTENSION}/schema")
    assert schema.status_code == 200 and "patient_care_disrupted" in schema.json["properties"]


def test_nis2_clocks_run_from_awareness_and_the_cert_queue_shows_them(api, world):
    incident_id = file(api, world.hospital_analyst, significant=True)
    hospital = api(world.hospital_analyst)

    clocks = {c["stage"]: c for c in hospital.get(f"/incidents/{incident_id}").json["nis2"]}
    assert clocks["early_warning"]["due_at"] == "2026-03-29T05:45:00+00:00"
    # Prague moved to summer time in between: 24 elapsed hours end at 07:45 local, not 06:45.
    assert clocks["early_warning"]["due_local"] == "2026-03-29 07:45 CEST (UTC+02:00)"
    assert clocks["notification"]["due_at"] == "2026-03-31T05:45:00+00:00"
    assert clocks["final"]["due_at"] == "2026-04-30T05:45:00+00:00"
    assert clocks["early_warning"]["state"] == "overdue"

    submitted = hospital.post(f"/incidents/{incident_id}/nis2/notification")
    assert submitted.status_code == 201
    clocks = {c["stage"]: c for c in hospital.get(f"/incidents/{incident_id}").json["nis2"]}
    assert clocks["notification"]["state"] == "submitted_late"
    snapshot = hospital.get(f"/incidents/{incident_id}/nis2/submissions/{submitted.json['id']}").json
    assert snapshot["stage"] == "notification" and snapshot["report"]["title"] == "Ransomware encrypted the EHR"

    queue = api(world.cert).get("/nis2/queue").json["incidents"]
    assert [row["id"] for row in queue] == [incident_id]
    assert api(world.foreign_cert).get("/nis2/queue").json["incidents"] == []
    assert api(world.police).get("/nis2/queue").status_code == 403
    assert api(world.foreign_cert).get(f"/incidents/{incident_id}").status_code == 404
    assert hospital.post(f"/incidents/{incident_id}/nis2/someday").status_code == 422

    requested = api(world.cert).post(f"/incidents/{incident_id}/nis2/intermediate-request",
                                     json={"due_at": "2026-04-10T12:00:00+02:00"})
    assert requested.status_code == 200
    intermediate = {c["stage"]: c for c in requested.json["nis2"]}["intermediate"]
    assert intermediate["due_at"] == "2026-04-10T10:00:00+00:00"
    assert hospital.post(f"/incidents/{incident_id}/nis2/intermediate-request",
                         json={"due_at": "2026-04-10T12:00:00+02:00"}).status_code == 403


def test_the_national_cert_advises_involving_law_enforcement_beside_the_consent(api, world):
    incident_id = file(api, world.hospital_analyst)
    advised = api(world.cert).post(f"/incidents/{incident_id}/advice",
                                   json={"body": "This looks criminal: report it to the police."})
    assert advised.status_code == 201
    view = api(world.hospital_admin).get(f"/incidents/{incident_id}").json
    assert [(a["kind"], a["body"]) for a in view["advice"]] == [
        ("involve_law_enforcement", "This looks criminal: report it to the police.")]
    assert view["consents"] == []
    assert api(world.other_hospital_analyst).post(f"/incidents/{incident_id}/advice", json={"body": "x"}).status_code == 404
    assert api(world.hospital_analyst).post(f"/incidents/{incident_id}/advice", json={"body": "x"}).status_code == 403


def test_indicators_seen_in_the_incident_are_shared_with_it_and_linked(api, world):
    incident_id = file(api, world.hospital_analyst, new_indicators=[
        {"type": "ipv4-addr", "value": "203.0.113.200"}, {"type": "domain-name", "value": "Pay-Us.Example."}])
    cert = api(world.cert)
    linked = cert.get(f"/incidents/{incident_id}").json["report"]["indicators"]
    assert len(linked) == 2
    found = cert.get("/search?q=pay-us.example").json["results"]
    assert [r["id"] for r in found] == [i for i in linked if i in {r["id"] for r in found}] and len(found) == 1
    assert cert.get(f"/objects/{linked[0]}").json["hub"]["tlp"] == "amber"
    assert api(world.other_hospital_analyst).get(f"/objects/{linked[0]}").status_code == 404

    refused = api(world.hospital_analyst).post("/incidents", json=report(
        new_indicators=[{"type": "ipv4-addr", "value": "999.1.1.1"}, {"type": "floppy", "value": "x"}]))
    assert refused.status_code == 422
    assert {d["field"] for d in refused.json["details"]} == {"new_indicators[0].value", "new_indicators[1].type"}


def test_times_without_an_offset_are_the_organisations_local_time(api, world):
    incident_id = file(api, world.hospital_analyst, detected_at="2026-07-01T08:00:00", started_at=None,
                       attack_type="DDoS", services=["EHR", "Telephony"])
    answer = api(world.hospital_analyst).get(f"/incidents/{incident_id}").json
    assert answer["report"]["detected_at"] == "2026-07-01T06:00:00+00:00"  # Prague in summer: UTC+2
    assert answer["attack_type"] == "ddos" and answer["report"]["services"] == ["ehr", "telephony"]


def test_a_revision_cannot_stop_the_nis2_clocks(api, world):
    incident_id = file(api, world.hospital_analyst, significant=True)
    api(world.hospital_analyst).put(f"/incidents/{incident_id}", json=report(significant=False))
    answer = api(world.hospital_analyst).get(f"/incidents/{incident_id}").json
    assert answer["significant"] is True and answer["report"]["significant"] is True
    assert {c["stage"] for c in answer["nis2"]} >= {"early_warning", "notification", "final"}


def test_a_withdrawn_attribution_is_revoked_for_everyone_who_received_it(api, world):
    incident_id = file(api, world.hospital_analyst, threat_actor="LockBit")
    api(world.hospital_analyst).put(f"/incidents/{incident_id}", json=report(threat_actor=None))
    bundle = api(world.cert).get(f"/incidents/{incident_id}/stix").json
    [actor] = [o for o in bundle["objects"] if o["type"] == "threat-actor"]
    [attribution] = [o for o in bundle["objects"] if o["type"] == "relationship" and o["target_ref"] == actor["id"]]
    assert actor["revoked"] is True and attribution["revoked"] is True
    [incident] = [o for o in bundle["objects"] if o["type"] == "incident"]
    assert incident.get("revoked") is not True


def _upper_hex(stix_id: str) -> str:
    object_type, uuid_part = stix_id.split("--")
    return f"{object_type}--{uuid_part.upper()}"


def test_incident_and_indicator_ids_in_upper_case_hex_are_the_same_ids(api, world):
    """A UUID reads the same in either case (hub.db.StixId): the incident is found, and an
    indicator named in upper case is linked, as in lower case (they were a 404 and a 422)."""
    from tests.factories import indicator

    sent = indicator("198.51.100.64", object_marking_refs=["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"])
    assert api(world.other_hospital_analyst).post("/share", json={"objects": [sent], "audience": "community"}).status_code == 201
    filed = api(world.hospital_analyst).post("/incidents", json=report(indicators=[_upper_hex(sent["id"])]))
    assert filed.status_code == 201, filed.json
    assert api(world.hospital_admin).get(f"/incidents/{_upper_hex(filed.json['id'])}").status_code == 200


def test_an_update_through_an_upper_case_id_keeps_the_reports_objects(api, world):
    """The incident answers for either spelling of its id; an update through the upper-case one
    derived its objects' ids anew from it: new objects, the old ones revoked."""
    from hub.intel.models import SharedItem

    incident_id = file(api, world.hospital_analyst)
    hospital = api(world.hospital_analyst)
    updated = hospital.put(f"/incidents/{_upper_hex(incident_id)}", json=report(contained_at="2026-03-30T12:00:00+02:00"))
    assert updated.status_code == 200 and updated.json["revision"] == 2, updated.json
    assert db.session.scalars(select(SharedItem.stix_id).where(SharedItem.revoked.is_(True))).all() == []
    assert len(hospital.get(f"/objects/{incident_id}").json["hub"]["versions"]) == 2
