"""Expiry and decay (issue 14): an indicator past valid_until shows as expired, leaves default
lists and matching, and its owner can extend it; the decay score follows its documented formula."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from hub.intel.decay import decay_score
from tests.factories import indicator, share

PAST = "2026-11-02T00:00:00.000Z"


@pytest.fixture
def world(make, api, web):
    alpha, beta = make.make_org("hospital", "CZ"), make.make_org("hospital", "CZ")
    users = {"alpha": make.make_user(alpha), "beta": make.make_user(beta), "alpha_viewer": make.make_user(alpha, role="viewer")}
    return {"users": users, "api": {name: api(user) for name, user in users.items()}, "web": web}


def _expired_and_current(world):
    expired = share(world["users"]["alpha"], [indicator("192.0.2.120", valid_until=PAST)], audience="community")
    current = share(world["users"]["alpha"], [indicator("192.0.2.120")], audience="community")
    return expired, current


def test_expired_indicator_is_marked_and_leaves_default_lists_and_matching(world):
    expired, current = _expired_and_current(world)
    got = world["api"]["beta"].get(f"/objects/{expired.stix_id}").json["hub"]
    assert got["expired"] is True and got["decay_score"] == 0
    current_ids = [o["id"] for o in world["api"]["beta"].get("/objects?status=current").json["objects"]]
    assert current.stix_id in current_ids and expired.stix_id not in current_ids
    # The REST default lists everything (an API client syncs the whole store); the web list does not.
    assert expired.stix_id in [o["id"] for o in world["api"]["beta"].get("/objects").json["objects"]]
    browser = world["web"](world["users"]["beta"])
    listing = browser.get("/items").get_data(as_text=True)
    assert current.stix_id in listing and expired.stix_id not in listing
    assert expired.stix_id in browser.get("/items?status=all").get_data(as_text=True)
    # Matching: bulk sightings and correlations ignore the expired copy.
    bulk = world["api"]["beta"].post("/sightings/bulk", json={"values": ["192.0.2.120"]}).json
    assert bulk["matched"] == [{"value": "192.0.2.120", "object_ids": [current.stix_id]}]
    other = share(world["users"]["beta"], [indicator("192.0.2.120")], audience="community")
    related = {c["object_id"] for c in world["api"]["beta"].get(f"/objects/{other.stix_id}/correlations").json["correlations"]}
    assert related == {current.stix_id}


def test_owner_extends_an_expired_indicator_as_a_new_version(world):
    expired, _ = _expired_and_current(world)
    later = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    response = world["api"]["alpha"].post(f"/objects/{expired.stix_id}/extend",
                                          json={"valid_until": later.isoformat().replace("+00:00", "Z")})
    assert response.status_code == 200, response.json
    assert response.json["hub"]["expired"] is False
    assert response.json["object"]["valid_until"] == later.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert len(response.json["hub"]["versions"]) == 2
    current_ids = [o["id"] for o in world["api"]["beta"].get("/objects?status=current").json["objects"]]
    assert expired.stix_id in current_ids


@pytest.mark.parametrize(("who", "body", "status"), [
    ("beta", {"valid_until": "2099-01-01T00:00:00Z"}, 403),
    ("alpha_viewer", {"valid_until": "2099-01-01T00:00:00Z"}, 403),
    ("alpha", {"valid_until": "2001-01-01T00:00:00Z"}, 422),
    ("alpha", {"valid_until": "tomorrow"}, 422),
    ("alpha", {"valid_until": "2099-01-01T00:00:00"}, 422),
    ("alpha", {}, 422),
    ("alpha", {"valid_until": "2099-01-01T00:00:00Z", "reason": "x"}, 422),
])
def test_extend_refuses_others_viewers_and_bad_dates_with_a_clear_answer(world, who, body, status):
    expired, _ = _expired_and_current(world)
    response = world["api"][who].post(f"/objects/{expired.stix_id}/extend", json=body)
    assert response.status_code == status, response.json
    assert world["api"]["alpha"].get(f"/objects/{expired.stix_id}").json["hub"]["expired"] is True


def test_extend_from_the_item_page(world):
    expired, _ = _expired_and_current(world)
    browser = world["web"](world["users"]["alpha"])
    page = browser.get(f"/items/{expired.stix_id}").get_data(as_text=True)
    assert "Extend: this indicator has expired" in page
    day = (datetime.now(timezone.utc) + timedelta(days=10)).date().isoformat()
    response = browser.submit(f"/items/{expired.stix_id}/extend", {"valid_until": day}, form_page=f"/items/{expired.stix_id}")
    assert response.status_code == 302
    assert world["api"]["beta"].get(f"/objects/{expired.stix_id}").json["object"]["valid_until"] == f"{day}T23:59:59.000Z"


def test_decay_score_follows_the_documented_formula():
    day = 86_400 * 1_000_000
    now = 1_000 * day
    assert decay_score(confidence=80, last_activity_us=now, sightings=0, half_life_days=30, now_us=now) == 80
    assert decay_score(confidence=80, last_activity_us=now - 30 * day, sightings=0, half_life_days=30, now_us=now) == 40
    assert decay_score(confidence=80, last_activity_us=now - 60 * day, sightings=0, half_life_days=30, now_us=now) == 20
    assert decay_score(confidence=None, last_activity_us=now, sightings=0, half_life_days=30, now_us=now) == 50
    assert decay_score(confidence=40, last_activity_us=now, sightings=3, half_life_days=30, now_us=now) == round(40 * (1 + 0.25 * math.log2(4)))
    assert decay_score(confidence=90, last_activity_us=now, sightings=15, half_life_days=30, now_us=now) == 100
    assert decay_score(confidence=90, last_activity_us=now, sightings=0, half_life_days=30, now_us=now, active=False) == 0


def test_a_readable_sighting_raises_the_score(world):
    item = share(world["users"]["alpha"], [indicator("192.0.2.121", confidence=40)], audience="community")
    assert world["api"]["beta"].get(f"/objects/{item.stix_id}").json["hub"]["decay_score"] == 40
    assert world["api"]["beta"].post(f"/objects/{item.stix_id}/sightings", json={"tlp": "green", "audience": "community"}).status_code == 201
    assert world["api"]["alpha"].get(f"/objects/{item.stix_id}").json["hub"]["decay_score"] == 50
