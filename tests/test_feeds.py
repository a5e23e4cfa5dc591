"""Blocklist feeds: what a firewall polling `GET /api/v1/feeds/<id>.txt|.csv|.rules` gets, and
what it must never get (the sharing policy, read as the feed's organisation as a whole)."""
from __future__ import annotations

import csv
import io
import uuid

import pytest
from idstools import rule as ids_rule
from sqlalchemy import func, select
from werkzeug.http import http_date

from hub import policy
from hub.audit import AuditEvent
from hub.db import utcnow
from hub.extensions import db
from hub.intel import warninglist_sources
from hub.feeds import export, services
from hub.feeds.models import Feed
from hub.intel.manage import revoke
from hub.intel.models import SharedItem
from tests import factories as f
from tests.factories import indicator

STAMP = "2026-11-01T10:00:00.000Z"


@pytest.fixture
def world(member_of):
    """Hospital A polls; hospital B shares; C is outside; group G holds A and B."""
    a, b, c = f.make_org(slug="hosp-a"), f.make_org(slug="hosp-b"), f.make_org(slug="hosp-c")
    f.make_group("g-ab", a, b)
    return {
        "a": a, "b": b, "c": c,
        "a_analyst": member_of(a, "analyst"), "a_viewer": member_of(a, "viewer"),
        "b_analyst": member_of(b, "analyst"), "c_analyst": member_of(c, "analyst"),
    }


def share_value(user, value, kind="ipv4-addr", *, tlp="green", audience="community", anonymous=False, **extra):
    return f.share(user, [indicator(value, kind, **extra)], tlp=tlp, audience=audience, anonymous=anonymous)


def new_feed(user, **settings):
    settings.setdefault("name", "Perimeter firewall")
    return services.create_feed(f.principal(user), **settings)


def poll(client, feed_id, token, fmt="txt", headers=None, scheme="Bearer", buffered=True):
    """A firewall's poll; buffered, the whole stream is read inside the request, as a server does."""
    return client.get(f"/api/v1/feeds/{feed_id}.{fmt}", buffered=buffered,
                      headers={"Authorization": f"{scheme} {token}", **(headers or {})})


def txt_values(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True).splitlines()


# --- contract: the three formats ---------------------------------------------------------------

def test_txt_is_one_value_per_line_deduplicated_and_ordered(client, world):
    b = world["b_analyst"]
    share_value(b, "203.0.113.9")
    share_value(b, "198.51.100.7")
    share_value(b, "198.51.100.7")  # the same value in a second item: one line
    share_value(b, "Evil.Example.", "domain-name")
    share_value(b, "http://evil.example/login?x=1", "url")
    share_value(b, "2001:DB8::1", "ipv6-addr")
    share_value(b, "10.9.0.0/16")
    feed, token = new_feed(world["a_analyst"])

    response = poll(client, feed.public_id, token, buffered=False)
    assert response.mimetype == "text/plain"
    assert response.is_streamed  # sent as it is read, never built whole in memory
    assert txt_values(response) == sorted(["10.9.0.0/16", "198.51.100.7", "2001:db8::1", "203.0.113.9",
                                           "evil.example", "http://evil.example/login?x=1"])


def test_txt_carries_hashes_only_when_the_feed_asks_for_them(client, world):
    digest = "a" * 64
    share_value(world["b_analyst"], digest, "file")
    share_value(world["b_analyst"], "198.51.100.7")
    default_feed, token = new_feed(world["a_analyst"])
    assert txt_values(poll(client, default_feed.public_id, token)) == ["198.51.100.7"]
    hashes, hash_token = new_feed(world["a_analyst"], kinds=["sha256"])
    assert txt_values(poll(client, hashes.public_id, hash_token)) == [digest]


