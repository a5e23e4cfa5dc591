"""POST /api/v1/objects/<stix-id>/sightings (issue 14): "we saw this too" as a STIX 2.1 sighting."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.alerts.models import Notification
from hub.extensions import db
from hub.intel.models import SharedItem
from hub.outbox import OutboxEntry
from hub.tlp import TLP
from tests.alerts_support import run_fan_out, subscribe


@pytest.fixture
def world(make, api):
    owner_org = make.make_org("hospital", "CZ")
    sighter_org = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    foreign_cert = make.make_org("national_cert", "DE")
    outsider_org = make.make_org("hospital", "CZ")
    users = {
        "owner": make.make_user(owner_org),
        "sighter": make.make_user(sighter_org),
        "viewer": make.make_user(sighter_org, role="viewer"),
        "cert": make.make_user(cert),
        "foreign_cert": make.make_user(foreign_cert),
        "outsider": make.make_user(outsider_org),
    }
    return {"orgs": {"owner": owner_org, "sighter": sighter_org, "cert": cert,
                     "foreign_cert": foreign_cert, "outsider": outsider_org},
            "users": users, "api": {name: api(user) for name, user in users.items()}}


def _share_indicator(world, tlp="amber", anonymous=False, audience=None):
    orgs = world["orgs"]
    audience = audience or {"orgs": [orgs["sighter"].slug, orgs["cert"].slug, orgs["foreign_cert"].slug]}
    from tests.factories import share
    return share(world["users"]["owner"], tlp=tlp, audience=audience, anonymous=anonymous)


def _counts():
    return (db.session.scalar(select(func.count(SharedItem.id))),
            db.session.scalar(select(func.count(OutboxEntry.id))))


def test_sighting_is_shared_and_read_by_owner_and_national_cert(world):
    item = _share_indicator(world)
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={
        "count": 3, "first_seen": "2026-11-02T08:00:00Z", "last_seen": "2026-11-02T09:30:00Z",
        "note": "Blocked at our proxy",
    })
    assert response.status_code == 201, response.json
    sighting_id = response.json["id"]
    assert sighting_id.startswith("sighting--")

    identity = world["orgs"]["sighter"].identity_id
    for reader in ("owner", "cert", "sighter"):
        got = world["api"][reader].get(f"/objects/{sighting_id}")
        assert got.status_code == 200, (reader, got.json)
        obj = got.json["object"]
        assert obj["type"] == "sighting"
        assert obj["sighting_of_ref"] == item.stix_id
        assert obj["count"] == 3
        assert obj["first_seen"].startswith("2026-11-02T08:00:00")
        assert obj["last_seen"].startswith("2026-11-02T09:30:00")
        assert obj["description"] == "Blocked at our proxy"
        assert obj["where_sighted_refs"] == [identity]
        assert obj["created_by_ref"] == identity
        # AMBER in, AMBER out: a sighting never reads wider than what it saw.
        assert got.json["hub"]["tlp"] == TLP.amber.value
    # The CERT of another country reads the indicator, not the sighting (outside its audience);
    # an organisation that may not read the indicator reads nothing.
    assert world["api"]["foreign_cert"].get(f"/objects/{item.stix_id}").status_code == 200
    for reader in ("foreign_cert", "outsider"):
        assert world["api"][reader].get(f"/objects/{sighting_id}").status_code == 404


def test_sighting_is_hidden_from_its_audience_where_the_item_is(world):
    """Rule 7: the national CERT is in the sighting's default audience, but may not read the
    indicator, so it never learns of the sighting either."""
    item = _share_indicator(world, audience={"orgs": [world["orgs"]["sighter"].slug]})
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={})
    assert response.status_code == 201, response.json
    assert world["api"]["owner"].get(f"/objects/{response.json['id']}").status_code == 200
    assert world["api"]["cert"].get(f"/objects/{response.json['id']}").status_code == 404


def test_defaults_green_and_one_sighting_now(world):
    item = _share_indicator(world, tlp="clear", audience="community")
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={})
    assert response.status_code == 201, response.json
    got = world["api"]["owner"].get(f"/objects/{response.json['id']}").json
    assert got["hub"]["tlp"] == TLP.green.value
    assert got["object"]["count"] == 1
    assert got["object"]["first_seen"] == got["object"]["last_seen"]


def test_unreadable_item_answers_as_if_absent(world):
    item = _share_indicator(world)  # the outsider is not in the audience
    before = _counts()
    unreadable = world["api"]["outsider"].post(f"/objects/{item.stix_id}/sightings", json={"count": 2})
    absent = world["api"]["outsider"].post(
        "/objects/indicator--00000000-0000-4000-8000-000000000000/sightings", json={"count": 2})
    assert unreadable.status_code == absent.status_code == 404
    assert set(unreadable.json) == set(absent.json) == {"error", "details"}
    assert unreadable.json["error"].replace(item.stix_id, "X") == absent.json["error"].replace(
        "indicator--00000000-0000-4000-8000-000000000000", "X")
    assert _counts() == before


def test_viewer_is_forbidden(world):
    item = _share_indicator(world)
    before = _counts()
    response = world["api"]["viewer"].post(f"/objects/{item.stix_id}/sightings", json={})
    assert response.status_code == 403
    assert _counts() == before


@pytest.mark.parametrize("body, field", [
    ({"count": 0}, "count"),
    ({"count": -1}, "count"),
    ({"count": "3"}, "count"),
    ({"count": True}, "count"),
    ({"count": 1.5}, "count"),
    ({"count": 2**62}, "count"),
    ({"first_seen": "2026-11-02T10:00:00Z", "last_seen": "2026-11-02T09:00:00Z"}, "last_seen"),
    ({"first_seen": "2300-01-01T00:00:00Z"}, "first_seen"),
    ({"last_seen": "1900-01-01T00:00:00Z"}, "last_seen"),
    ({"first_seen": "2026-11-02T10:00:00"}, "first_seen"),
    ({"first_seen": "yesterday"}, "first_seen"),
    ({"first_seen": 12}, "first_seen"),
    ({"tlp": "purple"}, "tlp"),
    ({"anonymous": "yes"}, "anonymous"),
    ({"note": ["x"]}, "note"),
    ({"audiance": "community"}, "audiance"),
    ({"audience": {"orgs": ["no-such-org"]}}, "audience.orgs"),
    ({"tlp": "red"}, "audience"),
])
def test_bad_input_is_422_naming_the_field_with_nothing_written(world, body, field):
    item = _share_indicator(world)
    before = _counts()
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json=body)
    assert response.status_code == 422, response.json
    assert field in [detail.get("field") for detail in response.json["details"]]
    assert _counts() == before


def test_red_sighting_with_named_users(world):
    sighter, owner = world["users"]["sighter"], world["users"]["owner"]
    item = _share_indicator(world, tlp="red", audience={"users": [sighter.email]})
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings",
                                            json={"audience": {"users": [owner.email]}})
    assert response.status_code == 201, response.json
    got = world["api"]["owner"].get(f"/objects/{response.json['id']}")
    assert got.status_code == 200 and got.json["hub"]["tlp"] == TLP.red.value
    assert world["api"]["cert"].get(f"/objects/{response.json['id']}").status_code == 404


def test_anonymous_sighting_names_nobody(world):
    item = _share_indicator(world, anonymous=True)
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings",
                                            json={"anonymous": True, "note": "seen"})
    assert response.status_code == 201, response.json
    assert set(response.json) == {"id"}
    got = world["api"]["owner"].get(f"/objects/{response.json['id']}")
    assert got.status_code == 200
    obj = got.json["object"]
    assert "where_sighted_refs" not in obj and "created_by_ref" not in obj
    assert got.json["hub"].get("anonymous") is True


def test_owner_subscriber_following_sighted_is_told(world):
    item = _share_indicator(world)
    owner = world["users"]["owner"]
    subscribe(owner, filters={"events": ["sighted"]})
    run_fan_out()  # the share itself: not a `sighted` event, so no bell for this subscription
    assert not db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == owner.id))

    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={})
    assert response.status_code == 201, response.json
    run_fan_out()
    told = db.session.execute(
        select(Notification.user_id, Notification.item_id, Notification.event).where(Notification.user_id == owner.id)
    ).all()
    sighting = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == response.json["id"]))
    assert [(row.item_id, row.event) for row in told] == [(sighting.id, "sighted")]


def test_a_reader_of_the_item_outside_the_sightings_audience_never_hears_of_it(world):
    """Rule 7: the foreign CERT reads the indicator but is not in the sighting's default audience
    (owner, sighter, the sighter's national CERT): no `sighted` alert tells it a sighting exists."""
    item = _share_indicator(world)
    foreign = world["users"]["foreign_cert"]
    subscribe(foreign, filters={"events": ["sighted"]})
    assert world["api"]["foreign_cert"].get(f"/objects/{item.stix_id}").status_code == 200
    assert world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={}).status_code == 201
    run_fan_out()
    assert not db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == foreign.id))


