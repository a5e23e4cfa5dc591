"""Adding objects: per-object status, isolation of bad objects, versions, and DELETE as revocation."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from hub.outbox import OutboxEntry
from hub.audit import AuditEvent
from hub.extensions import db
from hub.intel.models import AudienceGrant, Observable, SharedItem, StixVersion
from hub.tlp import TLP, marking_definition
from tests.factories import indicator

GREEN = [TLP.green.marking_id]


def marked(value: str, tlp: TLP = TLP.green, **extra) -> dict:
    return indicator(value, object_marking_refs=[tlp.marking_id], **extra)


def row_counts() -> dict:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (SharedItem, StixVersion, Observable, AudienceGrant, OutboxEntry)}


@pytest.fixture
def world(make, member_of):
    brno = make.make_org("hospital", "CZ", slug="brno-hospital")
    olomouc = make.make_org("hospital", "CZ", slug="olomouc-hospital")
    return {"brno": brno, "olomouc": olomouc,
            "brno_analyst": member_of(brno), "brno_viewer": member_of(brno, "viewer"),
            "olomouc_analyst": member_of(olomouc)}


def test_each_object_gets_its_own_status_and_bad_ones_leave_no_row(world, taxii):
    sharer = taxii(world["brno_analyst"])
    good = [marked("198.51.100.1"), marked("198.51.100.2")]
    bad_pattern = marked("x", pattern="[ipv4-addr:value = '1.2.3.4'")
    unmarked = indicator("198.51.100.3")
    red = marked("198.51.100.4", TLP.red)
    too_confident = marked("198.51.100.5", confidence=101)  # stix2 takes it, STIX 2.1 does not
    no_id = {"type": "indicator", "spec_version": "2.1"}
    bundle = {"type": "bundle", "id": "bundle--6f2f6c3e-1f6b-4ad5-9a1e-3c1a0f5e9b11", "objects": [marked("198.51.100.6")]}
    envelope = [good[0], bad_pattern, unmarked, "not an object", red, no_id, too_confident, bundle, good[1]]
    before = row_counts()

    status = sharer.post(sharer.objects_path("community"), {"objects": envelope}).json
    assert status["status"] == "complete"
    assert (status["total_count"], status["success_count"], status["failure_count"], status["pending_count"]) == (9, 2, 7, 0)
    assert [s["id"] for s in status["successes"]] == [good[0]["id"], good[1]["id"]]
    failures = {f["id"]: f["message"] for f in status["failures"]}
    assert "pattern" in failures[bad_pattern["id"]].lower()
    assert "no TLP marking" in failures[unmarked["id"]]
    assert "RED" in failures[red["id"]]
    assert "confidence" in failures[too_confident["id"]]
    assert "a bundle is not a STIX object" in failures[bundle["id"]]
    # Each says what is wrong with it, not that it lacks a TLP marking (the collection has no default).
    assert failures["(object 3 of the request has no id)"] == "not a JSON object"
    assert "needs a string 'type' and 'id'" in failures["(object 5 of the request has no id)"]
    assert len(status["failures"]) == 7 and all(f["message"] for f in status["failures"])

    after = row_counts()
    assert after["SharedItem"] - before["SharedItem"] == 2
    assert after["StixVersion"] - before["StixVersion"] == 2
    assert after["Observable"] - before["Observable"] == 2
    assert after["OutboxEntry"] - before["OutboxEntry"] == 2
    stored = {item.stix_id for item in db.session.scalars(select(SharedItem))}
    assert stored == {good[0]["id"], good[1]["id"]}


def test_the_status_resource_is_kept_for_its_poster_only(world, taxii):
    sharer = taxii(world["brno_analyst"])
    status = sharer.post(sharer.objects_path("community"), {"objects": [marked("198.51.100.10")]}).json
    again = sharer.get(f"/api/status/{status['id']}/")
    assert again.status_code == 200 and again.json == status
    assert taxii(world["olomouc_analyst"]).get(f"/api/status/{status['id']}/").status_code == 404


def test_posting_an_object_again_succeeds_and_adds_nothing(world, taxii):
    sharer = taxii(world["brno_analyst"])
    obj = marked("198.51.100.20")
    sharer.post(sharer.objects_path("community"), {"objects": [obj]})
    before = row_counts()
    status = sharer.post(sharer.objects_path("community"), {"objects": [obj, obj]}).json
    assert status["success_count"] == 2 and status["failure_count"] == 0
    assert row_counts() == before


def test_new_versions_are_added_and_conflicting_ones_refused_alone(world, taxii):
    sharer = taxii(world["brno_analyst"])
    v1 = marked("198.51.100.30")
    other = marked("198.51.100.31")
    sharer.post(sharer.objects_path("community"), {"objects": [v1, other]})
    v2 = {**v1, "modified": "2026-11-02T10:00:00.000Z", "name": "updated"}
    downgraded = {**other, "modified": "2026-11-02T10:00:00.000Z", "object_marking_refs": [TLP.clear.marking_id]}
    brand_new = marked("198.51.100.32")
    status = sharer.post(sharer.objects_path("community"), {"objects": [v2, downgraded, brand_new]}).json
    assert [s["id"] for s in status["successes"]] == [v1["id"], brand_new["id"]]
    assert status["failures"][0]["id"] == other["id"]
    assert "TLP" in status["failures"][0]["message"]
    collection = sharer.collections()["community"]["id"]
    versions = sharer.get(f"/api/collections/{collection}/objects/{v1['id']}/versions/").json["versions"]
    assert versions == [v1["modified"], v2["modified"]]
    assert sharer.get(f"/api/collections/{collection}/objects/{other['id']}/versions/").json["versions"] == [other["modified"]]


def test_several_versions_of_a_new_object_in_one_envelope(world, taxii):
    sharer = taxii(world["brno_analyst"])
    v1 = marked("198.51.100.40")
    v2 = {**v1, "modified": "2026-11-05T10:00:00.000Z", "name": "second"}
    status = sharer.post(sharer.objects_path("community"), {"objects": [v2, v1]}).json
    assert status["success_count"] == 2
    collection = sharer.collections()["community"]["id"]
    assert sharer.get(f"/api/collections/{collection}/objects/{v1['id']}/versions/").json["versions"] == [
        v2["modified"], v1["modified"]]
    latest = sharer.get(f"/api/collections/{collection}/objects/{v1['id']}/").json["objects"]
    assert [o["name"] for o in latest] == ["second"]


@pytest.mark.parametrize("marking", [TLP.red.marking_id, "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"],
                         ids=["tlp2-red", "tlp1-red"])
def test_a_tlp_marking_written_in_upper_case_hex_is_that_tlp(world, taxii, api, marking):
    """A UUID reads the same in either case, and consumers read "…--E828B379-…" as TLP:RED. The
    hub did not: it gave such an object the collection's default TLP (GREEN) and shared it with
    the whole community."""
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "community", TLP.green)
    prefix, uuid_part = marking.split("--")
    sent = indicator("198.51.100.44", object_marking_refs=[f"{prefix}--{uuid_part.upper()}"])
    sharer, reader = taxii(world["brno_analyst"]), taxii(world["olomouc_analyst"])
    status = sharer.post(sharer.objects_path("community"), {"objects": [sent]}).json
    assert status["success_count"] == 0 and "RED" in status["failures"][0]["message"], status
    assert reader.get(reader.objects_path("community") + f"{sent['id']}/").status_code == 404
    response = api(world["brno_analyst"]).post("/share", json={"objects": [sent], "tlp": "green", "audience": "community"})
    assert response.status_code == 422 and "TLP:RED" in str(response.json)
    assert db.session.scalar(select(func.count()).select_from(SharedItem)) == 0


def _own_tlp_definition(**claim) -> dict:
    return {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uuid.uuid4()}",
            "created": "2026-01-01T00:00:00.000Z", **claim}


# How producers other than OASIS say TLP:RED (a STIX 2.0-era TLP definition under its own id, the
# TLP 2.0 extension, OpenCTI's statement markings, a name).
OWN_RED_DEFINITIONS = {
    "tlp-definition-type": dict(definition_type="tlp", definition={"tlp": "red"}),
    "tlp-2-extension": dict(name="Red", extensions={
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension",
                                                                       "tlp_2_0": "red"}}),
    "opencti-statement": dict(definition_type="statement", definition={"statement": "custom"},
                              x_opencti_definition_type="TLP", x_opencti_definition="TLP:RED"),
    "named": dict(definition_type="statement", definition={"statement": "handle as"}, name="TLP:RED"),
}


@pytest.mark.parametrize("claim", OWN_RED_DEFINITIONS.values(), ids=OWN_RED_DEFINITIONS.keys())
def test_an_object_marked_by_its_own_tlp_red_definition_is_held_to_red(world, taxii, api, claim):
    """A consumer reads an object marked with a definition saying TLP:RED as RED, whatever its id.
    The hub gave it the collection's default (GREEN) and shared it with the community."""
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "community", TLP.green)
    definition = _own_tlp_definition(**claim)
    sent = indicator("198.51.100.45", object_marking_refs=[definition["id"]])
    sharer, reader = taxii(world["brno_analyst"]), taxii(world["olomouc_analyst"])
    status = sharer.post(sharer.objects_path("community"), {"objects": [definition, sent]}).json
    [failure] = [f for f in status.get("failures", []) if f["id"] == sent["id"]]
    assert "RED" in failure["message"]
    assert reader.get(reader.objects_path("community") + f"{sent['id']}/").status_code == 404
    if claim.get("definition_type") == "tlp":  # STIX forbids it (TLP has its published ids): refused, saying so
        [refused] = [f for f in status["failures"] if f["id"] == definition["id"]]
        assert "must match one of those defined in the STIX specification" in refused["message"]
    else:  # sent on its own later, the object is marked by the definition its organisation holds
        status = sharer.post(sharer.objects_path("community"), {"objects": [sent]}).json
        assert status["failure_count"] == 1 and "RED" in status["failures"][0]["message"]
    refused = api(world["brno_analyst"]).post("/share", json={"objects": [definition, sent], "tlp": "green",
                                                              "audience": "community"})
    assert refused.status_code == 422 and "TLP:RED" in str(refused.json)
    assert not db.session.scalar(select(func.count()).select_from(SharedItem).where(SharedItem.stix_id == sent["id"]))