def test_csv_has_the_documented_columns_and_no_source(client, world):
    item = share_value(world["b_analyst"], "198.51.100.7", tlp="amber", audience={"orgs": ["hosp-a"]},
                       confidence=80, valid_until="2099-01-01T00:00:00.000Z")
    feed, token = new_feed(world["a_analyst"])
    response = poll(client, feed.public_id, token, "csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["value", "kind", "stix_id", "tlp", "confidence", "valid_until", "first_seen"]
    value, kind, stix_id, tlp, confidence, valid_until, first_seen = rows[1]
    assert (value, kind, stix_id, tlp, confidence, valid_until) == (
        "198.51.100.7", "ipv4-addr", item.stix_id, "TLP:AMBER", "80", "2099-01-01T00:00:00Z")
    assert first_seen.endswith("Z") and first_seen[:4] == str(utcnow().year)
    assert len(rows) == 2


def test_rules_are_valid_suricata_rules_with_unique_sids(client, world):
    b = world["b_analyst"]
    items = {
        "ip": share_value(b, "198.51.100.7"),
        "net": share_value(b, "10.9.0.0/16"),
        "v6": share_value(b, "2001:db8::1", "ipv6-addr"),
        "domain": share_value(b, "evil.example", "domain-name"),
        "url": share_value(b, "http://evil.example:8080/a;b?q=1", "url"),
    }
    share_value(b, "b" * 64, "file")  # no inline rule for a hash
    feed, token = new_feed(world["a_analyst"], kinds=["ipv4-addr", "ipv6-addr", "domain-name", "url", "sha256"])
    response = poll(client, feed.public_id, token, "rules")
    assert response.status_code == 200
    lines = [line for line in response.get_data(as_text=True).splitlines() if not line.startswith("#")]
    assert len(lines) == 5
    parsed = [ids_rule.parse(line) for line in lines]
    assert all(rule is not None for rule in parsed), lines
    sids = [rule.sid for rule in parsed]
    assert len(set(sids)) == 5 and all(export.SID_BASE < sid <= export.SID_MAX for sid in sids)
    assert all(rule.rev == 1 and rule.msg.startswith("HealthCERT Hub") for rule in parsed)
    by_stix_id = {next(i for i in items.values() if i.stix_id in rule.msg).stix_id: rule for rule in parsed}
    assert set(by_stix_id) == {item.stix_id for item in items.values()}
    assert by_stix_id[items["ip"].stix_id].raw.startswith("alert ip [198.51.100.7] any -> $HOME_NET any")
    assert by_stix_id[items["net"].stix_id].raw.startswith("alert ip [10.9.0.0/16] any -> $HOME_NET any")
    assert by_stix_id[items["v6"].stix_id].raw.startswith("alert ip [2001:db8::1] any -> $HOME_NET any")
    domain_rule = by_stix_id[items["domain"].stix_id].raw
    assert "dns.query; dotprefix; content:\".evil.example\"; nocase; endswith;" in domain_rule
    url_rule = by_stix_id[items["url"].stix_id].raw
    assert 'http.host; content:"evil.example"; nocase; bsize:12;' in url_rule
    # The characters Suricata's grammar reserves travel as hex bytes, so the rule still parses.
    assert 'http.uri.raw; content:"/a|3B|b?q=1"; startswith;' in url_rule
    # Stable between polls: a suppression by sid keeps working. Derived from the value, not a row id,
    # so a sid counts nothing the hub holds (a row id would count observables shared in between).
    again = poll(client, feed.public_id, token, "rules").get_data(as_text=True)
    assert again == response.get_data(as_text=True)
    assert by_stix_id[items["ip"].stix_id].sid == export.value_sid("ipv4-addr", "198.51.100.7")


def test_two_values_whose_sids_collide_still_get_distinct_sids(monkeypatch):
    monkeypatch.setattr(export, "value_sid", lambda kind, value: export.SID_BASE + 1)
    entries = [export.FeedEntry(n, "ipv4-addr", f"198.51.100.{n}", n, f"indicator--{uuid.uuid4()}", None, None,
                                None, 0) for n in (1, 2, 3)]
    rules = [line for line in export.rules_lines(iter(entries)) if not line.startswith("#")]
    assert [ids_rule.parse(line).sid for line in rules] == [export.SID_BASE + 1, export.SID_BASE + 2,
                                                             export.SID_BASE + 3]


def test_reserved_characters_in_a_value_cannot_break_out_of_the_rule():
    entry = export.FeedEntry(7, "url", 'http://evil.example/x";sid:1;|\\', 1, f"indicator--{uuid.uuid4()}",
                             None, None, None, 0)
    line = export.suricata_rule(entry, export.SID_BASE + 7)
    parsed = ids_rule.parse(line)
    assert parsed.sid == export.SID_BASE + 7 and "sid:1;" not in line
    assert 'content:"/x|22||3B|sid:1|3B||7C||5C|"' in line


# --- token isolation ---------------------------------------------------------------------------

def test_only_the_feeds_own_token_reads_it(client, api, world):
    share_value(world["b_analyst"], "198.51.100.7")
    feed, token = new_feed(world["a_analyst"])
    other_feed, other_token = new_feed(world["a_analyst"], name="Other")
    user_token = api(world["a_analyst"]).token

    assert txt_values(poll(client, feed.public_id, token)) == ["198.51.100.7"]
    assert txt_values(poll(client, feed.public_id, token, scheme="Token")) == ["198.51.100.7"]
    refusals = [
        poll(client, feed.public_id, other_token),            # another feed's token
        poll(client, feed.public_id, user_token),             # a user's API token
        client.get(f"/api/v1/feeds/{feed.public_id}.txt"),    # no token
        poll(client, feed.public_id, token + "x"),
        poll(client, "no-such-feed", token),                  # a feed that does not exist
        poll(client, other_feed.public_id, token, "csv"),
    ]
    for response in refusals:
        assert response.status_code == 401
        assert response.json["error"] == refusals[0].json["error"]  # nothing tells them apart
        assert "198.51.100.7" not in response.get_data(as_text=True)


def test_a_rotated_or_deleted_feed_token_stops_working(client, api, world):
    feed, old_token = new_feed(world["a_analyst"])
    rotated = api(world["a_analyst"]).post(f"/feeds/{feed.public_id}/token")
    assert rotated.status_code == 200
    new_token = rotated.json["token"]
    assert poll(client, feed.public_id, old_token).status_code == 401
    assert poll(client, feed.public_id, new_token).status_code == 200

    assert api(world["a_analyst"]).delete(f"/feeds/{feed.public_id}").status_code == 204
    assert poll(client, feed.public_id, new_token).status_code == 401
    assert api(world["a_analyst"]).get("/feeds").json["feeds"] == []


def test_a_deactivated_organisations_feed_stops_serving_and_serves_again_when_reactivated(client, world):
    share_value(world["b_analyst"], "203.0.113.44")
    feed, token = new_feed(world["a_analyst"])
    world["a"].active = False  # the hospital left the hub: its firewall must not keep reading
    db.session.commit()
    refused = poll(client, feed.public_id, token)
    assert refused.status_code == 401 and "203.0.113.44" not in refused.get_data(as_text=True)
    world["a"].active = True
    db.session.commit()
    assert txt_values(poll(client, feed.public_id, token)) == ["203.0.113.44"]


def test_the_token_is_stored_only_as_a_hash(world):
    feed, token = new_feed(world["a_analyst"])
    stored = db.session.execute(select(Feed.__table__)).one()._mapping
    assert token not in {str(value) for value in stored.values()}
    assert feed.token_prefix == token[:12]


# --- the policy --------------------------------------------------------------------------------

def test_a_feed_carries_what_every_member_of_its_organisation_may_read_and_nothing_else(client, world):
    a, b = world["a_analyst"], world["b_analyst"]
    expected = {
        share_value(b, "198.51.100.1").stix_id: "198.51.100.1",                                 # community
        share_value(b, "198.51.100.2", tlp="amber", audience={"orgs": ["hosp-a"]}).stix_id: "198.51.100.2",
        share_value(b, "198.51.100.3", tlp="amber+strict", audience={"groups": ["g-ab"]}).stix_id: "198.51.100.3",
        share_value(b, "198.51.100.4", tlp="clear", audience="own").stix_id: "198.51.100.4",   # CLEAR: all
        share_value(a, "198.51.100.5", tlp="amber", audience="own").stix_id: "198.51.100.5",   # its own
    }
    hidden = {
        share_value(b, "203.0.113.1", tlp="amber", audience={"orgs": ["hosp-c"]}).stix_id: "203.0.113.1",
        share_value(b, "203.0.113.2", tlp="green", audience="own").stix_id: "203.0.113.2",
        # Granted to one named user of A: not what the organisation as a whole may read.
        share_value(b, "203.0.113.3", tlp="amber", audience={"users": [a.email]}).stix_id: "203.0.113.3",
        share_value(b, "203.0.113.4", tlp="red", audience={"users": [a.email]}).stix_id: "203.0.113.4",
        # RED authored by A's own analyst, shared with A's viewer: still never in a feed.
        share_value(a, "203.0.113.5", tlp="red", audience={"users": [world["a_viewer"].email]}).stix_id:
            "203.0.113.5",
    }
    feed, token = new_feed(a)
    for fmt in export.FORMATS:
        body = poll(client, feed.public_id, token, fmt).get_data(as_text=True)
        for stix_id, value in expected.items():
            assert value in body and stix_id in body or fmt == "txt" and value in body
        for stix_id, value in hidden.items():
            assert value not in body and stix_id not in body, (fmt, value)


def test_a_value_held_readably_and_unreadably_names_only_the_readable_item(client, world):
    b = world["b_analyst"]
    secret = share_value(b, "198.51.100.7", tlp="amber", audience={"orgs": ["hosp-c"]})
    readable = share_value(b, "198.51.100.7", tlp="green")
    feed, token = new_feed(world["a_analyst"])
    for fmt in ("csv", "rules"):
        body = poll(client, feed.public_id, token, fmt).get_data(as_text=True)
        assert readable.stix_id in body and secret.stix_id not in body


def test_an_anonymous_items_source_never_appears(client, world):
    b_org = world["b"]
    item = share_value(world["b_analyst"], "198.51.100.7", anonymous=True)
    feed, token = new_feed(world["a_analyst"])
    for fmt in export.FORMATS:
        body = poll(client, feed.public_id, token, fmt).get_data(as_text=True)
        assert "198.51.100.7" in body
        for clue in (b_org.slug, b_org.name, b_org.identity_id, world["b_analyst"].email):
            assert clue not in body, (fmt, clue)
    assert item.anonymous


def test_revoked_and_expired_items_leave_the_feed(client, world):
    b = world["b_analyst"]
    gone = share_value(b, "198.51.100.1")
    share_value(b, "198.51.100.2", valid_until="2026-11-15T00:00:00.000Z")  # expired already
    share_value(b, "198.51.100.3", valid_until="2099-01-01T00:00:00.000Z")
    feed, token = new_feed(world["a_analyst"])
    assert txt_values(poll(client, feed.public_id, token)) == ["198.51.100.1", "198.51.100.3"]
    revoke(f.principal(b), gone.stix_id)
    assert txt_values(poll(client, feed.public_id, token)) == ["198.51.100.3"]


def test_warning_listed_values_never_reach_the_blocklist(client, world):
    b = world["b_analyst"]
    share_value(b, "10.1.2.3")  # RFC 1918: on a warning list once loaded
    share_value(b, "198.51.100.9")
    feed, token = new_feed(world["a_analyst"])
    first = poll(client, feed.public_id, token)
    assert txt_values(first) == ["10.1.2.3", "198.51.100.9"]
    warninglist_sources.load(["rfc1918"])
    # Loading a list changes the answer, so the old ETag must not earn a 304.
    again = poll(client, feed.public_id, token, headers={"If-None-Match": first.headers["ETag"]})
    assert txt_values(again) == ["198.51.100.9"]


def test_kinds_tlps_and_confidence_filter_the_lines(client, world):
    b = world["b_analyst"]
    share_value(b, "198.51.100.1", confidence=90)
    share_value(b, "198.51.100.2", confidence=40)
    share_value(b, "198.51.100.3")  # no confidence: unknown, below any minimum
    share_value(b, "198.51.100.4", tlp="amber", audience={"orgs": ["hosp-a"]}, confidence=95)
    share_value(b, "sure.example", "domain-name", confidence=99)
    feed, token = new_feed(world["a_analyst"], kinds=["ipv4-addr"], tlps=["green"], min_confidence=50)
    assert txt_values(poll(client, feed.public_id, token)) == ["198.51.100.1"]


def test_the_organisation_predicate_hides_derived_objects_naming_unreadable_items(world):
    """Rule 7 for the feed's reader: a relationship to an item A may not read is hidden from A."""
    b = world["b_analyst"]
    readable = share_value(b, "198.51.100.1")
    secret = share_value(b, "203.0.113.1", tlp="amber", audience={"orgs": ["hosp-c"]})

    def relationship(target):
        return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
                "created": STAMP, "modified": STAMP, "relationship_type": "related-to",
                "source_ref": readable.stix_id, "target_ref": target}

    visible = f.share(b, [relationship(readable.stix_id)])
    hidden = f.share(b, [relationship(secret.stix_id)])
    readable_ids = set(db.session.scalars(select(SharedItem.id).where(
        policy.readable_items_for_organisation(world["a"].id, world["a"].kind))))
    assert readable.id in readable_ids and visible.id in readable_ids
    assert secret.id not in readable_ids and hidden.id not in readable_ids


