"""Every web form, sent with bad input: is the refusal worded for a person and is the typing kept?

A form refused by a service must not show API syntax (`audience {"users": [...]}`,
`confirm_personal_data: true`, enum values such as `info_request`), must say what is wrong beside
the field or at the top, and must give back what the person typed (passwords excepted).
"""
from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from hub.alerts import services as alerts
from hub.extensions import db
from hub.incidents import cases
from hub.incidents.models import CaseMessage, Incident, IncidentSummary
from tests import factories as f
from tests.incidents_support import build_world, report

MESSAGE_PLACES = (
    re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S),
    re.compile(r'<div class="flash flash-error"[^>]*>(.*?)</div>', re.S),
    re.compile(r'<p class="error-message">(.*?)</p>', re.S),
    re.compile(r'<ul class="details">(.*?)</ul>', re.S),
)
# Braces, brackets, and identifiers_with_underscores are how an API speaks, not a form.
API_SYNTAX = re.compile(r"[{}\[\]]|\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


def messages(page: str) -> list[str]:
    found = []
    for place in MESSAGE_PLACES:
        for match in place.findall(page):
            found.append(html.unescape(re.sub(r"<[^>]+>", " ", match)).strip())
    return [message for message in found if message]


@dataclass
class World:
    people: object
    incident_id: str
    case_id: str
    item_id: str
    subscription_id: int
    ids: dict = field(default_factory=dict)


@pytest.fixture
def world(api):
    people = build_world()
    filed = api(people.hospital_analyst).post("/incidents", json=report(significant=True))
    assert filed.status_code == 201, filed.json
    incident_id = filed.json["id"]
    case = cases.grant_consent(f.principal(people.hospital_admin), incident_id, people.police.org.slug)
    item = f.share(people.hospital_analyst, [f.indicator("203.0.113.77")])
    subscription = alerts.create_subscription(f.principal(people.hospital_analyst), channel="in_app").subscription
    return World(people, incident_id, case.public_id, item.stix_id, subscription.id)


def _incident_form(**overrides) -> dict:
    return {"title": "Ransomware in radiology", "detected_at": "2026-03-28T06:45", "attack_type": "ransomware",
            "patient_care_disrupted": "yes", "narrative": "PACS encrypted at night.", "tlp": "amber",
            **overrides}


# Each case: who sends, where, what, and what of the typing must come back.
def case_share_red_to_everyone(w):
    return w.people.hospital_analyst, "/share/indicator", {
        "observable_type": "ipv4-addr", "value": "203.0.113.9", "description": "Seen beaconing from PACS",
        "confidence": "60", "tlp": "red", "audience": "community"}, ["203.0.113.9", "Seen beaconing from PACS"]


def case_share_bad_value(w):
    return w.people.hospital_analyst, "/share/indicator", {
        "observable_type": "ipv4-addr", "value": "999.1.1.1", "description": "Typed by hand",
        "confidence": "500", "tlp": "green", "audience": "users", "users": ""}, ["999.1.1.1", "Typed by hand"]


def case_share_advisory(w):
    return w.people.cert, "/share/advisory", {
        "title": "", "summary": "Patch the PACS gateway", "cve_ids": "CVE-bad", "mitigation": "",
        "tlp": "green", "audience": "community"}, ["Patch the PACS gateway", "CVE-bad"]


def case_import_text(w):
    return w.people.hospital_analyst, "/share/import", {"text": ""}, []


def case_upload_sightings(w):
    return w.people.hospital_analyst, "/sightings/upload", {"values": "", "note": "From the proxy log"}, \
        ["From the proxy log"]


def case_incident_new(w):
    return w.people.hospital_analyst, "/incidents/new", _incident_form(
        title="", contained_at="2026-03-27T01:00", narrative="Patient Jan Novák, born 12.3.1957, was moved.",
        new_indicators="ipv4-addr 203.0.113.5\nipv4-addr 999.9.9.9", diversions_count="-2"), \
        ["Patient Jan Novák", "ipv4-addr 999.9.9.9"]


def case_incident_edit(w):
    return w.people.hospital_analyst, f"/incidents/{w.incident_id}/edit", _incident_form(
        title="Updated title", started_at="2026-03-29T06:45", threat_actor="Typed actor"), \
        ["Updated title", "Typed actor"]


def case_nis2_early_warning(w):
    return w.people.hospital_analyst, f"/incidents/{w.incident_id}/nis2/early_warning", {
        "suspected_malicious": "yes", "cross_border_impact": "no", "cross_border_countries": "AT, SK",
        "confirm": "y"}, ["AT, SK"]


def case_advice(w):
    return w.people.cert, f"/incidents/{w.incident_id}/advice", {"body": "x" * 5001}, ["x" * 5001]


def case_summary(w):
    return w.people.hospital_analyst, f"/incidents/{w.incident_id}/summary", {
        "text": "Patient Jan Novák, born 12.3.1957, was transferred."}, ["Patient Jan Novák"]


def case_grant_consent(w):
    return w.people.hospital_admin, f"/incidents/{w.incident_id}/consents", {"org": "no-such-unit", "confirm": "y"}, []


def case_case_message(w):
    return w.people.hospital_analyst, f"/cases/{w.case_id}/messages", {
        "body": "Patient Jan Novák, born 12.3.1957, called the hotline."}, ["Patient Jan Novák"]


def case_case_status(w):
    return w.people.police, f"/cases/{w.case_id}/status", {"status": "closed"}, []


def case_case_evidence(w):
    return w.people.hospital_analyst, f"/cases/{w.case_id}/evidence", {
        "description": "Firewall log of the night", "file": (io.BytesIO(b""), "")}, ["Firewall log of the night"]


def case_subscription(w):
    return w.people.hospital_analyst, "/alerts/subscriptions", {
        "channel": "email", "target": "not-an-address", "mode": "immediate", "keywords": "lockbit"}, \
        ["not-an-address", "lockbit"]


def case_feed(w):
    return w.people.hospital_analyst, "/feeds/", {"name": "", "min_confidence": "250"}, ["250"]


def case_token(w):
    return w.people.hospital_analyst, "/account/tokens", {"label": "L" * 101}, ["L" * 101]


def case_password(w):
    return w.people.hospital_analyst, "/account/password", {
        "current_password": "wrong", "new_password": "short", "confirm_password": "other"}, []


def case_extend(w):
    return w.people.hospital_analyst, f"/items/{w.item_id}/extend", {"valid_until": "2001-01-01"}, []


def case_widen(w):
    return w.people.hospital_analyst, f"/items/{w.item_id}/audience", {
        "audience": "users", "users": "ghost@nowhere.example"}, ["ghost@nowhere.example"]


def case_sighting(w):
    return w.people.other_hospital_analyst, f"/items/{w.item_id}/sightings", {"count": "-3", "note": "Seen twice"}, \
        ["Seen twice"]


def case_delete_subscription(w):
    return w.people.hospital_analyst, f"/alerts/subscriptions/{w.subscription_id}/delete", {}, []


def case_login(w):
    return None, "/login", {"email": w.people.hospital_analyst.email, "password": "wrong"}, \
        [w.people.hospital_analyst.email]


FORM_PAGES = {  # where the form with the CSRF token is shown, when not at the address it posts to
    case_incident_edit: lambda w: f"/incidents/{w.incident_id}/edit",
    case_advice: lambda w: f"/incidents/{w.incident_id}",
    case_summary: lambda w: f"/incidents/{w.incident_id}",
    case_grant_consent: lambda w: f"/incidents/{w.incident_id}",
    case_case_message: lambda w: f"/cases/{w.case_id}",
    case_case_status: lambda w: f"/cases/{w.case_id}",
    case_case_evidence: lambda w: f"/cases/{w.case_id}",
    case_feed: lambda w: "/feeds/",
    case_token: lambda w: "/account",
    case_password: lambda w: "/account",
    case_extend: lambda w: f"/items/{w.item_id}",
    case_widen: lambda w: f"/items/{w.item_id}",
    case_sighting: lambda w: f"/items/{w.item_id}",
}
CASES = [case_share_red_to_everyone, case_share_bad_value, case_share_advisory, case_import_text,
         case_upload_sightings, case_incident_new, case_incident_edit, case_nis2_early_warning, case_advice,
         case_summary, case_grant_consent, case_case_message, case_case_status, case_case_evidence,
         case_subscription, case_feed, case_token, case_password, case_extend, case_widen, case_sighting,
         case_delete_subscription, case_login]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__.removeprefix("case_"))
