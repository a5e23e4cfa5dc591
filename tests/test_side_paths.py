"""Rules 7, 8 and 10 on the side paths: counts, bells, delivery totals, failed forms, queues,
error messages and re-sharing never reveal or hide what the policy says."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.audit import AuditEvent
from hub.extensions import db
from hub.tlp import TLP
from tests import factories as f
from tests.alerts_support import run_fan_out, subscribe
from tests.incidents_support import build_world, report


@pytest.fixture
def world():
    return build_world()


def file(api, user, **overrides) -> str:
    response = api(user).post("/incidents", json=report(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def audit_actions(**where) -> list[tuple[str, str | None]]:
    query = select(AuditEvent)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    return [(event.action, event.stix_id) for event in db.session.scalars(query.order_by(AuditEvent.id))]


def consent(api, world, incident_id) -> str:
    answer = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents", json={"org": world.police.org.slug})
    assert answer.status_code in (200, 201), answer.json
    return answer.json["case"]


def revoke_consent(api, world, incident_id) -> None:
    assert api(world.hospital_admin).delete(f"/incidents/{incident_id}/consents/{world.police.org.slug}").status_code \
        in (200, 204)


def test_mark_all_read_counts_only_notifications_the_user_may_still_read(api, world):
    incident_id = file(api, world.hospital_analyst)
    consent(api, world, incident_id)
    police = api(world.police)
    assert police.get("/notifications/unread-count").json["unread"] == 1
    revoke_consent(api, world, incident_id)
    assert police.get("/notifications/unread-count").json["unread"] == 0
    assert police.post("/notifications/read-all").json["marked"] == 0


def test_case_messages_do_not_ring_the_liaison_after_consent_is_revoked(api, world):
    incident_id = file(api, world.hospital_analyst)
    case_id = consent(api, world, incident_id)
    revoke_consent(api, world, incident_id)
    assert api(world.hospital_analyst).post(f"/cases/{case_id}/messages",
                                            json={"body": "We found more."}).status_code == 201
    consent(api, world, incident_id)  # consent again: nothing said meanwhile may surface
    events = [n["event"] for n in api(world.police).get("/notifications").json["notifications"]]
    assert "case_message" not in events and events.count("case_opened") == 2


def test_subscription_delivery_totals_count_only_items_the_viewer_may_read(api, world):
    subscription = subscribe(world.police, channel="email", target="liaison@police.eu")
    incident_id = file(api, world.hospital_analyst)
    consent(api, world, incident_id)
    run_fan_out()
    police = api(world.police)
    assert sum(police.get(f"/subscriptions/{subscription.id}").json["deliveries"].values()) >= 1
    revoke_consent(api, world, incident_id)
    assert police.get(f"/subscriptions/{subscription.id}").json["deliveries"] == {}
    [listed] = police.get("/subscriptions").json["subscriptions"]
    assert listed["deliveries"] == {}


def test_a_failed_revoke_form_shows_nothing_to_a_reader_who_may_not_revoke(web, make):
    owner, reader_org = make.make_org("hospital"), make.make_org("hospital")
    item = f.share(make.make_user(owner), [f.indicator(name="Clinic VPN exfil")], tlp="amber",
                   audience={"orgs": [reader_org.slug]})
    browser = web(make.make_user(reader_org))
    detail = f"/items/{item.stix_id}"
    refused = browser.submit(f"{detail}/revoke", {"reason": "x" * 600}, form_page=detail)
    assert refused.status_code == 403 and "Clinic VPN exfil" not in refused.get_data(as_text=True)
    # Only the detail page it opened is in the owner's audit log.
    assert audit_actions(actor_org_id=reader_org.id, action="read") == [("read", item.stix_id)]


def test_a_failed_revoke_form_by_the_owner_still_renders_the_item(web, make):
    owner = make.make_org("hospital")
    analyst = make.make_user(owner)
    item = f.share(analyst, [f.indicator(name="Own item")], tlp="amber", audience="own")
    browser = web(analyst)
    detail = f"/items/{item.stix_id}"
    refused = browser.submit(f"{detail}/revoke", {"reason": "x" * 600}, form_page=detail)
    assert refused.status_code == 422 and "Own item" in refused.get_data(as_text=True)


def test_the_nis2_queue_and_the_dashboard_are_in_the_hospitals_audit_log(api, world):
    others = [f.make_user(f.make_org("hospital", "CZ")) for _ in range(2)]
    incident_id = file(api, world.hospital_analyst, significant=True)
    for analyst in others:
        file(api, analyst)
    cert = api(world.cert)
    assert [row["id"] for row in cert.get("/nis2/queue").json["incidents"]] == [incident_id]
    assert audit_actions(actor_org_id=world.cert.org_id, subject_org_id=world.hospital.id) == [
        ("incident_read", incident_id)]
    assert cert.get("/dashboard").json["incidents"] == 3
    assert audit_actions(actor_org_id=world.cert.org_id, subject_org_id=world.hospital.id) == [
        ("incident_read", incident_id)] * 2


def test_a_new_version_of_an_unreadable_item_is_refused_without_naming_its_tlp(api, make):
    org = make.make_org("hospital")
    author, colleague = make.make_user(org), make.make_user(org)
    secret = f.indicator(name="Red one")
    shared = api(author).post("/share", json={"objects": [secret], "tlp": "red",
                                              "audience": {"users": [author.email]}})
    assert shared.status_code == 201, shared.json
    newer = {**secret, "modified": "2026-11-02T10:00:00.000Z"}
    answers = [api(colleague).post("/share", json={"objects": [newer], **spec}) for spec in (
        {"tlp": "amber", "audience": "own"}, {"tlp": "red", "audience": {"users": [colleague.email]}})]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json == answers[1].json
    assert "TLP:RED" not in str(answers[0].json) and "revoked" not in str(answers[0].json)
    assert api(colleague).get(f"/objects/{secret['id']}").status_code == 404


def test_re_sharing_to_more_recipients_is_a_widening_for_subscribers_and_the_audit_log(api, make):
    owner, first, later = make.make_org("hospital"), make.make_org("hospital"), make.make_org("hospital")
    sharer, newcomer = make.make_user(owner), make.make_user(later)
    subscribe(newcomer, filters={"events": ["widened"]})
    obj = f.indicator(name="Re-shared")
    assert api(sharer).post("/share", json={"objects": [obj], "tlp": "green",
                                            "audience": {"orgs": [first.slug]}}).status_code == 201
    run_fan_out()
    wider = {**obj, "modified": "2026-11-02T10:00:00.000Z"}
    assert api(sharer).post("/share", json={"objects": [wider], "tlp": "green",
                                            "audience": {"orgs": [first.slug, later.slug]}}).status_code == 201
    run_fan_out()
    # Told first that the item now reaches them (then, as one who knows it, of the new version).
    assert [n["event"] for n in api(newcomer).get("/notifications").json["notifications"]][-1] == "widened"
    assert [a for a, _ in audit_actions(actor_org_id=owner.id) if a in ("share", "update", "widen")] == [
        "share", "widen", "update"]


def test_re_sharing_the_same_version_to_more_recipients_reaches_them_as_a_widening(api, make):
    owner, first, later = make.make_org("hospital"), make.make_org("hospital"), make.make_org("hospital")
    sharer, newcomer = make.make_user(owner), make.make_user(later)
    subscribe(newcomer, filters={"events": ["widened"]})
    obj = f.indicator(name="Posted twice")
    for orgs in ([first.slug], [first.slug, later.slug]):
        assert api(sharer).post("/share", json={"objects": [obj], "tlp": "green",
                                                "audience": {"orgs": orgs}}).status_code == 201
    run_fan_out()
    assert api(newcomer).get(f"/objects/{obj['id']}").status_code == 200
    assert [n["event"] for n in api(newcomer).get("/notifications").json["notifications"]] == ["widened"]
    assert [a for a, _ in audit_actions(actor_org_id=owner.id) if a in ("share", "update", "widen")] == [
        "share", "widen"]


def test_posting_an_object_again_to_a_wider_taxii_collection_is_a_widening(taxii, member_of, make):
    owner, other = make.make_org("hospital"), make.make_org("hospital")
    sharer, reader = taxii(member_of(owner)), taxii(member_of(other))
    obj = f.indicator(object_marking_refs=[TLP.green.marking_id])
    for alias in (f"org-{owner.slug}", "community"):
        status = sharer.post(sharer.objects_path(alias), {"objects": [obj]}).json
        assert status["success_count"] == 1, status
    assert reader.get(reader.objects_path("community") + f"{obj['id']}/").status_code == 200
    assert ("widen", obj["id"]) in audit_actions(actor_org_id=owner.id)
