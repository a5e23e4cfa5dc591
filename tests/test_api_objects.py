"""GET /api/v1/objects (keyset pages, filters) and GET /api/v1/search (normalised values, text)."""
from __future__ import annotations

import base64
import json
import re

import pytest
import stix2

from tests.factories import indicator


def _vulnerability(cve: str) -> dict:
    return json.loads(stix2.Vulnerability(name=cve, external_references=[
        {"source_name": "cve", "external_id": cve}]).serialize())


@pytest.fixture
def world(make, api):
    """Items from two hospitals, shared in a known order; the CERT reads some of them."""
    north = make.make_org("hospital", "CZ")
    south = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    north_analyst, south_analyst = make.make_user(north), make.make_user(south)
    cert_reader = make.make_user(cert)
    north_api, south_api = api(north_analyst), api(south_analyst)

    shares = [  # (sharer, objects, tlp, audience, anonymous, readable by the CERT)
        (north_api, [indicator("198.51.100.1")], "green", "community", False, True),
        (north_api, [indicator("198.51.100.2")], "amber", "own", False, False),
        (south_api, [indicator("198.51.100.3"), _vulnerability("CVE-2026-1001")], "amber",
         {"orgs": [cert.slug]}, False, True),
        (north_api, [indicator("198.51.100.4")], "red", {"users": [south_analyst.email]}, False, False),
        (north_api, [indicator("198.51.100.5")], "clear", "own", False, True),
        (south_api, [indicator("198.51.100.6")], "amber+strict", {"orgs": [north.slug]}, False, False),
        (north_api, [indicator("198.51.100.7"), indicator("198.51.100.8")], "green", "community", True, True),
        (south_api, [_vulnerability("CVE-2026-1002")], "green", "community", False, True),
        (north_api, [indicator("198.51.100.9")], "amber", {"orgs": [cert.slug]}, False, True),
    ]
    readable, by_id = [], {}
    for sharer, objects, tlp, audience, anonymous, visible in shares:
        response = sharer.post("/share", json={"objects": objects, "tlp": tlp, "audience": audience,
                                               "anonymous": anonymous})
        assert response.status_code == 201, response.json
        for obj in objects:
            by_id[obj["id"]] = {"tlp": tlp, "owner": north if sharer is north_api else south,
                                "anonymous": anonymous, "type": obj["type"]}
            if visible:
                readable.append(obj["id"])
    return {"north": north, "south": south, "cert": cert, "reader": api(cert_reader),
            "north_api": north_api, "readable": readable, "by_id": by_id}


def collect(reader, query: str, limit: int) -> list[str]:
    """Follow `next` from the first page to the last; fail on a repeated cursor."""
    ids, cursors, cursor = [], set(), None
    while True:
        params = f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = reader.get(f"/objects?{params}")
        assert response.status_code == 200, response.json
        page = response.json
        assert len(page["objects"]) <= limit
        ids += [obj["id"] for obj in page["objects"]]
        cursor = page["next"]
        if cursor is None:
            return ids
        assert cursor not in cursors
        cursors.add(cursor)


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 500])
def test_paging_returns_each_readable_object_once_in_date_added_order(world, limit):
    ids = collect(world["reader"], "", limit)
    assert ids == world["readable"]


def test_a_cursor_tells_nothing_of_the_rows_behind_it_and_cannot_be_forged(world):
    from hub.extensions import db
    from hub.intel.models import SharedItem
    from sqlalchemy import select
    page = world["reader"].get("/objects?limit=1").json
    last_id = db.session.scalar(select(SharedItem.id).where(SharedItem.stix_id == page["objects"][0]["id"]))
    decoded = base64.urlsafe_b64decode(page["next"] + "=" * (-len(page["next"]) % 4))
    # The internal row id would count every item of the hub, the unreadable ones too.
    assert not re.search(rb"\d+\|" + str(last_id).encode(), decoded)
    forged = base64.urlsafe_b64encode(f"99999999999999|{last_id + 1}".encode()).decode().rstrip("=")
    refused = world["reader"].get(f"/objects?cursor={forged}")
    assert refused.status_code == 400 and "cursor" in str(refused.json)


def test_a_page_that_ends_exactly_on_the_last_object_has_no_next(world):
    count = len(world["readable"])
    page = world["reader"].get(f"/objects?limit={count}").json
    assert [o["id"] for o in page["objects"]] == world["readable"]
    assert page["next"] is None


@pytest.mark.parametrize("query, keep", [
    ("type=indicator", lambda m: m["type"] == "indicator"),
    ("type=vulnerability", lambda m: m["type"] == "vulnerability"),
    ("type=vulnerability,indicator", lambda m: True),
    ("tlp=amber", lambda m: m["tlp"] == "amber"),
    ("tlp=green&tlp=clear", lambda m: m["tlp"] in ("green", "clear")),
    ("tlp=GREEN", lambda m: m["tlp"] == "green"),
    ("type=indicator&tlp=green", lambda m: m["type"] == "indicator" and m["tlp"] == "green"),
])
def test_filters_page_through_the_readable_subset(world, query, keep):
    expected = [i for i in world["readable"] if keep(world["by_id"][i])]
    assert expected  # each filter keeps something, so the test can fail
    assert collect(world["reader"], query, 2) == expected


