"""Who will see this, in the web UI (issue 15.1): share forms and item pages say who reads, in
words; /audience/preview answers the page as the audience changes; widening asks first, naming
who gains access; incidents are managed from the incident page only."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.extensions import db
from hub.incidents import filing
from hub.incidents.models import IncidentItem
from hub.intel import readers
from hub.intel.models import SharedItem
from tests.factories import indicator, make_org, make_user, principal, share
from tests.incidents_support import build_world, report


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def who_reads(response) -> str:
    match = re.search(r'class="who-reads-text"[^>]*>(.*?)</span>', response.get_data(as_text=True), re.S)
    assert match, "no 'Who will see this' on the page"
    return html.unescape(match.group(1)).strip()


@pytest.fixture
def cz():
    cert = make_org("national_cert", "CZ", slug="cert-cz")
    brno = make_org("hospital", "CZ", slug="fn-brno")
    ostrava = make_org("hospital", "CZ", slug="fn-ostrava")
    outsider = make_org("hospital", "SK", slug="sk-hospital")
    cert.name, brno.name, ostrava.name = "CERT-CZ", "FN Brno", "FN Ostrava"
    db.session.commit()
    accounts.create_group("cz-health", "CZ hospitals + CERT-CZ", ["cert-cz", "fn-brno", "fn-ostrava"])
    return {"analyst": make_user(brno), "viewer": make_user(brno, "viewer"), "cert": make_user(cert),
            "ostrava": make_user(ostrava), "outsider": make_user(outsider), "brno": brno}


# --- the share forms and the item page --------------------------------------------------------

def test_the_indicator_form_says_who_will_see_it_and_the_item_page_says_who_reads(web, cz):
    browser = web(cz["analyst"])
    assert who_reads(browser.get("/share/indicator")).startswith("choose a TLP and an audience")
    chosen = {"observable_type": "ipv4-addr", "value": "", "description": "C2 seen at the VPN",
              "confidence": "60", "tlp": "amber", "audience": "groups", "groups": "cz-health"}

    refused = browser.submit("/share/indicator", chosen)  # no value: the form comes back, still saying who

    assert refused.status_code == 422
    words = "Your organisation, CERT-CZ and FN Ostrava — 3 organisations, 4 people"
    assert who_reads(refused) == words
    shared = browser.submit("/share/indicator", {**chosen, "value": "203.0.113.77"})
    assert shared.status_code == 302
    page = browser.get(shared.location)
    assert f"Who can read {words}" in text_of(page)
    assert "Shared with sharing group “CZ hospitals + CERT-CZ”" in text_of(page), "names, not slugs"
    recipient_view = web(cz["cert"]).get(shared.location)
    assert recipient_view.status_code == 200 and "Who can read" not in text_of(recipient_view), \
        "only the owner organisation is told whom an item reaches"


def test_the_advisory_and_import_forms_say_who_will_see_them(web, make):
    vendor = make.make_org("vendor", "DE")
    analyst = make.make_user(vendor)
    browser = web(analyst)
    advisory = browser.submit("/share/advisory", {"title": "", "tlp": "green", "audience": "own"})
    assert advisory.status_code == 422
    assert who_reads(advisory) == "Only your organisation — 1 organisation, 1 person"
    found = browser.submit("/share/import", {"text": "beacon to 203.0.113.80 seen"})
    assert who_reads(found).startswith("choose a TLP and an audience")


def test_the_sighting_form_says_who_hears_of_it_without_naming_an_anonymous_source(web, cz):
    item = share(cz["ostrava"], [indicator("203.0.113.81")], tlp="green", audience="community", anonymous=True)
    page = web(cz["analyst"]).get(f"/items/{item.stix_id}")
    # The same words whoever the source is: names would tell it by the one missing (CERT-CZ, say,
    # when the CERT is the source).
    assert who_reads(page) == readers.ANONYMOUS_SOURCE_SIGHTING
    upload = web(cz["analyst"]).get("/sightings/upload")
    assert who_reads(upload) == "Your organisation and CERT-CZ — 2 organisations, 3 people"


# --- the JSON endpoint the pages call ---------------------------------------------------------

def test_the_preview_answers_the_page_as_the_audience_changes(web, cz):
    browser = web(cz["analyst"])
    own = browser.get("/audience/preview?tlp=amber&audience=own")
    group = browser.get("/audience/preview?tlp=amber&audience=groups&groups=cz-health")
    assert own.status_code == group.status_code == 200
    assert own.json == {"text": "Only your organisation — 1 organisation, 2 people", "organisations": 1,
                        "people": 2, "names": []}
    assert group.json["text"] == "Your organisation, CERT-CZ and FN Ostrava — 3 organisations, 4 people"
    assert browser.get("/audience/preview?tlp=amber%2Bstrict&audience=orgs&orgs=cert-cz&orgs=fn-ostrava").json["people"] == 4


@pytest.mark.parametrize("query,field", [
    ("tlp=purple&audience=own", "tlp"),
    ("audience=own", "tlp"),
    ("tlp=amber&audience=everyone", "audience"),
    ("tlp=amber&audience=groups", "groups"),
    ("tlp=amber&audience=groups&groups=no-such-group", "groups"),
    ("tlp=amber&audience=orgs&orgs=nobody-here", "orgs"),
    ("tlp=red&audience=community", "audience"),
    ("tlp=amber&audience=own&type=bogus", "type"),
])
def test_bad_input_to_the_preview_is_a_400_naming_the_field(web, cz, query, field):
    response = web(cz["analyst"]).get(f"/audience/preview?{query}")
    assert response.status_code == 400
    assert response.json["field"] == field and response.json["error"]


def test_the_preview_is_for_signed_in_sharers_only(web, cz):
    anonymous = web().get("/audience/preview?tlp=amber&audience=own")
    assert anonymous.status_code == 401 and anonymous.json["error"]
    assert web(cz["viewer"]).get("/audience/preview?tlp=amber&audience=own").status_code == 403


def test_the_widening_preview_names_who_gains_and_is_for_the_owner_only(web, cz):
    item = share(cz["analyst"], [indicator("203.0.113.82")], tlp="amber", audience={"orgs": ["cert-cz"]})
    query = f"/audience/preview?item={item.stix_id}&audience=groups&groups=cz-health"
    gained = web(cz["analyst"]).get(query)
    assert gained.status_code == 200
    assert gained.json["text"] == "FN Ostrava — 1 organisation, 1 person"
    assert web(cz["outsider"]).get(query).status_code == 404, "an unreadable item answers as absent"
    red = share(cz["analyst"], [indicator("203.0.113.84")], tlp="red", audience={"users": [cz["cert"].email]})
    refused = web(cz["analyst"]).get(f"/audience/preview?item={red.stix_id}&audience=community")
    assert refused.status_code == 400 and refused.json["field"] == "audience"
    assert web(cz["cert"]).get(query.replace("groups=cz-health", "orgs=fn-ostrava").replace("groups", "orgs")).status_code == 403


# --- widening asks first ------------------------------------------------------------------------

def test_widening_an_item_names_who_gains_and_cancelling_shares_nothing(web, cz):
    item = share(cz["analyst"], [indicator("203.0.113.83")], tlp="amber", audience={"orgs": ["cert-cz"]})
    detail = f"/items/{item.stix_id}"
    browser = web(cz["analyst"])
    assert "Who gains access" in text_of(browser.get(detail))

    asked = browser.submit(f"{detail}/audience", {"audience": "groups", "groups": "cz-health"}, form_page=detail)

    assert asked.status_code == 200
    assert "Who gains access: FN Ostrava — 1 organisation, 1 person" in text_of(asked)
    assert web(cz["ostrava"]).get(detail).status_code == 404, "asking shares nothing"
    assert 'name="confirm" value="y"' in asked.get_data(as_text=True)


# --- incidents: managed from the incident page ----------------------------------------------------

@pytest.fixture
def world():
    return build_world()


def file_incident(world):
    incident = filing.file_incident(principal(world.hospital_analyst), report())
    return incident


def test_the_generic_item_page_of_an_incident_offers_no_widen_or_revoke(web, world):
    incident = file_incident(world)
    browser = web(world.hospital_analyst)
    impact_id = db.session.scalar(select(SharedItem.stix_id).join(IncidentItem, IncidentItem.item_id == SharedItem.id)
                                  .where(IncidentItem.incident_id == incident.id, SharedItem.stix_type != "incident"))
    for stix_id in (incident.stix_id, impact_id):
        page = browser.get(f"/items/{stix_id}")
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Add recipients" not in body and "Revoke this item" not in body
        assert f'href="/incidents/{incident.stix_id}"' in body

    forced = browser.submit(f"/items/{incident.stix_id}/audience", {"audience": "community", "confirm": "y"},
                            form_page="/share/indicator")
    assert forced.status_code == 302 and forced.location == f"/incidents/{incident.stix_id}"
    assert web(world.other_hospital_analyst).get(f"/incidents/{incident.stix_id}").status_code == 404


def test_the_incident_pages_say_who_reads_and_widening_asks_then_reaches_every_object(web, world):
    browser = web(world.hospital_analyst)
    cert_name = world.cert.org.name
    new_form = browser.get("/incidents/new")
    assert who_reads(new_form) == f"Your organisation and {cert_name} — 2 organisations, 4 people"
    incident = file_incident(world)
    page = f"/incidents/{incident.stix_id}"
    assert f"Who can read this report: Your organisation and {cert_name}" in text_of(browser.get(page))
    assert "Who can read" not in text_of(web(world.cert).get(page))
    other = world.other_hospital_analyst

    asked = browser.submit(f"{page}/audience", {"audience": "orgs", "orgs": other.org.slug})
    assert asked.status_code == 200
    assert f"Who gains access: {other.org.name} — 1 organisation, 1 person" in text_of(asked)
    assert web(other).get(page).status_code == 404
    done = browser.submit(f"{page}/audience", {"audience": "orgs", "orgs": other.org.slug, "confirm": "y"},
                          form_page=page)
    assert done.status_code == 302
    assert web(other).get(page).status_code == 200
    objects = db.session.scalars(select(SharedItem).join(IncidentItem, IncidentItem.item_id == SharedItem.id)
                                 .where(IncidentItem.incident_id == incident.id)).all()
    assert all(web(other).get(f"/items/{item.stix_id}").status_code == 200 for item in objects)


def test_consent_names_the_police_unit_that_gains_access(web, world):
    incident = file_incident(world)
    page = text_of(web(world.hospital_admin).get(f"/incidents/{incident.stix_id}"))
    assert f"if you consent to {world.police.org.name}: {world.police.org.name} — 1 organisation, 1 person" in page