# --- polling cheaply, audited ------------------------------------------------------------------

def test_an_unchanged_feed_answers_304_and_a_change_moves_the_etag(client, world):
    b = world["b_analyst"]
    first = share_value(b, "198.51.100.1")
    feed, token = new_feed(world["a_analyst"])
    response = poll(client, feed.public_id, token)
    etag, last_modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert etag and last_modified

    again = poll(client, feed.public_id, token, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    # A date at or after the change earns a 304 too (the date sent may be a second earlier while
    # the clock is still in the change's second: tests/test_feed_changes.py).
    since = http_date(utcnow())
    assert poll(client, feed.public_id, token, headers={"If-Modified-Since": since}).status_code == 304
    # Each format has its own ETag.
    assert poll(client, feed.public_id, token, "csv", headers={"If-None-Match": etag}).status_code == 200

    share_value(b, "198.51.100.2")
    changed = poll(client, feed.public_id, token, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    etag = changed.headers["ETag"]
    revoke(f.principal(b), first.stix_id)  # a removal moves it too
    after_revoke = poll(client, feed.public_id, token, headers={"If-None-Match": etag})
    assert after_revoke.status_code == 200
    assert txt_values(after_revoke) == ["198.51.100.2"]


def test_each_poll_is_audited_once_and_sets_last_polled(client, web, member_of, world):
    for n in range(1, 6):
        share_value(world["b_analyst"], f"198.51.100.{n}")
    feed, token = new_feed(world["a_analyst"])
    assert feed.last_polled_at is None
    assert len(txt_values(poll(client, feed.public_id, token))) == 5
    polls = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "feed_poll")).all()
    assert len(polls) == 1
    assert polls[0].subject_org_id == world["a"].id and feed.public_id in polls[0].detail
    assert db.session.get(Feed, feed.id).last_polled_at is not None
    poll(client, feed.public_id, "hcf_wrong")  # a refused poll reads nothing and logs no poll
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "feed_poll")) == 1
    # The organisation's admin reads it in the audit log; the sharer's admin does not.
    assert "feed_poll" in web(member_of(world["a"], "admin")).get("/audit").get_data(as_text=True)
    assert "feed_poll" not in web(member_of(world["b"], "admin")).get("/audit").get_data(as_text=True)