def test_owner_filter_never_reveals_an_anonymous_source(world):
    north = world["north"].slug
    expected = [i for i in world["readable"]
                if world["by_id"][i]["owner"] == world["north"] and not world["by_id"][i]["anonymous"]]
    assert collect(world["reader"], f"owner={north}", 2) == expected
    # The owner organisation itself finds its anonymous items under its own name.
    own = collect(world["north_api"], f"owner={north}", 2)
    assert {i for i in world["by_id"] if world["by_id"][i]["anonymous"]} <= set(own)
    assert collect(world["reader"], "owner=no-such-org", 2) == []


def test_added_after_returns_only_later_objects(world):
    reader, readable = world["reader"], world["readable"]
    pivot = reader.get(f"/objects/{readable[2]}").json["hub"]["date_added"]
    assert collect(reader, f"added_after={pivot}", 2) == readable[3:]
    assert collect(reader, "added_after=2000-01-01T00:00:00Z", 2) == readable
    assert collect(reader, "added_after=2100-01-01T00:00:00%2B02:00", 2) == []


def test_status_filter_separates_revoked_items(world):
    reader, readable = world["reader"], world["readable"]
    revoked_id = world["readable"][0]
    assert world["north_api"].post(f"/objects/{revoked_id}/revoke").status_code == 200
    assert collect(reader, "status=revoked", 2) == [revoked_id]
    assert collect(reader, "status=active", 2) == readable[1:]
    # Revoking is a new version: the item moves to the end of the date_added order.
    assert collect(reader, "status=all", 2) == readable[1:] + [revoked_id]


def test_objects_from_a_page_are_the_latest_stix_versions(world):
    objects = world["reader"].get("/objects?limit=500").json["objects"]
    assert all(obj["spec_version"] == "2.1" and obj["id"] in world["by_id"] for obj in objects)


# --- search ----------------------------------------------------------------------------------

SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture
def indexed(make, api):
    hospital = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    sharer = api(make.make_user(hospital))
    reader = api(make.make_user(cert))
    outsider = api(make.make_user(make.make_org("hospital", "BR")))
    objects = {
        "domain": indicator("c2.evil-pharma.example", "domain-name"),
        "ipv6": indicator("2001:db8::1", "ipv6-addr"),
        "url": indicator("http://phish.example.com/login?next=%2Fportal", "url"),
        "sha256": indicator(SHA256, "file"),
        "md5": indicator(pattern=f"[file:hashes.MD5 = '{MD5}']"),
        "email": indicator("billing@invoice-fraud.example", "email-addr"),
        "text": indicator("203.0.113.200", description="LockBit ransomware staging server seen at two hospitals"),
    }
    response = sharer.post("/share", json={"objects": list(objects.values()), "tlp": "amber",
                                           "audience": {"orgs": [cert.slug]}})
    assert response.status_code == 201
    return {"objects": objects, "reader": reader, "outsider": outsider}


@pytest.mark.parametrize("query, key, how", [
    ("c2.evil-pharma.example", "domain", "observable"),
    ("C2.EVIL-Pharma.Example.", "domain", "observable"),
    ("2001:0db8:0000:0000:0000:0000:0000:0001", "ipv6", "observable"),
    ("2001:DB8:0:0::1", "ipv6", "observable"),
    ("HTTP://PHISH.Example.COM:80/login?next=%2Fportal#top", "url", "observable"),
    (SHA256.upper(), "sha256", "observable"),
    (f"  {MD5.upper()}  ", "md5", "observable"),
    ("Billing@Invoice-Fraud.Example", "email", "observable"),
    ("lockbit RANSOMWARE", "text", "text"),
    ("staging server", "text", "text"),
])
def test_search_finds_observables_in_any_usual_spelling_and_words(indexed, query, key, how):
    response = indexed["reader"].get("/search", query_string={"q": query})
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["id"] for r in results] == [indexed["objects"][key]["id"]]
    assert results[0]["matched"] == how
    assert results[0]["tlp"] == "amber" and results[0]["type"] == "indicator"


def test_search_only_finds_what_the_caller_may_read(indexed):
    for query in ("c2.evil-pharma.example", "ransomware", SHA256):
        assert indexed["outsider"].get("/search", query_string={"q": query}).json == {"results": []}


def test_search_for_something_absent_is_an_empty_list(indexed):
    assert indexed["reader"].get("/search?q=198.18.0.1").json == {"results": []}


def test_search_limit_caps_results(indexed):
    response = indexed["reader"].get("/search", query_string={"q": "indicator", "limit": 3})
    assert len(response.json["results"]) == 3
