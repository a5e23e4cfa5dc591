"""Rule 8 against rule 7: what a member's own relationship names, and the audience it is told,
never depend on whether another organisation holds, out of the member's sight, the id it names.

Observable ids are derived from their value (UUIDv5), so "does anyone hold this IP as TLP:RED?"
is askable by anyone who can write a relationship: the answer must be the same as for an id
nobody holds.
"""
from __future__ import annotations

import json
import uuid

import pytest

from tests.factories import indicator

STAMP = "2026-11-02T10:00:00.000Z"
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")


def relationship(source: str, target: str) -> dict:
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
            "created": STAMP, "modified": STAMP, "relationship_type": "related-to",
            "source_ref": source, "target_ref": target}


def ipv4(value: str) -> dict:
    digest = uuid.uuid5(SCO_NAMESPACE, json.dumps({"value": value}, separators=(",", ":")))
    return {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{digest}", "value": value}


@pytest.fixture
def world(make):
    victim_org, attacker_org = make.make_org("hospital", "CZ"), make.make_org("hospital", "CZ")
    victim, attacker = make.make_user(victim_org), make.make_user(attacker_org)
    colleague = make.make_user(attacker_org)
    secret = make.share(victim, [indicator("203.0.113.66")], tlp="red", audience={"users": [victim.email]})
    return {"victim": victim, "victim_org": victim_org, "attacker": attacker, "colleague": colleague,
            "secret": secret.stix_id}


def test_a_relationship_to_a_hidden_id_reads_back_as_one_to_an_unknown_id(world, api, make):
    attacker = api(world["attacker"])
    mine = make.share(world["attacker"], [indicator("198.51.100.9")], tlp="green", audience="own")
    to_hidden = relationship(mine.stix_id, world["secret"])
    to_nothing = relationship(mine.stix_id, f"indicator--{uuid.uuid4()}")
    for obj in (to_hidden, to_nothing):
        response = attacker.post("/share", json={"objects": [obj], "tlp": "green", "audience": "own"})
        assert response.status_code == 201, response.json
    for reader in (attacker, api(world["colleague"])):
        assert reader.get(f"/objects/{to_hidden['id']}").status_code == 200
        assert reader.get(f"/objects/{to_nothing['id']}").status_code == 200
        listed = {obj["id"] for obj in reader.get("/objects", query_string={"type": "relationship"}).json["objects"]}
        assert {to_hidden["id"], to_nothing["id"]} <= listed


def test_rule_7_still_hides_from_others_what_names_a_hidden_item(world, api, make):
    """Outside the relationship's own organisation, an end the hub holds and the reader may not
    read still hides it; and inside, one its author may read hides it from a colleague who may not."""
    outsider = make.make_user(make.make_org("hospital", "CZ"))
    mine = make.share(world["attacker"], [indicator("198.51.100.10")], tlp="green", audience="community")
    to_hidden = relationship(mine.stix_id, world["secret"])
    assert api(world["attacker"]).post("/share", json={"objects": [to_hidden], "tlp": "green",
                                                      "audience": "community"}).status_code == 201
    assert api(outsider).get(f"/objects/{to_hidden['id']}").status_code == 404

    victim = world["victim"]
    colleague = make.make_user(world["victim_org"])
    own_rel = relationship(world["secret"], mine.stix_id)
    assert api(victim).post("/share", json={"objects": [own_rel], "tlp": "green", "audience": "own"}).status_code == 201
    assert api(victim).get(f"/objects/{own_rel['id']}").status_code == 200
    assert api(colleague).get(f"/objects/{own_rel['id']}").status_code == 404


def _told_of_own_relationship(make, api, web, value: str, *, someone_holds: bool, anonymous: bool):
    victim_org, attacker_org, partner_org = (make.make_org("hospital", "CZ") for _ in range(3))
    victim, attacker = make.make_user(victim_org), make.make_user(attacker_org)
    if someone_holds:
        make.share(victim, [ipv4(value)], tlp="red", audience={"users": [victim.email]}, anonymous=anonymous)
    mine = make.share(attacker, [indicator("198.51.100.9")], tlp="green", audience="own")
    rel = relationship(mine.stix_id, ipv4(value)["id"])
    shared = api(attacker).post("/share", json={"objects": [ipv4(value), rel], "tlp": "green",
                                                "audience": {"orgs": [partner_org.slug]}})
    assert shared.status_code == 201, shared.json
    rest = api(attacker).get(f"/objects/{rel['id']}")
    assert rest.status_code == 200
    newcomer = make.make_org("hospital", "CZ")
    preview = web(attacker).get("/audience/preview", query_string={"item": rel["id"], "audience": "orgs",
                                                                 "orgs": newcomer.slug})
    page = web(attacker).get(f"/items/{rel['id']}").get_data(as_text=True)
    unnamed = lambda text: str(text).replace(partner_org.slug, "PARTNER").replace(partner_org.name, "PARTNER")
    return (unnamed(rest.json["hub"]["audience"]), preview.json["text"].replace(newcomer.name, "NEWCOMER"),
            "only if it may also read" in page, "not named" in page or "anonymous source" in page)


@pytest.mark.parametrize("anonymous", [False, True])
def test_the_audience_told_of_an_own_relationship_ignores_copies_its_owner_cannot_read(make, api, web, anonymous):
    held = _told_of_own_relationship(make, api, web, "192.0.2.77", someone_holds=True, anonymous=anonymous)
    absent = _told_of_own_relationship(make, api, web, "192.0.2.78", someone_holds=False, anonymous=anonymous)
    assert held == absent


def test_the_audit_log_of_an_own_relationship_ignores_anonymous_copies_its_owner_cannot_read(make, api):
    from sqlalchemy import select

    from hub.accounts.audit_log import audit_rows
    from hub.audit import AuditEvent
    from hub.extensions import db
    from hub.intel.models import SharedItem
    from hub.principal import Principal

    def rows_of(value: str, someone_holds: bool):
        victim_org, attacker_org, partner_org = (make.make_org("hospital", "CZ") for _ in range(3))
        victim, attacker, partner = make.make_user(victim_org), make.make_user(attacker_org), make.make_user(partner_org)
        if someone_holds:
            make.share(victim, [ipv4(value)], tlp="red", audience={"users": [victim.email]}, anonymous=True)
        mine = make.share(attacker, [indicator("198.51.100.9")], tlp="amber", audience={"orgs": [partner_org.slug]})
        rel = relationship(mine.stix_id, ipv4(value)["id"])
        assert api(attacker).post("/share", json={"objects": [ipv4(value), rel], "tlp": "amber",
                                                  "audience": {"orgs": [partner_org.slug]}}).status_code == 201
        assert api(partner).get(f"/objects/{rel['id']}").status_code == 200  # audited: AMBER
        item = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == rel["id"],
                                                          SharedItem.owner_org_id == attacker_org.id))
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.item_id == item.id)))
        return sorted((row.event.action, row.actor == partner.email, row.actor_org == partner_org.slug)
                      for row in audit_rows(events, Principal.of(attacker)))

    assert rows_of("192.0.2.87", someone_holds=True) == rows_of("192.0.2.88", someone_holds=False)


