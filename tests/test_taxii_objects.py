"""Reading collections: filters, versions, paging, headers, and the sharing policy throughout."""
from __future__ import annotations

import calendar
import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from stix2.utils import format_datetime, parse_into_datetime
from stix2validator import ValidationOptions, validate_instance

from hub.audit import AuditEvent
from hub.extensions import db
from hub.tlp import TLP
from hub.taxii.filters import parse_timestamp_us, version_string
from tests.factories import indicator

GREEN = [TLP.green.marking_id]


def marked(value: str, tlp: TLP = TLP.green, **extra) -> dict:
    return indicator(value, object_marking_refs=[tlp.marking_id], **extra)


def post(client, alias: str, objects: list) -> dict:
    response = client.post(client.objects_path(alias), {"objects": objects})
    assert response.status_code == 202, response.json
    assert response.json["status"] == "complete"
    return response.json


def served_ids(response) -> list[str]:
    return [o["id"] for o in response.json.get("objects", [])]


@pytest.fixture
def world(make, member_of):
    brno = make.make_org("hospital", "CZ", slug="brno-hospital")
    olomouc = make.make_org("hospital", "CZ", slug="olomouc-hospital")
    cert = make.make_org("national_cert", "CZ", slug="cert-cz")
    return {
        "brno": brno, "olomouc": olomouc, "cert": cert,
        "brno_analyst": member_of(brno), "olomouc_analyst": member_of(olomouc), "cert_analyst": member_of(cert),
    }


def test_limit_and_next_page_through_every_object_once_in_date_added_order(world, taxii):
    sharer = taxii(world["brno_analyst"])
    posted = [marked(f"198.51.100.{n}") for n in range(7)]
    post(sharer, "community", posted)  # one request: still seven distinct date_added values
    reader = taxii(world["olomouc_analyst"])
    collection = reader.collections()["community"]["id"]
    path = f"/api/collections/{collection}/objects/"
    seen, stamps, token = [], [], None
    while True:
        query = "?limit=3" + (f"&next={token}" if token else "")
        response = reader.get(path + query)
        assert response.status_code == 200
        page = response.json
        # The manifest pages the same way: its token is its own, so walk it alongside.
        manifest = reader.get(f"/api/collections/{collection}/manifest/?limit=3" + (
            f"&added_after={stamps[-1]}" if stamps else "")).json
        assert [m["id"] for m in manifest["objects"]] == served_ids(response)
        assert response.headers["X-TAXII-Date-Added-First"] == manifest["objects"][0]["date_added"]
        assert response.headers["X-TAXII-Date-Added-Last"] == manifest["objects"][-1]["date_added"]
        seen += served_ids(response)
        stamps += [m["date_added"] for m in manifest["objects"]]
        assert len(page["objects"]) <= 3
        if not page["more"]:
            assert "next" not in page
            break
        token = page["next"]
    assert seen == [o["id"] for o in posted]
    assert stamps == sorted(stamps) and len(set(stamps)) == 7


def test_paging_by_added_after_with_the_last_header_loses_and_repeats_nothing(world, taxii):
    sharer = taxii(world["brno_analyst"])
    posted = [marked(f"203.0.113.{n}") for n in range(10)]
    post(sharer, "community", posted)
    reader = taxii(world["cert_analyst"])
    path = reader.objects_path("community")
    seen, after = [], None
    for _ in range(10):
        response = reader.get(path + "?limit=4" + (f"&added_after={after}" if after else ""))
        seen += served_ids(response)
        if not response.json["more"]:
            break
        after = response.headers["X-TAXII-Date-Added-Last"]
    assert seen == [o["id"] for o in posted]


def polled_without(reader, path: str, stix_id: str) -> str:
    """A poll that does not serve `stix_id` yet; the date_added a client polls after next time."""
    first = reader.get(path)
    assert stix_id not in served_ids(first)
    return first.headers["X-TAXII-Date-Added-Last"]