def test_lines_are_streamed_in_batches_without_repeats(world):
    b = world["b_analyst"]
    for value in ("198.51.100.1", "198.51.100.2", "198.51.100.2", "198.51.100.2", "198.51.100.3"):
        share_value(b, value)
    feed, _ = new_feed(world["a_analyst"])
    values = [entry.value for entry in export.entries(export.FeedFilter.of(feed), utcnow(), batch=2)]
    assert values == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]


# --- management --------------------------------------------------------------------------------

def test_creating_a_feed_answers_its_token_once(api, world):
    analyst = api(world["a_analyst"])
    created = analyst.post("/feeds", json={"name": "Edge", "kinds": ["domain-name"], "tlps": ["clear", "TLP:GREEN"],
                                           "min_confidence": 60})
    assert created.status_code == 201
    body = created.json
    assert body["token"].startswith("hcf_") and body["kinds"] == ["domain-name"]
    assert body["tlps"] == ["clear", "green"] and body["min_confidence"] == 60
    assert body["urls"]["txt"].endswith(f"/api/v1/feeds/{body['id']}.txt")
    listed = api(world["a_viewer"]).get("/feeds").json["feeds"]
    assert [feed["id"] for feed in listed] == [body["id"]] and "token" not in listed[0]
    assert api(world["b_analyst"]).get("/feeds").json["feeds"] == []


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "tlps": ["red"]}, "tlps[0]"),
    ({"name": "x", "tlps": ["TLP:RED"]}, "tlps[0]"),
    ({"name": "x", "kinds": ["ipv4-addr", "mac-addr"]}, "kinds[1]"),
    ({"name": "x", "kinds": []}, "kinds"),
    ({"name": "x", "kinds": "url"}, "kinds"),
    ({"name": "x", "min_confidence": 101}, "min_confidence"),
    ({"name": "x", "min_confidence": "50"}, "min_confidence"),
    ({"name": "x", "min_confidence": True}, "min_confidence"),
    ({"name": ""}, "name"),
    ({}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "x", "audience": "community"}, "audience"),
])
def test_bad_feed_settings_are_refused_naming_the_field_and_write_nothing(api, world, body, field):
    response = api(world["a_analyst"]).post("/feeds", json=body)
    assert response.status_code == 422
    assert field in [detail.get("field") for detail in response.json["details"]]
    assert db.session.scalar(select(func.count()).select_from(Feed)) == 0