LATER = "2026-11-03T10:00:00.000Z"


def _version(rel: dict, target: str, **extra) -> dict:
    return {**rel, "modified": LATER, "target_ref": target, **extra}


def test_a_colleagues_version_naming_a_red_item_hides_it_from_colleagues_who_may_not_read_that_item(make, api):
    """Whether an end hides the item within its organisation follows from what its writers could
    read, not only its first author: a named colleague's version naming a RED end keeps the
    relationship from everyone else in the organisation, its first author included."""
    org = make.make_org("hospital", "CZ")
    keeper, author, bystander = make.make_user(org), make.make_user(org), make.make_user(org)
    secret = make.share(keeper, [indicator("203.0.113.66")], tlp="red", audience={"users": [keeper.email]})
    mine = make.share(author, [indicator("198.51.100.9")], tlp="green", audience="own")
    other = make.share(author, [indicator("198.51.100.8")], tlp="green", audience="own")
    rel = relationship(mine.stix_id, other.stix_id)
    assert api(author).post("/share", json={"objects": [rel], "tlp": "green", "audience": "own"}).status_code == 201
    named = _version(rel, secret.stix_id, description="203.0.113.66 is the C2 of the ransomware at ward 3")
    assert api(keeper).post("/share", json={"objects": [named], "tlp": "green", "audience": "own"}).status_code == 201
    assert api(keeper).get(f"/objects/{rel['id']}").status_code == 200
    assert api(author).get(f"/objects/{rel['id']}").status_code == 404
    assert api(bystander).get(f"/objects/{rel['id']}").status_code == 404