@pytest.mark.parametrize("widened_by", ["taxii", "rest"])
def test_an_object_widened_after_a_reader_polled_reaches_the_reader_by_added_after_and_next(
        world, taxii, api, widened_by):
    """Widening adds the object to the reader's collections: pollers past its first date_added get it."""
    sharer = taxii(world["brno_analyst"])
    kept = marked("192.0.2.77")
    post(sharer, "org-brno-hospital", [kept])  # Brno's own, for now
    post(sharer, "community", [marked("192.0.2.78")])
    reader = taxii(world["olomouc_analyst"])
    path = reader.objects_path("community")
    checkpoint = polled_without(reader, path, kept["id"])

    if widened_by == "taxii":
        assert post(sharer, "community", [kept])["success_count"] == 1  # the same version, for everyone now
    else:
        assert api(world["brno_analyst"]).post(f"/objects/{kept['id']}/audience",
                                               json={"audience": "community"}).status_code == 200

    assert served_ids(reader.get(path + f"?added_after={checkpoint}")) == [kept["id"]]
    everything, token = [], None
    while True:  # a client that follows next from the start
        page = reader.get(path + "?limit=1" + (f"&next={token}" if token else "")).json
        everything += [o["id"] for o in page.get("objects", [])]
        if not page["more"]:
            break
        token = page["next"]
    assert everything.count(kept["id"]) == 1 and len(everything) == len(set(everything)) == 2


def test_what_a_group_held_reaches_an_organisation_that_joins_it_by_added_after(world, taxii, make):
    """Joining a sharing group lets an organisation read what the group was given before: its
    reader, polling `everything` since before it joined, receives those objects once."""
    from hub.accounts import services as accounts
    from hub.principal import Principal

    make.make_group("moravia", world["brno"], world["cert"])
    sharer = taxii(world["brno_analyst"])
    for_the_group = marked("192.0.2.91", TLP.amber)
    post(sharer, "group-moravia", [for_the_group])
    post(sharer, "community", [marked("192.0.2.92")])
    reader = taxii(world["olomouc_analyst"])
    path = reader.objects_path("everything")
    checkpoint = polled_without(reader, path, for_the_group["id"])

    operator = make.make_user(world["cert"], "admin")
    operator.is_operator = True
    db.session.commit()
    accounts.add_group_member(Principal.of(operator), "moravia", "olomouc-hospital")

    assert served_ids(reader.get(path + f"?added_after={checkpoint}")) == [for_the_group["id"]]


def _share_many(sharer, count: int) -> list[str]:
    posted = [marked(f"10.{n // 250}.{n % 250}.1") for n in range(count)]
    for start in range(0, count, 100):
        post(sharer, "community", posted[start:start + 100])
    return [o["id"] for o in posted]


def test_next_without_the_original_added_after_serves_every_object_once(world, taxii):
    """OpenCTI's connector drops added_after when it follows next: is every object still served once?"""
    sharer = taxii(world["brno_analyst"])
    before = sharer.get(sharer.objects_path("community") + "?limit=1")
    assert before.json == {"more": False}
    posted = _share_many(sharer, 250)
    reader = taxii(world["olomouc_analyst"])
    path = reader.objects_path("community")
    first = reader.get(path + "?limit=100&added_after=2000-01-01T00:00:00Z")
    page, seen, pages = first.json, served_ids(first), 1
    while page["more"]:
        page = reader.get(path + f"?limit=100&next={page['next']}").json
        seen += [o["id"] for o in page.get("objects", [])]
        pages += 1
    assert pages == 3
    assert seen == posted

    # The manifest follows its own next the same way, and an earlier added_after cannot rewind it.
    manifest_path = path.replace("objects/", "manifest/")
    page = reader.get(manifest_path + "?limit=100").json
    listed = [m["id"] for m in page["objects"]]
    while page["more"]:
        page = reader.get(manifest_path + f"?limit=100&added_after=2000-01-01T00:00:00Z&next={page['next']}").json
        listed += [m["id"] for m in page.get("objects", [])]
    assert listed == posted