def test_an_object_marked_by_its_own_amber_strict_definition_is_shared_as_amber_strict(world, taxii, api):
    """OpenCTI's connectors write AMBER+STRICT (and CLEAR) as statement markings of their own."""
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "org-brno-hospital", TLP.green)
    definition = _own_tlp_definition(definition_type="statement", definition={"statement": "custom"},
                                     x_opencti_definition_type="TLP", x_opencti_definition="TLP:AMBER+STRICT")
    sent = indicator("198.51.100.46", object_marking_refs=[definition["id"]])
    sharer = taxii(world["brno_analyst"])
    status = sharer.post(sharer.objects_path("org-brno-hospital"), {"objects": [sent, definition]}).json
    assert status["success_count"] == 2, status
    got = api(world["brno_analyst"]).get(f"/objects/{sent['id']}").json
    assert got["hub"]["tlp"] == "amber+strict"
    assert got["object"]["object_marking_refs"] == [definition["id"], TLP.amber_strict.marking_id]


def _own_red_statement(**more) -> dict:
    return _own_tlp_definition(definition_type="statement", definition={"statement": "handle as"}, name="TLP:RED",
                               **more)


def test_a_granular_marking_by_an_own_tlp_definition_is_refused_as_a_published_one_is(world, taxii, api):
    """TLP is an object marking: a granular marking naming a definition that claims TLP:RED is
    refused like one naming the published TLP:RED (it was ignored and the object shared GREEN)."""
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "community", TLP.green)
    definition = _own_red_statement()
    sent = indicator("198.51.100.60", description="the sensitive part",
                     granular_markings=[{"marking_ref": definition["id"], "selectors": ["description"]}])
    refused = api(world["brno_analyst"]).post("/share", json={"objects": [definition, sent], "tlp": "green",
                                                              "audience": "community"})
    assert refused.status_code == 422 and "not granular" in str(refused.json)
    sharer = taxii(world["brno_analyst"])
    status = sharer.post(sharer.objects_path("community"), {"objects": [definition, sent]}).json
    [failure] = [f for f in status["failures"] if f["id"] == sent["id"]]
    assert "not granular" in failure["message"]
    assert api(world["olomouc_analyst"]).get(f"/objects/{sent['id']}").status_code == 404


