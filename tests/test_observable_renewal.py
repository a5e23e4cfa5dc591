"""An observable (no modified, no created) its organisation sends again with other properties is
renewed in place, and never at the cost of the rules around it: what its id says decides which
copy a reader is served, a version with a modified is never rewritten, and REST and TAXII keep
the same copy of one observable sent twice in a request."""
from __future__ import annotations

import pytest
import stix2

from hub.taxii import pending
from hub.tlp import TLP

GREEN = TLP.green.marking_id


def ip(value: str, **extra) -> dict:
    return {"type": "ipv4-addr", "spec_version": "2.1", "id": stix2.IPv4Address(value=value).id, "value": value,
            "object_marking_refs": [GREEN], **extra}


@pytest.fixture
def world(app, make, member_of, taxii, api, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    a, b, c = (make.make_org("hospital", "CZ") for _ in range(3))
    return {"a": member_of(a), "b": member_of(b), "c": member_of(c), "taxii": taxii, "api": api}


def post(client, objects: list) -> dict:
    response = client.post(client.objects_path("community"), {"objects": objects})
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    return response.json


def test_an_observable_renewed_with_other_values_no_longer_stands_in_for_the_real_one(world):
    """A shares the real 198.51.100.3, B too; A renews its copy with another value under the same
    id. C, reading the id, is served B's copy: the one whose id is what its values give."""
    a, b, reader = world["taxii"](world["a"]), world["taxii"](world["b"]), world["api"](world["c"])
    genuine = ip("198.51.100.3")
    assert post(a, [genuine])["success_count"] == 1
    assert post(b, [genuine])["success_count"] == 1
    assert post(a, [{**genuine, "value": "203.0.113.66"}])["success_count"] == 1
    assert reader.get(f"/objects/{genuine['id']}").json["object"] == genuine


def test_a_copy_without_modified_never_rewrites_a_version_with_one(world):
    client = world["taxii"](world["a"])
    path = client.objects_path("community")
    first = ip("198.51.100.30", modified="2024-01-01T00:00:00.000Z", x_score=1)
    second = ip("198.51.100.30", modified="2024-02-01T00:00:00.000Z", x_score=2)
    assert post(client, [first])["success_count"] == 1
    assert post(client, [second])["success_count"] == 1

    bare = post(client, [ip("198.51.100.30", x_score=3)])
    assert bare["failure_count"] == 1 and "later modified" in bare["failures"][0]["message"], bare
    every = client.get(path + first["id"] + "/", query_string={"match[version]": "all"}).json["objects"]
    assert every == [first, second]


def test_one_observable_sent_twice_with_other_content_keeps_the_later_copy_over_rest_and_taxii(world):
    client, api = world["taxii"](world["a"]), world["api"](world["a"])
    early, late = ip("198.51.100.41", x_score=1), ip("198.51.100.41", x_score=2)
    status = post(client, [early, late])
    assert status["success_count"] == 2 and "later copy" in status["successes"][0]["message"], status
    path = client.objects_path("community")
    assert client.get(path + early["id"] + "/").json["objects"] == [late]
    versions = client.get(path + early["id"] + "/versions/").json["versions"]

    again = post(client, [early, late])  # the same request again changes nothing
    assert again["success_count"] == 2, again
    assert client.get(path + early["id"] + "/versions/").json["versions"] == versions

    early, late = ip("198.51.100.42", x_score=1), ip("198.51.100.42", x_score=2)
    shared = api.post("/share", json={"objects": [early, late], "audience": "community"})
    assert shared.status_code == 201, shared.json
    assert api.get(f"/objects/{early['id']}").json["object"] == late


def test_a_large_add_renews_as_a_small_one_and_names_ids_as_sent(world, app, monkeypatch):
    client, reader = world["taxii"](world["a"]), world["taxii"](world["c"])
    first = [ip(f"198.51.100.{n}", x_score=1) for n in range(50, 54)]
    post(client, first)
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 3)
    renewed = [{**obj, "x_score": 2, "id": "ipv4-addr--" + obj["id"].split("--")[1].upper()} for obj in first]
    status = post(client, renewed)
    assert status["status"] == "pending"
    pending.complete_pending_add(status["id"])
    done = client.get(f"/api/status/{status['id']}/").json
    assert sorted(success["id"] for success in done["successes"]) == sorted(obj["id"] for obj in renewed), done

    path = reader.objects_path("community")
    assert sorted(reader.get(path).json["objects"], key=lambda o: o["id"]) == sorted(renewed, key=lambda o: o["id"])
    manifest = reader.get(path.replace("/objects/", "/manifest/")).json["objects"]
    assert sorted(record["id"] for record in manifest) == sorted(obj["id"] for obj in renewed)
    for success in done["successes"]:
        assert reader.get(path + success["id"] + "/versions/").json["versions"] == [success["version"]]