def test_a_colleagues_version_naming_an_anonymous_item_keeps_its_source_concealed(make, api):
    org, source_org, partner_org = (make.make_org("hospital", "CZ") for _ in range(3))
    keeper, author = make.make_user(org), make.make_user(org)
    source_user = make.make_user(source_org)
    secret = make.share(source_user, [indicator("203.0.113.77")], tlp="amber",
                        audience={"users": [keeper.email]}, anonymous=True)
    mine = make.share(author, [indicator("198.51.100.19")], tlp="amber", audience="community")
    other = make.share(author, [indicator("198.51.100.18")], tlp="amber", audience="community")
    audience = {"orgs": [source_org.slug, partner_org.slug]}
    rel = relationship(mine.stix_id, other.stix_id)
    assert api(author).post("/share", json={"objects": [rel], "tlp": "amber", "audience": audience}).status_code == 201
    assert api(keeper).post("/share", json={"objects": [_version(rel, secret.stix_id)], "tlp": "amber",
                                            "audience": audience}).status_code == 201
    told = api(keeper).get(f"/objects/{rel['id']}").json["hub"]
    assert source_org.slug not in json.dumps(told), told


def _related_to_own_item_shown(make, api, web, *, someone_holds: bool) -> bool:
    victim_org, attacker_org = make.make_org("hospital", "CZ"), make.make_org("hospital", "CZ")
    victim, attacker = make.make_user(victim_org), make.make_user(attacker_org)
    target = f"indicator--{uuid.uuid4()}"
    if someone_holds:
        make.share(victim, [indicator("203.0.113.66", id=target)], tlp="red", audience={"users": [victim.email]})
    mine = make.share(attacker, [indicator("198.51.100.9")], tlp="green", audience="own")
    rel = relationship(mine.stix_id, target)
    assert api(attacker).post("/share", json={"objects": [rel], "tlp": "green", "audience": "own"}).status_code == 201
    return target in web(attacker).get(f"/items/{mine.stix_id}").get_data(as_text=True)


def test_an_own_item_page_lists_its_relationship_whether_or_not_someone_holds_the_other_end(make, api, web):
    assert _related_to_own_item_shown(make, api, web, someone_holds=False)
    assert _related_to_own_item_shown(make, api, web, someone_holds=True)


def test_a_sighting_alert_never_names_a_sighted_item_its_recipient_may_not_read(make, api):
    from hub.alerts import services
    from hub.principal import Principal
    from tests.alerts_support import run_fan_out, subscribe

    victim_org, attacker_org = make.make_org("hospital", "CZ"), make.make_org("hospital", "CZ")
    victim, attacker = make.make_user(victim_org), make.make_user(attacker_org)
    colleague = make.make_user(attacker_org)
    secret = make.share(victim, [indicator("203.0.113.66", name="Ward-3 ransomware C2 SECRETNAME")],
                        tlp="red", audience={"users": [victim.email]})
    subscribe(colleague)
    subscribe(attacker)
    sighting = {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}", "created": STAMP,
                "modified": STAMP, "sighting_of_ref": secret.stix_id, "count": 1}
    answer = api(attacker).post("/share", json={"objects": [sighting], "tlp": "green", "audience": "own"})
    assert answer.status_code == 201, answer.json
    run_fan_out()
    titles = []
    for user in (colleague, attacker):
        principal = Principal.of(user)
        titles += [view.title for view in services.notification_views(principal, services.list_notifications(principal).rows)]
    assert titles and not any("SECRETNAME" in title for title in titles), titles
