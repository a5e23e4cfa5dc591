"""Rule 12: aggregates that leave the owner organisation never rest on fewer than 3 organisations.

The dashboard (figures, CSV, charts, page) and the anonymised summaries apply one small-cell
rule, `policy.publishable_cells`; a country with a single hospital is never named by a number.
"""
from __future__ import annotations

import csv
import io

import pytest

from hub import policy
from tests import factories as f
from tests.incidents_support import build_world, report


@pytest.fixture
def world():
    return build_world()


def file(api, user, **overrides) -> str:
    response = api(user).post("/incidents", json=report(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def publish(api, user, **overrides) -> str:
    incident_id = file(api, user, **overrides)
    assert api(user).post(f"/incidents/{incident_id}/summary", json={}).status_code == 201
    return incident_id


def hospital_analysts(country: str, n: int):
    return [f.make_user(f.make_org("hospital", country), "analyst") for _ in range(n)]


def csv_rows(api, user) -> list[dict]:
    return list(csv.DictReader(io.StringIO(api(user).get("/dashboard.csv").get_data(as_text=True))))


def test_the_small_cell_rule_keeps_cells_of_three_organisations_or_only_the_readers_own():
    cells = {"three": {1, 2, 3}, "two": {1, 2}, "own": {7}, "own-and-one": {7, 1}}
    assert policy.MIN_ORGS_PER_CELL == 3
    assert policy.publishable_cells(cells, reader_org_id=7) == {"three", "own"}
    assert policy.publishable_cells(cells, reader_org_id=None) == {"three"}
    # A cell of the reader and two others: less its own figures, it would describe two.
    assert policy.publishable_cells({"own-and-two": {7, 1, 2}, "own-and-three": {7, 1, 2, 3}},
                                    reader_org_id=7) == {"own-and-three"}
    rows = [(cell, org) for cell, orgs in cells.items() for org in sorted(orgs)]
    kept = policy.publishable_rows(rows, lambda row: row[0], lambda row: row[1], reader_org_id=7)
    assert kept == [("three", 1), ("three", 2), ("three", 3), ("own", 7), ("own-and-one", 7)]


def test_the_only_hospital_of_a_country_is_named_by_no_dashboard_figure(api, web, world):
    publish(api, world.hospital_analyst)  # the one CZ hospital that files: a summary for everyone
    for outsider in (world.vendor, world.foreign_cert, world.other_hospital_analyst, world.cert):
        seen = api(outsider).get("/dashboard").json
        assert seen["incidents"] == 0 and seen["by_country"] == {} and seen["per_month"] == {}
        assert set(seen["totals"].values()) == {0}
        assert csv_rows(api, outsider) == []
    page = web(world.vendor).get("/dashboard").get_data(as_text=True)
    # The filter offers every attack type, but no country that only a withheld cell holds.
    filters, figures = page.split('id="dashboard-filters"')[1].split("</form>", 1)
    assert ">CZ<" not in filters
    assert "Ransomware" not in figures and ">CZ<" not in figures
    own = api(world.hospital_analyst).get("/dashboard").json
    assert own["incidents"] == 1 and own["by_country"] == {"CZ": 1}


def test_a_cell_of_three_hospitals_is_published_and_totals_add_up_to_the_published_cells(api, world):
    others = hospital_analysts("CZ", 2)
    for analyst in (world.hospital_analyst, *others):
        publish(api, analyst)
    lone_br = hospital_analysts("BR", 1)[0]
    publish(api, lone_br, attack_type="phishing", impact={"patient_care_disrupted": "no", "downtime_hours": 500})

    seen = api(world.vendor).get("/dashboard").json
    assert seen["incidents"] == 3 and seen["by_country"] == {"CZ": 3}
    assert seen["by_attack_type"] == {"ransomware": 3}
    # The BR hospital's 500 hours are in no total: nothing to subtract it from.
    assert seen["totals"]["downtime_hours"] == 3 * 72
    rows = csv_rows(api, world.vendor)
    assert [(r["country"], r["incidents"]) for r in rows] == [("CZ", "3")]
    assert sum(float(r["downtime_hours"]) for r in rows) == seen["totals"]["downtime_hours"]
    # The BR hospital sees its own incident, and the CZ cell.
    assert api(lone_br).get("/dashboard").json["by_country"] == {"BR": 1, "CZ": 3}


def test_a_summary_withholds_its_country_until_three_organisations_publish_there(api, world):
    publish(api, world.hospital_analyst)
    [seen] = api(world.vendor).get("/summaries").json["summaries"]
    assert seen["country"] is None and seen["month"] == "2026-03"
    assert api(world.vendor).get("/summaries?country=CZ").json["summaries"] == []
    [own] = api(world.hospital_analyst).get("/summaries").json["summaries"]
    assert own["country"] == "CZ"

    for analyst in hospital_analysts("CZ", 2):
        publish(api, analyst)
    listed = api(world.vendor).get("/summaries?country=CZ").json["summaries"]
    assert [s["country"] for s in listed] == ["CZ", "CZ", "CZ"]


def test_the_summaries_page_does_not_name_a_lone_country(api, web, world):
    publish(api, world.hospital_analyst)
    page = web(world.vendor).get("/summaries").get_data(as_text=True)
    assert "withheld" in page and "<td>CZ</td>" not in page


def test_a_hospital_always_counts_its_own_incidents_but_not_a_lone_neighbour_in_the_same_cell(api, world):
    neighbour = hospital_analysts("CZ", 1)[0]
    for analyst in (world.hospital_analyst, neighbour):
        publish(api, analyst)
    for analyst in (world.hospital_analyst, neighbour):
        seen = api(analyst).get("/dashboard").json
        assert seen["incidents"] == 1 and seen["from_summaries"] == 0 and seen["totals"]["downtime_hours"] == 72
    assert api(world.vendor).get("/dashboard").json["incidents"] == 0
