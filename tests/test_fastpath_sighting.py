"""Sightings without the stix2 library (hub.intel.builders._plain_sighting, hub.intel.fastpath_sro
.parse_sighting) are exact or step aside: built member for member as the library builds them,
accepted and rejected like the library accepts and rejects them, prepared into the same rows; and
a bulk upload answers and stores the same sightings with or without them, unreadable items
included."""
from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hub.extensions import db
from hub.intel import builders, fastpath_sro, ingest
from hub.intel.models import SharedItem
from hub.intel.store import load_json
from hub.tlp import TLP
from tests.factories import indicator, share

UUID = "0b4f8a52-7c2e-4c49-9d1c-5b6e2f1a3c4d"
SIGHTED = f"indicator--{UUID}"
IDENTITY = f"identity--{UUID}"


def _without_fast_paths(patch) -> None:
    patch.setattr(builders, "_plain_sighting", lambda *args, **kwargs: None)
    patch.setattr(fastpath_sro, "parse_sighting", lambda raw: None)


# --- Building ------------------------------------------------------------------------------------

MICROSECONDS = [0, 1, 10, 999, 1000, 120_000, 123_000, 123_400, 123_456, 500_000, 999_999]
ZONES = [timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
OPTIONS = [{}, {"description": "Seen on our VPN", "where_sighted_ref": IDENTITY, "created_by_ref": IDENTITY},
           {"description": "ünïcode ; \" \\ note"}, {"where_sighted_ref": f"location--{UUID}"}]


@pytest.mark.parametrize(("micro", "zone"), list(itertools.product(MICROSECONDS, ZONES)))
def test_a_built_sighting_has_the_librarys_members_in_the_librarys_spelling(micro, zone, monkeypatch):
    now = datetime(2026, 12, 3, 10, 0, 0, micro, tzinfo=zone)
    for options, count, tlp in itertools.product(OPTIONS, (0, 1, 999_999_999), TLP):
        arguments = dict(count=count, first_seen=now - timedelta(microseconds=micro), last_seen=now, tlp=tlp,
                         now=now, **options)
        fast = builders.build_sighting(SIGHTED, **arguments)
        with monkeypatch.context() as patch:
            _without_fast_paths(patch)
            library = builders.build_sighting(SIGHTED, **arguments)
        assert fast["id"].startswith("sighting--") and fast["id"] != library["id"]
        assert list({**fast, "id": library["id"]}.items()) == list(library.items())


@pytest.mark.parametrize("sighting_of_ref", [f"relationship--{UUID}", f"ipv4-addr--{UUID}", "indicator--nope"])
def test_what_only_the_library_can_judge_is_still_refused_by_it(sighting_of_ref):
    now = datetime.now(timezone.utc)
    with pytest.raises(ValueError):
        builders.build_sighting(sighting_of_ref, count=1, first_seen=now, last_seen=now, tlp=TLP.green, now=now)


def test_a_sighting_of_another_sdo_is_built_by_the_library():
    now = datetime.now(timezone.utc)
    built = builders.build_sighting(f"malware--{UUID}", count=2, first_seen=now, last_seen=now, tlp=TLP.green, now=now)
    assert built["sighting_of_ref"] == f"malware--{UUID}" and built["count"] == 2


# --- Checking and preparing ----------------------------------------------------------------------

def _base() -> dict:
    return {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{UUID}",
            "created": "2026-12-03T10:00:00.000Z", "modified": "2026-12-03T10:00:00.000Z",
            "first_seen": "2026-12-03T09:00:00Z", "last_seen": "2026-12-03T10:00:00.5Z", "count": 3,
            "sighting_of_ref": SIGHTED, "where_sighted_refs": [IDENTITY], "created_by_ref": IDENTITY,
            "description": "note", "object_marking_refs": [TLP.green.marking_id]}


_BAD_VALUES = [None, "", 5, -1, 1.5, True, [], {}, ["x"], "X"]
_STAMPS = ["2026-12-03T10:00:00Z", "2026-12-03T10:00:00.1Z", "2026-12-03T10:00:00.123456Z",
           "2026-12-03T10:00:00.1234567Z", "2026-13-01T00:00:00.000Z", "0999-01-01T00:00:00.000Z",
           "2026-12-03 10:00:00.000Z", "2026-12-03T10:00:00.000+01:00", "2030-01-01T00:00:00.000Z",
           "2026-12-03T08:00:00Z"]
_REFS = [f"malware--{UUID}", f"relationship--{UUID}", f"ipv4-addr--{UUID}", f"identity--{UUID}",
         f"indicator--{UUID.upper()}", "indicator--0b4f8a52-7c2e-4c49-cd1c-5b6e2f1a3c4d", "indicator--x",
         f"location--{UUID}", f"x-custom--{UUID}"]


def _variants():
    yield _base()
    for key in _base():
        stripped = _base()
        del stripped[key]
        yield stripped
        for value in _BAD_VALUES:
            yield {**_base(), key: value}
    for key in ("created", "modified", "first_seen", "last_seen"):
        for stamp in _STAMPS:
            yield {**_base(), key: stamp}
    for ref in _REFS:
        yield {**_base(), "sighting_of_ref": ref}
        yield {**_base(), "where_sighted_refs": [ref]}
        yield {**_base(), "created_by_ref": ref}
    for count in (0, 999_999_999, 1_000_000_000, 10**30, "5"):
        yield {**_base(), "count": count}
    for extra in ({"summary": True}, {"revoked": True}, {"revoked": "no"}, {"x_custom": "s"}, {"confidence": 50},
                  {"external_references": [{"source_name": "a", "url": "https://x.example"}]},
                  {"observed_data_refs": [f"observed-data--{UUID}"]}, {"labels": ["a"]}, {"lang": "en"}):
        yield {**_base(), **extra}
    yield {**_base(), "object_marking_refs": [TLP.amber.marking_id]}
    yield {**_base(), "where_sighted_refs": [IDENTITY, f"location--{UUID}"]}
    yield {**_base(), "spec_version": "2.0"}
    yield {**_base(), "id": f"sighting--{UUID.upper()}"}


def _prepared(raw, monkeypatch, fast: bool):
    with monkeypatch.context() as patch:
        if not fast:
            _without_fast_paths(patch)
        try:
            return ingest.prepare_object(copy.deepcopy(raw), TLP.green, False)
        except ingest.ObjectRejected:
            return "rejected"


def test_every_variant_is_accepted_rejected_and_prepared_alike_with_and_without_the_fast_path(monkeypatch):
    taken = 0
    variants = list(_variants())
    for raw in variants:
        if fastpath_sro.parse_sighting(copy.deepcopy(raw)) is None:
            continue  # both ways are then the library's path
        taken += 1
        fast, library = _prepared(raw, monkeypatch, True), _prepared(raw, monkeypatch, False)
        assert fast == library, (raw, fast, library)
    # The shape the hub builds (and most plain variants) takes the fast path; the rest steps aside.
    assert fastpath_sro.parse_sighting(_base()) is not None
    assert 30 <= taken < len(variants), (taken, len(variants))


# --- A bulk upload, end to end -------------------------------------------------------------------

@pytest.fixture
def world(make, api):
    orgs = {name: make.make_org("hospital", "CZ") for name in ("alpha", "beta", "outsider")}
    orgs["cert"] = make.make_org("national_cert", "CZ")
    users = {name: make.make_user(org) for name, org in orgs.items()}
    return {"orgs": orgs, "users": users, "api": {name: api(user) for name, user in users.items()}}


def _stored_sightings(exclude: set[str], varying: tuple[str, ...]) -> list[dict]:
    """Every sighting stored since, without what differs by construction (id, creation time, and
    first and last seen when they default to it)."""
    bodies = []
    for item in db.session.scalars(select(SharedItem).where(SharedItem.stix_type == "sighting",
                                                            SharedItem.stix_id.not_in(exclude))):
        body = load_json(item.latest_version.body)
        assert body["created"] == body["modified"]
        bodies.append(({key: value for key, value in body.items() if key not in ("id", "created", "modified", *varying)},
                       item.tlp, item.anonymous, item.owner_org_id))
    return sorted(bodies, key=repr)


@pytest.mark.parametrize("options", [
    {},
    {"tlp": "amber", "note": "seen at the VPN", "first_seen": "2026-11-30T08:00:00Z", "last_seen": "2026-11-30T09:00:00.25Z"},
    {"anonymous": True, "tlp": "green", "audience": "community"},
])
def test_a_bulk_upload_answers_and_stores_the_same_with_and_without_the_fast_paths(world, monkeypatch, options):
    readable = [share(world["users"]["alpha"], [indicator(f"192.0.2.{n}")], tlp=tlp) for n, tlp in
                ((70, "green"), (71, "amber"), (72, "clear"))]
    domain = share(world["users"]["beta"], [indicator("bulk.example", kind="domain-name")])
    hidden = share(world["users"]["beta"], [indicator("192.0.2.79")], audience={"orgs": [world["orgs"]["outsider"].slug]})
    body = {"values": ["192.0.2.70", "192.0.2[.]71", "192.0.2.72", "192.0.2.70", "BULK.example.", "192.0.2.79",
                       "nothing here", "198.18.0.9"], **options}
    answers, stored = [], []
    for fast in (True, False):
        before = set(db.session.scalars(select(SharedItem.stix_id).where(SharedItem.stix_type == "sighting")))
        with monkeypatch.context() as patch:
            if not fast:
                _without_fast_paths(patch)
            response = world["api"]["cert"].post("/sightings/bulk", json=body)
        assert response.status_code == 200, response.json
        answers.append(response.json)
        stored.append(_stored_sightings(before, () if "first_seen" in options else ("first_seen", "last_seen")))
    assert answers[0] == answers[1]
    assert stored[0] == stored[1]
    assert len(stored[0]) == 4  # one per readable indicator; never of the one the reader may not read
    assert {entry[0]["sighting_of_ref"] for entry in stored[0]} == {item.stix_id for item in readable + [domain]}
    assert hidden.stix_id not in str(answers[0]) and hidden.stix_id not in str(stored[0])
