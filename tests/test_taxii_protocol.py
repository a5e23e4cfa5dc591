"""TAXII 2.1 as a protocol: discovery, API root, media types, authentication and error messages."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.models import ApiToken
from hub.extensions import db
from hub.tlp import TLP
from tests.factories import indicator

MEDIA_TYPE = "application/taxii+json;version=2.1"


@pytest.fixture
def member(make, member_of):
    return member_of(make.make_org("hospital", "CZ"))


def assert_taxii_error(response, status: int):
    assert response.status_code == status
    assert response.headers["Content-Type"] == MEDIA_TYPE
    assert response.json["http_status"] == str(status)
    assert response.json["title"]


def test_discovery_names_the_api_root_and_every_answer_is_taxii_json(member, taxii):
    caller = taxii(member)
    discovery = caller.get("/")
    assert discovery.status_code == 200
    assert discovery.headers["Content-Type"] == MEDIA_TYPE
    assert discovery.json["title"]
    assert discovery.json["api_roots"] == ["/taxii2/api/"]
    assert discovery.json["default"] == "/taxii2/api/"

    root = caller.get("/api/")
    assert root.status_code == 200
    assert root.headers["Content-Type"] == MEDIA_TYPE
    assert root.json["title"]
    assert root.json["versions"] == [MEDIA_TYPE]
    assert root.json["max_content_length"] == 10 * 1024 * 1024


def test_requests_without_valid_credentials_get_401_with_a_challenge(member, client):
    token = accounts.create_token(member, "siem")
    for headers in (
        {},
        {"Authorization": "Basic " + base64.b64encode(f"{member.email}:wrong".encode()).decode()},
        {"Authorization": "Basic " + base64.b64encode(f"someone@else.test:{token}".encode()).decode()},
        {"Authorization": "Bearer hch_not-a-token"},
        # An account password is not a TAXII credential: TAXII clients store what they are given.
        {"Authorization": "Basic " + base64.b64encode(f"{member.email}:correct-horse-battery".encode()).decode()},
    ):
        response = client.get("/taxii2/api/collections/", headers={"Accept": MEDIA_TYPE, **headers})
        assert_taxii_error(response, 401)
        assert "Basic" in response.headers["WWW-Authenticate"]


def test_basic_with_the_tokens_email_and_bearer_both_sign_in(member, client):
    token = accounts.create_token(member, "siem")
    basic = base64.b64encode(f"{member.email.upper()}:{token}".encode()).decode()
    for authorization in (f"Basic {basic}", f"Bearer {token}"):
        response = client.get("/taxii2/api/collections/", headers={"Accept": MEDIA_TYPE, "Authorization": authorization})
        assert response.status_code == 200


def test_the_token_scheme_signs_in_like_bearer(member, client):
    """Does `Authorization: Token <api token>` (OpenCTI's connectors) work like Bearer?"""
    token = accounts.create_token(member, "opencti")
    for authorization in (f"Token {token}", f"token  {token} "):
        response = client.get("/taxii2/api/collections/", headers={"Accept": MEDIA_TYPE, "Authorization": authorization})
        assert response.status_code == 200
    response = client.get("/taxii2/api/collections/", headers={"Accept": MEDIA_TYPE, "Authorization": "Token hch_nope"})
    assert_taxii_error(response, 401)


def test_a_revoked_token_no_longer_signs_in(member, client):
    token = accounts.create_token(member, "siem")
    token_row = db.session.scalars(select(ApiToken).where(ApiToken.user_id == member.id)).one()
    accounts.revoke_token(member, token_row.id)
    response = client.get("/taxii2/", headers={"Accept": MEDIA_TYPE, "Authorization": f"Bearer {token}"})
    assert_taxii_error(response, 401)


def test_taxii_21_accept_headers_are_served_and_others_get_406(member, taxii):
    caller = taxii(member)
    for accept in (
        MEDIA_TYPE,
        "application/taxii+json",
        "application/taxii+json; version=2.1",
        "application/json;q=0.5, application/taxii+json;version=2.1",
        "*/*",
    ):
        assert caller.get("/api/", headers={"Accept": accept}).status_code == 200, accept
    for accept in (
        "application/taxii+json;version=2.0",
        "application/vnd.oasis.taxii+json; version=2.0",
        "text/html",
        "application/json",
        "application/taxii+json;version=2.1;q=0",
    ):
        assert_taxii_error(caller.get("/api/collections/", headers={"Accept": accept}), 406)


def test_unknown_api_roots_collections_and_paths_are_taxii_404s(member, taxii):
    caller = taxii(member)
    assert_taxii_error(caller.get("/other-root/"), 404)
    assert_taxii_error(caller.get("/api/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"), 404)
    assert_taxii_error(caller.get("/api/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/"), 404)
    assert_taxii_error(caller.get("/api/status/2d086da7-4bdc-4f91-900e-d77486753710/"), 404)
    # The spec's paths end with a slash; one left out is forgiven rather than redirected.
    assert caller.get("/api/collections").status_code == 200
    assert_taxii_error(caller.get("/api/no/such/endpoint/"), 404)


def test_unsupported_methods_get_a_taxii_405(member, taxii):
    caller = taxii(member)
    assert_taxii_error(caller.client.put("/taxii2/api/collections/", headers=caller._headers()), 405)
    assert_taxii_error(caller.post("/api/", {"objects": []}), 405)


def test_posting_checks_media_type_size_and_body(member, taxii, app):
    caller = taxii(member)
    objects = caller.objects_path("community")
    marked = indicator(object_marking_refs=[TLP.green.marking_id])

    assert_taxii_error(caller.post(objects, {"objects": [marked]}, headers={"Content-Type": "application/json"}), 415)
    assert_taxii_error(
        caller.post(objects, {"objects": [marked]}, headers={"Content-Type": "application/taxii+json;version=2.0"}), 415
    )
    assert_taxii_error(caller.post(objects, b'{"objects": [', ), 422)
    assert_taxii_error(caller.post(objects, {"objects": []}), 422)
    assert_taxii_error(caller.post(objects, {"no": "objects"}), 422)
    too_big = b'{"objects": [' + b" " * app.config["MAX_CONTENT_LENGTH"] + b"]}"
    assert_taxii_error(caller.post(objects, too_big), 413)
    # Without version, the media type means the latest TAXII: accepted.
    accepted = caller.post(objects, {"objects": [marked]}, headers={"Content-Type": "application/taxii+json"})
    assert accepted.status_code == 202


def test_malformed_filters_are_400(member, taxii):
    caller = taxii(member)
    path = caller.objects_path("everything")
    for query in (
        "added_after=yesterday",
        "added_after=2026-11-01T10:00:00+01:00",
        "added_after=2026-11-01T10:00:00Z&added_after=2026-11-02T10:00:00Z",
        "limit=0",
        "limit=-5",
        "limit=ten",
        "next=not-a-token",
        "match[version]=all,last",
        "match[version]=last,last",
        "match[version]=2026-13-01T00:00:00Z",
        "match[type]=indicator&match[type]=malware",
        "match[type]=indicator,,malware",
    ):
        response = caller.get(f"{path}?{query}")
        assert response.status_code == 400, query
        assert_taxii_error(response, 400)


def test_a_next_token_only_continues_the_query_that_issued_it(member, taxii):
    caller = taxii(member)
    community = caller.objects_path("community")
    for n in range(3):
        assert caller.post(community, {"objects": [indicator(f"192.0.2.{n}", object_marking_refs=[TLP.green.marking_id])]}).status_code == 202
    first = caller.get(community + "?limit=1")
    assert first.json["more"] is True
    token = first.json["next"]
    assert caller.get(community + f"?limit=1&next={token}").status_code == 200
    # The filters sent along apply.
    filtered = caller.get(community + f"?limit=1&next={token}&match[type]=malware")
    assert filtered.status_code == 200 and filtered.json == {"more": False}
    # Another collection or endpoint ignores it (OpenCTI sends the last collection's `next` to the
    # next one): the answer is the one without it, never a page of the token's own query.
    everything = caller.objects_path("everything")
    manifest = community.replace("objects/", "manifest/")
    for path in (everything, manifest):
        for after in ("", "&added_after=2026-01-01T00:00:00Z"):
            with_token = caller.get(path + f"?limit=1&next={token}{after}")
            assert with_token.status_code == 200
            assert with_token.json == caller.get(path + f"?limit=1{after}").json


@pytest.mark.parametrize("query", [
    "limit=99999999999999999999999999",
    "limit=9223372036854775808",
    "limit=%C2%B2",  # a superscript two: str.isdigit() says yes, int() says no
    "limit=1_0",
    "limit=+5",
    "added_after=99999-01-01T00:00:00Z",
    "added_after=%D9%A2%D9%A0%D9%A2%D9%A6-01-01T00:00:00Z",  # Arabic-Indic digits
    "added_after=2026-01-01T00:00:00Z%0A",
    "next=" + base64.urlsafe_b64encode(b"99999999999999999999999999.0123456789abcdef").decode(),
    "next=" + base64.urlsafe_b64encode(b"9223372036854775808.0123456789abcdef").decode(),
    "next=" + base64.urlsafe_b64encode(b"-5.0123456789abcdef").decode(),
    "next=" + base64.urlsafe_b64encode(b"1_000.0123456789abcdef").decode(),
    "next=" + base64.urlsafe_b64encode("\u00e9.x".encode()).decode(),
    "next=%C3%A9%C3%A9%C3%A9%C3%A9",
    "next=" + "A" * 5000,
    "next=a.b.c",
])
def test_out_of_range_or_garbage_paging_parameters_are_400_never_500(member, taxii, query):
    """Do integers beyond 64 bits and garbage in limit, added_after and next get a TAXII 400?"""
    caller = taxii(member)
    for endpoint in ("objects/", "manifest/"):
        path = caller.objects_path("community").replace("objects/", endpoint)
        assert_taxii_error(caller.get(f"{path}?{query}"), 400)
