"""Alerts where they belong: built-in alerts per kind of organisation, one alert per sharing act,
never an alert about one's own act, and alerts in words.

Nobody here subscribes unless the test says so: the built-in alerts alone must tell the
national CERT about a hospital's significant incident and the hospital about the CERT's advice.
"""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from hub.alerts import delivery as deliveries
from hub.alerts import services
from hub.alerts.content import alert_content, sighted_items, webhook_body
from hub.alerts.models import Delivery, Notification
from hub.extensions import db
from hub.incidents.models import IncidentAdvice
from hub.intel.manage import revoke
from hub.intel.models import SharedItem
from hub.outbox import OutboxEntry, continue_act
from hub.principal import Principal
from tests import factories as f
from tests.alerts_support import cheap_password_hashing, run_fan_out, subscribe
from tests.incidents_support import build_world, report


@pytest.fixture(autouse=True)
def _fast_users(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def world():
    return build_world()


def alerts_of(user) -> list[dict]:
    """What the user's alert list shows (API shape), newest first."""
    principal = Principal.of(user)
    page = services.list_notifications(principal)
    return [services.describe_notification(v) for v in services.notification_views(principal, page.rows)]


def titles(user) -> list[str]:
    return [alert["title"] for alert in alerts_of(user)]


def file_report(api, user, **overrides) -> str:
    filed = api(user).post("/incidents", json=report(**overrides))
    assert filed.status_code == 201, filed.json
    return filed.json["id"]


def incident_item(stix_id: str) -> SharedItem:
    return db.session.scalar(select(SharedItem).where(SharedItem.stix_id == stix_id))


# --- Built-in alerts per kind of organisation ------------------------------------------------

def test_each_kind_of_organisation_has_its_own_built_in_alerts(world):
    def keys(user):
        return {alert.key for alert in services.default_alerts(Principal.of(user)) if alert.on}

    assert keys(world.hospital_analyst) == {"advice_on_own_incidents", "sightings_of_own_items", "advisories"}
    assert keys(world.cert) == {"cert_incident_reports", "sightings_of_own_items"}
    assert keys(world.vendor) == {"incidents_shared_with_you", "sightings_of_own_items"}
    assert keys(world.police) == {"sightings_of_own_items"}


def test_the_national_cert_of_the_country_is_alerted_when_a_hospital_files_a_significant_incident(world, api):
    stix_id = file_report(api, world.hospital_analyst, significant=True)
    run_fan_out()
    hospital = world.hospital.name
    [alert] = alerts_of(world.cert)
    assert alert["event"] == "incident_significant" and alert["object_id"] == stix_id
    assert alert["title"].startswith(f"Significant incident “Ransomware encrypted the EHR” reported by {hospital}")
    # Nobody else hears of it by default: not a foreign CERT, not another hospital, not the police.
    for user in (world.foreign_cert, world.other_hospital_analyst, world.police, world.vendor):
        assert alerts_of(user) == []


def test_a_hospital_that_files_an_ordinary_incident_alerts_nobody_by_default(world, api):
    file_report(api, world.hospital_analyst)
    run_fan_out()
    assert alerts_of(world.cert) == []


def test_nis2_submissions_alert_the_national_cert_in_words(world, api):
    stix_id = file_report(api, world.hospital_analyst)
    run_fan_out()
    hospital = api(world.hospital_analyst)
    assert hospital.post(f"/incidents/{stix_id}/significant").status_code == 200
    run_fan_out()
    assert hospital.post(f"/incidents/{stix_id}/nis2/early_warning").status_code == 201
    run_fan_out()
    assert hospital.post(f"/incidents/{stix_id}/nis2/notification").status_code == 201
    assert hospital.post(f"/incidents/{stix_id}/nis2/final").status_code == 201
    run_fan_out()
    name = world.hospital.name
    assert titles(world.cert) == [
        f"Final report submitted for incident “Ransomware encrypted the EHR” by {name}",
        f"Incident notification submitted for incident “Ransomware encrypted the EHR” by {name}",
        f"Early warning submitted for incident “Ransomware encrypted the EHR” by {name}",
        f"Significant incident “Ransomware encrypted the EHR” reported by {name}",
    ]
    assert alerts_of(world.foreign_cert) == []
    # The hospital's own team is told nothing of what it did itself.
    assert alerts_of(world.hospital_analyst) == []


def test_the_hospital_team_is_alerted_when_the_cert_gives_advice(world, api):
    stix_id = file_report(api, world.hospital_analyst, significant=True)
    run_fan_out()
    advised = api(world.cert).post(f"/incidents/{stix_id}/advice", json={"body": "Report it to the police."})
    assert advised.status_code == 201
    run_fan_out()
    cert_name = world.cert.org.name
    expected = f"Advice on incident “Ransomware encrypted the EHR” by {cert_name}"
    assert titles(world.hospital_analyst) == [expected]
    assert titles(world.hospital_admin) == [expected]
    assert titles(world.hospital_viewer) == []  # built-in alerts go to the team that acts
    # The CERT analyst who advised is not told about their own advice.
    assert [a["event"] for a in alerts_of(world.cert)] == ["incident_significant"]


@pytest.mark.parametrize("body", ["", "   ", "\n\t "])
def test_empty_advice_is_refused_on_the_api_and_writes_nothing(world, api, body):
    stix_id = file_report(api, world.hospital_analyst, significant=True)
    refused = api(world.cert).post(f"/incidents/{stix_id}/advice", json={"body": body})
    assert refused.status_code == 422
    assert refused.json["details"][0]["field"] == "body"
    assert db.session.scalar(select(func.count(IncidentAdvice.id))) == 0
    assert db.session.scalar(select(func.count(OutboxEntry.id)).where(OutboxEntry.event == "advice_given")) == 0


def test_empty_advice_is_refused_on_the_web_page_beside_the_field(world, api, web):
    stix_id = file_report(api, world.hospital_analyst, significant=True)
    browser = web(world.cert)
    refused = browser.submit(f"/incidents/{stix_id}/advice", {"body": "  "}, form_page=f"/incidents/{stix_id}")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="advice-body-error"' in page and "the advice itself" in page
    assert db.session.scalar(select(func.count(IncidentAdvice.id))) == 0


def test_a_user_can_turn_a_built_in_alert_off_for_themselves_only(world, api, web):
    colleague = f.make_user(world.cert.org, "analyst")
    browser = web(world.cert)
    page = browser.get("/alerts/subscriptions").get_data(as_text=True)
    assert "Significant incidents and NIS2 reports" in page
    turned = browser.submit("/alerts/subscriptions/built-in/cert_incident_reports", {"on": "0"},
                            form_page="/alerts/subscriptions")
    assert turned.status_code == 302
    assert not {a.key: a.on for a in services.default_alerts(Principal.of(world.cert))}["cert_incident_reports"]

    file_report(api, world.hospital_analyst, significant=True)
    run_fan_out()
    assert alerts_of(world.cert) == []
    assert len(alerts_of(colleague)) == 1


def test_an_unknown_built_in_alert_is_refused_with_the_field_named(world):
    with pytest.raises(Exception) as refused:
        services.set_default_alert(Principal.of(world.police), "advisories", False)
    assert refused.value.details[0]["field"] == "rule"


def test_the_owner_of_a_sighted_item_is_alerted_by_default_and_the_sighter_is_not(api):
    owner_org = f.make_org("hospital", "CZ")
    owner, sighter = f.make_user(owner_org), f.make_user(f.make_org("hospital", "CZ"))
    item = f.share(owner, [f.indicator("evil.example", "domain-name", name="Phishing domain")], tlp="green")
    run_fan_out()
    assert api(sighter).post(f"/objects/{item.stix_id}/sightings", json={}).status_code == 201
    run_fan_out()
    [alert] = alerts_of(owner)
    assert alert["event"] == "sighted"
    assert alert["title"] == f"Sighting recorded by {sighter.org.name}: indicator “Phishing domain”"
    assert alerts_of(sighter) == []


def test_an_anonymous_sighting_never_names_who_sighted(api):
    owner, sighter = f.make_user(f.make_org("hospital", "CZ")), f.make_user(f.make_org("hospital", "CZ"))
    item = f.share(owner, [f.indicator("evil.example", "domain-name")], tlp="green")
    assert api(sighter).post(f"/objects/{item.stix_id}/sightings", json={"anonymous": True}).status_code == 201
    run_fan_out()
    [title] = titles(owner)
    assert sighter.org.name not in title and title.startswith("Sighting recorded: ")


# --- One alert per sharing act ---------------------------------------------------------------

def test_an_incident_report_is_one_alert_per_recipient_naming_its_related_objects(world, api, smtp):
    subscribe(world.cert, channel="email", target="soc@cert.example")
    subscribe(world.other_hospital_analyst)  # a catch-all subscriber elsewhere: amber, not readable
    stix_id = file_report(api, world.hospital_analyst, significant=True,
                          new_indicators=[{"type": "domain-name", "value": "c2.example"},
                                          {"type": "ipv4-addr", "value": "203.0.113.9"}])
    run_fan_out()
    objects = db.session.scalar(select(func.count(SharedItem.id)).where(SharedItem.stix_type != "identity"))
    assert objects >= 5  # the incident, the actor, its relationships and the two indicators
    shown = alerts_of(world.cert)
    assert len(shown) == 1
    [alert] = shown
    assert alert["object_id"] == stix_id
    assert alert["related_objects"] == objects - 1
    assert alert["title"].endswith(f"(and {objects - 1} related objects)")
    # Every object was recorded for the CERT (its updates reach it), one shown.
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == world.cert.id)) >= objects
    assert alerts_of(world.other_hospital_analyst) == []

    ids = list(db.session.scalars(select(Delivery.id).where(Delivery.status == "pending")))
    assert len(ids) == 1
    db.session.rollback()
    deliveries.deliver(ids)
    [(recipients, message)] = smtp.messages
    assert recipients == ["soc@cert.example"]
    assert "Ransomware encrypted the EHR" in message["Subject"]
    assert message["Subject"].endswith(f"(and {objects - 1} related objects)")


