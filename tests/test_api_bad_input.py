"""Bad input to the REST API gets a clear 4xx in the one JSON error shape, and writes nothing."""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

import pytest
import stix2
from sqlalchemy import func, select

from hub.accounts import services as accounts
from hub.accounts.models import ApiToken
from hub.outbox import OutboxEntry
from hub.audit import AuditEvent
from hub.extensions import db
from hub.intel.models import AudienceGrant, Observable, SharedItem, StixVersion
from hub.tlp import TLP
from tests.factories import indicator

TLP2_AMBER = TLP.amber.marking_id
TLP2_GREEN = TLP.green.marking_id


def _write_counts() -> dict[str, int]:
    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    return {
        "shared_item": count(SharedItem),
        "stix_version": count(StixVersion),
        "observable": count(Observable),
        "audience_grant": count(AudienceGrant),
        "share_events": count(AuditEvent, AuditEvent.action.in_(("share", "update", "revoke", "widen"))),
        "outbox_entry": count(OutboxEntry),
    }


@pytest.fixture
def world(make, api):
    """A hospital analyst who has already shared one item (so counts start above zero)."""
    hospital = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    analyst = make.make_user(hospital)
    make.share(analyst, [indicator("192.0.2.1")], tlp="green", audience="community")
    return {"hospital": hospital, "cert": cert, "analyst": analyst, "api": api(analyst)}


@pytest.fixture
def nothing_written():
    """`with nothing_written(): ...` fails unless every sharing table is exactly as before."""

    @contextmanager
    def check():
        db.session.rollback()  # count what is committed, as a new connection would
        before = _write_counts()
        assert before["shared_item"] >= 1
        yield
        db.session.rollback()
        assert _write_counts() == before

    return check


