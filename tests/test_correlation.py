"""Correlation, "seen by" and bulk sightings (issue 14), through their public contracts:

GET  /api/v1/objects/<id>/correlations -> {"correlations": [{"object_id", "value", "kind"}]}
GET  /api/v1/objects/<id>              -> "hub": {"seen_by": N, ...}
POST /api/v1/sightings/bulk            -> {"matched": [{"value", "object_ids"}], "unmatched": N}

Every answer counts and names only what the caller may read (rule 7, anonymity included).
"""
from __future__ import annotations

import ipaddress
import uuid

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.intel import observables
from hub.intel.models import SharedItem
from tests.factories import indicator, share

SHA256 = "a" * 63 + "1"
MD5 = "b" * 31 + "2"
SHA1 = "c" * 39 + "3"


@pytest.fixture
def world(make, api):
    orgs = {name: make.make_org("hospital", "CZ") for name in ("alpha", "beta", "gamma", "outsider")}
    orgs["cert"] = make.make_org("national_cert", "CZ")
    users = {name: make.make_user(org) for name, org in orgs.items()}
    users["viewer"] = make.make_user(orgs["alpha"], role="viewer")
    return {"orgs": orgs, "users": users, "api": {name: api(user) for name, user in users.items()}}


def _everyone_but_outsider(world):
    return {"orgs": [world["orgs"][name].slug for name in ("alpha", "beta", "gamma", "cert")]}


def _share(world, who, obj, *, tlp="green", audience=None, anonymous=False):
    return share(world["users"][who], [obj], tlp=tlp, audience=audience or _everyone_but_outsider(world),
                 anonymous=anonymous)


def _correlations(world, who, stix_id):
    response = world["api"][who].get(f"/objects/{stix_id}/correlations")
    assert response.status_code == 200, response.json
    assert all(set(c) == {"object_id", "value", "kind"} for c in response.json["correlations"])  # the contract, exactly
    return {(c["object_id"], c["value"], c["kind"]) for c in response.json["correlations"]}


# --- Normalisation: defanged and odd spellings are one value ------------------------------------

@pytest.mark.parametrize(("typed", "kind", "value"), [
    ("hxxp://evil[.]example/path", "url", "http://evil.example/path"),
    ("evil(.)example", "domain-name", "evil.example"),
    ("EVIL.Example.", "domain-name", "evil.example"),
    ("198.51.100[.]7", "ipv4-addr", "198.51.100.7"),
    ("2001:DB8:0:0::1", "ipv6-addr", "2001:db8::1"),
    ("bad[@]evil[.]example", "email-addr", "bad@evil.example"),
    (SHA256.upper(), "sha256", SHA256),
])
def test_defanged_and_odd_spellings_normalise_to_one_value(typed, kind, value):
    assert observables.classify(typed) == (kind, value)


@pytest.mark.parametrize("typed", [
    "0.0.0.0", "255.255.255.255", "10.0.0.1", "192.168.100.200", "1.2.3.4", " 8.8.8.8 ",
    "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.04", "10.0.0.0/8", "10.0.0.1/32", "10.1.2.3/24",
    "::ffff:1.2.3.4", "١.٢.٣.٤", "1.2.3.4\n",
])
def test_ipv4_shortcut_answers_as_ipaddress_does(typed):
    """Canonical dotted quads skip ipaddress (most indicators are one): same value, key and errors."""
    def by_ipaddress():
        text = typed.strip()
        network = ipaddress.ip_network(text, strict=False)
        if network.version != 4:
            raise ValueError("not IPv4")
        value = str(network.network_address) if network.prefixlen == 32 else network.compressed
        return value, f"4:{int(network.network_address):08x}"

    try:
        expected = by_ipaddress()
    except ValueError:
        with pytest.raises(ValueError):
            observables.normalise_ip(typed, 4)
        return
    value = observables.normalise_ip(typed, 4)
    assert (value, observables.ip_key("ipv4-addr", value)) == expected


def test_search_finds_an_indicator_from_its_defanged_spelling(world):
    item = _share(world, "alpha", indicator("evil.example", kind="domain-name"))
    response = world["api"]["beta"].get("/search", query_string={"q": "evil[.]example"})
    assert response.status_code == 200
    assert [r["id"] for r in response.json["results"]] == [item.stix_id]


