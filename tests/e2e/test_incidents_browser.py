"""Incident reporting and law-enforcement review end to end in headless Chromium.

A hospital analyst files a report through the one-page form; the hospital's admin grants
consent to the police unit; the liaison finds the case in the queue, opens it, moves it to
"under review" and asks for information; the hospital reads the request on the same case.
"""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import PASSWORD, headless_chromium, new_context, running_hub, sign_in, sign_out

SEED = f"""
from hub import create_app
from hub.accounts import services as accounts

app = create_app()
with app.app_context():
    accounts.create_org("fn-brno", "University Hospital Brno", "hospital", "CZ")
    accounts.create_org("cert-cz", "CERT-CZ", "national_cert", "CZ")
    accounts.create_org("policie-nccc", "Police NCCC", "law_enforcement", "CZ")
    for email, org, role in [("analyst@fn-brno.test", "fn-brno", "analyst"), ("admin@fn-brno.test", "fn-brno", "admin"),
                             ("liaison@policie.test", "policie-nccc", "analyst")]:
        accounts.create_user(email, org, role, {PASSWORD!r})
"""


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    yield from running_hub(tmp_path_factory, "hub-e2e-incidents", SEED)


@pytest.fixture(scope="module")
def chromium():
    yield from headless_chromium()


def test_a_report_reaches_the_liaison_only_after_consent_and_they_work_the_case(hub_url, chromium):
    title = "Ransomware stopped the emergency department"

    # The hospital analyst files the report from one form.
    hospital = new_context(chromium)
    page = sign_in(hospital, hub_url, "analyst@fn-brno.test")
    page.get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Report an incident").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Detected — when you became aware (local time)").fill("2026-11-20T03:15")
    page.get_by_label("Attack type").select_option("ransomware")
    page.get_by_label("Emergency department").check()
    page.get_by_label("Electronic health record (EHR)").check()
    page.locator("input[name=patient_care_disrupted][value=yes]").check()
    page.get_by_label("Emergency diversions").fill("5")
    page.get_by_label("Procedures cancelled or postponed").fill("37")
    page.get_by_label("What happened").fill("Triage systems were encrypted at 03:00; ambulances were diverted.")
    page.get_by_label("Significant incident under NIS2 (starts the reporting clocks)").check()
    page.get_by_role("button", name="File report").click()
    page.wait_for_url(re.compile(re.escape(hub_url) + r"/incidents/incident--[0-9a-f-]+$"))
    incident_url = page.url
    assert title in page.locator("h1").inner_text()
    assert "early warning" in page.locator("#nis2").inner_text().lower()
    sign_out(page, hub_url)
    hospital.close()

    # Before consent, the liaison's queue is empty and the report answers 404.
    police = new_context(chromium)
    page = sign_in(police, hub_url, "liaison@policie.test")
    page.get_by_role("link", name="Cases").click()
    assert title not in page.content()
    assert page.goto(incident_url).status == 404
    sign_out(page, hub_url)

    # The hospital's admin grants consent to the police unit.
    admin = new_context(chromium)
    page = sign_in(admin, hub_url, "admin@fn-brno.test")
    page.goto(incident_url)
    page.get_by_label("Grant consent to").select_option("policie-nccc")
    page.get_by_label("I consent that the chosen police unit sees this incident as described above").check()
    page.get_by_role("button", name="Grant consent").click()
    page.wait_for_url(incident_url)
    assert "consent active" in page.locator("#law-enforcement").inner_text()
    sign_out(page, hub_url)
    admin.close()

    # The liaison finds the case, reviews it and asks for information.
    page = sign_in(police, hub_url, "liaison@policie.test")
    page.get_by_role("link", name="Cases").click()
    page.get_by_role("link", name=title).click()
    page.wait_for_url(re.compile(re.escape(hub_url) + r"/cases/[0-9a-f-]+$"))
    case_url = page.url
    assert page.locator("#case-status").inner_text() == "received"
    page.get_by_role("button", name="Start review").click()
    page.wait_for_url(case_url)
    assert page.locator("#case-status").inner_text() == "under review"
    page.get_by_label("Message").fill("Please upload the ransom note and firewall logs.")
    page.get_by_label("This is a request for information").check()
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(case_url)
    sign_out(page, hub_url)
    police.close()

    # The hospital reads the request on the case.
    hospital = new_context(chromium)
    page = sign_in(hospital, hub_url, "analyst@fn-brno.test")
    page.goto(case_url)
    thread = page.locator("ol.thread").inner_text().lower()
    assert "please upload the ransom note and firewall logs." in thread
    assert "request for information" in thread
    hospital.close()
