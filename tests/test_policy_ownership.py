"""Rule 11: an id belongs to its first owner; created_by_ref is the sharer's own identity."""
from __future__ import annotations

import json
import uuid
import threading
import time

import pytest
import stix2
from sqlalchemy import func, select, text

from hub.accounts.models import User
from hub.audit import AuditEvent
from hub.db import on_postgresql
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.intel import writing
from hub.intel.models import SharedItem
from hub.outbox import OutboxEntry
from tests.factories import indicator, share

LATER = "2026-11-05T10:00:00.000Z"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def ipv4_observable(value: str) -> dict:
    """An ipv4-addr SCO with its deterministic id (UUIDv5 of the value), as stix2 writes it."""
    return json.loads(stix2.v21.IPv4Address(value=value).serialize())


def rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_another_organisation_cannot_version_an_id_it_does_not_own(make, api, taxii):
    owner = make.make_user(make.make_org())
    other = make.make_user(make.make_org())
    original = indicator("198.51.100.20", object_marking_refs=[GREEN])
    assert api(owner).post("/share", json={"objects": [original], "audience": "community"}).status_code == 201
    takeover = {**original, "modified": LATER, "name": "attributed to someone else"}
    intruder = api(other)
    intruder.get("/me")  # its token's first use is audited once: not part of the share
    before = (rows(SharedItem), rows(AuditEvent), rows(OutboxEntry))

    refused = intruder.post("/share", json={"objects": [takeover], "audience": "community"})
    assert refused.status_code == 422
    assert refused.json["details"][0]["id"] == original["id"]
    assert "mint a new id" in refused.json["details"][0]["error"]
    assert (rows(SharedItem), rows(AuditEvent), rows(OutboxEntry)) == before

    via_taxii = taxii(other).post(taxii(other).objects_path("community"), {"objects": [takeover]})
    assert via_taxii.status_code == 202 and via_taxii.json["failure_count"] == 1
    reader = make.make_user(make.make_org())
    served = api(reader).get(f"/objects/{original['id']}").json["object"]
    assert served["name"] == original["name"] and served["modified"] == original["modified"]
    listed = taxii(reader).get(taxii(reader).objects_path("everything") + f"?match[id]={original['id']}").json
    assert [o["name"] for o in listed["objects"]] == [original["name"]]


def test_re_sharing_a_readable_object_unchanged_is_accepted_without_a_copy(make, api):
    """ATT&CK pushed by two hospitals: the second push is 'already shared', not a second item."""
    first, second = make.make_user(make.make_org()), make.make_user(make.make_org())
    published = indicator("198.51.100.21", object_marking_refs=[GREEN])
    api(first).post("/share", json={"objects": [published], "audience": "community"})
    again = api(second).post("/share", json={"objects": [published], "audience": "community"})
    assert again.status_code == 201
    assert db.session.scalar(select(func.count()).where(SharedItem.stix_id == published["id"])) == 1


def test_a_colleague_not_named_on_a_red_item_can_neither_version_nor_read_it(make, api):
    org = make.make_org()
    author, named, colleague = make.make_user(org), make.make_user(org), make.make_user(org)
    secret = indicator("198.51.100.22")
    api(author).post("/share", json={"objects": [secret], "tlp": "red", "audience": {"users": [named.email]}})
    newer = {**secret, "modified": LATER, "name": "overwritten"}
    refused = api(colleague).post("/share", json={"objects": [newer], "tlp": "red",
                                                   "audience": {"users": [colleague.email]}})
    assert refused.status_code == 422
    assert "RED" not in refused.json["error"] and secret["name"] not in str(refused.json)
    assert api(colleague).get(f"/objects/{secret['id']}").status_code == 404
    assert api(named).get(f"/objects/{secret['id']}").json["object"]["name"] == secret["name"]
    # The named user may add a version (rule 11: users who may read the item).
    assert api(named).post("/share", json={"objects": [newer], "tlp": "red",
                                           "audience": {"users": [named.email]}}).status_code == 201