@pytest.mark.parametrize("claim", [
    {"name": "TLP: RED"},
    {"name": "Red", "extensions": {"extension-definition--60A3C5C5-0D10-413E-AAB3-9E08DDE9E88D": {
        "extension_type": "property-extension", "tlp_2_0": "red"}}},
], ids=["name-with-a-space", "tlp2-extension-id-in-upper-case"])
def test_a_claim_in_another_spelling_is_read(world, api, claim):
    definition = {**_own_red_statement(), **claim}
    sent = indicator("198.51.100.67", object_marking_refs=[definition["id"]])
    refused = api(world["brno_analyst"]).post("/share", json={"objects": [definition, sent], "tlp": "green",
                                                              "audience": "community"})
    assert refused.status_code == 422 and "TLP:RED" in str(refused.json)


def test_a_definition_sent_again_without_its_claim_does_not_lower_the_held_one(world, taxii, api):
    """The hub keeps the version it holds (the re-sent copy is 'already shared'): its claim still counts."""
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "community", TLP.green)
    definition = _own_red_statement()
    sharer = taxii(world["brno_analyst"])
    assert sharer.post(sharer.objects_path("community"), {"objects": [definition]}).json["success_count"] == 1
    sent = indicator("198.51.100.69", object_marking_refs=[definition["id"]])
    status = sharer.post(sharer.objects_path("community"), {"objects": [{**definition, "name": "internal"}, sent]}).json
    [failure] = [f for f in status["failures"] if f["id"] == sent["id"]]
    assert "RED" in failure["message"]
    assert api(world["olomouc_analyst"]).get(f"/objects/{sent['id']}").status_code == 404


