"""Anonymised summaries and the dashboard: counts obey the policy, the owner never shows."""
from __future__ import annotations

import csv
import io

import pytest

from tests import factories as f
from tests.incidents_support import build_world, report


@pytest.fixture
def world():
    return build_world()


def file(api, user, **overrides) -> str:
    response = api(user).post("/incidents", json=report(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_a_summary_carries_figures_and_nothing_that_names_the_hospital(api, world, client):
    incident_id = file(api, world.hospital_analyst)
    published = api(world.hospital_analyst).post(f"/incidents/{incident_id}/summary",
                                                 json={"text": "EHR down three days; ambulances diverted."})
    assert published.status_code == 201

    for reader in (world.vendor, world.foreign_cert, world.police):
        raw = api(reader).get("/summaries").get_data(as_text=True)
        [summary] = api(reader).get("/summaries").json["summaries"]
        # The only CZ publisher: its country is withheld (rule 12, tests/test_small_cells.py).
        assert summary["country"] is None and summary["month"] == "2026-03"
        assert summary["attack_type"] == "ransomware" and summary["figures"]["procedures_cancelled"] == 41
        for secret in (world.hospital.slug, world.hospital.name, incident_id, world.hospital_analyst.email,
                       "Ransomware encrypted the EHR", "LockBit"):
            assert secret not in raw
    assert client.get("/api/v1/summaries").status_code == 401


def test_summary_text_is_checked_for_patient_data(api, world):
    incident_id = file(api, world.hospital_analyst)
    flagged = api(world.hospital_analyst).post(f"/incidents/{incident_id}/summary",
                                               json={"text": "Patient Jan Novák, born 12.3.1957, died."})
    assert flagged.status_code == 422 and flagged.json["details"][0]["kind"] == "name_with_birth_date"
    assert api(world.vendor).get("/summaries").json["summaries"] == []
    assert api(world.cert).post(f"/incidents/{incident_id}/summary", json={}).status_code == 404


def test_withdrawn_summaries_disappear(api, world):
    incident_id = file(api, world.hospital_analyst)
    api(world.hospital_analyst).post(f"/incidents/{incident_id}/summary", json={})
    assert api(world.hospital_analyst).delete(f"/incidents/{incident_id}/summary").status_code == 204
    assert api(world.vendor).get("/summaries").json["summaries"] == []


def test_the_dashboard_counts_exactly_what_the_viewer_may_read_plus_summaries(api, world):
    others = [f.make_user(f.make_org("hospital", "CZ"), "analyst") for _ in range(2)]
    for analyst in (world.hospital_analyst, *others):  # three hospitals: a publishable cell
        file(api, analyst)  # readable by each hospital and CERT-CZ
    summarised = [file(api, analyst, title="Phishing", attack_type="phishing",
                       detected_at="2026-04-02T09:00:00+02:00",
                       impact={"patient_care_disrupted": "no", "downtime_hours": 5})
                  for analyst in (world.hospital_analyst, *others)]
    for analyst, incident_id in zip((world.hospital_analyst, *others), summarised):
        api(analyst).post(f"/incidents/{incident_id}/summary", json={})

    def figures(user):
        return api(user).get("/dashboard").json

    # For one of the three, the phishing cell is its own incident and two others': less its own
    # figures it would describe two hospitals, so it sees its own figures only (rule 12).
    own = figures(world.hospital_analyst)
    assert own["incidents"] == 2 and own["from_summaries"] == 0
    assert own["by_attack_type"] == {"phishing": 1, "ransomware": 1}
    assert own["per_month"] == {"2026-03": 1, "2026-04": 1}
    assert own["totals"]["downtime_hours"] == 72 + 5 and own["totals"]["procedures_cancelled"] == 41
    assert figures(world.cert)["incidents"] == 6
    for outsider in (world.vendor, world.foreign_cert, world.police, world.other_hospital_analyst):
        seen = figures(outsider)
        assert seen["incidents"] == 3 and seen["from_summaries"] == 3
        assert seen["by_attack_type"] == {"phishing": 3} and seen["totals"]["downtime_hours"] == 15


def test_the_csv_matches_the_figures(api, world):
    file(api, world.hospital_analyst)
    response = api(world.hospital_analyst).get("/dashboard.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [{"month": "2026-03", "attack_type": "ransomware", "country": "CZ", "incidents": "1",
                     "downtime_hours": "72", "procedures_cancelled": "41", "appointments_postponed": "320",
                     "diversions_count": "4", "diversions_hours": "18.5", "patients_transferred": "6",
                     "records_exposed": "12000"}]
    # One hospital is a cell of one organisation: outside it, the row is withheld.
    for reader in (world.cert, world.vendor):
        assert api(reader).get("/dashboard.csv").get_data(as_text=True).count("\n") == 1


def test_charts_are_inline_svg_without_script(app, world, api):
    from hub.incidents.dashboard import charts_svg

    file(api, world.hospital_analyst)
    figures = api(world.hospital_analyst).get("/dashboard").json
    charts = charts_svg(figures)
    # One unit per chart: counts of incidents, counts of disrupted care, hours lost.
    assert set(charts) == {"per_month", "by_attack_type", "by_country", "care", "hours"}
    for svg in charts.values():
        assert svg.startswith("<svg") and "<script" not in svg
