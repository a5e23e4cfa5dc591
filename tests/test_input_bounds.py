"""Hostile but well-formed input meets the bounds at the boundary: a 4xx naming the field, never a 500,
and nothing written.

Integers beyond 64 bits, JSON nested hundreds deep, unhashable marking references, timestamps
in year 1 or 9999, infinite or astronomically large impact figures.
"""
from __future__ import annotations

import base64

import json

import orjson
import pytest

from hub.tlp import TLP
from tests.factories import indicator
from tests.incidents_support import build_world, report
from tests.test_incidents_web import FORM, file_through_the_form
from tests.test_web_share import share as share_indicator
from tests.write_counts import write_counts

HUGE = 99999999999999999999999
GREEN = [TLP.green.marking_id]
def cursor_of(*parts) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode().rstrip("=")


def nested(depth: int):
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def assert_json_4xx(response, status: int | None = None, field: str | None = None):
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    if status is not None:
        assert response.status_code == status, response.json
    assert response.is_json and "error" in response.json, response.get_data(as_text=True)[:300]
    if field is not None:
        assert field in str(response.json), response.json


@pytest.fixture
def world():
    return build_world()


# --- integers beyond 64 bits -------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    f"/subscriptions/{HUGE}", f"/subscriptions/{HUGE}/deliveries", f"/incidents/incident--x/revisions/{HUGE}",
])
def test_a_path_id_beyond_64_bits_is_not_found(api, world, path):
    assert_json_4xx(api(world.hospital_analyst).get(path), 404)


@pytest.mark.parametrize("path", [f"/deliveries/{HUGE}/replay", f"/notifications/{HUGE}/read"])
def test_a_posted_path_id_beyond_64_bits_is_not_found(api, world, path):
    assert_json_4xx(api(world.hospital_analyst).post(path, json={}), 404)


@pytest.mark.parametrize("path", [f"/alerts/{HUGE}", f"/alerts/subscriptions/{HUGE}"])
def test_a_page_id_beyond_64_bits_is_not_found(web, world, path):
    assert web(world.hospital_analyst).get(path).status_code == 404


@pytest.mark.parametrize("path, cursor", [
    ("/objects", cursor_of(HUGE, 1)),
    ("/objects", cursor_of(1, -HUGE)),
    ("/notifications", cursor_of(HUGE)),
    ("/incidents", cursor_of("9999-12-31T23:59:59-14:00", "incident--x")),
    ("/incidents", cursor_of("0001-01-01T00:00:00+14:00", "incident--x")),
])
def test_a_cursor_beyond_range_is_refused(api, world, path, cursor):
    assert_json_4xx(api(world.hospital_analyst).get(path, query_string={"cursor": cursor}), field="cursor")


def test_an_incident_page_asks_for_a_revision_beyond_64_bits(web, api, world):
    incident_id = api(world.hospital_analyst).post("/incidents", json=report()).json["id"]
    page = web(world.hospital_analyst).get(f"/incidents/{incident_id}?revision={HUGE}")
    assert page.status_code in (200, 404)


@pytest.mark.parametrize("params", [{"next": base64.urlsafe_b64encode(f"{HUGE}.abc".encode()).decode()},
                                    {"limit": str(HUGE)}, {"added_after": "9999-12-31T23:59:59.999999Z"},
                                    {"added_after": "0001-01-01T00:00:00Z"}])
def test_taxii_paging_parameters_beyond_range(taxii, world, params):
    client = taxii(world.hospital_analyst)
    response = client.get(client.objects_path("community"), query_string=params)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]


def test_the_web_form_refuses_a_figure_beyond_64_bits(web, world):
    before = write_counts()
    refused = file_through_the_form(web(world.hospital_analyst), {**FORM, "records_exposed": str(HUGE)})
    assert refused.status_code == 422
    assert write_counts() == before


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-inf"])
def test_the_web_form_refuses_an_infinite_figure(web, world, value):
    before = write_counts()
    refused = file_through_the_form(web(world.hospital_analyst), {**FORM, "downtime_hours": value})
    assert refused.status_code == 422
    assert write_counts() == before


@pytest.mark.parametrize("impact", [
    {"records_exposed": HUGE}, {"downtime_hours": 1e300}, {"diversions_hours": 1e30},
    {"ransom_demanded": {"amount": HUGE, "currency": "EUR"}}, {"ransom_demanded": {"amount": 1e308, "currency": "EUR"}},
])
def test_the_api_refuses_an_astronomical_figure(api, world, impact):
    analyst = api(world.hospital_analyst)
    before = write_counts()
    response = analyst.post("/incidents", json=report(impact=impact))
    assert_json_4xx(response, field="impact")  # 400 for an integer beyond 64 bits, named where it is
    assert write_counts() == before


# --- JSON depth ------------------------------------------------------------------------------