def test_created_by_ref_cannot_name_another_member(make, api):
    mine, theirs = make.make_org(), make.make_org()
    sharer = make.make_user(mine)
    forged = indicator("198.51.100.23", created_by_ref=theirs.identity_id, object_marking_refs=[GREEN])
    refused = api(sharer).post("/share", json={"objects": [forged], "audience": "community"})
    assert refused.status_code == 422 and "created_by_ref" in refused.json["details"][0]["error"]
    own = indicator("198.51.100.24", created_by_ref=mine.identity_id, object_marking_refs=[GREEN])
    assert api(sharer).post("/share", json={"objects": [own], "audience": "community"}).status_code == 201


def test_widening_by_re_sharing_is_announced_and_audited_as_widened(make, api):
    sharer = make.make_user(make.make_org())
    cert = make.make_org("national_cert")
    obj = indicator("198.51.100.25", object_marking_refs=[GREEN])
    api(sharer).post("/share", json={"objects": [obj], "audience": "own"})
    newer = {**obj, "modified": LATER}
    assert api(sharer).post("/share", json={"objects": [newer], "audience": {"orgs": [cert.slug]}}).status_code == 201
    item = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == obj["id"]))
    events = set(db.session.scalars(select(OutboxEntry.event).where(OutboxEntry.item_id == item.id)))
    assert {"shared", "updated", "widened"} <= events
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.item_id == item.id)))
    assert {"share", "update", "widen"} <= actions


def test_an_observable_another_organisation_holds_unreadably_is_neither_refused_nor_revealed(make, api):
    """SCO ids derive from their value (STIX 2.1, 2.9): refusing the second organisation to post
    ipv4-addr 203.0.113.9 would tell it that someone holds that address in a share it may not
    read, and would stop it from sharing what it saw. Each organisation holds its own copy."""
    address = ipv4_observable("203.0.113.9")
    holder_org, poster_org = make.make_org(), make.make_org()
    holder, poster, reader = make.make_user(holder_org), make.make_user(poster_org), make.make_user(make.make_org())
    unheld = api(poster).post("/share", json={"objects": [ipv4_observable("203.0.113.10")], "tlp": "green",
                                              "audience": "community"})
    assert api(holder).post("/share", json={"objects": [address], "tlp": "red",
                                            "audience": {"users": [holder.email]}}).status_code == 201

    posted = api(poster).post("/share", json={"objects": [address], "tlp": "green", "audience": "community"})
    assert posted.status_code == unheld.status_code == 201
    assert posted.json.keys() == unheld.json.keys()
    assert api(poster).get(f"/objects/{address['id']}").json["object"]["value"] == "203.0.113.9"
    served = api(reader).get(f"/objects/{address['id']}")
    assert served.status_code == 200
    assert "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" not in str(served.json)  # TLP:RED
    assert api(holder).get(f"/objects/{address['id']}").status_code == 200


def test_two_first_shares_of_one_id_at_the_same_time_leave_one_owner(app, make, monkeypatch):
    """Rule 11 under concurrency: the second share waits for the first to commit, then is refused
    (the first's item is its own organisation's only)."""
    if not on_postgresql():
        pytest.skip("SQLite has one writer at a time: the race needs two concurrent writers")
    first = make.make_user(make.make_org("hospital", "CZ"))
    second = make.make_user(make.make_org("hospital", "CZ"))
    first_org, first_id, second_id = first.org_id, first.id, second.id
    sdo = indicator("198.51.100.77")
    written, release = threading.Event(), threading.Event()
    real_write = writing.write_new_items

    def first_waits_before_commit(principal, *args, **kwargs):
        ids = real_write(principal, *args, **kwargs)
        if principal.org_id == first_org:
            written.set()
            release.wait(30)
        return ids

    monkeypatch.setattr(writing, "write_new_items", first_waits_before_commit)
    outcomes = {}

    def share_as(user_id: int, key: str):
        with app.app_context():
            try:
                share(db.session.get(User, user_id), [dict(sdo)], audience="own")
                outcomes[key] = "shared"
            except ValidationFailed:
                outcomes[key] = "refused"
            finally:
                db.session.remove()

    sharers = [threading.Thread(target=share_as, args=(first_id, "first"))]
    sharers[0].start()
    assert written.wait(30)
    sharers.append(threading.Thread(target=share_as, args=(second_id, "second")))
    sharers[1].start()

    def second_done_or_waiting() -> bool:
        with app.app_context():
            try:
                return "second" in outcomes or bool(db.session.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")))
            finally:
                db.session.remove()
    deadline = time.monotonic() + 30
    while not second_done_or_waiting() and time.monotonic() < deadline:
        time.sleep(0.05)
    release.set()
    for sharer in sharers:
        sharer.join(30)
    assert outcomes == {"first": "shared", "second": "refused"}
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SharedItem.id)).where(SharedItem.stix_id == sdo["id"])) == 1