def test_another_organisations_definition_under_the_same_id_decides_nothing(world, taxii, api):
    """A definition claims a TLP for its own organisation's objects only: one stored first by
    someone else under an id the sharer uses (a statement marking, say) cannot lower them."""
    from hub.taxii.collections import set_default_tlp

    statement = _own_tlp_definition(definition_type="statement", definition={"statement": "Copyright Brno"})
    planted = {**statement, "definition": {"statement": "planted"}, "name": "TLP:CLEAR"}
    intruder = taxii(world["olomouc_analyst"])
    set_default_tlp("olomouc-hospital", "community", TLP.green)
    assert intruder.post(intruder.objects_path("community"), {"objects": [planted]}).json["success_count"] == 1
    set_default_tlp("brno-hospital", "org-brno-hospital", TLP.amber)
    sent = indicator("198.51.100.47", object_marking_refs=[statement["id"]])
    sharer = taxii(world["brno_analyst"])
    assert sharer.post(sharer.objects_path("org-brno-hospital"), {"objects": [sent]}).json["success_count"] == 1
    assert api(world["brno_analyst"]).get(f"/objects/{sent['id']}").json["hub"]["tlp"] == "amber"


def test_a_stix_bundle_with_its_tlp_marking_definitions_is_accepted(world, taxii):
    sharer = taxii(world["brno_analyst"])
    obj = marked("198.51.100.50")
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [marking_definition(TLP.green), obj]}
    status = sharer.post(sharer.objects_path("community"), bundle).json
    assert status["success_count"] == 2
    assert db.session.scalar(select(func.count()).select_from(SharedItem)) == 1


@pytest.mark.parametrize("pending", [False, True], ids=["answered-at-once", "completed-by-a-worker"])
def test_the_status_names_an_observables_version_as_the_manifest_does(world, taxii, app, monkeypatch, pending):
    """An SCO has no modified: its version is when the hub added it, in the status as everywhere."""
    from hub.taxii import pending as pending_adds

    if pending:
        monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 2)
    sharer = taxii(world["brno_analyst"])
    sco = {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "192.0.2.55",
           "object_marking_refs": [TLP.green.marking_id]}
    status = sharer.post(sharer.objects_path("community"), {"objects": [sco, marked("192.0.2.56")]}).json
    if pending:
        pending_adds.complete_pending_add(status["id"])
        status = sharer.get(f"/api/status/{status['id']}/").json
    [named] = [s for s in status["successes"] if s["id"] == sco["id"]]
    manifest = sharer.get(sharer.objects_path("community").replace("objects/", "manifest/") + f"?match[id]={sco['id']}")
    [entry] = manifest.json["objects"]
    assert named["version"] == entry["version"] == entry["date_added"]


def test_a_tlp_marking_definition_added_is_read_back_as_published(world, taxii):
    """misp-stix and OpenCTI put the TLP definitions they use in the bundle: each add succeeds,
    and a read by id gives the published object (TLP 2.0 by OASIS, TLP 1.0 by STIX 2.1)."""
    import stix2

    sent = [marking_definition(TLP.amber), marking_definition(TLP.clear), json.loads(stix2.v21.TLP_GREEN.serialize())]
    sharer, reader = taxii(world["brno_analyst"]), taxii(world["olomouc_analyst"])
    status = sharer.post(sharer.objects_path("community"), {"objects": sent}).json
    assert status["success_count"] == 3
    for definition in sent:
        for client in (sharer, reader):
            response = client.get(client.objects_path("community") + f"{definition['id']}/")
            assert response.status_code == 200 and response.json["objects"] == [definition]
    unknown = "marking-definition--0a1b2c3d-1111-4111-8111-000000000001"
    assert sharer.get(sharer.objects_path("community") + f"{unknown}/").status_code == 404