def test_a_deeply_nested_share_is_refused(api, world):
    analyst = api(world.hospital_analyst)
    before = write_counts()
    obj = indicator("192.0.2.9", object_marking_refs=GREEN, x_deep=nested(300))
    response = analyst.post("/share", json={"objects": [obj]})
    assert_json_4xx(response, 400, field="objects[0].x_deep")  # where it goes too deep
    assert write_counts() == before


@pytest.mark.parametrize("path", ["/incidents", "/subscriptions"])
def test_any_deeply_nested_body_is_refused(api, world, path):
    response = api(world.hospital_analyst).post(path, json={"x": nested(300)})
    assert_json_4xx(response, 400)


def test_a_deeply_nested_taxii_envelope_is_refused(taxii, world):
    client = taxii(world.hospital_analyst)
    before = write_counts()
    obj = indicator("192.0.2.9", object_marking_refs=GREEN, x_deep=nested(300))
    # json, not orjson: orjson refuses to write what it would refuse to read.
    response = client.post(client.objects_path("community"), json.dumps({"objects": [obj]}).encode())
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    assert "title" in response.json
    assert write_counts() == before


# Valid JSON the hub cannot hold, each in one object of the envelope: a custom property nested
# deeper than the hub's bound, a number beyond a double, a lone UTF-16 surrogate.
_UNHOLDABLE = {
    "deep": ('"x_deep": ' + json.dumps(nested(40)), "nested deeper than 32 levels"),
    "beyond-a-double": ('"x_huge": 1e400', "a number beyond what a double holds"),
    "lone-surrogate": ('"description": "\\ud800 half a pair"', "a lone UTF-16 surrogate"),
}


@pytest.mark.parametrize("pending", [False, True], ids=["answered-at-once", "completed-by-a-worker"])
def test_an_object_the_hub_cannot_hold_fails_alone_in_a_taxii_envelope(taxii, world, app, monkeypatch, pending):
    """Each is reported in `failures` with why; its valid neighbours are shared."""
    from hub.taxii import pending as pending_adds

    if pending:
        monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 2)
    client = taxii(world.hospital_analyst)
    good = [indicator(f"192.0.2.{n}", object_marking_refs=GREEN) for n in (31, 32)]
    bad = {name: indicator(f"192.0.2.{40 + n}", object_marking_refs=GREEN)
           for n, name in enumerate(_UNHOLDABLE)}
    parts = [json.dumps(good[0])]
    for name, obj in bad.items():
        parts.append(json.dumps(obj)[:-1] + ", " + _UNHOLDABLE[name][0] + "}")
    parts.append(json.dumps(good[1]))
    body = ('{"objects": [' + ", ".join(parts) + "]}").encode()

    status = client.post(client.objects_path("community"), body).json
    if pending:
        assert status["status"] == "pending"
        pending_adds.complete_pending_add(status["id"])
        status = client.get(f"/api/status/{status['id']}/").json
    assert (status["success_count"], status["failure_count"]) == (2, 3), status
    failures = {f["id"]: f["message"] for f in status["failures"]}
    for name, obj in bad.items():
        assert _UNHOLDABLE[name][1] in failures[obj["id"]]
    served = {o["id"] for o in client.get(client.objects_path("community")).json["objects"]}
    assert {o["id"] for o in good} <= served and not {o["id"] for o in bad.values()} & served


# --- unhashable marking references ---------------------------------------------------------------

@pytest.mark.parametrize("refs", [[["x"]], [{}], [GREEN], [{"id": GREEN[0]}]])
def test_unhashable_marking_refs_are_refused(api, taxii, world, refs):
    analyst, client = api(world.hospital_analyst), taxii(world.hospital_analyst)
    before = write_counts()
    obj = indicator("192.0.2.10", object_marking_refs=refs)
    assert_json_4xx(analyst.post("/share", json={"objects": [obj], "tlp": "green"}))
    response = client.post(client.objects_path("community"), {"objects": [obj]})
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.json.get("success_count", 0) == 0
    assert write_counts() == before


# --- timestamps out of range -------------------------------------------------------------------

