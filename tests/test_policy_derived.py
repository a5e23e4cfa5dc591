"""Rule 7: a relationship or sighting is read only by those who may read every item it names."""
from __future__ import annotations

import uuid

import pytest

from hub.alerts import services as alert_services
from hub.alerts.models import Notification
from hub.extensions import db
from hub.principal import Principal
from tests.alerts_support import run_fan_out
from tests.factories import indicator

STAMP = "2026-11-02T10:00:00.000Z"


def relationship(source: str, target: str) -> dict:
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
            "created": STAMP, "modified": STAMP, "relationship_type": "related-to",
            "source_ref": source, "target_ref": target}


def sighting(of: str) -> dict:
    return {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}",
            "created": STAMP, "modified": STAMP, "sighting_of_ref": of, "count": 2}


@pytest.fixture
def world(make):
    brno, olomouc = make.make_org("hospital", "CZ"), make.make_org("hospital", "CZ")
    sharer, outsider = make.make_user(brno), make.make_user(olomouc)
    secret = make.share(sharer, [indicator("203.0.113.66")], tlp="red", audience={"users": [sharer.email]})
    known = make.share(sharer, [indicator("203.0.113.67")], tlp="green", audience="community")
    theirs = make.share(outsider, [indicator("203.0.113.68")], tlp="green", audience="community")
    hidden = [relationship(known.stix_id, secret.stix_id), sighting(secret.stix_id)]
    shown = [relationship(theirs.stix_id, known.stix_id),
             relationship(known.stix_id, f"attack-pattern--{uuid.uuid4()}")]  # an end the hub does not hold
    alert_services.create_subscription(Principal.of(outsider), channel="in_app")
    for obj in hidden + shown:
        make.share(sharer, [obj], tlp="green", audience="community")
    return {"sharer": sharer, "outsider": outsider, "hidden": {o["id"] for o in hidden},
            "shown": {o["id"] for o in shown}, "secret": secret.stix_id}


def test_rest_lists_and_reads_hide_derived_objects_naming_an_unreadable_item(world, api):
    outsider = api(world["outsider"])
    listed = {o["id"] for o in outsider.get("/objects?limit=200").json["objects"]}
    assert world["shown"] <= listed
    assert not world["hidden"] & listed
    for stix_id in world["hidden"]:
        assert outsider.get(f"/objects/{stix_id}").status_code == 404
    for stix_id in world["shown"]:
        assert outsider.get(f"/objects/{stix_id}").status_code == 200
    sharer = api(world["sharer"])  # the author of the RED item reads it, so the derived ones too
    assert world["hidden"] <= {o["id"] for o in sharer.get("/objects?limit=200").json["objects"]}


def test_taxii_serves_no_derived_object_naming_an_unreadable_item(world, taxii):
    outsider = taxii(world["outsider"])
    served = {o["id"] for o in outsider.get(outsider.objects_path("everything")).json.get("objects", [])}
    assert world["shown"] <= served and not world["hidden"] & served


def test_web_pages_hide_derived_objects_naming_an_unreadable_item(world, web):
    browser = web(world["outsider"])
    page = browser.get("/items?per_page=100").get_data(as_text=True)
    assert not any(stix_id in page for stix_id in world["hidden"] | {world["secret"]})
    for stix_id in world["hidden"]:
        assert browser.get(f"/items/{stix_id}").status_code == 404


def test_no_alert_tells_of_a_derived_object_naming_an_unreadable_item(world):
    run_fan_out()
    told = {n.item.stix_id for n in db.session.query(Notification).filter_by(user_id=world["outsider"].id)}
    assert world["shown"] <= told and not world["hidden"] & told