def test_shares_through_taxii_are_audited_and_announced(world, taxii):
    sharer = taxii(world["brno_analyst"])
    obj = marked("198.51.100.60")
    sharer.post(sharer.objects_path("community"), {"objects": [obj]})
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "share")).one()
    assert (event.stix_id, event.actor_user_id, event.subject_org_id) == (
        obj["id"], world["brno_analyst"].id, world["brno"].id)
    assert '"community":true' in event.detail
    outbox = db.session.scalars(select(OutboxEntry)).one()
    assert outbox.event == "shared" and outbox.item.stix_id == obj["id"]


def test_delete_by_the_owner_revokes_and_recipients_see_the_revocation(world, taxii):
    sharer = taxii(world["brno_analyst"])
    obj = marked("198.51.100.70")
    sharer.post(sharer.objects_path("community"), {"objects": [obj]})
    collection = sharer.collections()["community"]["id"]
    path = f"/api/collections/{collection}/objects/{obj['id']}/"

    recipient = taxii(world["olomouc_analyst"])
    assert recipient.delete(path).status_code == 403  # readable, but not theirs
    assert taxii(world["brno_viewer"]).delete(path).status_code == 403
    assert sharer.delete(path + "?match[version]=first").status_code == 400
    missing = sharer.delete(f"/api/collections/{collection}/objects/indicator--{uuid.uuid4()}/")
    assert missing.status_code == 404

    deleted = sharer.delete(path)
    assert deleted.status_code == 200
    assert deleted.headers["Content-Type"] == "application/taxii+json;version=2.1"
    served = recipient.get(path).json["objects"]
    assert served[0]["revoked"] is True and served[0]["modified"] > obj["modified"]
    assert recipient.get(path + "versions/").json["versions"][0] == obj["modified"]
    assert [e.event for e in db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))] == ["shared", "revoked"]
    # A revoked object takes no new versions.
    update = {**obj, "modified": "2026-12-01T00:00:00.000Z"}
    refused = sharer.post(sharer.objects_path("community"), {"objects": [update]}).json
    assert refused["failure_count"] == 1 and "revoked" in refused["failures"][0]["message"]


def test_delete_on_the_read_only_collection_is_forbidden(world, taxii):
    sharer = taxii(world["brno_analyst"])
    obj = marked("198.51.100.80")
    sharer.post(sharer.objects_path("community"), {"objects": [obj]})
    everything = sharer.collections()["everything"]["id"]
    assert sharer.delete(f"/api/collections/{everything}/objects/{obj['id']}/").status_code == 403


def test_an_object_the_database_refuses_fails_alone(world, taxii):
    """PostgreSQL cannot store NUL characters in text, so the hub refuses them on every database
    (hub.bounds); only that object is affected."""
    sharer = taxii(world["brno_analyst"])
    nul = marked("198.51.100.90", description="before\u0000after")
    fine = [marked("198.51.100.91"), marked("198.51.100.92")]
    status = sharer.post(sharer.objects_path("community"), {"objects": [fine[0], nul, fine[1]]}).json
    stored = {item.stix_id for item in db.session.scalars(select(SharedItem))}
    assert status["success_count"] == 2 and status["failures"][0]["id"] == nul["id"]
    assert stored == {fine[0]["id"], fine[1]["id"]}
    assert db.session.scalar(select(func.count()).select_from(StixVersion)) == 2


