"""The incidents dashboard: readable charts, filters, and NIS2 on-time figures for national CERTs.

Every figure keeps rule 12 (policy.publishable_cells) whatever the filter: the filters select
whole cells (months, an attack type, a country), so no filter can single out a small one.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hub.errors import ValidationFailed
from hub.extensions import db
from hub.incidents import dashboard
from hub.incidents.models import Incident, NisSubmission
from tests import factories as f
from tests.incidents_support import build_world, report

UTC = timezone.utc


@pytest.fixture
def world():
    return build_world()


def test_axis_ticks_are_whole_numbers_in_round_steps():
    assert dashboard.integer_ticks(0) == [0, 1]
    assert dashboard.integer_ticks(1) == [0, 1]
    assert dashboard.integer_ticks(3) == [0, 1, 2, 3]
    assert dashboard.integer_ticks(7) == [0, 2, 4, 6, 8]
    assert dashboard.integer_ticks(41) == [0, 10, 20, 30, 40, 50]
    assert dashboard.integer_ticks(18.5) == [0, 5, 10, 15, 20]
    assert dashboard.integer_ticks(12000) == [0, 2000, 4000, 6000, 8000, 10000, 12000]


def test_a_chart_of_one_incident_has_no_half_ticks_and_writes_the_value_on_the_bar():
    figures = {"per_month": {"2026-03": 1}, "by_attack_type": {"ransomware": 1}, "by_country": {"CZ": 1},
               "totals": {key: 0 for key in dashboard.TOTALS} | {"downtime_hours": 30.5}}
    charts = dashboard.charts_svg(figures)
    assert set(charts) == {"per_month", "by_attack_type", "by_country", "hours"}  # nothing to draw: no chart
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", charts["per_month"])
    assert "0.5" not in labels and "1" in labels
    assert "30.5" in re.findall(r"<text[^>]*>([^<]*)</text>", charts["hours"])  # the value on its bar


def test_periods_are_whole_months():
    today = date(2026, 12, 3)
    assert dashboard.Selection(period="12m").months(today) == ("2026-01", "2026-12")
    assert dashboard.Selection(period="12m").months(date(2026, 3, 1)) == ("2025-04", "2026-03")
    assert dashboard.Selection(period="2026-Q2").months(today) == ("2026-04", "2026-06")
    assert dashboard.Selection().months(today) is None
    assert [value for value, _ in dashboard.period_choices(today)][:4] == ["all", "12m", "2026-Q4", "2026-Q3"]


def test_unknown_filters_are_named():
    with pytest.raises(ValidationFailed) as refused:
        dashboard.parse_selection({"period": "last week", "country": "Czechia", "attack_type": "aliens"}, date(2026, 12, 3))
    assert {d["field"] for d in refused.value.details} == {"period", "country", "attack_type"}


def test_a_deadline_counts_once_it_has_passed_or_its_report_is_in():
    start, end = dashboard.quarter_bounds("2026-Q1")
    assert (start, end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    due = datetime(2026, 3, 10, 8, tzinfo=UTC)
    clocks = [
        (due, due - timedelta(hours=2)),                     # on time
        (due, due),                                          # at the deadline: on time
        (due, due + timedelta(minutes=1)),                   # late
        (due, None),                                         # never sent: late
        (now + timedelta(hours=5), None),                    # still running: not counted yet
        (now + timedelta(hours=5), now),                     # already in: on time
        (datetime(2025, 12, 31, 23, tzinfo=UTC), None),      # another quarter
    ]
    assert dashboard.deadlines_met(clocks, start, end, now) == (3, 5)


def _file(api, user, **overrides) -> str:
    response = api(user).post("/incidents", json=report(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def _publish(api, user, **overrides) -> str:
    incident_id = _file(api, user, **overrides)
    assert api(user).post(f"/incidents/{incident_id}/summary", json={}).status_code == 201
    return incident_id


def _hospital_analysts(country: str, n: int):
    return [f.make_user(f.make_org("hospital", country), "analyst") for _ in range(n)]


def _chart_text(page: str) -> str:
    return page.split('id="dashboard-filters"')[1].split("</form>", 1)[1]


def test_filters_narrow_every_figure_and_never_reveal_a_small_cell(api, web, world):
    cz = _hospital_analysts("CZ", 3)
    for analyst in cz:
        _publish(api, analyst)  # March 2026, ransomware, CZ: a cell of three
    for analyst in cz[:2]:  # only two organisations: withheld, whatever the filter
        _publish(api, analyst, attack_type="phishing", detected_at="2026-11-02T09:00:00+01:00")
    lone = _hospital_analysts("BR", 1)[0]
    _publish(api, lone, detected_at="2026-11-02T09:00:00+01:00")
    vendor = web(world.vendor)

    everything = vendor.get("/dashboard")
    assert everything.status_code == 200 and "3 incidents" in everything.text
    assert ">BR<" not in everything.text  # a country only a withheld cell holds is not even offered
    for query in ("country=BR", "attack_type=phishing", "period=2026-Q4", "period=2026-Q4&attack_type=phishing"):
        page = vendor.get("/dashboard?" + query)
        assert page.status_code == 200, query
        assert "0 incidents" in page.text and "<svg" not in page.text, query
    march = vendor.get("/dashboard?period=2026-Q1&country=CZ&attack_type=ransomware")
    assert "3 incidents" in march.text and "<svg" in march.text
    csv = vendor.get("/dashboard.csv?country=BR").text
    assert csv.strip().count("\n") == 0  # the header only
    # The hospital that filed the two phishing incidents sees its own whatever the cell.
    own = web(cz[0]).get("/dashboard?attack_type=phishing")
    assert "1 incidents" in own.text


def test_an_unknown_filter_is_refused_beside_its_field(web, world):
    page = web(world.vendor).get("/dashboard?period=yesterday")
    assert page.status_code == 400
    assert 'id="period-error"' in page.text and "choose a period from the list" in page.text


def test_a_national_cert_reads_how_many_early_warnings_arrived_on_time(api, web, world):
    analysts = _hospital_analysts("CZ", 3)
    incident_ids = [_file(api, analyst, significant=True, audience="community") for analyst in analysts]
    sent_after = {incident_ids[0]: timedelta(hours=2), incident_ids[1]: timedelta(hours=30)}
    for analyst, incident_id in zip(analysts, incident_ids):
        if incident_id in sent_after:
            response = api(analyst).post(f"/incidents/{incident_id}/nis2/early_warning", json={})
            assert response.status_code == 201, response.json
    # History as it happened: the first hospital sent in 2 hours, the second after 30.
    for incident_id, delay in sent_after.items():
        incident = db.session.scalar(select(Incident).where(Incident.stix_id == incident_id))
        submission = db.session.scalar(select(NisSubmission).where(NisSubmission.incident_id == incident.id))
        submission.submitted_at = incident.aware_at + delay
    db.session.commit()

    page = web(world.cert).get("/dashboard?period=2026-Q1")
    compliance = page.text.split('id="nis2-compliance"')[1].split("</section>")[0]
    assert "Q1 2026" in compliance
    assert "Early warnings on time: 1 of 3" in compliance
    assert "Notifications on time: 0 of 3" in compliance
    # A hospital is no national CERT: no compliance panel.
    assert 'id="nis2-compliance"' not in web(analysts[0]).get("/dashboard?period=2026-Q1").text
    # Another country's CERT follows none of these clocks, even where it reads the incidents.
    foreign = web(world.foreign_cert).get("/dashboard?period=2026-Q1&country=CZ").text
    assert "Early warnings on time: 0 of 0" in foreign.split('id="nis2-compliance"')[1].split("</section>")[0]


def test_the_cert_counts_no_deadline_of_a_withheld_cell(api, web, world):
    incident_id = _file(api, world.hospital_analyst, significant=True)  # the only CZ hospital that files
    assert api(world.hospital_analyst).post(f"/incidents/{incident_id}/nis2/early_warning", json={}).status_code == 201
    compliance = web(world.cert).get("/dashboard?period=2026-Q1").text.split('id="nis2-compliance"')[1]
    assert "Early warnings on time: 0 of 0" in compliance.split("</section>")[0]