# --- Correlations --------------------------------------------------------------------------------

def test_same_value_correlates_across_spellings_and_organisations(world):
    mine = _share(world, "alpha", indicator("203.0.113.9"))
    theirs = _share(world, "beta", {**indicator("203.0.113.9"), "name": "Scanner"})
    unrelated = _share(world, "gamma", indicator("203.0.113.10"))
    found = _correlations(world, "alpha", mine.stix_id)
    assert found == {(theirs.stix_id, "203.0.113.9", "same-value")}
    assert unrelated.stix_id not in {object_id for object_id, _, _ in found}
    # Symmetric.
    assert _correlations(world, "beta", theirs.stix_id) == {(mine.stix_id, "203.0.113.9", "same-value")}


def test_correlation_never_reports_what_the_caller_may_not_read(world):
    mine = _share(world, "alpha", indicator("203.0.113.20"))
    # Beta shares the same value with gamma only; a RED copy within beta names one user only.
    hidden = _share(world, "beta", indicator("203.0.113.20"), audience={"orgs": [world["orgs"]["gamma"].slug]})
    red = _share(world, "cert", indicator("203.0.113.20"), tlp="red",
                 audience={"users": [world["users"]["cert"].email]})
    assert _correlations(world, "alpha", mine.stix_id) == set()
    assert _correlations(world, "gamma", mine.stix_id) == {(hidden.stix_id, "203.0.113.20", "same-value")}
    # The CERT's author reads its own RED item; alpha never learns of it.
    assert (red.stix_id, "203.0.113.20", "same-value") in _correlations(world, "cert", mine.stix_id)
    # The correlations of an item one may not read do not exist either.
    assert world["api"]["outsider"].get(f"/objects/{mine.stix_id}/correlations").status_code == 404


def test_revoked_items_do_not_correlate(world):
    mine = _share(world, "alpha", indicator("203.0.113.30"))
    theirs = _share(world, "beta", indicator("203.0.113.30"))
    assert world["api"]["beta"].post(f"/objects/{theirs.stix_id}/revoke", json={"reason": "false positive"}).status_code == 200
    assert _correlations(world, "alpha", mine.stix_id) == set()


def test_same_file_correlates_through_an_object_carrying_several_hashes(world):
    by_md5 = _share(world, "alpha", indicator(MD5, kind="file", pattern=f"[file:hashes.MD5 = '{MD5}']"))
    by_sha256 = _share(world, "beta", indicator(SHA256, kind="file"))
    # Nobody has linked the two hashes yet: no correlation.
    assert _correlations(world, "alpha", by_md5.stix_id) == set()
    # Gamma shares a file object naming both hashes of one file.
    bridge = _share(world, "gamma", {"type": "file", "spec_version": "2.1", "id": f"file--{uuid.uuid4()}",
                                      "hashes": {"MD5": MD5, "SHA-256": SHA256}})
    found = _correlations(world, "alpha", by_md5.stix_id)
    assert (by_sha256.stix_id, SHA256, "same-file") in found
    assert (bridge.stix_id, MD5, "same-value") in found
    # Hashes joined by OR may be two files: no bridge.
    either = f"[file:hashes.SHA1 = '{SHA1}'] OR [file:hashes.'SHA-256' = '{SHA256}']"
    _share(world, "gamma", indicator(SHA1, kind="file", pattern=either))
    by_sha1 = _share(world, "alpha", indicator(SHA1, kind="file", pattern=f"[file:hashes.SHA1 = '{SHA1}']"))
    assert not any(kind == "same-file" for _, _, kind in _correlations(world, "alpha", by_sha1.stix_id))


