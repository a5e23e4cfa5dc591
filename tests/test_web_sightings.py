"""Sightings and correlations in the web UI (issue 14): the "We saw this too" button, "seen by",
the correlation panel of an item page and the bulk upload page, as a hospital analyst uses them."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.intel.models import SharedItem
from tests.factories import indicator, share


@pytest.fixture
def world(make, web):
    orgs = {name: make.make_org("hospital", "CZ") for name in ("alpha", "beta", "outsider")}
    cert = make.make_org("national_cert", "CZ")
    users = {name: make.make_user(org) for name, org in orgs.items()}
    users["viewer"] = make.make_user(orgs["beta"], role="viewer")
    audience = {"orgs": [orgs["alpha"].slug, orgs["beta"].slug, cert.slug]}
    return {"orgs": orgs, "users": users, "audience": audience, "web": web, "make": make}


def _text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _seen_by(response) -> str:
    match = re.search(r'<dd class="seen-by">(.*?)</dd>', response.get_data(as_text=True), re.S)
    assert match, "no 'Seen by' on the page"
    return html.unescape(match.group(1)).strip()


def make_colleague(world):
    return world["make"].make_user(world["orgs"]["beta"])


def _sightings() -> int:
    return db.session.scalar(select(func.count()).where(SharedItem.stix_type == "sighting"))


def test_we_saw_this_too_records_a_sighting_and_the_page_says_seen_by(world):
    item = share(world["users"]["alpha"], [indicator("192.0.2.80")], tlp="amber", audience=world["audience"])
    browser = world["web"](world["users"]["beta"])
    page = browser.get(f"/items/{item.stix_id}")
    assert "We saw this too" in _text(page) and _seen_by(page) == "no sightings yet"
    before = _sightings()
    response = browser.submit(f"/items/{item.stix_id}/sightings", {"count": "4", "note": "VPN gateway"},
                              form_page=f"/items/{item.stix_id}")
    assert response.status_code == 302 and response.location == f"/items/{item.stix_id}"
    assert _sightings() == before + 1
    owner_view = world["web"](world["users"]["alpha"]).get(f"/items/{item.stix_id}")
    assert _seen_by(owner_view) == f"1 organisation ({world['orgs']['beta'].name})"


def test_anonymous_sighting_is_counted_without_a_name(world):
    item = share(world["users"]["alpha"], [indicator("192.0.2.81")], tlp="green", audience=world["audience"])
    browser = world["web"](world["users"]["beta"])
    assert browser.submit(f"/items/{item.stix_id}/sightings", {"count": "1", "anonymous": "y"},
                          form_page=f"/items/{item.stix_id}").status_code == 302
    owner_view = world["web"](world["users"]["alpha"]).get(f"/items/{item.stix_id}")
    assert _seen_by(owner_view) == "1 organisation (anonymous)"


def test_bad_sighting_count_is_explained_and_nothing_is_written(world):
    item = share(world["users"]["alpha"], [indicator("192.0.2.82")], tlp="green", audience=world["audience"])
    before = _sightings()
    response = world["web"](world["users"]["beta"]).submit(f"/items/{item.stix_id}/sightings", {"count": "0"},
                                                          form_page=f"/items/{item.stix_id}")
    assert response.status_code == 422
    assert "from 1 to 999,999,999" in _text(response)
    assert _sightings() == before


def test_viewers_see_no_button_and_cannot_post_a_sighting(world):
    item = share(world["users"]["alpha"], [indicator("192.0.2.83")], tlp="green", audience=world["audience"])
    browser = world["web"](world["users"]["viewer"])
    assert "We saw this too" not in _text(browser.get(f"/items/{item.stix_id}"))
    token_page = world["web"](world["users"]["viewer"])
    response = token_page.post(f"/items/{item.stix_id}/sightings", data={"count": "1"})
    assert response.status_code in (400, 403)
    assert _sightings() == 0


def test_item_page_shows_readable_correlations_only(world, make):
    mine = share(world["users"]["alpha"], [indicator("hxxp://evil[.]example/x", kind="url")], tlp="green",
                 audience=world["audience"])
    share(world["users"]["beta"], [{**indicator("http://evil.example/x", kind="url"), "name": "Phishing landing"}],
                   tlp="green", audience=world["audience"])
    hidden = share(world["users"]["outsider"], [{**indicator("http://evil.example/x", kind="url"), "name": "Outsider copy"}],
                   tlp="green", audience="own")
    page = _text(world["web"](world["users"]["alpha"]).get(f"/items/{mine.stix_id}"))
    assert "Phishing landing" in page and "same value" in page
    assert "Outsider copy" not in page and hidden.stix_id not in page


def test_bulk_upload_page_matches_pasted_and_uploaded_values(world):
    item = share(world["users"]["alpha"], [indicator("192.0.2.90")], tlp="green", audience=world["audience"])
    browser = world["web"](world["users"]["beta"])
    pasted = browser.submit("/sightings/upload", {"values": "# proxy log\n192.0.2[.]90\nunknown.example\n"})
    # POST-redirect-GET: the result has its own page, so a reload never records the sightings again.
    assert pasted.status_code == 303 and "/sightings/upload/" in pasted.headers["Location"]
    result_page = pasted.headers["Location"]
    text = _text(browser.get(result_page))
    assert "1 value matched, 1 did not" in text and item.stix_id in text and "1 sighting recorded" in text
    assert _sightings() == 1
    assert "1 value matched" in _text(browser.get(result_page)) and _sightings() == 1
    # The result is the uploader's own: another member of the same organisation gets a 404.
    colleague = make_colleague(world)
    assert world["web"](colleague).get(result_page).status_code == 404
    upload = (io.BytesIO(b'value,first_seen\n"192.0.2.90",2026-12-01\n203.0.113.254,2026-12-01\n'), "seen.csv")
    uploaded = browser.submit("/sightings/upload", {"upload": upload, "values": ""}, content_type="multipart/form-data")
    # The CSV header line is a value that matches nothing; the two data lines are counted once each.
    assert "1 value matched, 2 did not" in _text(browser.get(uploaded.headers["Location"]))
    empty = browser.submit("/sightings/upload", {"values": "  \n"})
    assert empty.status_code == 422 and "paste some values" in _text(empty)