def _upper_hex(stix_id: str) -> str:
    object_type, uuid_part = stix_id.split("--")
    return f"{object_type}--{uuid_part.upper()}"


def test_an_id_in_upper_case_hex_is_the_same_id_for_rule_11(make, api, taxii):
    """A UUID reads the same in either case and consumers merge such ids: another organisation
    posting "indicator--0A1B…" of an owner's "indicator--0a1b…" made a second object that
    downstream tools took for a new version of the owner's, and named the owner's identity as
    its creator the same way."""
    owner_org = make.make_org()
    owner, other = make.make_user(owner_org), make.make_user(make.make_org())
    original = indicator("198.51.100.26", object_marking_refs=[GREEN])
    assert api(owner).post("/share", json={"objects": [original], "audience": "community"}).status_code == 201
    takeover = {**original, "id": _upper_hex(original["id"]), "modified": LATER, "name": "someone else's"}
    for path in ("rest", "taxii"):
        if path == "rest":
            refused = api(other).post("/share", json={"objects": [takeover], "audience": "community"})
            assert refused.status_code == 422 and "mint a new id" in refused.json["details"][0]["error"]
        else:
            status = taxii(other).post(taxii(other).objects_path("community"), {"objects": [takeover]}).json
            assert status["failure_count"] == 1 and "mint a new id" in status["failures"][0]["message"]
    forged = indicator("198.51.100.27", created_by_ref=_upper_hex(owner_org.identity_id), object_marking_refs=[GREEN])
    refused = api(other).post("/share", json={"objects": [forged], "audience": "community"})
    assert refused.status_code == 422 and "created_by_ref" in refused.json["details"][0]["error"]
    assert rows(SharedItem) == 1


def test_an_object_with_an_upper_case_id_is_served_as_sent_by_either_spelling(make, api, taxii):
    """The hub keys ids canonically; the object keeps the id as its sender wrote it."""
    sharer, reader = make.make_user(make.make_org()), make.make_user(make.make_org())
    sent = {**indicator("198.51.100.28", object_marking_refs=[GREEN])}
    sent["id"] = _upper_hex(sent["id"])
    assert api(sharer).post("/share", json={"objects": [sent], "audience": "community"}).status_code == 201
    newer = {**sent, "id": sent["id"].lower(), "modified": LATER, "name": "second version"}
    assert api(sharer).post("/share", json={"objects": [newer], "audience": "community"}).status_code == 201
    assert rows(SharedItem) == 1
    client = taxii(reader)
    for spelling in (sent["id"], sent["id"].lower()):
        assert api(reader).get(f"/objects/{spelling}").json["object"] == newer
        versions = client.get(client.objects_path("everything") + f"{spelling}/?match[version]=all").json["objects"]
        assert versions == [sent, newer]
        listed = client.get(client.objects_path("everything") + f"?match[id]={spelling}").json["objects"]
        assert listed == [newer]


