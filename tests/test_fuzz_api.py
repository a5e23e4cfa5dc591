"""Fuzzing: every REST operation of the served OpenAPI document, and hostile STIX through REST and TAXII.

No answer may be a 5xx; every 4xx is the API's JSON error and writes nothing (row counts of the
main tables unchanged). Reproducible in CI: derandomized, with a fixed example budget per
operation, HUB_FUZZ_EXAMPLES (default 20; raise it locally for a deeper run).
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from hub.accounts import services as accounts
from hub.api.openapi import openapi_document
from hub.incidents import cases
from hub.incidents.nis2 import Stage
from hub.incidents.stix import HUB_HEALTHCARE_EXTENSION, INCIDENT_CORE_EXTENSION
from hub.principal import Principal
from hub.tlp import TLP
from tests.factories import indicator
from tests.incidents_support import report
from tests.write_counts import write_counts

EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "20"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))


@dataclass
class FuzzWorld:
    """Who calls (a token per principal) and the ids that exist, for path parameters to hit."""
    analyst: object
    tokens: list[dict]
    known: dict[str, list]


@pytest.fixture
def world(make, client) -> FuzzWorld:
    """A hospital (analyst, admin), its national CERT and the police, with a little of everything."""
    hospital = make.make_org("hospital", "CZ")
    analyst, admin = make.make_user(hospital), make.make_user(hospital, "admin")
    cert = make.make_user(make.make_org("national_cert", "CZ"))
    police_org = make.make_org("law_enforcement", "CZ")
    shared = make.share(analyst, [indicator("192.0.2.77")], tlp="green", audience="community")
    tokens = {user: {"Authorization": f"Bearer {accounts.create_token(user, 'fuzz')}"}
              for user in (analyst, admin, cert)}
    filed = client.post("/api/v1/incidents", json=report(significant=True), headers=tokens[analyst])
    assert filed.status_code == 201, filed.json
    incident_id = filed.json["id"]
    subscription = client.post("/api/v1/subscriptions", json={"channel": "in_app"}, headers=tokens[analyst])
    assert subscription.status_code == 201, subscription.json
    case = cases.grant_consent(Principal.of(admin), incident_id, police_org.slug)
    known = {
        "stix_id": [incident_id, shared.stix_id], "subscription_id": [subscription.json["id"]],
        "number": [1], "slug": [police_org.slug], "case_id": [case.public_id],
        "definition_id": [INCIDENT_CORE_EXTENSION, HUB_HEALTHCARE_EXTENSION],
        "stage": [stage.value for stage in Stage],
    }
    return FuzzWorld(analyst=analyst, tokens=list(tokens.values()), known=known)


@pytest.fixture
def openapi(app):
    """The OpenAPI document the app itself serves, loaded through WSGI: no server needed."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


# Values on or beyond the bounds of what a path segment or query parameter may carry.
EDGES = [2**63 - 1, 2**63, 99999999999999999999999, -1, 0, "0x10", "%00", "..", "\u00e9\u200b", "a" * 300,
         "\u00b2", "9" * 5000, "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


def _operations(document: dict) -> list[tuple[str, str]]:
    return sorted((method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in {"get", "put", "post", "delete", "patch"})


# One test per operation, for reporting; the test itself fuzzes the served document's operation.
# (schemathesis.pytest.from_fixture would do this, but does not run under pytest 9.)
OPERATIONS = _operations(openapi_document("http://localhost"))


def test_the_fuzzer_covers_every_served_operation(client):
    assert OPERATIONS == _operations(client.get("/api/v1/openapi.json").json)


def json_error_body(response) -> None:
    """Every 4xx is the API's one error shape: a JSON object with "error"."""
    if 400 <= response.status_code < 500:
        try:
            body = json.loads(response.content)
        except ValueError:
            raise AssertionError(f"{response.status_code} without a JSON body: {response.content[:200]!r}") from None
        assert isinstance(body, dict) and "error" in body, f"{response.status_code} without 'error': {body!r:.300}"


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_rest_operation_answers_without_5xx_and_refusals_write_nothing(openapi, world, method, path):
    operation = openapi[path][method.lower()]

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(), data=st.data())
    def call(case, data):
        # Generated parameters rarely name anything or sit on a bound: often do instead.
        for name, value in (case.path_parameters or {}).items():
            case.path_parameters[name] = data.draw(st.sampled_from([value, *world.known.get(name, []), *EDGES]))
        for name, value in (case.query or {}).items():
            case.query[name] = data.draw(st.sampled_from([value, value, *EDGES]))
        headers = data.draw(st.sampled_from(world.tokens))
        before = write_counts()
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])
        json_error_body(response)
        if 400 <= response.status_code < 500:
            assert write_counts() == before, f"{case.method} {case.formatted_path} answered {response.status_code} but wrote"

    call()


# --- hostile STIX objects, through REST and TAXII ------------------------------------------------

GREEN = TLP.green.marking_id
_text = st.text(max_size=30)  # any unicode, surrogates excluded by JSON
_scalars = st.one_of(st.none(), st.booleans(), _text, st.integers(min_value=-(2**64), max_value=2**64),
                     st.floats(allow_nan=False, allow_infinity=False))
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(_text, inner, max_size=3)), max_leaves=20)