def test_a_bundle_share_is_one_alert_and_counts_only_what_the_recipient_may_read():
    sharer_org = f.make_org("hospital", "CZ")
    sharer = f.make_user(sharer_org)
    partner_org = f.make_org("hospital", "CZ")
    partner, stranger = f.make_user(partner_org), f.make_user(f.make_org("hospital", "CZ"))
    subscribe(partner)
    subscribe(stranger)
    # An amber indicator only the partner may read; then a community bundle of a malware and a
    # relationship to that indicator: the stranger may not read the relationship (rule 7).
    secret = f.share(sharer, [f.indicator("10.9.8.7", name="Partner-only beacon")], tlp="amber",
                     audience={"orgs": [partner_org.slug]})
    run_fan_out()
    malware = {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
               "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
               "name": "PumpLocker", "is_family": True}
    relationship = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
                    "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
                    "relationship_type": "indicates", "source_ref": secret.stix_id, "target_ref": malware["id"]}
    f.share(sharer, [malware, relationship], tlp="green", audience="community")
    run_fan_out()

    [partner_alert, _secret_alert] = alerts_of(partner)
    assert partner_alert["title"] == f"Malware “PumpLocker” shared by {sharer_org.name} (and 1 related object)"
    [stranger_alert] = alerts_of(stranger)
    assert stranger_alert["title"] == f"Malware “PumpLocker” shared by {sharer_org.name}"
    assert stranger_alert["related_objects"] == 0
    # The relationship the stranger may not read left no trace for them at all.
    rel_item = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == relationship["id"]))
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == stranger.id, Notification.item_id == rel_item.id)) == 0