def test_a_relationship_naming_an_unreadable_item_in_upper_case_hex_is_hidden(make, api):
    """Rule 7 finds the item a relationship names whatever the case of the id's hex."""
    org = make.make_org()
    author, outsider = make.make_user(org), make.make_user(make.make_org())
    secret = indicator("198.51.100.29")
    api(author).post("/share", json={"objects": [secret], "tlp": "red", "audience": {"users": [author.email]}})
    link = {"type": "relationship", "spec_version": "2.1", "id": "relationship--7d1f4a8e-2c3b-4d5e-8f90-1a2b3c4d5e6f",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "relationship_type": "related-to",
            "source_ref": _upper_hex(secret["id"]), "target_ref": "malware--3f2e1d0c-9b8a-4765-8432-10fedcba9876",
            "object_marking_refs": [GREEN]}
    assert api(author).post("/share", json={"objects": [link], "audience": "community"}).status_code == 201
    assert api(outsider).get(f"/objects/{link['id']}").status_code == 404
    assert api(author).get(f"/objects/{link['id']}").status_code == 200


def test_an_item_page_lists_what_names_it_in_upper_case_hex(make, api):
    """The item page's relationships and a report's contents find the item whatever the case of
    the id that names it (they were left out)."""
    from hub.intel import display
    from tests.factories import principal

    owner, reader = make.make_user(make.make_org()), make.make_user(make.make_org())
    target = indicator("198.51.100.72", object_marking_refs=[GREEN])
    link = {"type": "relationship", "spec_version": "2.1", "id": "relationship--5b0c7c2e-3a4d-4e5f-8a6b-7c8d9e0f1a2b",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "relationship_type": "indicates",
            "source_ref": _upper_hex(target["id"]), "target_ref": "malware--6c1d8d3f-4b5e-4f60-9b7c-8d9e0f1a2b3c",
            "object_marking_refs": [GREEN]}
    report = {"type": "report", "spec_version": "2.1", "id": "report--7d2e9e4a-5c6f-4071-8c8d-9e0f1a2b3c4d", "name": "r",
              "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
              "published": "2026-11-01T00:00:00.000Z", "object_refs": [_upper_hex(target["id"])],
              "object_marking_refs": [GREEN]}
    assert api(owner).post("/share", json={"objects": [target, link, report], "audience": "community"}).status_code == 201
    item = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == target["id"]))
    [related] = display.related_of(principal(reader), item)
    assert related.relationship.stix_id == link["id"] and related.outgoing
    assert [shown.stix_id for shown, _values in display.contents_of(principal(reader), report).indicators] == [target["id"]]


def test_the_audit_log_finds_an_item_by_any_spelling_of_its_id(make, web, api):
    from tests import factories

    hospital = make.make_org("hospital", "CZ")
    admin, author = factories.make_user(hospital, "admin"), factories.make_user(hospital)
    shared = factories.share(author, [indicator("198.51.100.73")], tlp="amber")
    csv = web(admin).get(f"/audit.csv?item={_upper_hex(shared.stix_id)}").get_data(as_text=True)
    assert shared.stix_id in csv


def _sighting_at(where: list[str], sighted: str) -> dict:
    return {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "count": 1,
            "sighting_of_ref": sighted, "where_sighted_refs": where, "object_marking_refs": [GREEN]}


def test_a_sighting_cannot_say_another_member_saw_it(make, api):
    """where_sighted_refs names who saw it: consumers credit the sighting to that organisation.
    Another member's identity there (in any case of hex) spoofed its report; the sharer's own
    identity in an anonymous sighting named the sharer."""
    mine, theirs = make.make_org(), make.make_org()
    sharer = api(make.make_user(mine))
    seen = indicator("198.51.100.30", object_marking_refs=[GREEN])
    assert sharer.post("/share", json={"objects": [seen], "audience": "community"}).status_code == 201
    for where in ([theirs.identity_id], [_upper_hex(theirs.identity_id)]):
        refused = sharer.post("/share", json={"objects": [_sighting_at(where, seen["id"])], "audience": "community"})
        assert refused.status_code == 422 and "where_sighted_refs" in str(refused.json), refused.json
    anonymous = sharer.post("/share", json={"objects": [_sighting_at([mine.identity_id], seen["id"])],
                                            "audience": "community", "anonymous": True})
    assert anonymous.status_code == 422 and "anonymous" in str(anonymous.json)
    own = sharer.post("/share", json={"objects": [_sighting_at([mine.identity_id], seen["id"])], "audience": "community"})
    assert own.status_code == 201, own.json