def test_filters_sent_with_next_are_applied(world, taxii):
    sharer = taxii(world["brno_analyst"])
    indicators = [marked(f"198.51.100.{n}") for n in range(4)]
    malware = {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
               "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
               "name": "Qakbot", "is_family": True, "object_marking_refs": GREEN}
    post(sharer, "community", indicators[:2] + [malware] + indicators[2:])
    reader = taxii(world["olomouc_analyst"])
    path = reader.objects_path("community")
    page = reader.get(path + "?limit=1").json
    assert served_ids_of(page) == [indicators[0]["id"]]
    page = reader.get(path + f"?limit=2&match[type]=indicator&next={page['next']}").json
    assert served_ids_of(page) == [indicators[1]["id"], indicators[2]["id"]]
    page = reader.get(path + f"?limit=2&next={page['next']}").json
    assert served_ids_of(page) == [indicators[3]["id"]] and page["more"] is False


def served_ids_of(page: dict) -> list[str]:
    return [o["id"] for o in page.get("objects", [])]


def test_paging_stays_stable_while_new_objects_arrive(world, taxii):
    sharer = taxii(world["brno_analyst"])
    first_batch = [marked(f"192.0.2.{n}") for n in range(4)]
    post(sharer, "community", first_batch)
    reader = taxii(world["olomouc_analyst"])
    path = reader.objects_path("community")
    page = reader.get(path + "?limit=2").json
    late = [marked(f"192.0.2.{n}") for n in range(10, 13)]
    post(sharer, "community", late)
    seen = [o["id"] for o in page["objects"]]
    while page["more"]:
        page = reader.get(path + f"?limit=2&next={page['next']}").json
        seen += [o["id"] for o in page.get("objects", [])]
    assert seen == [o["id"] for o in first_batch + late]


def test_type_id_and_spec_version_filters_combine(world, taxii):
    sharer = taxii(world["brno_analyst"])
    a, b = marked("198.51.100.1"), marked("198.51.100.2")
    malware = {
        "type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
        "name": "LockBit", "is_family": True, "object_marking_refs": GREEN,
    }
    post(sharer, "community", [a, b, malware])
    reader = taxii(world["cert_analyst"])
    path = reader.objects_path("community")
    assert served_ids(reader.get(path + "?match[type]=malware")) == [malware["id"]]
    assert served_ids(reader.get(path + "?match[type]=indicator,malware")) == [a["id"], b["id"], malware["id"]]
    assert served_ids(reader.get(path + f"?match[id]={b['id']},{malware['id']}")) == [b["id"], malware["id"]]
    assert served_ids(reader.get(path + f"?match[id]={b['id']}&match[type]=malware")) == []
    assert served_ids(reader.get(path + "?match[spec_version]=2.1&match[type]=indicator")) == [a["id"], b["id"]]
    empty = reader.get(path + "?match[spec_version]=2.0")
    assert empty.status_code == 200 and empty.json == {"more": False}
    assert "X-TAXII-Date-Added-First" not in empty.headers
    # Types the hub has never seen are not an error (spec 3.4.1).
    assert reader.get(path + "?match[type]=x-unheard-of").json == {"more": False}


@pytest.fixture
def versioned(world, taxii):
    """One indicator in three versions, the middle one posted last."""
    sharer = taxii(world["brno_analyst"])
    v1 = marked("198.51.100.9", modified="2026-11-01T10:00:00.000Z")
    v3 = {**v1, "modified": "2026-11-03T10:00:00.000Z", "name": "third"}
    v2 = {**v1, "modified": "2026-11-02T10:00:00.000Z", "name": "second"}
    post(sharer, "community", [v1])
    post(sharer, "community", [v3])
    post(sharer, "community", [v2])
    return v1, v2, v3


def test_match_version_picks_first_last_all_or_exact_versions(world, taxii, versioned):
    v1, v2, v3 = versioned
    reader = taxii(world["cert_analyst"])
    path = reader.objects_path("community")

    def names(query):
        return [o.get("name") for o in reader.get(path + query).json.get("objects", [])]

    assert names("") == ["third"]  # last = latest modified, whatever the order of arrival
    assert names("?match[version]=last") == ["third"]
    assert names("?match[version]=first") == [v1["name"]]
    assert names("?match[version]=all") == [v1["name"], "third", "second"]  # date_added order
    assert names("?match[version]=first,last") == [v1["name"], "third"]
    assert names(f"?match[version]={v2['modified']}") == ["second"]
    assert names(f"?match[version]={v2['modified']},last") == ["third", "second"]
    assert names("?match[version]=2026-11-05T00:00:00.000Z") == []