def assert_error(response, status: int, *, field: str | None = None, mentions: str | None = None) -> dict:
    """The response is `status` with {"error": str, "details": [...]} as JSON, naming `field`."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "details"}
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], list)
    if field is not None:
        assert any(detail.get("field") == field for detail in body["details"]), body
    if mentions is not None:
        assert mentions.lower() in (body["error"] + repr(body["details"])).lower(), body
    return body


def share_body(objects, **extra):
    return {"objects": objects, "tlp": "amber", "audience": "community", **extra}


# --- the body itself -------------------------------------------------------------------------

def test_malformed_json_is_400_naming_line_and_column(world, nothing_written):
    with nothing_written():
        response = world["api"].post("/share", data='{"objects": [', content_type="application/json")
    body = assert_error(response, 400, field="(body)")
    assert body["details"][0]["line"] == 1 and body["details"][0]["column"] >= 13


def test_body_that_is_not_an_object_is_400(world, nothing_written):
    with nothing_written():
        for raw in ("[]", '"share"', "null", "42"):
            assert_error(world["api"].post("/share", data=raw, content_type="application/json"), 400, field="(body)")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/html", None])
def test_wrong_content_type_is_415(world, nothing_written, content_type):
    raw = json.dumps(share_body([indicator("192.0.2.50")]))
    with nothing_written():
        response = world["api"].post("/share", data=raw, content_type=content_type)
    assert_error(response, 415, field="Content-Type")


def test_oversized_body_is_413_json(app, world, nothing_written, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    big = indicator("192.0.2.51", description="A" * 8000)
    with nothing_written():
        response = world["api"].post("/share", json=share_body([big]))
    assert_error(response, 413, mentions="4096")
    # just under the limit still works: the limit, not the endpoint, refused it
    small = indicator("192.0.2.52", description="A" * 1000)
    assert world["api"].post("/share", json=share_body([small])).status_code == 201


def test_unknown_request_fields_are_rejected_rather_than_defaulted(world, nothing_written):
    with nothing_written():
        response = world["api"].post("/share", json={"objects": [indicator()], "tlp": "red",
                                                     "audiance": {"users": ["x@example.org"]}})
    assert_error(response, 422, field="audiance")


@pytest.mark.parametrize("body, field", [
    ({"tlp": "green"}, "objects"),
    ({"objects": [], "tlp": "green"}, "objects"),
    ({"objects": {"type": "indicator"}, "tlp": "green"}, "objects"),
    ({"objects": [indicator()], "bundle": {"type": "bundle", "objects": []}, "tlp": "green"}, "objects"),
    ({"bundle": {"type": "report", "objects": []}, "tlp": "green"}, "bundle"),
    ({"bundle": {"type": "bundle", "objects": "x"}, "tlp": "green"}, "bundle.objects"),
    ({"objects": [indicator()], "tlp": "green", "anonymous": "yes"}, "anonymous"),
])
def test_share_request_shape_errors_name_the_field(world, nothing_written, body, field):
    with nothing_written():
        assert_error(world["api"].post("/share", json=body), 422, field=field)


# --- the STIX objects ------------------------------------------------------------------------

@pytest.mark.parametrize("bad, says", [
    ({"hello": "world"}, "type"),
    ("indicator", "not a JSON object"),
    ({"type": "indicator", "id": "indicator-1", "spec_version": "2.1"}, "invalid STIX id"),
    ({"type": "banana", "id": f"banana--{uuid.uuid4()}", "spec_version": "2.1",
      "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z"}, "banana"),
    ({**indicator(), "pattern": None}, "pattern"),
    ({**indicator(), "valid_from": "yesterday"}, "valid_from"),
    ({**indicator(), "type": "malware"}, "invalid STIX id"),
])
def test_non_stix_objects_are_rejected_with_their_index(world, nothing_written, bad, says):
    with nothing_written():
        response = world["api"].post("/share", json=share_body([bad]))
    body = assert_error(response, 422, mentions=says)
    assert body["details"][0]["index"] == 0


@pytest.mark.parametrize("pattern", [
    "[ipv4-addr:value = '198.51.100.1'",
    "ipv4-addr:value = '198.51.100.1'",
    "[ipv4-addr:value = 198.51.100.1]",
    "[file:hashes.'SHA-256' = 'abc' AND]",
    "",
])
def test_invalid_indicator_patterns_are_rejected(world, nothing_written, pattern):
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator(pattern=pattern)]))
    body = assert_error(response, 422, mentions="pattern")
    assert body["details"][0]["index"] == 0


def test_stix_2_0_objects_are_rejected(world, nothing_written):
    legacy = indicator()
    del legacy["spec_version"]  # STIX 2.0 has no spec_version on objects
    legacy["labels"] = ["malicious-activity"]
    with nothing_written():
        response = world["api"].post("/share", json=share_body([legacy]))
    assert_error(response, 422, mentions="spec_version")
    wrong_version = {**indicator(), "spec_version": "2.0"}
    with nothing_written():
        assert_error(world["api"].post("/share", json=share_body([wrong_version])), 422, mentions="2.1")


@pytest.mark.parametrize("tlp", ["purple", "amber-strict", "", 3, ["red"], {"tlp": "red"}])
def test_unknown_tlp_is_rejected(world, nothing_written, tlp):
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator()], tlp=tlp))
    assert_error(response, 422, field="tlp")


def test_object_whose_tlp_marking_contradicts_the_request_is_rejected(world, nothing_written):
    marked = indicator(object_marking_refs=[TLP2_GREEN])
    marked_v1 = indicator(object_marking_refs=[stix2.TLP_RED.id])
    with nothing_written():
        response = world["api"].post("/share", json=share_body([marked, marked_v1], tlp="amber"))
    body = assert_error(response, 422, mentions="contradicts")
    assert [detail["index"] for detail in body["details"]] == [0, 1]
    assert {detail["id"] for detail in body["details"]} == {marked["id"], marked_v1["id"]}


def test_object_with_two_conflicting_tlp_markings_is_rejected(world, nothing_written):
    both = indicator(object_marking_refs=[TLP2_GREEN, TLP2_AMBER])
    mixed = indicator(object_marking_refs=[stix2.TLP_WHITE.id, TLP2_AMBER])
    with nothing_written():
        response = world["api"].post("/share", json={"objects": [both, mixed], "audience": "community"})
    body = assert_error(response, 422, mentions="more than one TLP")
    assert len(body["details"]) == 2


def test_unmarked_object_without_a_request_tlp_is_rejected(world, nothing_written):
    with nothing_written():
        response = world["api"].post("/share", json={"objects": [indicator()], "audience": "community"})
    assert_error(response, 422, mentions="no TLP")


def test_one_bad_object_in_a_bundle_means_nothing_at_all_is_written(world, nothing_written, make, api):
    first, second = indicator("198.51.100.10"), indicator("evil.example.net", "domain-name")
    note = {"type": "note", "spec_version": "2.1", "id": f"note--{uuid.uuid4()}",
            "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
            "content": "seen at two hospitals", "object_refs": [first["id"]]}
    bad = indicator("198.51.100.11", pattern="[ipv4-addr:value = ")
    good = [first, second, note]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [first, second, bad, note]}
    with nothing_written():
        response = world["api"].post("/share", json={"bundle": bundle, "tlp": "green", "audience": "community"})
    body = assert_error(response, 422, mentions="nothing was shared")
    assert [detail["index"] for detail in body["details"]] == [2]
    reader = api(make.make_user(world["cert"]))
    for obj in good:
        assert reader.get(f"/objects/{obj['id']}").status_code == 404
        assert world["api"].get(f"/objects/{obj['id']}").status_code == 404
    assert world["api"].get("/search?q=evil.example.net").get_json() == {"results": []}


# --- audiences -------------------------------------------------------------------------------

@pytest.mark.parametrize("audience, field", [
    ({"orgs": ["no-such-hospital"]}, "audience.orgs"),
    ({"users": ["nobody@nowhere.test"]}, "audience.users"),
    ({"groups": ["no-such-group"]}, "audience.groups"),
    ({"orgs": []}, "audience.orgs"),
    ({"orgs": ["a"], "users": ["b@c.test"]}, "audience"),
    ({"teams": ["x"]}, "audience.teams"),
    ("everyone", "audience"),
    (["community"], "audience"),
])
def test_audience_naming_unknown_recipients_is_rejected(world, nothing_written, audience, field):
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator()], audience=audience))
    assert_error(response, 422, field=field)


def test_audience_names_each_unknown_org_among_known_ones(world, nothing_written):
    audience = {"orgs": [world["cert"].slug, "ghost-1", "ghost-2"]}
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator()], audience=audience))
    body = assert_error(response, 422, field="audience.orgs")
    assert sorted(detail["value"] for detail in body["details"]) == ["ghost-1", "ghost-2"]


def test_audience_cannot_name_a_group_the_callers_org_is_not_in(world, nothing_written, make):
    others = make.make_group("br-hospitals", make.make_org("hospital", "BR"), make.make_org("national_cert", "BR"))
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator()], audience={"groups": [others.slug]}))
    body = assert_error(response, 422, field="audience.groups")
    assert body["details"][0]["value"] == "br-hospitals"


@pytest.mark.parametrize("audience_kind", ["community", "own", "orgs", "groups"])
def test_red_with_an_audience_other_than_users_is_rejected(world, nothing_written, make, audience_kind):
    make.make_group("cz", world["hospital"], world["cert"])
    audience = {"community": "community", "own": "own", "orgs": {"orgs": [world["cert"].slug]},
                "groups": {"groups": ["cz"]}}[audience_kind]
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator()], tlp="red", audience=audience))
    assert_error(response, 422, field="audience", mentions="RED")


# --- content is data, never markup -----------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><svg/onload=alert(document.cookie)>",
    "javascript:alert(1)//<a href='javascript:alert(1)'>x</a>",
]


def test_xss_payloads_are_stored_and_returned_verbatim_as_json(world, make, api):
    objects = [indicator(f"198.51.100.{20 + n}", description=payload, name=payload)
               for n, payload in enumerate(XSS_PAYLOADS)]
    assert world["api"].post("/share", json=share_body(objects)).status_code == 201
    reader = api(make.make_user(world["cert"]))
    for obj, payload in zip(objects, XSS_PAYLOADS):
        response = reader.get(f"/objects/{obj['id']}")
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.get_json()["object"]["description"] == payload
        assert response.get_json()["object"]["name"] == payload
    listed = reader.get("/objects?type=indicator")
    assert listed.mimetype == "application/json"
    assert {o["description"] for o in listed.get_json()["objects"] if "description" in o} == set(XSS_PAYLOADS)
    found = reader.get("/search", query_string={"q": "onerror"})
    assert found.mimetype == "application/json"
    assert {r["name"] for r in found.get_json()["results"]} == {XSS_PAYLOADS[1]}


def test_markup_echoed_in_an_error_stays_json(world, nothing_written):
    with nothing_written():
        response = world["api"].post("/share", json=share_body([indicator()], audience={"orgs": ["<script>x</script>"]}))
    body = assert_error(response, 422, field="audience.orgs")
    assert body["details"][0]["value"] == "<script>x</script>"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- who is asking ---------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer hch_not-a-real-token"},
    {"Authorization": "Bearer not-even-our-prefix"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
])
def test_missing_or_invalid_bearer_token_is_401_json(world, nothing_written, client, headers):
    with nothing_written():
        response = client.post("/api/v1/share", json=share_body([indicator()]), headers=headers)
    assert_error(response, 401, mentions="bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for path in ("/objects", f"/objects/indicator--{uuid.uuid4()}", "/search?q=x", "/orgs", "/groups", "/me"):
        assert_error(client.get("/api/v1" + path, headers=headers), 401)


def test_the_token_scheme_is_accepted_like_bearer(world, client):
    """Is `Authorization: Token <api token>` accepted wherever Bearer is?"""
    token = world["api"].token
    for authorization in (f"Token {token}", f"TOKEN {token}", f"Bearer {token}"):
        response = client.get("/api/v1/me", headers={"Authorization": authorization})
        assert response.status_code == 200, authorization
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Token hch_not-a-real-token"}), 401)
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Token"}), 401)


def test_token_parsing_is_shared_by_the_api_and_taxii():
    from hub.accounts.services import token_from_authorization

    assert token_from_authorization("Bearer hch_x") == token_from_authorization("Token hch_x") == "hch_x"
    assert token_from_authorization("Basic hch_x") is None
    assert token_from_authorization("Token ") is None
    assert token_from_authorization(None) is None


def test_revoked_token_and_deactivated_user_are_401(world, nothing_written, make, api):
    caller = world["api"]
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == world["analyst"].id))
    accounts.revoke_token(world["analyst"], token_id)
    with nothing_written():
        assert_error(caller.post("/share", json=share_body([indicator()])), 401)

    other = make.make_user(world["hospital"])
    other_api = api(other)
    other.active = False
    db.session.commit()
    with nothing_written():
        assert_error(other_api.post("/share", json=share_body([indicator()])), 401)


def test_viewer_cannot_share(world, nothing_written, make, api):
    viewer = api(make.make_user(world["hospital"], role="viewer"))
    with nothing_written():
        response = viewer.post("/share", json=share_body([indicator()]))
    assert_error(response, 403, mentions="viewer")


# --- query parameters ------------------------------------------------------------------------

@pytest.mark.parametrize("path, field", [
    ("/objects?limit=0", "limit"),
    ("/objects?limit=-1", "limit"),
    ("/objects?limit=ten", "limit"),
    ("/objects?limit=501", "limit"),
    ("/objects?cursor=not-a-cursor", "cursor"),
    ("/objects?cursor=%%%", "cursor"),
    ("/objects?status=archived", "status"),
    ("/objects?status=REVOKED", "status"),
    ("/objects?tlp=purple", "tlp"),
    ("/objects?tlp=green,purple", "tlp"),
    ("/objects?added_after=yesterday", "added_after"),
    ("/objects?added_after=2026-11-01T00:00:00", "added_after"),
    ("/search?q=x&limit=0", "limit"),
    ("/orgs?kind=hospitals", "kind"),
    ("/orgs?country=CZE", "country"),
])
def test_invalid_query_parameters_are_400_naming_them(world, path, field):
    assert_error(world["api"].get(path), 400, field=field)


def test_empty_search_is_rejected(world):
    assert_error(world["api"].get("/search?q=%20"), 422, field="q")
    assert_error(world["api"].get("/search"), 422, field="q")


def test_unknown_api_paths_and_methods_answer_json(world):
    assert_error(world["api"].get("/nothing-here"), 404)
    wrong_method = world["api"].get("/share")
    assert_error(wrong_method, 405)
    assert "POST" in wrong_method.headers["Allow"]
    assert wrong_method.headers["X-Content-Type-Options"] == "nosniff"
    assert_error(world["api"].post("/objects", json={}), 405)


def test_revoke_and_widen_reject_bad_bodies_and_write_nothing(world, nothing_written):
    item_id = db.session.scalar(select(SharedItem.stix_id))
    with nothing_written():
        assert_error(world["api"].post(f"/objects/{item_id}/revoke", data="{", content_type="application/json"), 400)
        assert_error(world["api"].post(f"/objects/{item_id}/revoke", data="reason=x",
                                       content_type="application/x-www-form-urlencoded"), 415)
        assert_error(world["api"].post(f"/objects/{item_id}/revoke", json={"reason": ["x"]}), 422, field="reason")
        assert_error(world["api"].post(f"/objects/{item_id}/audience", json={}), 422, field="audience")
        assert_error(world["api"].post(f"/objects/{item_id}/audience", json={"audience": {"orgs": ["ghost"]}}),
                     422, field="audience.orgs")
        assert_error(world["api"].post(f"/objects/{item_id}/audience", data="[]", content_type="application/json"), 400)
