"""The incident pages: the report form, the detail page, consent, the liaison's case, the dashboard."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.incidents.models import Incident
from tests.incidents_support import build_world

FORM = {
    "title": "Ransomware in radiology",
    "started_at": "2026-03-28T02:10",
    "detected_at": "2026-03-28T06:45",
    "attack_type": "ransomware",
    "services": ["imaging", "ehr"],
    "patient_care_disrupted": "yes",
    "diversions_count": "3",
    "procedures_cancelled": "12",
    "downtime_hours": "30.5",
    "narrative": "PACS encrypted at night.",
    "threat_actor": "",
    "tlp": "amber",
}


@pytest.fixture
def world():
    return build_world()


def file_through_the_form(browser, form=FORM):
    return browser.submit("/incidents/new", form)


def incident_id_from(response) -> str:
    return re.search(r"/incidents/(incident--[0-9a-f-]+)", response.location).group(1)


def test_a_hospital_files_a_report_from_one_form_in_its_local_time(web, world):
    browser = web(world.hospital_analyst)
    filed = file_through_the_form(browser)
    assert filed.status_code == 302
    incident_id = incident_id_from(filed)
    incident = db.session.scalar(select(Incident).where(Incident.stix_id == incident_id))
    # 06:45 in Prague on 28 March 2026 (CET) is 05:45 UTC.
    assert incident.detected_at.isoformat().startswith("2026-03-28T05:45")
    page = browser.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    assert "Ransomware in radiology" in page.text and "Imaging / PACS" in page.text
    assert web(world.cert).get(f"/incidents/{incident_id}").status_code == 200
    assert web(world.other_hospital_analyst).get(f"/incidents/{incident_id}").status_code == 404


def test_a_viewer_is_refused_the_report_form_before_filling_it_in(web, world):
    viewer = web(world.hospital_viewer)
    page = viewer.get("/incidents/new")
    assert page.status_code == 403
    assert "viewers cannot file incident reports" in page.text and 'href="/assets/hub.css"' in page.text
    assert 'name="title"' not in page.text
    incident_id = incident_id_from(file_through_the_form(web(world.hospital_analyst)))
    assert viewer.get(f"/incidents/{incident_id}/edit").status_code == 403
    assert "Report an incident" not in viewer.get("/incidents").text


def test_unknown_addresses_answer_the_styled_error_page(web, world):
    for browser in (web(world.hospital_viewer), web()):
        for path in ("/no/such/page", "/incidents/new/extra", "/alerts/notanumber"):
            page = browser.get(path)
            assert page.status_code == 404 and page.mimetype == "text/html", path
            assert "Not found" in page.text and 'href="/assets/hub.css"' in page.text, path


def test_errors_are_shown_next_to_the_fields_and_nothing_is_written(web, world):
    browser = web(world.hospital_analyst)
    refused = file_through_the_form(browser, {**FORM, "title": "", "diversions_count": "-2"})
    assert refused.status_code == 422
    assert 'id="title-error"' in refused.text and 'id="diversions_count-error"' in refused.text
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_patient_data_is_flagged_in_the_form_until_confirmed(web, world):
    browser = web(world.hospital_analyst)
    narrative = "Patient Jan Novák, born 12.3.1957, was transferred."
    flagged = file_through_the_form(browser, {**FORM, "narrative": narrative})
    assert flagged.status_code == 422 and 'id="personal-data"' in flagged.text
    assert "Novák" not in flagged.text.split('id="personal-data"')[1].split("</div>")[0]
    confirmed = file_through_the_form(browser, {**FORM, "narrative": narrative, "confirm_personal_data": "y"})
    assert confirmed.status_code == 302


def test_a_script_in_the_narrative_renders_inert(web, world):
    browser = web(world.hospital_analyst)
    incident_id = incident_id_from(file_through_the_form(browser, {**FORM, "narrative": "<script>alert(1)</script>"}))
    page = web(world.cert).get(f"/incidents/{incident_id}")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_consent_from_the_page_puts_the_case_in_the_liaisons_queue_until_revoked(web, world):
    incident_id = incident_id_from(file_through_the_form(web(world.hospital_analyst)))
    admin = web(world.hospital_admin)
    detail = admin.get(f"/incidents/{incident_id}").text
    # Before consenting, the admin reads exactly what the police unit will see and what revoking does.
    scope = detail.split('id="consent-scope"')[1].split("</div>")[0]
    assert "every revision of it" in scope and "evidence files you choose to upload" in scope
    assert "your NIS2 reports and clocks" in scope and "hides the incident and the case from the unit from then on" in scope
    liaison = web(world.police)
    unconfirmed = admin.submit(f"/incidents/{incident_id}/consents", {"org": world.police.org.slug},
                               form_page=f"/incidents/{incident_id}")
    assert unconfirmed.status_code == 302
    assert "Nothing was shared: tick the box" in admin.get(f"/incidents/{incident_id}").text
    assert "/cases/" not in liaison.get("/cases").text
    granted = admin.submit(f"/incidents/{incident_id}/consents", {"org": world.police.org.slug, "confirm": "y"},
                           form_page=f"/incidents/{incident_id}")
    assert granted.status_code == 302

    queue = liaison.get("/cases")
    case_path = re.search(r'href="(/cases/[0-9a-f-]+)"', queue.text).group(1)
    case_page = liaison.get(case_path)
    assert case_page.status_code == 200 and "Ransomware in radiology" in case_page.text
    assert 'value="under_review">Start review</button>' in case_page.text
    moved = liaison.submit(f"{case_path}/status", {"status": "under_review"}, form_page=case_path)
    assert moved.status_code == 302
    reviewing = liaison.get(case_path).text
    assert "under review" in reviewing
    # The buttons say what they do, not the state they lead to.
    assert 'value="declined">Decline case</button>' in reviewing
    assert 'value="investigation_opened">Open investigation</button>' in reviewing
    # Declining cannot be undone: without the tick nothing changes, and the page says why.
    liaison.submit(f"{case_path}/status", {"status": "declined"}, form_page=case_path)
    refused = liaison.get(case_path).text
    assert "The case was not declined: tick the box" in refused and 'id="case-status">under review<' in refused
    assert "will not investigate" in refused.split('id="decline-case"')[1]
    liaison.submit(f"{case_path}/status", {"status": "investigation_opened"}, form_page=case_path)
    assert 'value="closed">Close case</button>' in liaison.get(case_path).text
    assert web(world.other_police).get(case_path).status_code == 404

    revoke = f"/incidents/{incident_id}/consents/{world.police.org.slug}/revoke"
    admin.submit(revoke, {}, form_page=f"/incidents/{incident_id}")
    assert "Consent was not revoked: tick the box" in admin.get(f"/incidents/{incident_id}").text
    assert liaison.get(case_path).status_code == 200
    admin.submit(revoke, {"confirm": "y"}, form_page=f"/incidents/{incident_id}")
    assert liaison.get(case_path).status_code == 404
    assert case_path not in liaison.get("/cases").text


def test_forms_without_a_csrf_token_are_refused(web, world):
    browser = web(world.hospital_analyst)
    assert browser.post("/incidents/new", data=FORM).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_the_cert_sees_the_nis2_queue_and_the_dashboard_draws_charts(web, world):
    browser = web(world.hospital_analyst)
    incident_id = incident_id_from(file_through_the_form(browser, {**FORM, "significant": "y"}))
    cert = web(world.cert)
    queue = cert.get("/nis2")
    assert queue.status_code == 200 and f"/incidents/{incident_id}" in queue.text
    assert "overdue" in queue.text
    assert web(world.police).get("/nis2").status_code == 403
    # The one hospital's cell is withheld from the CERT (rule 12): nothing to chart, and no figure.
    dashboard = cert.get("/dashboard")
    assert dashboard.status_code == 200 and dashboard.text.count("<svg") == 0
    assert "No incidents to chart" in dashboard.text
    # The hospital's own incidents always count: one chart per unit, without script.
    own = browser.get("/dashboard")
    assert own.status_code == 200 and own.text.count("<svg") == 5
    assert "<script" not in own.text.split("<main")[1]
    csv = cert.get("/dashboard.csv")
    # The one hospital's cell is withheld outside it (rule 12); the hospital sees its own row.
    assert csv.mimetype == "text/csv" and "2026-03,ransomware,CZ" not in csv.text
    assert "2026-03,ransomware,CZ,1" in browser.get("/dashboard.csv").text


def test_the_hospital_admin_reads_every_police_view_in_the_audit_log(web, world, api):
    incident_id = incident_id_from(file_through_the_form(web(world.hospital_analyst)))
    case_id = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                             json={"org": world.police.org.slug}).json["case"]
    liaison = web(world.police)
    liaison.get(f"/incidents/{incident_id}")
    liaison.get(f"/cases/{case_id}")

    log = web(world.hospital_admin).get("/audit").text
    rows = [row for row in log.split("<tr>") if world.police.org.slug in row]
    assert any("incident read" in row for row in rows) and any("case read" in row for row in rows)
    assert any("consent granted" in row for row in log.split("<tr>"))


def test_indicators_seen_are_typed_into_the_form_and_shared_with_the_report(web, world, api):
    browser = web(world.hospital_analyst)
    filed = file_through_the_form(browser, {**FORM, "new_indicators": "ipv4-addr 203.0.113.77\ndomain-name evil.example"})
    assert filed.status_code == 302
    linked = api(world.cert).get(f"/incidents/{incident_id_from(filed)}").json["report"]["indicators"]
    assert len(linked) == 2
    refused = file_through_the_form(browser, {**FORM, "new_indicators": "ipv4-addr not-an-ip"})
    assert refused.status_code == 422 and 'id="new_indicators-error"' in refused.text


def test_evidence_uploaded_from_the_case_page_may_exceed_the_general_body_limit(app, web, world, api, monkeypatch):
    import io

    incident_id = incident_id_from(file_through_the_form(web(world.hospital_analyst)))
    case_id = api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                             json={"org": world.police.org.slug}).json["case"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    browser = web(world.hospital_analyst)
    token = browser.csrf_token(f"/cases/{case_id}")
    sent = browser.post(f"/cases/{case_id}/evidence", data={
        "csrf_token": token, "file": (io.BytesIO(b"x" * 20000), "firewall.log"), "description": "logs"},
        content_type="multipart/form-data")
    assert sent.status_code == 302
    assert "firewall.log" in browser.get(f"/cases/{case_id}").text


def test_members_read_summaries_without_learning_who_published_them(web, world, api):
    incident_id = incident_id_from(file_through_the_form(web(world.hospital_analyst)))
    api(world.hospital_analyst).post(f"/incidents/{incident_id}/summary", json={"text": "Imaging down for a day."})
    page = web(world.vendor).get("/summaries")
    assert page.status_code == 200 and "Imaging down for a day." in page.text and "Ransomware" in page.text
    for secret in (world.hospital.slug, world.hospital.name, incident_id, "Ransomware in radiology"):
        assert secret not in page.text