def test_get_an_object_its_versions_and_its_manifest(world, taxii, versioned):
    v1, v2, v3 = versioned
    reader = taxii(world["cert_analyst"])
    collection = reader.collections()["community"]["id"]
    base = f"/api/collections/{collection}/objects/{v1['id']}/"
    got = reader.get(base)
    assert got.status_code == 200
    assert [o["modified"] for o in got.json["objects"]] == [v3["modified"]]
    assert got.headers["X-TAXII-Date-Added-First"] == got.headers["X-TAXII-Date-Added-Last"]
    assert [o["modified"] for o in reader.get(base + "?match[version]=all").json["objects"]] == [
        v1["modified"], v3["modified"], v2["modified"]]

    versions = reader.get(base + "versions/")
    assert versions.status_code == 200
    assert versions.json == {"more": False, "versions": [v1["modified"], v3["modified"], v2["modified"]]}
    paged = reader.get(base + "versions/?limit=2").json
    assert paged["more"] is True and paged["versions"] == [v1["modified"], v3["modified"]]
    assert reader.get(base + f"versions/?limit=2&next={paged['next']}").json == {"more": False, "versions": [v2["modified"]]}

    manifest = reader.get(f"/api/collections/{collection}/manifest/?match[version]=all").json["objects"]
    assert [(m["id"], m["version"]) for m in manifest] == [
        (v1["id"], v1["modified"]), (v1["id"], v3["modified"]), (v1["id"], v2["modified"])]
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest)
    # A version that does not exist: the object does, so an empty envelope, not a 404.
    assert reader.get(base + "?match[version]=2020-01-01T00:00:00.000Z").json == {"more": False}
    missing = f"/api/collections/{collection}/objects/indicator--{uuid.uuid4()}/"
    assert reader.get(missing).status_code == 404
    assert reader.get(missing + "versions/").status_code == 404


def test_objects_others_may_not_read_are_absent_from_every_answer(world, taxii, make):
    secret = marked("203.0.113.200", TLP.amber)
    make.share(world["brno_analyst"], [secret], tlp="amber", audience={"orgs": ["cert-cz"]})
    public = marked("203.0.113.201")
    post(taxii(world["brno_analyst"]), "community", [public])

    outsider = taxii(world["olomouc_analyst"])
    for alias in ("community", "everything", "org-olomouc-hospital"):
        collection = outsider.collections()[alias]["id"]
        listing = outsider.get(f"/api/collections/{collection}/objects/?match[version]=all")
        assert secret["id"] not in served_ids(listing)
        manifest = outsider.get(f"/api/collections/{collection}/manifest/?match[id]={secret['id']}")
        assert manifest.json == {"more": False} and "X-TAXII-Date-Added-Last" not in manifest.headers
        assert outsider.get(f"/api/collections/{collection}/objects/{secret['id']}/").status_code == 404
        assert outsider.get(f"/api/collections/{collection}/objects/{secret['id']}/versions/").status_code == 404
    page = outsider.get(outsider.objects_path("everything") + "?limit=1")
    assert served_ids(page) == [public["id"]] and page.json["more"] is False

    recipient = taxii(world["cert_analyst"])
    assert served_ids(recipient.get(recipient.objects_path("org-cert-cz"))) == [secret["id"]]
    assert set(served_ids(recipient.get(recipient.objects_path("everything")))) == {secret["id"], public["id"]}


def test_reading_another_organisations_amber_object_is_audited(world, taxii, make):
    secret = marked("203.0.113.210", TLP.amber)
    make.share(world["brno_analyst"], [secret], tlp="amber", audience={"orgs": ["cert-cz"]})
    reader = taxii(world["cert_analyst"])
    assert served_ids(reader.get(reader.objects_path("everything"))) == [secret["id"]]
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "read")).all()
    assert [(r.stix_id, r.actor_user_id, r.subject_org_id) for r in reads] == [
        (secret["id"], world["cert_analyst"].id, world["brno"].id)]
    assert '"taxii"' in reads[0].detail