def test_an_update_of_a_coalesced_object_still_reaches_who_heard_of_it():
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    reader = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(reader, filters={"events": ["shared"]})
    first, second = f.indicator("198.51.100.21"), f.indicator("198.51.100.22")
    f.share(sharer, [first, second], tlp="green")
    run_fan_out()
    assert len(alerts_of(reader)) == 1
    revoke(Principal.of(sharer), second["id"])
    run_fan_out()
    events = [a["event"] for a in alerts_of(reader)]
    assert events == ["revoked", "shared"]


def test_who_heard_of_an_advisory_by_a_built_in_alert_hears_of_its_update_and_its_revocation():
    """Follow-ups go to those who heard of the item (hub.outbox.FOLLOW_UP_EVENTS), whether a
    subscription or a built-in alert told them: nobody here subscribes to anything."""
    vendor = f.make_user(f.make_org("vendor", "CZ"))
    hospital = f.make_org("hospital", "CZ")
    analyst, muted = f.make_user(hospital), f.make_user(hospital)
    services.set_default_alert(Principal.of(muted), "advisories", False)
    advisory = {"type": "vulnerability", "spec_version": "2.1", "id": f"vulnerability--{uuid.uuid4()}",
                "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
                "name": "CVE-2026-4242", "description": "InfuSafe gateway: unauthenticated firmware upload"}
    f.share(vendor, [advisory], tlp="green")
    run_fan_out()
    latecomer = f.make_user(hospital)  # joined after the alert: heard of nothing
    assert [a["event"] for a in alerts_of(analyst)] == ["shared"]

    f.share(vendor, [{**advisory, "modified": "2026-11-02T10:00:00.000Z",
                      "description": "InfuSafe gateway: fixed in 4.2.2"}], tlp="green")
    run_fan_out()
    revoke(Principal.of(vendor), advisory["id"])
    run_fan_out()

    assert [a["event"] for a in alerts_of(analyst)] == ["revoked", "updated", "shared"]
    assert alerts_of(muted) == [] and alerts_of(latecomer) == []


# --- Never about one's own act; colleagues still hear --------------------------------------