def test_a_refused_form_speaks_to_people_and_keeps_what_they_typed(case, web, world):
    who, path, data, typed = case(world)
    browser = web(who)
    form_page = FORM_PAGES.get(case, lambda w: path)(world)
    response = browser.submit(path, data, form_page=form_page)
    if response.status_code in (302, 303):  # a refusal told on the page it leads back to
        response = browser.get(response.location)
        assert response.status_code == 200
    elif case is not case_login:  # a failed sign-in answers the sign-in page again, as it always has
        assert 400 <= response.status_code < 500, response.status_code
    page = response.get_data(as_text=True)
    said = messages(page)
    assert said, f"no error message shown on {path}"
    for message in said:
        assert not API_SYNTAX.search(message), f"API syntax in the message on {path}: {message!r}"
    for value in typed:
        assert html.escape(value, quote=False) in page, f"{value!r} was not kept on {path}"


def test_the_incident_form_shows_every_problem_after_one_sending_and_names_the_wrong_line(web, world):
    browser = web(world.people.hospital_analyst)
    before = db.session.scalar(select(func.count()).select_from(Incident))
    page = browser.submit("/incidents/new", _incident_form(
        title="", contained_at="2026-03-27T01:00", narrative="Patient Jan Novák, born 12.3.1957, was moved.",
        new_indicators="ipv4-addr 203.0.113.5\n\nipv4-addr 999.9.9.9")).get_data(as_text=True)
    # The form's own check (title), the service's (dates in order), patient data and the bad line: together.
    assert 'id="title-error"' in page and 'id="contained_at-error"' in page and 'id="personal-data"' in page
    line_error = re.search(r'id="new_indicators-error">(.*?)</p>', page).group(1)
    assert "Line 3" in line_error and "999.9.9.9" in line_error
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before