def test_red_reaches_the_named_user_only(world, taxii, make, member_of):
    red = marked("203.0.113.220", TLP.red)
    named = world["cert_analyst"]
    make.share(world["brno_analyst"], [red], tlp="red", audience={"users": [named.email]})
    named_client = taxii(named)
    assert served_ids(named_client.get(named_client.objects_path("org-cert-cz"))) == [red["id"]]
    assert served_ids(named_client.get(named_client.objects_path("everything"))) == [red["id"]]
    colleague = taxii(member_of(world["cert"]))
    assert served_ids(colleague.get(colleague.objects_path("everything"))) == []


def test_an_id_held_by_another_organisation_is_refused_and_never_reveals_its_copy(world, taxii, make):
    """Rule 11: Olomouc shared the id first; Brno's post under it is refused, and the refusal
    says nothing of Olomouc's AMBER copy, which stays the one object served under that id."""
    stix_id = f"indicator--{uuid.uuid4()}"
    base = marked("198.51.100.77", id=stix_id)
    make.share(world["olomouc_analyst"], [{**base, "name": "olomouc copy",
                                           "object_marking_refs": [TLP.amber.marking_id]}],
               tlp="amber", audience={"orgs": ["cert-cz"]})
    status = post(taxii(world["brno_analyst"]), "community", [{**base, "name": "brno copy"}])
    assert status["failure_count"] == 1 and status["success_count"] == 0
    message = status["failures"][0]["message"]
    assert "mint a new id" in message and "AMBER" not in message and "olomouc" not in message

    def names(client, alias, query=""):
        return [o["name"] for o in client.get(client.objects_path(alias) + query).json.get("objects", [])]

    cert = taxii(world["cert_analyst"])
    assert names(cert, "community") == []
    assert names(cert, "everything", "?match[version]=all") == ["olomouc copy"]
    assert names(cert, "org-cert-cz") == ["olomouc copy"]
    assert names(taxii(world["olomouc_analyst"]), "everything") == ["olomouc copy"]
    brno = taxii(world["brno_analyst"])
    assert names(brno, "everything") == []
    collection = brno.collections()["everything"]["id"]
    assert brno.get(f"/api/collections/{collection}/objects/{stix_id}/").status_code == 404


def test_everything_served_passes_the_stix2_validator(world, taxii, make):
    sharer = taxii(world["brno_analyst"])
    identity_id = world["brno"].identity_id
    indicator_obj = marked("198.51.100.33", created_by_ref=identity_id,
                           indicator_types=["malicious-activity"], confidence=80)
    hashed = indicator(kind="file", value="a" * 64, object_marking_refs=GREEN)
    complex_pattern = marked("x", pattern="[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']")
    malware = {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
               "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
               "name": "Conti", "is_family": True, "object_marking_refs": GREEN}
    relationship = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
                    "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
                    "relationship_type": "indicates", "source_ref": indicator_obj["id"],
                    "target_ref": malware["id"], "object_marking_refs": GREEN}
    address = {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}",
               "value": "198.51.100.34", "object_marking_refs": GREEN}
    status = post(sharer, "community", [indicator_obj, hashed, complex_pattern, malware, relationship, address])
    assert status["success_count"] == 6, status
    make.share(world["olomouc_analyst"], [marked("198.51.100.35", TLP.amber)], tlp="amber", audience="community")

    reader = taxii(world["cert_analyst"])
    served = reader.get(reader.objects_path("everything") + "?match[version]=all").json["objects"]
    assert len(served) == 7
    for obj in served:
        result = validate_instance(obj, ValidationOptions(version="2.1"))
        assert result.is_valid, (obj["id"], [str(e) for e in result.errors])


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 12, 31)))  # the hub's years (hub.bounds)
def test_versions_are_spelt_as_stix2_spells_modified(moment):
    """match[version], the versions endpoint and the manifest all name a version by its modified."""
    written = format_datetime(parse_into_datetime(moment.replace(tzinfo=timezone.utc), "millisecond", "min"))
    micros = calendar.timegm(moment.timetuple()) * 1_000_000 + moment.microsecond
    assert version_string(micros, 0) == written
    assert parse_timestamp_us(written) == micros