def test_red_is_refused_saying_why(api, world):
    response = api(world["a_analyst"]).post("/feeds", json={"name": "x", "tlps": ["green", "red"]})
    assert response.status_code == 422
    assert "named individuals" in response.json["details"][0]["error"]


def test_management_refusals(api, client, world):
    feed, _ = new_feed(world["a_analyst"])
    viewer = api(world["a_viewer"])
    assert viewer.post("/feeds", json={"name": "x"}).status_code == 403
    assert viewer.post(f"/feeds/{feed.public_id}/token").status_code == 403
    assert viewer.delete(f"/feeds/{feed.public_id}").status_code == 403
    outsider = api(world["b_analyst"])
    assert outsider.post(f"/feeds/{feed.public_id}/token").status_code == 404
    assert outsider.delete(f"/feeds/{feed.public_id}").status_code == 404
    not_json = api(world["a_analyst"]).post("/feeds", data="name=x", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 415 and "error" in not_json.json
    broken = api(world["a_analyst"]).post("/feeds", data="{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "error" in broken.json
    assert client.get("/api/v1/feeds").status_code == 401
    assert db.session.scalar(select(func.count()).select_from(Feed)) == 1


# --- the page ----------------------------------------------------------------------------------

def test_the_feeds_page_creates_a_feed_and_shows_its_token_once(web, world):
    page = web(world["a_analyst"])
    created = page.submit("/feeds/", {"name": "Core firewall", "kinds": ["ipv4-addr", "url"],
                                      "tlps": ["clear", "green"], "min_confidence": "0"})
    assert created.status_code == 303
    shown = page.get("/feeds/").get_data(as_text=True)
    feed = db.session.scalar(select(Feed))
    assert "Core firewall" in shown and f"/api/v1/feeds/{feed.public_id}.txt" in shown
    token = shown.split('id="new-feed-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("hcf_") and services.feed_for_authorization(feed.public_id, f"Bearer {token}")
    assert token not in page.get("/feeds/").get_data(as_text=True)  # once only


def test_the_feeds_page_refuses_red_and_viewers_only_list(web, world):
    analyst = web(world["a_analyst"])
    refused = analyst.submit("/feeds/", {"name": "x", "kinds": ["ipv4-addr"], "tlps": ["red"]})
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Feed)) == 0
    new_feed(world["a_analyst"], name="Listed")
    viewer_page = web(world["a_viewer"]).get("/feeds/").get_data(as_text=True)
    assert "Listed" in viewer_page and "Create feed" not in viewer_page


def test_deleting_from_the_page_asks_first_and_says_what_happens(web, client, world):
    feed, token = new_feed(world["a_analyst"])
    page = web(world["a_analyst"])
    question = page.get(f"/feeds/{feed.public_id}/delete").get_data(as_text=True)
    assert "firewalls polling this URL will get 401 from now on" in question
    assert page.submit(f"/feeds/{feed.public_id}/delete", form_page=f"/feeds/{feed.public_id}/delete").status_code == 303
    assert poll(client, feed.public_id, token).status_code == 401
    assert web(world["b_analyst"]).get(f"/feeds/{feed.public_id}/delete").status_code == 404


def test_the_documented_schemas_match_real_answers(client, api, world):
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import validate

    from hub.feeds.openapi import FEED_SCHEMA, feeds_openapi_paths

    document = client.get("/api/v1/openapi.json").get_json()
    assert set(feeds_openapi_paths()) <= set(document["paths"])
    validate(document)
    feed_schema = Draft202012Validator(FEED_SCHEMA)
    analyst = api(world["a_analyst"])
    created = analyst.post("/feeds", json={"name": "Edge"}).json
    feed_schema.validate(created)
    feed_schema.validate(analyst.post(f"/feeds/{created['id']}/token").json)
    for listed in analyst.get("/feeds").json["feeds"]:
        feed_schema.validate(listed)
    refused = analyst.post("/feeds", json={"name": "x", "tlps": ["red"]})
    Draft202012Validator(document["components"]["schemas"]["Error"]).validate(refused.json)


def test_a_stored_value_with_a_line_break_never_becomes_two_lines(client, world):
    from hub.intel.models import Observable

    item = share_value(world["b_analyst"], "198.51.100.7")
    db.session.add(Observable(item_id=item.id, kind="ipv4-addr", value="198.51.100.8\n0.0.0.0/0"))
    db.session.commit()
    feed, token = new_feed(world["a_analyst"])
    assert txt_values(poll(client, feed.public_id, token)) == ["198.51.100.7"]


def test_a_new_token_from_the_page_replaces_the_old_one_at_once(web, client, world):
    feed, old_token = new_feed(world["a_analyst"])
    page = web(world["a_analyst"])
    question = page.get(f"/feeds/{feed.public_id}/rotate").get_data(as_text=True)
    assert "firewalls polling this URL will get 401 from now on" in question
    rotated = page.submit(f"/feeds/{feed.public_id}/rotate", form_page=f"/feeds/{feed.public_id}/rotate")
    assert rotated.status_code == 303
    shown = page.get("/feeds/").get_data(as_text=True)
    new_token = shown.split('id="new-feed-token">', 1)[1].split("<", 1)[0]
    assert poll(client, feed.public_id, old_token).status_code == 401
    assert poll(client, feed.public_id, new_token).status_code == 200
    # A viewer sees no buttons, and a forged POST without the form's CSRF token changes nothing.
    assert "New token" not in web(world["a_viewer"]).get("/feeds/").get_data(as_text=True)
    page.post(f"/feeds/{feed.public_id}/rotate")
    assert poll(client, feed.public_id, new_token).status_code == 200