def test_a_large_envelope_of_complex_objects_is_validated_in_parallel_and_judged_one_by_one(world, taxii, app, monkeypatch):
    """Objects the fast path does not take go to a pool of parser processes when there are many."""
    from hub.intel import bulk

    # More than a TAXII add answers in the request by default: the share is not queued here.
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", bulk.POOL_THRESHOLD + 100)
    sharer = taxii(world["brno_analyst"])
    complex_objects = [
        marked("x", pattern=f"[ipv4-addr:value = '198.51.{n}.1'] OR [domain-name:value = 'c2-{n}.example']")
        for n in range(bulk.POOL_THRESHOLD + 6)
    ]
    complex_objects[3]["pattern"] = "[ipv4-addr:value = '1.2.3.4'] OR"  # broken
    complex_objects[7]["confidence"] = 300  # stix2 takes it; STIX 2.1 does not
    status = sharer.post(sharer.objects_path("community"), {"objects": complex_objects}).json
    assert status["success_count"] == len(complex_objects) - 2
    assert {f["id"] for f in status["failures"]} == {complex_objects[3]["id"], complex_objects[7]["id"]}
    assert bulk._pool is not None  # started on first use: the parsing went to the pool
    reader = taxii(world["olomouc_analyst"])
    served = reader.get(reader.objects_path("community")).json["objects"]
    assert len(served) == len(complex_objects) - 2


@pytest.mark.parametrize("large", [False, True], ids=["answered-at-once", "completed-by-a-worker"])
def test_a_nul_in_one_objects_marking_ref_fails_that_object_alone(world, taxii, app, monkeypatch, large):
    """The TLP claims are looked up for the whole envelope before any object is checked: a NUL in
    one object's marking reference reached PostgreSQL there, and the whole add failed (a 500, or
    a worker that never completed the request)."""
    from hub.taxii import pending as pending_adds

    if large:
        monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 2)
    good = [marked("198.51.100.91"), marked("198.51.100.92")]
    bad = indicator("198.51.100.93", object_marking_refs=[TLP.green.marking_id, "marking-definition--\u0000x"],
                    granular_markings=[{"marking_ref": "marking-definition--\u0000y", "selectors": ["name"]}])
    sharer = taxii(world["brno_analyst"])
    response = sharer.post(sharer.objects_path("community"), {"objects": [*good, bad]})
    assert response.status_code == 202, response.get_data()[:300]
    if large:
        pending_adds.complete_pending_add(response.json["id"])
    status = sharer.get(f"/api/status/{response.json['id']}/").json
    assert (status["status"], status["success_count"], status["failure_count"]) == ("complete", 2, 1), status


def test_a_tlp_definition_the_sharer_may_not_read_answers_nothing(world, member_of, api):
    """Rule 8: a colleague not named on a RED item must not learn from a share's answer that it
    exists, nor have it decide the TLP of the colleague's objects."""
    author, colleague = world["brno_analyst"], member_of(world["brno"])
    definition = _own_red_statement()
    stored = api(author).post("/share", json={"objects": [definition], "tlp": "red", "audience": {"users": [author.email]}})
    assert stored.status_code == 201, stored.json
    assert api(colleague).get(f"/objects/{definition['id']}").status_code == 404
    answers = [api(colleague).post("/share", json={"objects": [indicator("198.51.100.70", object_marking_refs=[ref])],
                                                    "tlp": "green", "audience": "own"}).status_code
               for ref in (definition["id"], f"marking-definition--{uuid.uuid4()}")]
    assert answers == [201, 201]


def test_another_member_cannot_publish_an_identity_object_under_a_members_identity_id(world, taxii):
    """Olomouc shared identity--<Brno's id> under any name it liked: readers resolving Brno's
    created_by_ref or where_sighted_refs got Olomouc's text, and Brno could never share its own."""
    spoof = {"type": "identity", "spec_version": "2.1", "id": world["brno"].identity_id,
             "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
             "name": "Brno hospital: we leak patient data", "identity_class": "organization",
             "object_marking_refs": [TLP.green.marking_id]}
    olomouc = taxii(world["olomouc_analyst"])
    status = olomouc.post(olomouc.objects_path("community"), {"objects": [spoof]}).json
    assert status["success_count"] == 0, status


def test_an_observable_differing_from_a_readable_copy_is_not_dropped_as_already_shared(world, taxii, api):
    """SCOs have no modified: any readable copy of the id counted as "the same version", so
    Olomouc's different SCO (other properties, other TLP) was reported "already shared", not
    stored, and Olomouc read back Brno's object."""
    sco_id = f"ipv4-addr--{uuid.uuid4()}"
    brnos = {"type": "ipv4-addr", "spec_version": "2.1", "id": sco_id, "value": "203.0.113.77",
             "x_opencti_score": 10, "object_marking_refs": [TLP.green.marking_id]}
    olomoucs = {**brnos, "x_opencti_score": 95, "object_marking_refs": [TLP.amber.marking_id]}
    brno, olomouc = taxii(world["brno_analyst"]), taxii(world["olomouc_analyst"])
    assert brno.post(brno.objects_path("community"), {"objects": [brnos]}).json["success_count"] == 1
    status = olomouc.post(olomouc.objects_path("community"), {"objects": [olomoucs]}).json
    assert status["success_count"] == 1, status
    assert api(world["olomouc_analyst"]).get(f"/objects/{sco_id}").json["object"] == olomoucs


