"""Collections are audiences, seen from the caller's organisation and role."""
from __future__ import annotations

import uuid

import pytest

from hub.tlp import TLP
from hub.taxii.collections import collection_uuid
from tests.factories import indicator

GREEN = [TLP.green.marking_id]


@pytest.fixture
def world(make, member_of):
    brno = make.make_org("hospital", "CZ", slug="brno-hospital")
    olomouc = make.make_org("hospital", "CZ", slug="olomouc-hospital")
    vienna = make.make_org("hospital", "AT", slug="vienna-hospital")
    make.make_group("cz-hospitals", brno, olomouc)
    return {
        "brno": brno, "olomouc": olomouc, "vienna": vienna,
        "brno_analyst": member_of(brno), "brno_viewer": member_of(brno, "viewer"),
        "olomouc_analyst": member_of(olomouc), "vienna_analyst": member_of(vienna),
    }


def test_each_member_sees_community_its_groups_its_organisation_and_everything(world, taxii):
    brno = taxii(world["brno_analyst"]).collections()
    assert list(brno) == ["community", "group-cz-hospitals", "org-brno-hospital", "everything"]
    vienna = taxii(world["vienna_analyst"]).collections()
    assert list(vienna) == ["community", "org-vienna-hospital", "everything"]
    for collection in brno.values():
        assert uuid.UUID(collection["id"])  # identifiers are UUIDs
        assert collection["title"] and collection["can_read"] is True
        assert collection["media_types"] == ["application/stix+json;version=2.1"]
    assert [brno[a]["can_write"] for a in brno] == [True, True, True, False]


def test_collection_ids_are_stable_and_shared_audiences_share_an_id(world, taxii):
    brno = taxii(world["brno_analyst"]).collections()
    olomouc = taxii(world["olomouc_analyst"]).collections()
    assert brno["community"]["id"] == olomouc["community"]["id"] == collection_uuid("community")
    assert brno["group-cz-hospitals"]["id"] == olomouc["group-cz-hospitals"]["id"]
    assert brno["org-brno-hospital"]["id"] != olomouc["org-olomouc-hospital"]["id"]
    assert taxii(world["brno_analyst"]).collections() == brno


def test_viewers_read_every_collection_but_write_none(world, taxii):
    viewer = taxii(world["brno_viewer"])
    collections = viewer.collections()
    assert all(c["can_read"] and not c["can_write"] for c in collections.values())
    response = viewer.post(viewer.objects_path("community"), {"objects": [indicator(object_marking_refs=GREEN)]})
    assert response.status_code == 403
    assert response.json["http_status"] == "403"


def test_the_everything_collection_is_read_only(world, taxii):
    analyst = taxii(world["brno_analyst"])
    response = analyst.post(analyst.objects_path("everything"), {"objects": [indicator(object_marking_refs=GREEN)]})
    assert response.status_code == 403


def test_a_collection_is_found_by_id_or_alias_and_another_orgs_is_not_found(world, taxii):
    brno = taxii(world["brno_analyst"])
    community = brno.collections()["community"]
    assert brno.get(f"/api/collections/{community['id']}/").json == community
    assert brno.get("/api/collections/community/").json == community
    olomouc_own = taxii(world["olomouc_analyst"]).collections()["org-olomouc-hospital"]["id"]
    assert brno.get(f"/api/collections/{olomouc_own}/").status_code == 404
    assert brno.get(f"/api/collections/{olomouc_own}/objects/").status_code == 404
    vienna = taxii(world["vienna_analyst"])
    group = brno.collections()["group-cz-hospitals"]["id"]
    assert vienna.get(f"/api/collections/{group}/").status_code == 404


def test_posting_to_a_collection_shares_with_its_audience(world, taxii):
    brno = taxii(world["brno_analyst"])
    shared = {}
    for alias in ("community", "group-cz-hospitals", "org-brno-hospital"):
        obj = indicator(object_marking_refs=GREEN)
        assert brno.post(brno.objects_path(alias), {"objects": [obj]}).json["success_count"] == 1
        shared[alias] = obj["id"]

    def ids(client, alias):
        return {o["id"] for o in client.get(client.objects_path(alias)).json.get("objects", [])}

    olomouc, vienna = taxii(world["olomouc_analyst"]), taxii(world["vienna_analyst"])
    assert ids(olomouc, "community") == {shared["community"]}
    assert ids(olomouc, "group-cz-hospitals") == {shared["group-cz-hospitals"]}
    assert ids(olomouc, "everything") == {shared["community"], shared["group-cz-hospitals"]}
    assert ids(vienna, "everything") == {shared["community"]}
    assert ids(brno, "org-brno-hospital") == set(shared.values())  # everything it shares
    assert ids(brno, "everything") == set(shared.values())


