"""Rules 6-8 of the sharing policy over incidents, consents and cases, on every read path."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.alerts.models import Notification
from hub.audit import AuditEvent
from hub.extensions import db
from tests.alerts_support import run_fan_out, subscribe
from tests.incidents_support import build_world, report


@pytest.fixture
def world():
    return build_world()


TITLES: dict[str, str] = {}


def file(api, user, **overrides) -> str:
    body = report(**overrides)
    response = api(user).post("/incidents", json=body)
    assert response.status_code == 201, response.json
    TITLES[response.json["id"]] = body["title"]
    return response.json["id"]


def read_paths(api, user, incident_id: str) -> dict[str, bool]:
    """Whether each read path reveals the incident to `user`."""
    client = api(user)
    listed = {i["id"] for i in client.get("/incidents").json["incidents"]}
    objects = {o["id"] for o in client.get("/objects?type=incident").json["objects"]}
    searched = {r["object"]["id"] if "object" in r else r.get("id") for r in
                client.get("/search", query_string={"q": TITLES[incident_id]}).json["results"]}
    bundle = client.get(f"/incidents/{incident_id}/stix")
    return {
        "get": client.get(f"/incidents/{incident_id}").status_code == 200,
        "list": incident_id in listed,
        "objects": incident_id in objects,
        "object": client.get(f"/objects/{incident_id}").status_code == 200,
        "search": incident_id in searched,
        "stix": bundle.status_code == 200,
    }


def visible_to(api, world, incident_id) -> set[str]:
    seen = set()
    for name, user in world.everyone.items():
        paths = read_paths(api, user, incident_id)
        assert len(set(paths.values())) == 1, f"read paths disagree for {name}: {paths}"
        if paths["get"]:
            seen.add(name)
    return seen


def test_by_default_only_the_hospital_and_its_countrys_cert_read_an_incident(api, world):
    incident_id = file(api, world.hospital_analyst)
    assert visible_to(api, world, incident_id) == {"hospital-analyst", "hospital-viewer", "cert-cz"}


def test_vendors_never_read_incidents_shared_with_the_community_unless_named(api, world):
    community = file(api, world.hospital_analyst, tlp="green", audience="community")
    assert visible_to(api, world, community) == {"hospital-analyst", "hospital-viewer", "other-hospital",
                                                 "cert-cz", "cert-br"}
    named = file(api, world.hospital_analyst, title="Infusion pumps", audience={"orgs": [world.vendor.org.slug]})
    assert "vendor" in visible_to(api, world, named)


def test_clear_incidents_still_need_consent_for_law_enforcement(api, world):
    incident_id = file(api, world.hospital_analyst, tlp="clear", audience="community")
    seen = visible_to(api, world, incident_id)
    assert "police" not in seen and "other-police" not in seen and "vendor" not in seen


def test_consent_shows_one_incident_to_one_police_unit_and_revoking_hides_it_at_once(api, world):
    consented = file(api, world.hospital_analyst)
    other = file(api, world.hospital_analyst, title="Phishing wave", attack_type="phishing")
    admin = api(world.hospital_admin)
    granted = admin.post(f"/incidents/{consented}/consents", json={"org": world.police.org.slug})
    assert granted.status_code == 201
    case_id = granted.json["case"]

    assert visible_to(api, world, consented) == {"hospital-analyst", "hospital-viewer", "cert-cz", "police"}
    assert visible_to(api, world, other) == {"hospital-analyst", "hospital-viewer", "cert-cz"}
    police = api(world.police)
    assert [c["id"] for c in police.get("/cases").json["cases"]] == [case_id]
    assert police.get(f"/cases/{case_id}").status_code == 200
    assert api(world.other_police).get(f"/cases/{case_id}").status_code == 404
    assert api(world.cert).get(f"/cases/{case_id}").status_code == 404

    assert admin.delete(f"/incidents/{consented}/consents/{world.police.org.slug}").status_code == 204
    assert "police" not in visible_to(api, world, consented)
    assert police.get("/cases").json["cases"] == []
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/messages"):
        assert police.get(path).status_code == 404
    assert police.post(f"/cases/{case_id}/messages", json={"body": "still there?"}).status_code == 404
    # The hospital still sees the case and its history.
    consents = admin.get(f"/incidents/{consented}").json["consents"]
    assert [(c["org"], c["active"]) for c in consents] == [(world.police.org.slug, False)]


def test_only_the_hospitals_admin_grants_consent_and_only_to_law_enforcement(api, world):
    incident_id = file(api, world.hospital_analyst)
    police_slug = world.police.org.slug
    assert api(world.hospital_analyst).post(f"/incidents/{incident_id}/consents", json={"org": police_slug}).status_code == 403
    assert api(world.cert).post(f"/incidents/{incident_id}/consents", json={"org": police_slug}).status_code == 404
    refused = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents", json={"org": world.vendor.org.slug})
    assert refused.status_code == 422 and refused.json["details"][0]["field"] == "org"
    assert api(world.police).get("/cases").json["cases"] == []


def test_every_view_by_law_enforcement_is_in_the_hospitals_audit_log(api, world):
    incident_id = file(api, world.hospital_analyst)
    case_id = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                             json={"org": world.police.org.slug}).json["case"]
    police = api(world.police)
    police.get(f"/incidents/{incident_id}")
    police.get(f"/cases/{case_id}")
    police.get(f"/incidents/{incident_id}/stix")

    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.actor_org_id == world.police.org_id, AuditEvent.subject_org_id == world.hospital.id)).all()
    actions = [e.action for e in events]
    assert actions.count("incident_read") == 2 and actions.count("case_read") == 1


def test_case_status_moves_only_forward_and_only_by_the_police(api, world):
    incident_id = file(api, world.hospital_analyst)
    case_id = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                             json={"org": world.police.org.slug}).json["case"]
    police = api(world.police)
    assert police.post(f"/cases/{case_id}/status", json={"status": "closed"}).status_code == 422
    assert api(world.hospital_admin).post(f"/cases/{case_id}/status", json={"status": "under_review"}).status_code == 403
    for status in ("under_review", "investigation_opened", "closed"):
        moved = police.post(f"/cases/{case_id}/status", json={"status": status})
        assert moved.status_code == 200 and moved.json["status"] == status
    assert api(world.hospital_admin).get(f"/cases/{case_id}").json["status"] == "closed"


def test_the_hospital_and_the_liaison_exchange_messages_on_the_case(api, world):
    incident_id = file(api, world.hospital_analyst)
    case_id = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                             json={"org": world.police.org.slug}).json["case"]
    police, hospital = api(world.police), api(world.hospital_analyst)
    asked = police.post(f"/cases/{case_id}/messages", json={"body": "Please send the ransom note.", "kind": "info_request"})
    assert asked.status_code == 201
    assert hospital.post(f"/cases/{case_id}/messages", json={"body": "x", "kind": "info_request"}).status_code == 422
    flagged = hospital.post(f"/cases/{case_id}/messages", json={"body": "Ask nurse jana.novakova@fn.example"})
    assert flagged.status_code == 422 and flagged.json["details"][0]["kind"] == "personal_email"
    assert hospital.post(f"/cases/{case_id}/messages", json={"body": "Attached to the case as evidence."}).status_code == 201

    thread = [(m["kind"], m["org"]) for m in hospital.get(f"/cases/{case_id}/messages").json["messages"]]
    assert thread == [("info_request", world.police.org.slug), ("message", world.hospital.slug)]
    assert [m["body"] for m in police.get(f"/cases/{case_id}/messages").json["messages"]][-1] == \
        "Attached to the case as evidence."


def test_alerts_about_an_incident_reach_only_who_may_read_it(api, world):
    for user in world.everyone.values():
        subscribe(user)  # in-app, everything the user may read
    incident_id = file(api, world.hospital_analyst)
    run_fan_out()

    def alerted() -> set[str]:
        ids = {user.id: name for name, user in world.everyone.items()}
        return {ids[n.user_id] for n in db.session.scalars(select(Notification)) if n.user_id in ids}

    assert alerted() == {"hospital-viewer", "cert-cz"} | ({"hospital-analyst"} & alerted())
    assert "police" not in alerted() and "vendor" not in alerted()

    api(world.hospital_admin).post(f"/incidents/{incident_id}/consents", json={"org": world.police.org.slug})
    run_fan_out()
    assert "police" in alerted() and "other-police" not in alerted()


def test_taxii_feeds_follow_consent_too(api, taxii, world):
    incident_id = file(api, world.hospital_analyst)

    def in_feed(user) -> bool:
        client = taxii(user)
        answer = client.get(client.objects_path("everything"))
        return incident_id in {o["id"] for o in (answer.json or {}).get("objects", [])}

    assert in_feed(world.cert) and not in_feed(world.police) and not in_feed(world.vendor)
    api(world.hospital_admin).post(f"/incidents/{incident_id}/consents", json={"org": world.police.org.slug})
    assert in_feed(world.police) and not in_feed(world.other_police)
    api(world.hospital_admin).delete(f"/incidents/{incident_id}/consents/{world.police.org.slug}")
    assert not in_feed(world.police)


def test_links_to_indicators_a_reader_may_not_read_are_absent_from_every_revision_and_snapshot(api, world):
    from tests import factories as f

    own_only = f.share(world.hospital_analyst, [f.indicator("203.0.113.10")], tlp="green", audience="own")
    incident_id = file(api, world.hospital_analyst, indicators=[own_only.stix_id], significant=True)
    submission = api(world.hospital_analyst).post(f"/incidents/{incident_id}/nis2/early_warning").json["id"]
    cert = api(world.cert)
    assert cert.get(f"/incidents/{incident_id}").json["report"]["indicators"] == []
    assert cert.get(f"/incidents/{incident_id}/revisions/1").json["report"]["indicators"] == []
    snapshot = cert.get(f"/incidents/{incident_id}/nis2/submissions/{submission}").json
    assert snapshot["report"]["indicators"] == []
    assert api(world.hospital_admin).get(f"/incidents/{incident_id}/revisions/1").json["report"]["indicators"] == [
        own_only.stix_id]


def test_lists_of_incidents_read_by_others_are_audited_for_the_owner(api, world):
    incident_id = file(api, world.hospital_analyst, tlp="green", audience="community")
    api(world.other_hospital_analyst).get("/incidents")
    api(world.other_hospital_analyst).get("/objects?type=incident")
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action.in_(("incident_read", "read")), AuditEvent.subject_org_id == world.hospital.id)).all()
    assert {(e.action, e.stix_id) for e in events} == {("incident_read", incident_id), ("read", incident_id)}


def test_reading_incidents_through_taxii_is_audited_for_the_owner(api, taxii, world):
    incident_id = file(api, world.hospital_analyst, tlp="green", audience="community")
    client = taxii(world.other_hospital_analyst)
    served = client.get(client.objects_path("community"))
    assert served.status_code == 200 and incident_id in {o["id"] for o in served.json["objects"]}
    reads = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "read", AuditEvent.stix_id == incident_id)).all()
    assert [(e.actor_org_id, e.subject_org_id) for e in reads] == [(world.other_hospital_analyst.org_id, world.hospital.id)]


def test_case_activity_rings_the_other_sides_bell_and_goes_quiet_when_consent_ends(api, world):
    incident_id = file(api, world.hospital_analyst)
    admin, police, hospital = api(world.hospital_admin), api(world.police), api(world.hospital_analyst)
    case_id = admin.post(f"/incidents/{incident_id}/consents", json={"org": world.police.org.slug}).json["case"]
    assert [n["event"] for n in police.get("/notifications").json["notifications"]] == ["case_opened"]
    assert police.get(f"/incidents/{incident_id}").json["case"] == case_id

    police.post(f"/cases/{case_id}/messages", json={"body": "Send the logs, please.", "kind": "info_request"})
    police.post(f"/cases/{case_id}/status", json={"status": "under_review"})
    assert sorted(n["event"] for n in hospital.get("/notifications").json["notifications"]) == [
        "case_message", "case_status"]
    hospital.post(f"/cases/{case_id}/messages", json={"body": "Uploaded to the case."})
    assert sorted(n["event"] for n in police.get("/notifications").json["notifications"]) == [
        "case_message", "case_opened"]
    assert api(world.other_police).get("/notifications").json["notifications"] == []

    admin.delete(f"/incidents/{incident_id}/consents/{world.police.org.slug}")
    assert police.get("/notifications").json["notifications"] == []


def test_a_cert_viewer_reads_the_incident_but_neither_sets_a_deadline_nor_advises(make, api):
    """Viewers read, nothing else: the CERT's viewer cannot act on a hospital's incident."""
    from tests.incidents_support import report

    hospital = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    filed = api(make.make_user(hospital)).post("/incidents", json=report())
    assert filed.status_code == 201, filed.json
    incident_id = filed.json["id"]
    viewer = api(make.make_user(cert, "viewer"))
    assert viewer.get(f"/incidents/{incident_id}").status_code == 200
    assert viewer.post(f"/incidents/{incident_id}/nis2/intermediate-request",
                       json={"due_at": "2030-01-01T00:00:00Z"}).status_code == 403
    assert viewer.post(f"/incidents/{incident_id}/advice", json={"body": "call the police"}).status_code == 403
    analyst = api(make.make_user(cert, "analyst"))
    refused = analyst.post(f"/incidents/{incident_id}/advice", json={"body": "   "})
    assert refused.status_code == 422 and refused.json["details"][0]["field"] == "body"


def test_indicators_first_seen_in_an_incident_follow_the_incident_rules(make, api, client, app, monkeypatch):
    """Rule 6 covers the indicators filed with the report: no vendor or police unit without
    consent reads them, the public view never serves them, and they do not quote the report."""
    from tests.incidents_support import report

    monkeypatch.setitem(app.config, "HUB_PUBLIC_CLEAR", True)
    hospital = make.make_org("hospital", "CZ")
    sharer = make.make_user(hospital)
    filed = api(sharer).post("/incidents", json=report(
        tlp="clear", audience="community", new_indicators=[{"type": "ipv4-addr", "value": "203.0.113.99"}]))
    assert filed.status_code == 201, filed.json
    indicator_ids = [o["id"] for o in api(sharer).get("/objects?type=indicator").json["objects"]]
    assert len(indicator_ids) == 1
    new_indicator = indicator_ids[0]
    assert "Ransomware" not in str(api(sharer).get(f"/objects/{new_indicator}").json["object"].get("description"))

    cert = api(make.make_user(make.make_org("national_cert", "CZ")))
    assert cert.get(f"/objects/{new_indicator}").status_code == 200
    for outsider in (make.make_org("vendor", "CZ"), make.make_org("law_enforcement", "CZ")):
        reader = api(make.make_user(outsider))
        assert reader.get(f"/objects/{new_indicator}").status_code == 404
        assert new_indicator not in {o["id"] for o in reader.get("/objects").json["objects"]}
    assert client.get(f"/api/v1/public/objects/{new_indicator}").status_code == 404