def test_a_published_object_re_shared_under_another_tlp_is_already_shared(make, api):
    """Two hospitals push ATT&CK as published, one as GREEN and one as CLEAR: the same content is
    one object (its TLP marking aside), so the second push stores no copy."""
    first, second = make.make_user(make.make_org()), make.make_user(make.make_org())
    published = indicator("198.51.100.31")
    assert api(first).post("/share", json={"objects": [published], "tlp": "green", "audience": "community"}).status_code == 201
    again = api(second).post("/share", json={"objects": [published], "tlp": "clear", "audience": "community"})
    assert again.status_code == 201
    assert rows(SharedItem) == 1
    edited = api(second).post("/share", json={"objects": [{**published, "name": "edited, same version"}],
                                              "tlp": "clear", "audience": "community"})
    assert edited.status_code == 422 and "mint a new id" in str(edited.json)


def test_an_observable_id_squatted_first_does_not_stand_in_for_the_real_observable(make, api, taxii):
    """Observable ids follow from their values, so anyone can take one first with other values
    under it. A reader of both copies is served the one whose id its values give, by id, in
    lists, in the search and over TAXII; the squatter still reads its own."""
    squatter_org, victim_org, reader_org = (make.make_org("hospital", "CZ") for _ in range(3))
    squatter, victim, reader = make.make_user(squatter_org), make.make_user(victim_org), make.make_user(reader_org)
    genuine = ipv4_observable("192.0.2.10")
    squatted = {**ipv4_observable("192.0.2.99"), "id": genuine["id"]}
    assert api(squatter).post("/share", json={"objects": [squatted], "tlp": "green",
                                              "audience": "community"}).status_code == 201
    assert api(victim).post("/share", json={"objects": [genuine], "tlp": "green",
                                            "audience": "community"}).status_code == 201

    other = api(reader)
    assert other.get(f"/objects/{genuine['id']}").json["object"]["value"] == "192.0.2.10"
    found = other.get("/search", query_string={"q": "192.0.2.10"}).json["results"]
    assert [result["id"] for result in found] == [genuine["id"]], found
    listed = other.get("/objects", query_string={"type": "ipv4-addr"}).json["objects"]
    assert [obj.get("value") for obj in listed if obj["id"] == genuine["id"]] == ["192.0.2.10"], listed
    client = taxii(reader)
    served = json.loads(client.get(client.objects_path("community") + f"{genuine['id']}/").get_data())["objects"]
    assert [obj["value"] for obj in served] == ["192.0.2.10"]
    assert api(squatter).get(f"/objects/{genuine['id']}").json["object"]["value"] == "192.0.2.99"


def test_a_taxii_status_names_an_id_as_its_sender_wrote_it(make, taxii):
    """The hub keys ids in lower case; a client matches the status against the ids it posted."""
    client = taxii(make.make_user(make.make_org()))
    sent = {**indicator("198.51.100.29", object_marking_refs=[GREEN])}
    sent["id"] = _upper_hex(sent["id"])
    refused = {**indicator("198.51.100.30", object_marking_refs=[GREEN]), "pattern": "[not a pattern"}
    refused["id"] = _upper_hex(refused["id"])
    status = client.post(client.objects_path("community"), {"objects": [sent, refused]}).json
    assert [entry["id"] for entry in status["successes"]] == [sent["id"]], status
    assert [entry["id"] for entry in status["failures"]] == [refused["id"]], status
    again = client.post(client.objects_path("community"), {"objects": [sent]}).json
    assert [entry["id"] for entry in again["successes"]] == [sent["id"]], again