def test_one_statement_serves_every_reader_and_group_with_their_own_values(world, taxii, make):
    """A collection's page is built once per shape and kind of reader (its ids and the group's
    are parameters): read in turns, each reader and each group still get exactly their own."""
    make.make_group("border-hospitals", world["brno"], world["vienna"])
    brno, olomouc, vienna = (taxii(world[f"{name}_analyst"]) for name in ("brno", "olomouc", "vienna"))
    shared = {}
    for client, alias in ((brno, "group-cz-hospitals"), (brno, "group-border-hospitals"),
                          (olomouc, "org-olomouc-hospital"), (vienna, "org-vienna-hospital")):
        obj = indicator(object_marking_refs=GREEN)
        assert client.post(client.objects_path(alias), {"objects": [obj]}).json["success_count"] == 1
        shared[alias] = obj["id"]

    def ids(client, alias):
        return {o["id"] for o in client.get(client.objects_path(alias)).json.get("objects", [])}

    for _ in range(2):  # the second round reads through statements the first one built
        assert ids(brno, "group-cz-hospitals") == {shared["group-cz-hospitals"]}
        assert ids(brno, "group-border-hospitals") == {shared["group-border-hospitals"]}
        assert ids(vienna, "group-border-hospitals") == {shared["group-border-hospitals"]}
        assert ids(olomouc, "group-cz-hospitals") == {shared["group-cz-hospitals"]}
        assert ids(olomouc, "org-olomouc-hospital") == {shared["org-olomouc-hospital"]}
        assert ids(vienna, "org-vienna-hospital") == {shared["org-vienna-hospital"]}
        assert ids(brno, "org-brno-hospital") == {shared["group-cz-hospitals"], shared["group-border-hospitals"]}
        object_path = vienna.objects_path("org-vienna-hospital")
        assert vienna.get(object_path + shared["org-vienna-hospital"] + "/").status_code == 200
        assert olomouc.get(olomouc.objects_path("org-olomouc-hospital") + shared["org-vienna-hospital"] + "/").status_code == 404


def test_own_organisation_collection_holds_what_others_share_with_it_by_name(world, taxii, make):
    obj = indicator(object_marking_refs=[TLP.amber.marking_id])
    make.share(world["vienna_analyst"], [obj], tlp="amber", audience={"orgs": ["brno-hospital"]})
    brno = taxii(world["brno_analyst"])
    got = brno.get(brno.objects_path("org-brno-hospital")).json["objects"]
    assert [o["id"] for o in got] == [obj["id"]]
    assert "objects" not in brno.get(brno.objects_path("community")).json


def test_an_explicit_default_tlp_lets_unmarked_objects_in(world, taxii, runner):
    brno = taxii(world["brno_analyst"])
    unmarked = indicator()
    rejected = brno.post(brno.objects_path("community"), {"objects": [unmarked]}).json
    assert rejected["failure_count"] == 1 and "TLP" in rejected["failures"][0]["message"]

    result = runner.invoke(args=["taxii", "default-tlp", "brno-hospital", "community", "green"])
    assert result.exit_code == 0, result.output
    assert brno.collections()["community"]["x_healthcert_default_tlp"] == "green"
    accepted = brno.post(brno.objects_path("community"), {"objects": [unmarked]}).json
    assert accepted["success_count"] == 1
    stored = brno.get(brno.objects_path("community")).json["objects"][0]
    assert stored["object_marking_refs"] == [TLP.green.marking_id]
    # The default is Brno's own choice: Olomouc's unmarked objects are still refused.
    olomouc = taxii(world["olomouc_analyst"])
    assert olomouc.post(olomouc.objects_path("community"), {"objects": [indicator()]}).json["failure_count"] == 1
    # Explicit markings win over the default.
    amber = indicator(object_marking_refs=[TLP.amber.marking_id])
    assert brno.post(brno.objects_path("community"), {"objects": [amber]}).json["success_count"] == 1

    assert runner.invoke(args=["taxii", "default-tlp", "brno-hospital", "community", "none"]).exit_code == 0
    assert brno.post(brno.objects_path("community"), {"objects": [indicator()]}).json["failure_count"] == 1


def test_red_cannot_be_a_default_and_defaults_need_a_writable_collection(world, runner):
    assert runner.invoke(args=["taxii", "default-tlp", "brno-hospital", "community", "red"]).exit_code != 0
    assert runner.invoke(args=["taxii", "default-tlp", "vienna-hospital", "group-cz-hospitals", "green"]).exit_code != 0
    assert runner.invoke(args=["taxii", "default-tlp", "brno-hospital", "everything", "green"]).exit_code != 0
