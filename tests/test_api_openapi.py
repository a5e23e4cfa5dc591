"""The OpenAPI document is valid, documents every API route with exactly its methods, and the
API's real answers match the schemas it documents."""
from __future__ import annotations

import re
import uuid

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from hub.alerts.openapi import alerts_openapi_paths
from hub.feeds.openapi import feeds_openapi_paths
from hub.incidents.openapi import incidents_openapi_paths
from hub.api.openapi import openapi_document
from tests import factories as f
from tests.factories import indicator

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")  # public: no token needed to learn the API
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def api_routes(app) -> dict[str, set[str]]:
    """{"/objects/{stix_id}": {"get"}, ...} for every rule served under /api/v1, whichever
    feature's blueprint serves it."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def _operations(path_item: dict):
    return [(method, operation) for method, operation in path_item.items() if method != "parameters"]


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate_spec(document)


def test_served_document_is_the_one_the_code_builds(app, document):
    assert document == openapi_document(app.config["HUB_BASE_URL"])
    assert document["servers"] == [{"url": "http://hub.test/api/v1"}]


def test_every_api_route_is_documented_with_exactly_its_methods(app, document):
    routes = api_routes(app)
    assert {"/share", "/objects", "/objects/{stix_id}", "/objects/{stix_id}/revoke",
            "/objects/{stix_id}/audience", "/search", "/orgs", "/groups", "/openapi.json"} <= set(routes)
    documented = {path: set(operations) - {"parameters"} for path, operations in document["paths"].items()}
    assert documented == routes


def test_path_parameters_are_declared(document):
    for path, operations in document["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        shared = operations.get("parameters", [])  # path-level parameters apply to every method
        for method, operation in _operations(operations):
            declared = {p["name"] for p in shared + operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method)


def test_bearer_auth_guards_everything_but_the_document(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    for path, operations in document["paths"].items():
        for method, operation in _operations(operations):
            if path == "/openapi.json" or path.startswith("/public/"):
                assert operation["security"] == []
            elif operation.get("security") == [{"feedToken": []}]:
                # A blocklist feed URL: its own token only (tests/test_feeds.py), never a user's.
                assert "401" in operation["responses"], (path, method)
            else:
                assert "security" not in operation
                assert "401" in operation["responses"], (path, method)
                if "requestBody" in operation:
                    for status in ("400", "413", "415", "422"):
                        assert status in operation["responses"], (path, method, status)


def test_error_responses_share_one_schema(document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "details"]
    for response in document["components"]["responses"].values():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


class Conformance:
    """Checks real responses against the document; remembers which (path, method, status) it saw."""

    def __init__(self, document: dict):
        self.document = document
        self.seen: set[tuple[str, str, str]] = set()

    def _validator(self, schema: dict) -> Draft202012Validator:
        # OpenAPI 3.1 schemas are JSON Schema 2020-12; refs point into the document's components.
        return Draft202012Validator({**schema, "components": self.document["components"]},
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def _resolve(self, node: dict) -> dict:
        while "$ref" in node:
            *_, section, name = node["$ref"].split("/")
            node = self.document["components"][section][name]
        return node

    def request(self, path: str, body: dict) -> None:
        operation = self.document["paths"][path]["post"]
        schema = self._resolve(operation["requestBody"])["content"]["application/json"]["schema"]
        errors = [e.message for e in self._validator(schema).iter_errors(body)]
        assert not errors, (path, errors)

    def response(self, path: str, method: str, response) -> dict:
        responses = self.document["paths"][path][method]["responses"]
        status = str(response.status_code)
        assert status in responses, f"{method.upper()} {path} answered {status}, which is undocumented"
        schema = self._resolve(responses[status])["content"]["application/json"]["schema"]
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in self._validator(schema).iter_errors(response.json)]
        assert not errors, (method, path, status, errors)
        self.seen.add((path, method, status))
        return response.json


def test_real_answers_match_the_documented_schemas(document, make, api, client, app, monkeypatch):
    check = Conformance(document)
    hospital = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    make.make_group("cz-health", hospital, cert)
    analyst = make.make_user(hospital)
    sharer, reader = api(analyst), api(make.make_user(cert))
    viewer = api(make.make_user(hospital, role="viewer"))
    stranger = api(make.make_user(make.make_org("vendor", "DE")))
    obj, sco = indicator("198.51.100.31"), {"type": "ipv4-addr", "spec_version": "2.1",
                                            "id": f"ipv4-addr--{uuid.uuid4()}", "value": "198.51.100.32"}
    share = {"objects": [obj, sco], "tlp": "amber", "audience": {"groups": ["cz-health"]}}
    check.request("/share", share)
    assert check.response("/share", "post", sharer.post("/share", json=share))["ids"] == [obj["id"], sco["id"]]
    anonymous = {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator()]},
                 "tlp": "green", "audience": "community", "anonymous": True}
    check.request("/share", anonymous)
    check.response("/share", "post", sharer.post("/share", json=anonymous))
    check.response("/share", "post", sharer.post("/share", data="{", content_type="application/json"))
    check.response("/share", "post", sharer.post("/share", data="x", content_type="text/plain"))
    check.response("/share", "post", sharer.post("/share", json={**share, "tlp": "purple"}))
    check.response("/share", "post", viewer.post("/share", json=share))
    check.response("/share", "post", client.post("/api/v1/share", json=share))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
    check.response("/share", "post", sharer.post("/share", json=share))
    monkeypatch.undo()

    page = check.response("/objects", "get", reader.get("/objects?limit=1"))
    check.response("/objects", "get", reader.get(f"/objects?limit=1&cursor={page['next']}"))
    check.response("/objects", "get", reader.get("/objects?status=bogus"))
    check.response("/objects", "get", client.get("/api/v1/objects"))

    for caller in (sharer, reader, stranger):
        for stix_id in (obj["id"], sco["id"]):
            check.response("/objects/{stix_id}", "get", caller.get(f"/objects/{stix_id}"))
    check.response("/objects/{stix_id}", "get", client.get(f"/api/v1/objects/{obj['id']}"))

    for query in ("198.51.100.31", "indicator", ""):
        check.response("/search", "get", reader.get("/search", query_string={"q": query}))
    check.response("/search", "get", reader.get("/search?q=x&limit=x"))

    sighting = {"count": 2, "first_seen": "2026-11-02T08:00:00Z", "last_seen": "2026-11-02T09:00:00Z",
                "note": "seen at the proxy", "anonymous": False}
    check.request("/objects/{stix_id}/sightings", sighting)
    path = "/objects/{stix_id}/sightings"
    check.response(path, "post", reader.post(f"/objects/{obj['id']}/sightings", json=sighting))
    check.response(path, "post", reader.post(f"/objects/{obj['id']}/sightings"))
    check.response(path, "post", stranger.post(f"/objects/{obj['id']}/sightings", json=sighting))
    check.response(path, "post", viewer.post(f"/objects/{obj['id']}/sightings", json=sighting))
    check.response(path, "post", reader.post(f"/objects/{obj['id']}/sightings", json={"count": 0}))
    check.response(path, "post", reader.post(f"/objects/{sco['id']}/sightings", json={}))
    check.response(path, "post", reader.post(f"/objects/{obj['id']}/sightings", data="{", content_type="application/json"))
    check.response(path, "post", reader.post(f"/objects/{obj['id']}/sightings", data="x", content_type="text/plain"))

    bulk = {"values": ["198.51.100.31", "198.51.100[.]32", "unknown"], "tlp": "amber", "note": "proxy log"}
    check.request("/sightings/bulk", bulk)
    check.response("/sightings/bulk", "post", reader.post("/sightings/bulk", json=bulk))
    check.response("/sightings/bulk", "post", reader.post("/sightings/bulk", json={"values": []}))
    check.response("/sightings/bulk", "post", viewer.post("/sightings/bulk", json=bulk))
    for caller in (reader, stranger):
        check.response("/objects/{stix_id}/correlations", "get", caller.get(f"/objects/{obj['id']}/correlations"))

    widen = {"audience": {"orgs": [stranger.user.org.slug]}}
    check.request("/objects/{stix_id}/audience", widen)
    for caller in (stranger, reader, sharer):
        check.response("/objects/{stix_id}/audience", "post", caller.post(f"/objects/{obj['id']}/audience", json=widen))
    check.response("/objects/{stix_id}/audience", "post", sharer.post(f"/objects/{obj['id']}/audience", json={}))
    check.response("/objects/{stix_id}/audience", "post",
                   sharer.post(f"/objects/{obj['id']}/audience", data="[", content_type="application/json"))
    check.response("/objects/{stix_id}/audience", "post",
                   sharer.post(f"/objects/{obj['id']}/audience", data="a=b", content_type="application/x-www-form-urlencoded"))

    extension = {"valid_until": "2099-01-01T00:00:00Z"}
    check.request("/objects/{stix_id}/extend", extension)
    path = "/objects/{stix_id}/extend"
    check.response(path, "post", sharer.post(f"/objects/{obj['id']}/extend", json=extension))
    check.response(path, "post", sharer.post(f"/objects/{obj['id']}/extend", json={"valid_until": "2001-01-01T00:00:00Z"}))
    check.response(path, "post", reader.post(f"/objects/{obj['id']}/extend", json=extension))
    check.response(path, "post", stranger.post(f"/objects/indicator--{uuid.uuid4()}/extend", json=extension))

    revoke = {"reason": "sinkholed"}
    check.request("/objects/{stix_id}/revoke", revoke)
    check.response("/objects/{stix_id}/revoke", "post", viewer.post(f"/objects/{obj['id']}/revoke", json=revoke))
    for stix_id in (obj["id"], sco["id"]):
        check.response("/objects/{stix_id}/revoke", "post", sharer.post(f"/objects/{stix_id}/revoke", json=revoke))
    check.response("/objects/{stix_id}/revoke", "post",
                   stranger.post(f"/objects/indicator--{uuid.uuid4()}/revoke", json=revoke))
    check.response("/objects/{stix_id}", "get", sharer.get(f"/objects/{sco['id']}"))

    check.response("/orgs", "get", reader.get("/orgs"))
    check.response("/orgs", "get", reader.get("/orgs?kind=nope"))
    check.response("/groups", "get", reader.get("/groups"))
    check.response("/me", "get", viewer.get("/me"))
    check.response("/me", "get", client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}))

    check.response("/public/objects", "get", client.get("/api/v1/public/objects"))
    monkeypatch.setitem(app.config, "HUB_PUBLIC_CLEAR", True)
    clear = f.share(analyst, [indicator("198.51.100.40")], tlp="clear", audience="own")
    public = check.response("/public/objects", "get", client.get("/api/v1/public/objects"))
    assert [o["id"] for o in public["objects"]] == [clear.stix_id]
    check.response("/public/objects/{stix_id}", "get", client.get(f"/api/v1/public/objects/{clear.stix_id}"))
    check.response("/public/objects/{stix_id}", "get", client.get(f"/api/v1/public/objects/{obj['id']}"))
    monkeypatch.undo()

    statuses = {status for _, _, status in check.seen}
    assert statuses == {"200", "201", "400", "401", "403", "404", "413", "415", "422"}
    # Features that document their own endpoints check their answers in their own tests
    # (tests/test_alerts_openapi.py, ...): this one covers the sharing API's paths.
    assert {path for path, _, _ in check.seen} == set(document["paths"]) - {"/openapi.json"} - set(
        alerts_openapi_paths()
    ) - set(incidents_openapi_paths()) - set(feeds_openapi_paths())
