"""Revoking and widening the audience through the API: owner only, audited, announced."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.outbox import OutboxEntry
from hub.audit import events_for_org
from hub.extensions import db
from hub.intel.models import SharedItem
from tests.factories import indicator


def outbox_events(stix_id: str) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(
        select(OutboxEntry.event).join(SharedItem, SharedItem.id == OutboxEntry.item_id)
        .where(SharedItem.stix_id == stix_id).order_by(OutboxEntry.id)
    ))


def audit_actions(org_id: int, stix_id: str) -> list[str]:
    db.session.rollback()
    return [event.action for event in reversed(events_for_org(org_id, limit=1000))
            if event.stix_id == stix_id and event.action != "read"]


@pytest.fixture
def world(make, api):
    owner_org = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    stranger_org = make.make_org("hospital", "BR")
    people = {
        "analyst": make.make_user(owner_org),
        "admin": make.make_user(owner_org, role="admin"),
        "viewer": make.make_user(owner_org, role="viewer"),
        "cert": make.make_user(cert),
        "cert_admin": make.make_user(cert, role="admin"),
        "stranger": make.make_user(stranger_org),
    }
    clients = {name: api(user) for name, user in people.items()}
    obj = indicator("203.0.113.50", description="exfiltration endpoint")
    response = clients["analyst"].post("/share", json={"objects": [obj], "tlp": "amber",
                                                       "audience": {"orgs": [cert.slug]}})
    assert response.status_code == 201
    return {"owner_org": owner_org, "cert": cert, "stranger_org": stranger_org, "people": people,
            "api": clients, "id": obj["id"]}


# --- revoke ----------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["analyst", "admin"])
def test_owner_analyst_or_admin_revokes_and_recipients_see_it_revoked(world, who):
    item_id = world["id"]
    response = world["api"][who].post(f"/objects/{item_id}/revoke", json={"reason": "false positive"})
    assert response.status_code == 200, response.json
    assert response.json["object"]["revoked"] is True
    got = world["api"]["cert"].get(f"/objects/{item_id}").json
    assert got["object"]["revoked"] is True
    assert got["hub"]["revoked"] is True
    assert len(got["hub"]["versions"]) == 2
    assert got["hub"]["versions"][1]["modified"] > got["hub"]["versions"][0]["modified"]
    assert got["object"]["description"] == "exfiltration endpoint"
    assert outbox_events(item_id) == ["shared", "revoked"]
    assert audit_actions(world["owner_org"].id, item_id) == ["share", "revoke"]
    revoke_event = [e for e in events_for_org(world["owner_org"].id) if e.action == "revoke"][0]
    assert revoke_event.actor_user_id == world["people"][who].id
    assert json.loads(revoke_event.detail)["reason"] == "false positive"


def test_revoke_without_a_body_works(world):
    response = world["api"]["analyst"].client.post(
        f"/api/v1/objects/{world['id']}/revoke", headers={"Authorization": f"Bearer {world['api']['analyst'].token}"})
    assert response.status_code == 200
    assert response.json["hub"]["revoked"] is True


def test_revoking_twice_is_harmless(world):
    item_id, owner = world["id"], world["api"]["analyst"]
    first = owner.post(f"/objects/{item_id}/revoke")
    second = owner.post(f"/objects/{item_id}/revoke")
    assert first.status_code == second.status_code == 200
    assert second.json["object"] == first.json["object"]
    assert len(owner.get(f"/objects/{item_id}").json["hub"]["versions"]) == 2
    assert outbox_events(item_id) == ["shared", "revoked"]
    assert audit_actions(world["owner_org"].id, item_id) == ["share", "revoke"]


@pytest.mark.parametrize("who, status", [
    ("cert", 403),        # may read it, is not the owner
    ("cert_admin", 403),
    ("viewer", 403),      # owner organisation, but viewers only read
    ("stranger", 404),    # may not read it: it does not exist for them
])
def test_only_the_owner_organisations_analysts_and_admins_may_revoke(world, who, status):
    response = world["api"][who].post(f"/objects/{world['id']}/revoke")
    assert response.status_code == status
    assert set(response.json) == {"error", "details"}
    assert world["api"]["cert"].get(f"/objects/{world['id']}").json["hub"]["revoked"] is False
    assert outbox_events(world["id"]) == ["shared"]
    assert audit_actions(world["owner_org"].id, world["id"]) == ["share"]


def test_not_found_looks_the_same_for_unreadable_and_absent(world):
    absent_id = "indicator--00000000-0000-4000-8000-000000000000"
    for action in ("revoke", "audience"):
        body = {"audience": "community"}
        unreadable = world["api"]["stranger"].post(f"/objects/{world['id']}/{action}", json=body)
        absent = world["api"]["stranger"].post(f"/objects/{absent_id}/{action}", json=body)
        assert unreadable.status_code == absent.status_code == 404
        # the same answer, but for the id the caller itself sent
        assert json.dumps(unreadable.json).replace(world["id"], "ID") == json.dumps(absent.json).replace(absent_id, "ID")


def test_a_revoked_item_gets_no_new_versions(world):
    owner = world["api"]["analyst"]
    owner.post(f"/objects/{world['id']}/revoke")
    current = owner.get(f"/objects/{world['id']}").json["object"]
    newer = {**current, "revoked": False, "modified": "2099-01-01T00:00:00.000Z"}
    response = owner.post("/share", json={"objects": [newer], "tlp": "amber", "audience": "own"})
    assert response.status_code == 422
    assert owner.get(f"/objects/{world['id']}").json["object"]["revoked"] is True


# --- widen -----------------------------------------------------------------------------------

def test_widening_adds_readers(world):
    item_id, owner = world["id"], world["api"]["analyst"]
    assert world["api"]["stranger"].get(f"/objects/{item_id}").status_code == 404
    response = owner.post(f"/objects/{item_id}/audience", json={"audience": {"orgs": [world["stranger_org"].slug]}})
    assert response.status_code == 200, response.json
    assert response.json["hub"]["audience"] == {"orgs": sorted([world["cert"].slug, world["stranger_org"].slug])}
    assert world["api"]["stranger"].get(f"/objects/{item_id}").status_code == 200
    assert world["api"]["cert"].get(f"/objects/{item_id}").status_code == 200
    assert outbox_events(item_id) == ["shared", "widened"]
    assert audit_actions(world["owner_org"].id, item_id) == ["share", "widen"]


def test_widening_to_a_group_and_then_community(world, make, api):
    item_id, owner = world["id"], world["api"]["analyst"]
    late = make.make_org("hospital", "BR")
    late_reader = make.make_user(late)
    make.make_group("br-health", world["owner_org"], world["stranger_org"])
    assert owner.post(f"/objects/{item_id}/audience", json={"audience": {"groups": ["br-health"]}}).status_code == 200
    assert world["api"]["stranger"].get(f"/objects/{item_id}").status_code == 200
    late_api = api(late_reader)
    assert late_api.get(f"/objects/{item_id}").status_code == 404
    widened = owner.post(f"/objects/{item_id}/audience", json={"audience": "community"})
    assert widened.json["hub"]["audience"] == "community"
    assert late_api.get(f"/objects/{item_id}").status_code == 200
    assert outbox_events(item_id) == ["shared", "widened", "widened"]


@pytest.mark.parametrize("narrower_kind", ["own", "orgs", "users"])
def test_widening_never_narrows(world, narrower_kind):
    item_id, owner = world["id"], world["api"]["analyst"]
    narrower = {"own": "own", "orgs": {"orgs": [world["owner_org"].slug]},
                "users": {"users": [world["people"]["admin"].email]}}[narrower_kind]
    response = owner.post(f"/objects/{item_id}/audience", json={"audience": narrower})
    assert response.status_code == 200
    assert world["api"]["cert"].get(f"/objects/{item_id}").status_code == 200
    assert world["cert"].slug in json.dumps(response.json["hub"]["audience"])


def test_widening_to_who_already_reads_it_records_nothing(world):
    item_id = world["id"]
    response = world["api"]["analyst"].post(f"/objects/{item_id}/audience",
                                            json={"audience": {"orgs": [world["cert"].slug]}})
    assert response.status_code == 200
    assert outbox_events(item_id) == ["shared"]
    assert audit_actions(world["owner_org"].id, item_id) == ["share"]


@pytest.mark.parametrize("who, status", [("cert", 403), ("viewer", 403), ("stranger", 404)])
def test_only_the_owner_may_widen(world, who, status):
    response = world["api"][who].post(f"/objects/{world['id']}/audience",
                                      json={"audience": {"orgs": [world["stranger_org"].slug]}})
    assert response.status_code == status
    assert world["api"]["stranger"].get(f"/objects/{world['id']}").status_code == 404
    assert outbox_events(world["id"]) == ["shared"]


def test_red_can_only_be_widened_to_named_users(world):
    owner = world["api"]["analyst"]
    red = indicator("203.0.113.66")
    response = owner.post("/share", json={"objects": [red], "tlp": "red",
                                          "audience": {"users": [world["people"]["cert"].email]}})
    assert response.status_code == 201
    for audience in ("community", {"orgs": [world["stranger_org"].slug]}):
        refused = owner.post(f"/objects/{red['id']}/audience", json={"audience": audience})
        assert refused.status_code == 422
        assert refused.json["details"][0]["field"] == "audience"
    assert world["api"]["stranger"].get(f"/objects/{red['id']}").status_code == 404
    assert world["api"]["cert_admin"].get(f"/objects/{red['id']}").status_code == 404

    added = owner.post(f"/objects/{red['id']}/audience",
                       json={"audience": {"users": [world["people"]["stranger"].email]}})
    assert added.status_code == 200
    assert world["api"]["stranger"].get(f"/objects/{red['id']}").status_code == 200
    assert world["api"]["cert_admin"].get(f"/objects/{red['id']}").status_code == 404  # colleagues stay out
    assert outbox_events(red["id"]) == ["shared", "widened"]
    assert audit_actions(world["owner_org"].id, red["id"]) == ["share", "widen"]