def test_nobody_is_alerted_about_their_own_share_but_a_subscribed_colleague_is():
    org = f.make_org("hospital", "CZ")
    sharer, colleague = f.make_user(org), f.make_user(org)
    subscribe(sharer)
    subscribe(sharer, channel="email", target="me@hospital.example")
    subscribe(colleague)
    f.share(sharer, [f.indicator()], tlp="green")
    run_fan_out()
    assert alerts_of(sharer) == []
    assert len(alerts_of(colleague)) == 1
    assert db.session.scalar(select(func.count(Delivery.id))) == 0


# --- Words, not codes ------------------------------------------------------------------------

def test_the_webhook_payload_carries_a_title_beside_the_event(world, api):
    stix_id = file_report(api, world.hospital_analyst, significant=True, tlp="amber")
    item = incident_item(stix_id)
    body = webhook_body(alert_content("early_warning_sent", item, None, actor_org=world.hospital), "d-1")
    assert b'"event":"early_warning_sent"' in body
    assert ('"title":"Early warning submitted for incident \u201cRansomware encrypted the EHR\u201d by '
            + world.hospital.name + '"').encode() in body


def test_withheld_content_keeps_names_out_of_the_title(world, api):
    stix_id = file_report(api, world.hospital_analyst, significant=True, tlp="amber+strict")
    item = incident_item(stix_id)
    content = alert_content("incident_significant", item, None, actor_org=world.hospital)
    assert content.title == f"Significant incident {stix_id} reported"
    assert "Ransomware" not in content.title and world.hospital.name not in content.title


def test_the_alert_list_page_shows_sentences_not_event_codes(world, api, web):
    file_report(api, world.hospital_analyst, significant=True)
    run_fan_out()
    page = web(world.cert).get("/alerts/").get_data(as_text=True)
    assert "Significant incident “Ransomware encrypted the EHR” reported by" in page
    assert not re.search(r">\s*incident_significant\s*<", page)


def test_built_in_alerts_over_the_api_list_and_turn_off(world, api):
    cert = api(world.cert)
    listed = cert.get("/built-in-alerts")
    assert listed.status_code == 200
    assert {a["key"]: a["on"] for a in listed.json["built_in_alerts"]} == {
        "cert_incident_reports": True, "sightings_of_own_items": True}
    turned = cert.put("/built-in-alerts/cert_incident_reports", json={"on": False})
    assert turned.status_code == 200 and turned.json["on"] is False
    refused = cert.put("/built-in-alerts/advisories", json={"on": False})  # a hospital's alert
    assert refused.status_code == 422 and refused.json["details"][0]["field"] == "rule"
    assert cert.put("/built-in-alerts/cert_incident_reports", json={"on": "no"}).status_code == 422
    file_report(api, world.hospital_analyst, significant=True)
    run_fan_out()
    assert alerts_of(world.cert) == []


def test_the_hospital_is_alerted_when_the_cert_asks_for_an_intermediate_report(world, api):
    stix_id = file_report(api, world.hospital_analyst, significant=True)
    asked = api(world.cert).post(f"/incidents/{stix_id}/nis2/intermediate-request",
                                 json={"due_at": "2030-01-01T00:00:00Z"})
    assert asked.status_code == 200, asked.json
    run_fan_out()
    assert titles(world.hospital_analyst) == [
        f"Intermediate report requested for incident “Ransomware encrypted the EHR” by {world.cert.org.name}"]


def test_an_act_written_in_several_transactions_is_still_one_alert():
    """A large TAXII add is written chunk by chunk, each chunk its own transaction."""
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    reader = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(reader)
    act = uuid.uuid4().hex
    continue_act(act)
    f.share(sharer, [f.indicator("198.51.100.31")], tlp="green")
    run_fan_out()
    continue_act(act)
    f.share(sharer, [f.indicator("198.51.100.32")], tlp="green")
    run_fan_out()
    [alert] = alerts_of(reader)
    assert alert["related_objects"] == 1


def test_an_outbound_sighting_alert_never_names_a_withheld_sighted_item(api):
    org = f.make_org("hospital", "CZ")
    owner, sighter = f.make_user(org), f.make_user(org)
    item = f.share(owner, [f.indicator("evil.example", "domain-name", name="Ward 7 exfiltration host")],
                   tlp="amber+strict", audience="own")
    answered = api(sighter).post(f"/objects/{item.stix_id}/sightings", json={})
    assert answered.status_code == 201
    sighting = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == answered.json["id"]))
    seen = sighted_items([sighting.id])[sighting.id]
    assert seen.id == item.id
    outbound = alert_content("sighted", sighting, None, actor_org=org, sighted=seen)
    assert "Ward 7" not in outbound.title and item.stix_id in outbound.title
    run_fan_out()
    assert titles(owner) == [f"Sighting recorded by {org.name}: indicator “Ward 7 exfiltration host”"]
