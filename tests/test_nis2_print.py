"""The NIS2 document a hospital sends to its national CERT, the one time rule, and the steps
that cannot be undone (a NIS2 report is never withdrawn)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.incidents.models import NisSubmission
from tests import factories as f
from tests.incidents_support import build_world, report


@pytest.fixture
def world():
    return build_world()


def file(api, user, **overrides) -> str:
    response = api(user).post("/incidents", json=report(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def submissions() -> int:
    return db.session.scalar(select(func.count()).select_from(NisSubmission))


def early_warning_page(incident_id: str) -> str:
    return f"/incidents/{incident_id}/nis2/early_warning"


def request_key_on(page_text: str) -> str:
    return re.search(r'name="request_key" value="([0-9a-f]+)"', page_text).group(1)


def printable_path(detail_text: str) -> str:
    return re.search(r'href="(/incidents/[^"]+/nis2/submissions/[0-9a-f-]+)">printable', detail_text).group(1)


def test_the_early_warning_asks_art_23_4_a_and_the_printed_document_shows_the_answers(web, api, world):
    incident_id = file(api, world.hospital_analyst, significant=True)
    browser = web(world.hospital_analyst)
    page = browser.get(early_warning_page(incident_id)).text
    assert "suspected of being caused by unlawful or malicious acts" in page
    assert "Could the incident have a cross-border impact?" in page
    # The consequence is stated before anything is sent, naming the CERT it goes to.
    cert_name = world.cert.org.name
    assert f"This sends the early warning to {cert_name}; it cannot be withdrawn." in page

    sent = browser.submit(early_warning_page(incident_id), {
        "request_key": request_key_on(page), "suspected_malicious": "yes", "cross_border_impact": "yes",
        "cross_border_countries": "at, sk", "confirm": "y"}, form_page=early_warning_page(incident_id))
    assert sent.status_code == 302
    stored = db.session.scalars(select(NisSubmission)).one()
    assert (stored.stage, stored.suspected_malicious, stored.cross_border_impact) == ("early_warning", "yes", "yes")

    document = browser.get(printable_path(browser.get(f"/incidents/{incident_id}").text)).text
    art = document.split('id="art-23-4-a"')[1].split("</dl>")[0]
    assert re.search(r"Suspected unlawful or malicious act</dt><dd>Yes<", art)
    assert re.search(r"Possible cross-border impact</dt><dd>Yes: AT, SK<", art)
    # The CERT following the incident reads the same answers through the API.
    cert_view = api(world.cert).get(f"/incidents/{incident_id}/nis2/submissions/{stored.public_id}").json
    assert cert_view["art_23_4_a"] == {"suspected_malicious": "yes", "cross_border_impact": "yes",
                                       "cross_border_countries": ["AT", "SK"]}


def test_the_printed_document_is_marked_and_formatted_for_people(web, api, world):
    incident_id = file(api, world.hospital_analyst, significant=True)
    submitted = api(world.hospital_analyst).post(f"/incidents/{incident_id}/nis2/early_warning", json={})
    assert submitted.status_code == 201
    document = web(world.hospital_analyst).get(
        f"/incidents/{incident_id}/nis2/submissions/{submitted.json['id']}").text
    article = document.split('id="nis2-document"')[1].split("</article>")[0]

    # TLP 2.0: the marking at the top and at the bottom of the document.
    top, _, bottom = article.partition("<h1>")
    marking = '<span class="tlp tlp-amber">TLP:AMBER</span>'
    assert marking in top and marking in bottom.rsplit("</table>", 1)[1]
    # Values a regulator reads, not Python structures or raw keys.
    assert "2,500,000 USD" in article and "{&#39;amount&#39;" not in article and "'amount'" not in article
    assert "Electronic health record (EHR), Emergency department, Imaging / PACS" in article
    assert "12,000" in article  # records exposed
    # 06:45 in Prague (CET, UTC+1) is shown as such, with its zone.
    assert "28 Mar 2026, 06:45 CET" in article and "+00:00" not in article
    # Printing leaves the menu and buttons out.
    css = web(world.hospital_analyst).get("/assets/hub.css").text
    print_rules = css.split("@media print")[1]
    assert ".topbar" in print_rules and "display: none" in print_rules
    # The export stays ISO 8601 in UTC.
    exported = web(world.hospital_analyst).get(
        f"/incidents/{incident_id}/nis2/submissions/{submitted.json['id']}?format=json").json
    assert exported["submitted_at"].endswith("+00:00") and exported["tlp"] == "amber"


def test_art_23_4_a_answers_round_trip_through_the_api_and_bad_ones_are_refused(api, world):
    incident_id = file(api, world.hospital_analyst, significant=True)
    hospital = api(world.hospital_analyst)
    path = f"/incidents/{incident_id}/nis2/early_warning"
    for body, field in [({"suspected_malicious": "maybe"}, "suspected_malicious"),
                        ({"cross_border_impact": "no", "cross_border_countries": ["AT"]}, "cross_border_countries"),
                        ({"cross_border_impact": "yes", "cross_border_countries": ["XX"]}, "cross_border_countries[0]"),
                        ({"request_key": "short"}, "request_key")]:
        refused = hospital.post(path, json=body)
        assert refused.status_code == 422, body
        assert field in [d["field"] for d in refused.json["details"]], refused.json
    assert submissions() == 0

    sent = hospital.post(path, json={"suspected_malicious": "no", "cross_border_impact": "yes",
                                     "cross_border_countries": ["de", "AT", "DE"]})
    assert sent.status_code == 201
    assert (sent.json["suspected_malicious"], sent.json["cross_border_countries"]) == ("no", ["DE", "AT"])
    snapshot = hospital.get(f"/incidents/{incident_id}/nis2/submissions/{sent.json['id']}").json
    assert snapshot["art_23_4_a"]["cross_border_countries"] == ["DE", "AT"]
    # Left out, the answers are "unknown": never silently "no".
    plain = hospital.post(f"/incidents/{incident_id}/nis2/notification").json
    assert (plain["suspected_malicious"], plain["cross_border_impact"]) == ("unknown", "unknown")


def test_a_nis2_report_is_sent_only_once_confirmed_and_only_once(web, api, world):
    incident_id = file(api, world.hospital_analyst, significant=True)
    browser = web(world.hospital_analyst)
    page = early_warning_page(incident_id)
    key = request_key_on(browser.get(page).text)

    unconfirmed = browser.submit(page, {"request_key": key, "suspected_malicious": "yes"}, form_page=page)
    assert unconfirmed.status_code == 422
    assert "Nothing was sent: tick the box" in unconfirmed.text
    assert 'value="yes" checked' in unconfirmed.text  # the answers given are kept
    assert submissions() == 0

    for _ in range(2):  # a double click, or the form sent again with the Back button
        assert browser.submit(page, {"request_key": key, "confirm": "y"}, form_page=page).status_code == 302
    assert submissions() == 1
    # The same key through the API answers the submission already made.
    again = api(world.hospital_analyst).post(f"/incidents/{incident_id}/nis2/early_warning", json={"request_key": key})
    assert again.status_code == 201 and submissions() == 1
    assert api(world.hospital_analyst).post(f"/incidents/{incident_id}/nis2/notification",
                                            json={"request_key": key}).status_code == 422
    # Viewers are refused the page itself, and the CERT cannot send for the hospital.
    assert web(world.hospital_viewer).get(page).status_code == 403
    assert web(world.cert).get(page).status_code == 404


def test_an_overdue_clock_is_highlighted_and_says_how_late(web, api, world):
    aware = datetime.now(timezone.utc) - timedelta(days=3, hours=1)
    incident_id = file(api, world.hospital_analyst, significant=True, started_at=None,
                       detected_at=aware.isoformat())
    page = web(world.hospital_analyst).get(f"/incidents/{incident_id}").text
    early_warning = re.search(r'<tr class="clock-([a-z_]+)"><td>early warning</td>(.*?)</tr>', page, re.S)
    assert early_warning.group(1) == "overdue"
    assert "late by 2 days" in early_warning.group(2)
    css = web(world.hospital_analyst).get("/assets/hub.css").text
    assert re.search(r"tr\.clock-overdue td[^{]*\{[^}]*background", css)
    assert re.search(r"tr\.clock-due_soon td[^{]*\{[^}]*background", css)
    queue = web(world.cert).get("/nis2").text
    assert 'class="clock-overdue"' in queue and "late by 2 days" in queue


def test_times_are_shown_on_the_readers_organisation_clock(web, api, world):
    sao_paulo = f.make_org("hospital", "BR")
    sao_paulo.timezone = "America/Sao_Paulo"
    db.session.commit()
    analyst = f.make_user(sao_paulo, "analyst")
    same_instant = "2026-11-02T23:00:00-03:00"
    incident_id = file(api, analyst, detected_at=same_instant, started_at=None)
    detail = web(analyst).get(f"/incidents/{incident_id}").text
    assert "2 Nov 2026, 23:00 UTC-03:00" in detail and "2026-11-03T02:00" not in detail
    # A Prague hospital reads the same instant on its own clock, with its zone.
    prague_incident = file(api, world.hospital_analyst, detected_at=same_instant, started_at=None)
    assert "3 Nov 2026, 03:00 CET" in web(world.hospital_analyst).get(f"/incidents/{prague_incident}").text
    # Every page follows the rule: the audit log too.
    audit = web(world.hospital_admin).get("/audit").text
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d CES?T", audit)
    # Exports stay ISO 8601 in UTC.
    assert api(analyst).get(f"/incidents/{incident_id}").json["report"]["detected_at"] == "2026-11-03T02:00:00+00:00"