def test_a_refused_case_message_or_summary_writes_nothing(web, world):
    browser = web(world.people.hospital_analyst)
    browser.submit(f"/cases/{world.case_id}/messages", {"body": "Patient Jan Novák, born 12.3.1957."},
                   form_page=f"/cases/{world.case_id}")
    browser.submit(f"/incidents/{world.incident_id}/summary", {"text": "Patient Jan Novák, born 12.3.1957."},
                   form_page=f"/incidents/{world.incident_id}")
    assert db.session.scalar(select(func.count()).select_from(CaseMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(IncidentSummary)) == 0


def test_viewers_see_no_form_they_cannot_send(web, world):
    viewer = web(world.people.hospital_viewer)
    assert "Report an incident" not in viewer.get("/incidents").get_data(as_text=True)
    refused = viewer.get("/incidents/new")
    assert refused.status_code == 403 and 'name="title"' not in refused.get_data(as_text=True)
    subscriptions = viewer.get("/alerts/subscriptions").get_data(as_text=True)
    assert 'action="/alerts/subscriptions"' not in subscriptions and "Viewers read only" in subscriptions
    for path in ("/share/indicator", "/share/import", "/sightings/upload"):
        page = viewer.get(path)
        assert page.status_code == 403 and 'href="/assets/hub.css"' in page.get_data(as_text=True), path
    cert_viewer = web(f.make_user(world.people.cert.org, "viewer"))
    assert "/advice" not in cert_viewer.get(f"/incidents/{world.incident_id}").get_data(as_text=True)
    assert "/advice" in web(world.people.cert).get(f"/incidents/{world.incident_id}").get_data(as_text=True)


@pytest.mark.parametrize("path,mimetype", [
    ("/no/such/page", "text/html"), ("/assets/no-such.css", "text/html"), ("/static/hub.css", "text/html"),
    ("/api/v1/no/such", "application/json"), ("/taxii2/no/such/", "application/taxii+json"),
])
def test_unknown_addresses_answer_in_the_language_of_their_part_of_the_hub(web, taxii, world, path, mimetype):
    if path.startswith("/taxii2/"):
        response = taxii(world.people.hospital_analyst).get(path.removeprefix("/taxii2"))
    else:
        response = web(world.people.hospital_analyst).get(path)
    assert response.status_code == 404 and response.mimetype == mimetype, (path, response.mimetype)
    if mimetype == "text/html":
        assert 'href="/assets/hub.css"' in response.get_data(as_text=True)
    else:
        assert response.get_json(force=True)


def test_an_unticked_nis2_report_also_names_its_wrong_answers(web, world):
    path = f"/incidents/{world.incident_id}/nis2/early_warning"
    page = web(world.people.hospital_analyst).submit(path, {
        "suspected_malicious": "yes", "cross_border_impact": "no", "cross_border_countries": "AT"})
    assert page.status_code == 422
    problem = messages(page.get_data(as_text=True))
    assert any("tick the box" in message and "cross-border impact" in message for message in problem), problem