def test_outsider_following_sighted_hears_nothing(world):
    item = _share_indicator(world)
    outsider = world["users"]["outsider"]
    subscribe(outsider, filters={"events": ["sighted"]})
    assert world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={}).status_code == 201
    run_fan_out()
    assert not db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == outsider.id))


def test_anonymous_item_owner_receives_the_sighting_without_being_named(world):
    """The default audience reaches an anonymous item's owner, but the sighter never learns who
    that is: not in the answer, the sighting's audience, nor its audit log."""
    from hub.accounts.audit_log import audit_rows
    from hub.principal import Principal
    from hub.audit import AuditEvent

    owner_org = world["orgs"]["owner"]
    item = _share_indicator(world, anonymous=True)
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={})
    assert response.status_code == 201, response.json
    sighting_id = response.json["id"]
    assert owner_org.slug not in response.get_data(as_text=True)

    assert world["api"]["owner"].get(f"/objects/{sighting_id}").status_code == 200  # read: audited (AMBER)
    seen = world["api"]["sighter"].get(f"/objects/{sighting_id}")
    assert seen.status_code == 200
    # No organisation named: naming the sighter and the CERT would tell the third is the source.
    assert seen.json["hub"]["audience"] == {"orgs": ["(not named: the item it refers to has an anonymous source)"]}
    assert owner_org.slug not in seen.get_data(as_text=True)

    sighting = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == sighting_id))
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.item_id == sighting.id)))
    assert {event.action for event in events} >= {"share", "read"}
    for row in audit_rows(events, Principal.of(world["users"]["sighter"])):
        text = " ".join([row.actor or "", row.actor_org or "", *(value for _, value in row.detail)])
        assert owner_org.slug not in text
        assert world["users"]["owner"].email not in text


@pytest.mark.parametrize("anonymous", [False, True])
def test_the_sighting_read_back_passes_strict_stix_validation(world, anonymous):
    from tests.test_stix_strict import strict_problems

    item = _share_indicator(world)
    response = world["api"]["sighter"].post(f"/objects/{item.stix_id}/sightings", json={
        "count": 2, "note": "seen twice", "anonymous": anonymous})
    assert response.status_code == 201, response.json
    obj = world["api"]["cert"].get(f"/objects/{response.json['id']}").json["object"]
    assert not (problems := strict_problems([obj])), "\n".join(problems)