def test_same_file_bridge_must_be_readable(world):
    by_md5 = _share(world, "alpha", indicator(MD5, kind="file", pattern=f"[file:hashes.MD5 = '{MD5}']"))
    by_sha256 = _share(world, "beta", indicator(SHA256, kind="file"))
    _share(world, "gamma", {"type": "file", "spec_version": "2.1", "id": f"file--{uuid.uuid4()}",
                            "hashes": {"MD5": MD5, "SHA-256": SHA256}},
           audience={"orgs": [world["orgs"]["beta"].slug]})
    assert _correlations(world, "alpha", by_md5.stix_id) == set()
    assert (by_md5.stix_id, MD5, "same-file") in _correlations(world, "beta", by_sha256.stix_id)


def test_cidr_containment_both_ways(world):
    network = _share(world, "alpha", indicator("198.51.100.0/24"))
    inside = _share(world, "beta", indicator("198.51.100.77"))
    outside = _share(world, "gamma", indicator("198.51.101.1"))
    wider = _share(world, "gamma", indicator("198.51.0.0/16"))
    assert _correlations(world, "alpha", network.stix_id) == {
        (inside.stix_id, "198.51.100.77", "cidr"), (wider.stix_id, "198.51.0.0/16", "cidr")}
    assert _correlations(world, "beta", inside.stix_id) == {
        (network.stix_id, "198.51.100.0/24", "cidr"), (wider.stix_id, "198.51.0.0/16", "cidr")}
    assert outside.stix_id not in {object_id for object_id, _, _ in _correlations(world, "alpha", network.stix_id)}
    assert (outside.stix_id, "198.51.101.1", "cidr") in _correlations(world, "gamma", wider.stix_id)
    v6_network = _share(world, "alpha", indicator("2001:db8:1::/48", kind="ipv6-addr"))
    v6_inside = _share(world, "beta", indicator("2001:DB8:1::5", kind="ipv6-addr"))
    assert _correlations(world, "alpha", v6_network.stix_id) == {(v6_inside.stix_id, "2001:db8:1::5", "cidr")}


# --- Seen by -------------------------------------------------------------------------------------

def _seen(world, who, stix_id):
    response = world["api"][who].get(f"/objects/{stix_id}")
    assert response.status_code == 200, response.json
    return response.json["hub"]


def test_seen_by_counts_readable_sightings_and_names_only_named_ones(world):
    item = _share(world, "alpha", indicator("192.0.2.44"), audience="community")
    assert _seen(world, "beta", item.stix_id)["seen_by"] == 0
    assert world["api"]["beta"].post(f"/objects/{item.stix_id}/sightings", json={"tlp": "green", "audience": "community"}).status_code == 201
    assert world["api"]["gamma"].post(f"/objects/{item.stix_id}/sightings",
                                      json={"tlp": "green", "audience": "community", "anonymous": True}).status_code == 201
    # Outsider's sighting reaches only its own organisation: nobody else counts it.
    assert world["api"]["outsider"].post(f"/objects/{item.stix_id}/sightings", json={"tlp": "amber", "audience": "own"}).status_code == 201

    seen = _seen(world, "alpha", item.stix_id)
    assert seen["seen_by"] == 2
    assert seen["seen_by_organisations"] == [world["orgs"]["beta"].name]
    assert seen["sightings"] == 2
    gamma_view = _seen(world, "gamma", item.stix_id)
    assert gamma_view["seen_by"] == 2
    assert sorted(gamma_view["seen_by_organisations"]) == sorted([world["orgs"]["beta"].name, world["orgs"]["gamma"].name])
    assert _seen(world, "outsider", item.stix_id)["seen_by"] == 3


# --- Bulk sightings ------------------------------------------------------------------------------