AMBER = TLP.amber.marking_id


def test_a_copy_refused_in_place_of_an_earlier_one_leaves_the_earlier_one_shared(world):
    """Sent one after the other, the first copy is stored and the second, under another TLP, is
    refused: the same holds when both come in one request."""
    client = world["taxii"](world["a"])
    post(client, [ip("198.51.100.7", x_score=1)])
    status = post(client, [ip("198.51.100.7", x_score=2), ip("198.51.100.7", x_score=3, object_marking_refs=[AMBER])])
    assert (status["success_count"], status["failure_count"]) == (1, 1), status
    assert "cannot change its TLP" in status["failures"][0]["message"], status
    path = client.objects_path("community")
    assert client.get(path + ip("198.51.100.7")["id"] + "/").json["objects"] == [ip("198.51.100.7", x_score=2)]

    new = [ip("198.51.100.96", x_score=1), ip("198.51.100.96", x_score=2, object_marking_refs=[AMBER])]
    status = post(client, new)  # new to the hub: the first copy decides its TLP, as if sent first
    assert (status["success_count"], status["failure_count"]) == (1, 1), status
    assert client.get(path + new[0]["id"] + "/").json["objects"] == [new[0]]


def test_a_large_add_sent_again_changes_nothing_however_its_copies_are_cut_into_chunks(world, app, monkeypatch):
    client = world["taxii"](world["a"])
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 2)
    monkeypatch.setitem(app.config, "HUB_TAXII_CHUNK", 2)
    objects = [ip("198.51.100.110", x_score=1), ip("198.51.100.111"), ip("198.51.100.112"),
               ip("198.51.100.110", x_score=2), ip("198.51.100.113")]
    path = client.objects_path("community") + objects[0]["id"] + "/"
    first = post(client, objects)
    pending.complete_pending_add(first["id"])
    assert client.get(path).json["objects"] == [objects[3]]
    versions = client.get(path + "versions/").json["versions"]

    again = post(client, objects)
    pending.complete_pending_add(again["id"])
    done = client.get(f"/api/status/{again['id']}/").json
    assert (done["status"], done["success_count"]) == ("complete", 5), done
    assert client.get(path + "versions/").json["versions"] == versions


@pytest.mark.parametrize("renewed", [False, True])
def test_an_observable_with_a_timestamp_finer_than_the_microsecond_can_be_sent_again(world, renewed):
    """A file's ctime in Windows' 100 ns steps (seven digits): an observable has no modified, so
    "give this version a later modified" can never be followed."""
    client = world["taxii"](world["a"])
    sent = {"type": "file", "spec_version": "2.1", "id": "file--33333333-3333-4333-8333-333333333333",
            "name": "y.exe", "ctime": "2020-01-01T00:00:00.1234567Z", "object_marking_refs": [GREEN]}
    assert post(client, [sent])["success_count"] == 1
    again = {**sent, "name": "z.exe"} if renewed else sent
    status = post(client, [again])
    assert status["success_count"] == 1, status
    assert client.get(client.objects_path("community") + sent["id"] + "/").json["objects"] == [again]


def test_a_renewal_that_gives_up_the_place_of_the_real_observable_reaches_a_syncing_reader(world):
    """B holds the id with other values, A the real observable, which a reader is served. A renews
    its copy with other values: the reader is now served B's copy, and a client polling with
    added_after must receive it, not keep the real one it had for ever."""
    a, b, reader = world["taxii"](world["a"]), world["taxii"](world["b"]), world["taxii"](world["c"])
    genuine = ip("198.51.100.3")
    post(b, [{**genuine, "value": "203.0.113.1"}])
    post(a, [genuine])
    path = reader.objects_path("community")
    page = reader.get(path)
    assert page.json["objects"] == [genuine]
    cursor = page.headers["X-TAXII-Date-Added-Last"]
    post(a, [{**genuine, "value": "203.0.113.66"}])
    served = reader.get(path + genuine["id"] + "/").json["objects"]
    assert reader.get(path, query_string={"added_after": cursor}).json.get("objects") == served