@pytest.mark.parametrize("valid_until", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999Z", "2201-01-01T00:00:00Z"])
def test_valid_until_far_in_the_future_is_shared_and_every_page_shows_it(api, web, taxii, world, valid_until):
    """How some feeds say "never expires": valid STIX 2.1, kept as sent, and nothing that reads it
    (lists, the item page, TAXII, expiry alerts, feeds) fails on the year."""
    from hub.alerts import jobs

    analyst = api(world.hospital_analyst)
    obj = indicator("192.0.2.11", object_marking_refs=GREEN, valid_until=valid_until)
    assert analyst.post("/share", json={"objects": [obj], "audience": "community"}).status_code == 201
    assert analyst.get(f"/objects/{obj['id']}").json["object"]["valid_until"] == valid_until
    assert obj["id"] in json.dumps(analyst.get("/objects").json)
    assert web(world.cert).get(f"/items/{obj['id']}").status_code == 200
    assert web(world.cert).get("/items").status_code == 200
    reader = taxii(world.cert)
    [served] = reader.get(reader.objects_path("community") + f"{obj['id']}/").json["objects"]
    assert served["valid_until"] == valid_until
    assert jobs.emit_expiries() == 0  # not expired


@pytest.mark.parametrize("created", ["1000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "2201-01-01T00:00:00.000Z"])
def test_created_and_modified_stay_within_the_hubs_years(api, world, created):
    """They version the hub's items, and a revision adds to modified: the hub's years (1970..2200)."""
    obj = indicator("192.0.2.14", object_marking_refs=GREEN, created=created, modified=created)
    assert_json_4xx(api(world.hospital_analyst).post("/share", json={"objects": [obj]}), 422)


@pytest.mark.parametrize("created", ["0001-01-01T00:00:00.000Z", "1000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"])
def test_stix_timestamps_out_of_range_are_refused(api, world, created):
    obj = indicator("192.0.2.12", object_marking_refs=GREEN, created=created, modified=created, valid_from=created)
    assert_json_4xx(api(world.hospital_analyst).post("/share", json={"objects": [obj]}), 422)


@pytest.mark.parametrize("instant", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00",
                                     "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00", "2201-01-01T00:00:00Z"])
def test_incident_instants_out_of_range_are_refused_and_nothing_breaks(api, world, instant):
    analyst = api(world.hospital_analyst)
    before = write_counts()
    response = analyst.post("/incidents", json=report(started_at=None, detected_at=instant, significant=True))
    assert_json_4xx(response, 422, field="detected_at")
    assert write_counts() == before
    assert analyst.get("/incidents").status_code == 200
    assert api(world.cert).get("/nis2/queue").status_code == 200


@pytest.mark.parametrize("field, instant", [("aware_at", "9999-12-31T23:00:00-05:00"), ("aware_at", "0001-01-01T00:30:00+05:00")])
def test_a_nis2_awareness_instant_out_of_range_commits_nothing(api, world, field, instant):
    analyst = api(world.hospital_analyst)
    incident_id = analyst.post("/incidents", json=report()).json["id"]
    before = write_counts()
    response = analyst.post(f"/incidents/{incident_id}/significant", json={"significant": True, field: instant})
    assert_json_4xx(response, 422, field=field)
    assert write_counts() == before
    assert analyst.get("/incidents").status_code == 200
    assert api(world.cert).get("/nis2/queue").status_code == 200


@pytest.mark.parametrize("instant", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00"])
def test_an_intermediate_due_date_out_of_range_commits_nothing(api, world, instant):
    incident_id = api(world.hospital_analyst).post("/incidents", json=report(significant=True)).json["id"]
    cert = api(world.cert)
    before = write_counts()
    response = cert.post(f"/incidents/{incident_id}/nis2/intermediate-request", json={"due_at": instant})
    assert_json_4xx(response, 422, field="due_at")
    assert write_counts() == before
    assert cert.get("/nis2/queue").status_code == 200


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_query_time_out_of_range_is_refused(api, world, value):
    response = api(world.hospital_analyst).get("/search", query_string={"q": "x", "added_after": value})
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]


def test_a_json_body_must_be_utf8_json(api, world):
    response = api(world.hospital_analyst).post("/share", data=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert_json_4xx(response, 400)
    response = api(world.hospital_analyst).post("/share", data=orjson.dumps({"objects": []}) + b"\x00",
                                                headers={"Content-Type": "application/json"})
    assert_json_4xx(response, 400)


# --- NUL characters (PostgreSQL text cannot hold them) ------------------------------------------

@pytest.mark.parametrize("path", ["/incidents/%00/summary", "/objects/indicator--%00", "/search?q=%00"])
def test_a_nul_in_the_url_is_a_bad_request(api, world, path):
    analyst = api(world.hospital_analyst)
    response = analyst.delete(path) if path.endswith("summary") else analyst.get(path)
    assert_json_4xx(response, 400)


def test_a_nul_in_a_json_string_is_refused(api, world):
    obj = indicator("192.0.2.13", object_marking_refs=GREEN, description="evil\x00")
    assert_json_4xx(api(world.hospital_analyst).post("/share", json={"objects": [obj]}), 400,
                    field="'objects[0].description'")


def test_a_nul_in_a_taxii_path_is_a_taxii_error(taxii, world):
    client = taxii(world.hospital_analyst)
    response = client.get("/api/collections/%00/objects/")
    assert response.status_code == 400 and "title" in response.json


def test_a_nul_in_a_web_form_is_a_bad_request(web, world):
    refused = file_through_the_form(web(world.hospital_analyst), {**FORM, "title": "evil\x00"})
    assert refused.status_code == 400


def test_a_method_a_taxii_resource_does_not_allow_is_a_taxii_error(taxii, world):
    """Found by the fuzzer: a 405 under /taxii2/ came back as the web's HTML error page."""
    response = taxii(world.hospital_analyst).delete("/")
    assert response.status_code == 405 and response.is_json and "title" in response.json
    assert "GET" in response.headers["Allow"]


# --- integers written in query strings -------------------------------------------------------------

@pytest.mark.parametrize("limit", ["9" * 5000, "²", "١٢", "-1", "0", " 5", str(HUGE)])
@pytest.mark.parametrize("path", ["/objects", "/notifications", "/incidents", "/summaries"])
def test_a_limit_that_is_not_a_small_ascii_integer_is_refused(api, world, path, limit):
    """int() of 5000 digits raises, and "²".isdigit(): both were 500s."""
    assert_json_4xx(api(world.hospital_analyst).get(path, query_string={"limit": limit}), 400, field="limit")


@pytest.mark.parametrize("limit", ["9" * 5000, "²"])
def test_a_taxii_limit_that_is_not_an_ascii_integer_is_refused(taxii, world, limit):
    client = taxii(world.hospital_analyst)
    response = client.get(client.objects_path("community"), query_string={"limit": limit})
    assert response.status_code == 400 and "title" in response.json


@pytest.mark.parametrize("before_id", ["9" * 5000, "²", str(HUGE)])
def test_the_audit_log_refuses_a_page_beyond_range(web, make, world, before_id):
    page = web(world.hospital_admin).get("/audit", query_string={"before_id": before_id})
    assert page.status_code == 422


@pytest.mark.parametrize("until", ["9999-12-31", "2201-01-01"])
def test_the_share_form_refuses_valid_until_beyond_the_hubs_years(web, world, until):
    before = write_counts()
    response = share_indicator(web(world.hospital_analyst), valid_until=until)
    assert response.status_code == 422, response.status_code
    assert write_counts() == before


@pytest.mark.parametrize("huge", [2**63 + 5, 2**64 + 1, -(2**63) - 1, 10**23])
def test_one_object_with_an_integer_beyond_64_bits_fails_alone_in_a_taxii_envelope(make, member_of, taxii, huge):
    """TAXII judges each object: the out-of-bounds integer costs only its own object. Beyond
    64 bits unsigned, orjson reads the integer as a rounded float: it is refused all the same,
    never stored with another value."""
    from tests.factories import indicator

    client = taxii(member_of(make.make_org()))
    green = ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]
    good = indicator("198.51.100.90", object_marking_refs=green, x_hub_float=1e19)
    bad = indicator("198.51.100.91", object_marking_refs=green, x_hub_huge=huge)
    body = json.dumps({"objects": [good, bad]}).encode()  # orjson writes no integer beyond 64 bits
    status = client.post(client.objects_path("community"), body).json
    assert (status["success_count"], status["failure_count"]) == (1, 1)
    assert status["failures"][0]["id"] == bad["id"]
    assert "beyond 64 bits" in status["failures"][0]["message"]
    [served] = client.get(client.objects_path("community") + good["id"] + "/").json["objects"]
    assert served["x_hub_float"] == 1e19  # a float literal that large is no integer: kept


@pytest.mark.parametrize("path, body", [
    ("/share", {"objects": [{"type": "x-hub-probe", "x_n": 2**64 + 1}], "audience": "community"}),
    ("/incidents", report(impact={"diversions_hours": 10**30})),
])
def test_the_rest_api_refuses_an_integer_beyond_64_bits_orjson_would_round(api, world, path, body):
    client = api(world.hospital_analyst)
    before = write_counts()
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    assert_json_4xx(response)
    assert "beyond 64 bits" in json.dumps(response.json)
    assert write_counts() == before


def test_a_custom_object_with_nanosecond_timestamps_is_shared_as_sent_not_a_500(make, api):
    """Seven fraction digits: valid STIX (the schemas allow any precision), kept as sent, where it
    was a 500 and then a refusal."""
    sharer = api(make.make_user(make.make_org()))
    custom = {"type": "x-hub-probe", "spec_version": "2.1", "id": "x-hub-probe--3f9a0bb4-56e1-4a4f-9d8c-1e0f4f5b2c11",
              "created": "2026-01-01T00:00:00.1234567Z", "modified": "2026-01-01T00:00:00.1234567Z",
              "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}
    shared = sharer.post("/share", json={"objects": [custom], "audience": "community"})
    assert shared.status_code == 201, shared.json
    assert sharer.get(f"/objects/{custom['id']}").json["object"] == custom