def test_a_squatted_marking_definition_id_cannot_lower_the_owners_tlp(world, taxii):
    """Olomouc shared a bland definition under the id Brno's tool uses. Brno's own definition
    (claiming TLP:RED) was answered "already shared" (same id and created) and not stored, so
    Brno's later objects marked with it took the collection default and reached the community.
    Each organisation now holds its own copy of a marking definition, as of an observable."""
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "community", TLP.green)
    marking_id = f"marking-definition--{uuid.uuid4()}"
    squat = {"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
             "created": "2022-01-01T00:00:00.000Z", "definition_type": "statement",
             "definition": {"statement": "nothing"}, "object_marking_refs": [TLP.green.marking_id]}
    real = {**squat, "name": "TLP:RED", "definition": {"statement": "custom"},
            "x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:RED"}
    brno, olomouc = taxii(world["brno_analyst"]), taxii(world["olomouc_analyst"])
    assert olomouc.post(olomouc.objects_path("community"), {"objects": [squat]}).json["success_count"] == 1
    brno.post(brno.objects_path("community"), {"objects": [real, indicator("198.51.100.90", object_marking_refs=[marking_id])]})
    later = indicator("198.51.100.91", object_marking_refs=[marking_id])
    brno.post(brno.objects_path("community"), {"objects": [later]})
    assert olomouc.get(olomouc.objects_path("community") + f"{later['id']}/").status_code == 404


def _probe_sco(value: str, tlp: TLP = TLP.green, **extra) -> dict:
    return {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}", "value": value,
            "object_marking_refs": [tlp.marking_id], **extra}


def _probe_statement(**extra) -> dict:
    return {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uuid.uuid4()}",
            "created": "2026-01-01T00:00:00.000Z", "definition_type": "statement",
            "definition": {"statement": "handle as"}, **extra}


@pytest.fixture
def prague(make, member_of):
    return member_of(make.make_org("hospital", "CZ", slug="prague-hospital"))


def test_a_definition_already_held_identically_by_another_org_still_claims_for_the_sharer(world, taxii):
    from hub.taxii.collections import set_default_tlp

    set_default_tlp("brno-hospital", "community", TLP.green)
    set_default_tlp("olomouc-hospital", "community", TLP.green)
    red = _probe_statement(name="TLP:RED")  # e.g. the same tool's definition at both organisations
    olomouc, brno = taxii(world["olomouc_analyst"]), taxii(world["brno_analyst"])
    assert olomouc.post(olomouc.objects_path("community"), {"objects": [red]}).json["success_count"] == 1
    first = indicator("198.51.100.201", object_marking_refs=[red["id"]])
    status = brno.post(brno.objects_path("community"), {"objects": [red, first]}).json
    assert [f["id"] for f in status["failures"]] == [first["id"]]  # held to RED: right
    later = indicator("198.51.100.202", object_marking_refs=[red["id"]])  # the definition was sent before
    brno.post(brno.objects_path("community"), {"objects": [later]})
    assert olomouc.get(olomouc.objects_path("community") + f"{later['id']}/").status_code == 404


# 2. leak: the REST share answer's warnings come from whichever copy of an "unchanged" id loads
#    first, including a copy the sharer may not read.
def test_the_share_answer_never_describes_a_copy_the_sharer_may_not_read(world, api, prague):
    from hub.intel import warninglist_sources

    warninglist_sources.load(["rfc1918"])
    secret = _probe_sco("10.66.66.66")  # Prague's, own audience: Olomouc may not read it
    assert api(prague).post("/share", json={"objects": [secret], "audience": "own"}).status_code == 201
    brnos = {**secret, "value": "203.0.113.66"}
    assert api(world["brno_analyst"]).post("/share", json={"objects": [brnos], "audience": "community"}).status_code == 201
    answer = api(world["olomouc_analyst"]).post("/share", json={"objects": [brnos], "audience": "own"}).json
    assert "10.66.66.66" not in str(answer), answer