def test_bulk_sighting_matches_readable_objects_and_records_sightings(world):
    ip = _share(world, "alpha", indicator("192.0.2.50"))
    domain = _share(world, "beta", indicator("bad.example", kind="domain-name"))
    hidden = _share(world, "gamma", indicator("192.0.2.51"), audience={"orgs": [world["orgs"]["beta"].slug]})
    before = db.session.scalar(select(func.count()).where(SharedItem.stix_type == "sighting"))
    response = world["api"]["cert"].post("/sightings/bulk", json={"values": [
        "192.0.2[.]50", "BAD.example.", "192.0.2.51", "not a value at all", "192.0.2.50", "", "198.18.0.1",
    ], "tlp": "green"})
    assert response.status_code == 200, response.json
    matched = {m["value"]: m["object_ids"] for m in response.json["matched"]}
    assert matched == {"192.0.2[.]50": [ip.stix_id], "BAD.example.": [domain.stix_id], "192.0.2.50": [ip.stix_id]}
    assert hidden.stix_id not in str(response.json)
    # Distinct non-empty values: 6; three matched.
    assert response.json["unmatched"] == 3
    after = db.session.scalar(select(func.count()).where(SharedItem.stix_type == "sighting"))
    assert after - before == 2
    assert set(response.json) == {"matched", "unmatched"}
    seen = _seen(world, "alpha", ip.stix_id)
    assert seen["seen_by"] == 1 and seen["sightings"] == 1
    # Two lines named the same address: one sighting of it, counting both.
    read = [world["api"]["cert"].get(f"/objects/{stix_id}").json["object"]
            for stix_id in db.session.scalars(select(SharedItem.stix_id).where(SharedItem.stix_type == "sighting"))]
    assert {(obj["sighting_of_ref"], obj["count"]) for obj in read} == {(ip.stix_id, 2), (domain.stix_id, 1)}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "values"),
    ({"values": []}, "values"),
    ({"values": "1.2.3.4"}, "values"),
    ({"values": [1]}, "values[0]"),
    ({"values": ["1.2.3.4"], "tlp": "purple"}, "tlp"),
    ({"values": ["1.2.3.4"], "colour": "red"}, "colour"),
])
def test_bulk_sighting_bad_input_is_a_clear_422_and_writes_nothing(world, body, field):
    before = db.session.scalar(select(func.count(SharedItem.id)))
    response = world["api"]["alpha"].post("/sightings/bulk", json=body)
    assert response.status_code == 422, response.json
    assert field in str(response.json)
    assert db.session.scalar(select(func.count(SharedItem.id))) == before


def test_bulk_sighting_refuses_viewers_and_too_many_values(world):
    assert world["api"]["viewer"].post("/sightings/bulk", json={"values": ["1.2.3.4"]}).status_code == 403
    too_many = world["api"]["alpha"].post("/sightings/bulk", json={"values": ["1.2.3.4"] * 100_001})
    assert too_many.status_code in (413, 422)


def test_bulk_sighting_of_a_red_item_reports_the_match_without_a_red_sighting_to_nobody(world):
    red = _share(world, "alpha", indicator("192.0.2.60"), tlp="red",
                 audience={"users": [world["users"]["beta"].email]})
    green = _share(world, "alpha", indicator("192.0.2.61"))
    response = world["api"]["beta"].post("/sightings/bulk", json={"values": ["192.0.2.60", "192.0.2.61"]})
    assert response.status_code == 200, response.json
    assert {m["value"]: m["object_ids"] for m in response.json["matched"]} == {
        "192.0.2.60": [red.stix_id], "192.0.2.61": [green.stix_id]}
    sighted = [world["api"]["alpha"].get(f"/objects/{stix_id}").json["object"]["sighting_of_ref"]
               for stix_id in db.session.scalars(select(SharedItem.stix_id).where(SharedItem.stix_type == "sighting"))]
    assert sighted == [green.stix_id]


def test_loading_or_dropping_a_warning_list_changes_correlation_at_once(world):
    """The lists a process holds may be older than the database's (another worker loaded one):
    a value listed since the last lookup stops correlating at the next, and correlates again once
    its list is dropped. Asked of the service, as a worker would between requests."""
    from hub.intel import correlation, warninglist_sources
    from hub.principal import Principal

    theirs = _share(world, "beta", indicator("10.20.30.40"))  # RFC 1918, once that list is loaded
    alpha = Principal.of(world["users"]["alpha"])

    def found():
        return {(c.item.stix_id, c.value, c.kind)
                for c in correlation.correlations_for_values(alpha, {("ipv4-addr", "10.20.30.40")})}

    expected = {(theirs.stix_id, "10.20.30.40", "same-value")}
    assert found() == expected
    warninglist_sources.load(["rfc1918"])
    assert found() == set()
    warninglist_sources.drop("rfc1918")
    assert found() == expected