def _deep(depth: int):
    value: object = "bottom"
    for _ in range(depth):
        value = [value] if depth % 2 else {"x": value}
    return value


_timestamps = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "1969-12-31T23:59:59Z",
                     "2201-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-01T10:00:00+14:00",
                     "2026-11-01T10:00:00.1234567890Z", "", "now"]),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.integers(), _json,
)
_marking_refs = st.one_of(
    st.just([GREEN]), st.lists(st.one_of(_json, st.just(GREEN), st.just([GREEN]), st.just({})), max_size=3),
    _json,
)
_hostile = {
    "object_marking_refs": _marking_refs,
    "created": _timestamps, "modified": _timestamps, "valid_from": _timestamps, "valid_until": _timestamps,
    "name": st.one_of(_text, _json), "confidence": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), _json),
    "pattern": st.one_of(st.sampled_from(["[ipv4-addr:value = '192.0.2.1']", "", "[", "[x:y = 99999999999999999999999]"]), _json),
    "granular_markings": st.one_of(_json, st.just([{"marking_ref": [GREEN], "selectors": ["name"]}])),
    "external_references": _json, "labels": _json, "x_custom": st.one_of(_json, st.integers(1, 300).map(_deep)),
    "id": st.one_of(st.just("indicator--" + str(uuid.UUID(int=7))), _text), "type": st.sampled_from(["indicator", "x-thing", "", "malware"]),
}


@st.composite
def hostile_stix(draw):
    """A well-formed indicator with some of its properties replaced by hostile but valid JSON."""
    obj = indicator(f"192.0.2.{draw(st.integers(1, 254))}", object_marking_refs=[GREEN])
    for key in draw(st.lists(st.sampled_from(sorted(_hostile)), min_size=1, max_size=4, unique=True)):
        obj[key] = draw(_hostile[key])
    return obj


def _body(objects) -> bytes:
    # json, not orjson: the test sends what orjson itself would refuse to write (depth, big ints).
    return json.dumps({"objects": objects}, ensure_ascii=False).encode()


@FUZZ_SETTINGS
@given(objects=st.lists(hostile_stix(), min_size=1, max_size=3))
def test_hostile_stix_shared_through_rest_is_refused_cleanly_or_stored(client, world, objects):
    before = write_counts()
    response = client.post("/api/v1/share", data=_body(objects),
                           headers={**world.tokens[0], "Content-Type": "application/json"})
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert response.is_json and "error" in response.json
        assert write_counts() == before


@FUZZ_SETTINGS
@given(objects=st.lists(hostile_stix(), min_size=1, max_size=3))
def test_hostile_stix_posted_to_taxii_is_refused_cleanly_or_stored(taxii, world, objects):
    client = taxii(world.analyst)
    path = client.objects_path("community")
    before = write_counts()
    response = client.post(path, _body(objects))
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.is_json
    if response.status_code >= 400:
        assert "title" in response.json  # the TAXII error shape
        assert write_counts() == before
    else:
        status = response.json
        if status.get("success_count", 0) == 0:
            assert write_counts() == before, status


# --- every TAXII endpoint, with hostile paging and filter parameters -----------------------------
# TAXII is not in the OpenAPI document: Hypothesis drives it directly.

TAXII_ENDPOINTS = ("/", "/api/", "/api/status/{status}/", "/api/collections/", "/api/collections/{collection}/",
                   "/api/collections/{collection}/objects/", "/api/collections/{collection}/objects/{object}/",
                   "/api/collections/{collection}/objects/{object}/versions/",
                   "/api/collections/{collection}/manifest/")
_taxii_values = st.one_of(
    _text, st.integers(min_value=-(2**70), max_value=2**70).map(str), _timestamps.filter(lambda v: isinstance(v, str)),
    st.sampled_from(["all", "first", "last", "2026-11-01T10:00:00.000Z", "0", "1", "indicator", "2.1",
                     "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwLmFiYw"]),
)
_taxii_params = st.dictionaries(
    st.sampled_from(["added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"]),
    _taxii_values, max_size=4)


@FUZZ_SETTINGS
@given(endpoint=st.sampled_from(TAXII_ENDPOINTS), method=st.sampled_from(["GET", "GET", "DELETE"]),
       params=_taxii_params, status=st.one_of(_text, st.just(str(uuid.uuid4()))),
       collection=st.one_of(st.sampled_from(["community", "everything"]), _text),
       known_object=st.booleans(), object_id=_text)
def test_every_taxii_endpoint_answers_hostile_parameters_without_5xx(taxii, world, endpoint, method, params,
                                                                     status, collection, known_object, object_id):
    client = taxii(world.analyst)
    ids = {entry["alias"]: entry["id"] for entry in client.collections().values()}
    path = endpoint.format(status=quote(status, safe="") or "x", collection=ids.get(collection, quote(collection, safe="") or "x"),
                           object=world.known["stix_id"][1] if known_object else quote(object_id, safe="") or "x")
    before = write_counts()
    response = client.client.open("/taxii2" + path, method=method, query_string=params, headers=client._headers())
    assert response.status_code < 500, (path, params, response.get_data(as_text=True)[:500])
    assert response.is_json
    if response.status_code >= 400:
        assert "title" in response.json
        assert write_counts() == before