def test_an_observable_shared_wider_than_the_readable_copy_reaches_the_wider_audience(world, api, prague):
    obs = _probe_sco("203.0.113.88", TLP.amber)
    assert api(world["brno_analyst"]).post(
        "/share", json={"objects": [obs], "audience": {"orgs": ["olomouc-hospital"]}}).status_code == 201
    wide = {**obs, "object_marking_refs": [TLP.clear.marking_id]}
    assert api(world["olomouc_analyst"]).post("/share", json={"objects": [wide], "audience": "community"}).status_code == 201
    assert api(prague).get(f"/objects/{obs['id']}").status_code == 200


# 5. wrong data / attacker's choice: REST get serves the copy added last (anyone's later copy,
#    or one re-stamped by a widening), TAXII the copy shared first.
@pytest.mark.parametrize("kind", ["sco", "marking-definition"])
def test_rest_and_taxii_serve_a_third_reader_the_same_copy(world, api, taxii, prague, kind):
    first = _probe_sco("203.0.113.99") if kind == "sco" else _probe_statement(name="Copyright Brno",
                                                                 object_marking_refs=[TLP.green.marking_id])
    later = ({**first, "x_label": "planted"} if kind == "sco"
             else {**first, "name": "TLP:CLEAR", "definition": {"statement": "planted"}})
    assert api(world["brno_analyst"]).post("/share", json={"objects": [first], "audience": "community"}).status_code == 201
    assert api(world["olomouc_analyst"]).post("/share", json={"objects": [later], "audience": "community"}).status_code == 201
    reader = taxii(prague)
    [via_taxii] = reader.get(reader.objects_path("community") + f"{first['id']}/").json["objects"]
    via_rest = api(prague).get(f"/objects/{first['id']}").json["object"]
    assert via_taxii == first
    assert via_rest == via_taxii




def test_an_anonymous_share_may_not_carry_the_sharers_own_identity_object(world, api):
    own = {"type": "identity", "spec_version": "2.1", "id": world["brno"].identity_id,
           "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
           "name": "Brno hospital", "identity_class": "organization"}
    answer = api(world["brno_analyst"]).post("/share", json={"objects": [own], "tlp": "green",
                                                             "audience": "community", "anonymous": True})
    assert answer.status_code == 422, answer.json


def test_correlations_list_an_observable_once_per_id(world, api, prague):
    """Each organisation holds its own copy of an observable: a correlation names the id once,
    with the copy a read of it serves (it listed, and audited, every copy)."""
    value = "203.0.113.50"
    shared = {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid5(uuid.NAMESPACE_URL, value)}",
              "value": value, "object_marking_refs": [TLP.green.marking_id]}
    for user in (world["brno_analyst"], world["olomouc_analyst"]):
        assert api(user).post("/share", json={"objects": [shared], "audience": "community"}).status_code == 201
    seen = indicator(value, object_marking_refs=[TLP.green.marking_id])
    assert api(prague).post("/share", json={"objects": [seen], "audience": "community"}).status_code == 201
    found = api(prague).get(f"/objects/{seen['id']}/correlations").json["correlations"]
    assert [c["object_id"] for c in found].count(shared["id"]) == 1, found


def test_rest_lists_and_search_name_an_id_once_as_taxii_does(world, api, taxii, prague):
    """Two organisations' copies of one observable: the REST list (and its count) and the search
    give the reader one object per id, the copy a read of the id serves, as TAXII does."""
    value = "203.0.113.51"
    shared = {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid5(uuid.NAMESPACE_URL, value)}",
              "value": value, "object_marking_refs": [TLP.green.marking_id]}
    for user in (world["brno_analyst"], world["olomouc_analyst"]):
        assert api(user).post("/share", json={"objects": [{**shared, "x_by": user.email}],
                                              "audience": "community"}).status_code == 201
    listed = [o for o in api(prague).get("/objects?type=ipv4-addr").json["objects"] if o["id"] == shared["id"]]
    found = [r for r in api(prague).get(f"/search?q={value}").json["results"] if r["id"] == shared["id"]]
    served = api(prague).get(f"/objects/{shared['id']}").json["object"]
    assert listed == [served] and len(found) == 1
    assert served["x_by"] == world["brno_analyst"].email  # the first shared
    # Each organisation still reads its own copy.
    own = [o for o in api(world["olomouc_analyst"]).get("/objects?type=ipv4-addr").json["objects"] if o["id"] == shared["id"]]
    assert [o["x_by"] for o in own] == [world["olomouc_analyst"].email]
