"""The owner organisation revokes and widens from the detail page; its admin reads the audit log."""
from __future__ import annotations

import html
import re

from hub import audit
from hub.accounts import services as accounts
from tests.factories import indicator, share


def audit_rows(page) -> list[str]:
    body = re.search(r'<table class="audit"[^>]*>.*?<tbody>(.*?)</tbody>', page.get_data(as_text=True), re.S)
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_the_owner_revokes_from_the_detail_page_and_the_audit_log_shows_it(make, web):
    org = make.make_org("hospital", slug="fn-brno")
    analyst, admin = make.make_user(org, "analyst"), make.make_user(org, "admin")
    recipient = make.make_user(make.make_org("national_cert"))
    item = share(analyst, [indicator("198.51.100.60")], tlp="amber", audience={"orgs": [recipient.org.slug]})
    detail_url = f"/items/{item.stix_id}"
    browser = web(analyst)
    assert "Revoke this item" in browser.get(detail_url).get_data(as_text=True)

    response = browser.submit(f"{detail_url}/revoke", {"reason": "false positive: our scanner"},
                              form_page=detail_url)

    assert response.status_code == 302 and response.location == detail_url
    seen_by_recipient = web(recipient).get(detail_url).get_data(as_text=True)
    assert '<span class="mark mark-revoked">revoked</span>' in seen_by_recipient
    stix = web(recipient).get(f"{detail_url}/stix.json")
    assert stix.status_code == 200 and stix.json["revoked"] is True
    rows = [text_of(row) for row in audit_rows(web(admin).get("/audit"))]
    [revocation] = [row for row in rows if " revoke " in f" {row} "]
    assert analyst.email in revocation and "fn-brno" in revocation
    assert item.stix_id in revocation and "false positive: our scanner" in revocation


def test_revoking_without_a_reason_is_refused_beside_the_field(make, web):
    analyst = make.make_user(make.make_org("hospital"), "analyst")
    item = share(analyst, [indicator("198.51.100.64")], tlp="green")
    detail_url = f"/items/{item.stix_id}"
    browser = web(analyst)
    page = browser.get(detail_url).get_data(as_text=True)
    assert "Recipients will be told to stop using it" in page

    for reason in ("", "   "):
        refused = browser.submit(f"{detail_url}/revoke", {"reason": reason}, form_page=detail_url)
        assert refused.status_code == 422
        assert "say why this item is revoked" in refused.get_data(as_text=True)
    page = browser.get(detail_url).get_data(as_text=True)
    assert "Revoke this item" in page and '<span class="mark mark-revoked">revoked</span>' not in page


def test_the_owner_widens_the_audience_and_the_new_organisation_reads_it(make, web):
    org = make.make_org("hospital")
    analyst, admin = make.make_user(org), make.make_user(org, "admin")
    first, later = make.make_org("national_cert"), make.make_org("hospital", slug="fn-ostrava")
    later_reader = make.make_user(later)
    item = share(analyst, [indicator("198.51.100.61")], tlp="amber", audience={"orgs": [first.slug]})
    detail_url = f"/items/{item.stix_id}"
    assert web(later_reader).get(detail_url).status_code == 404

    browser = web(analyst)
    asked = browser.submit(f"{detail_url}/audience", {"audience": "orgs", "orgs": "fn-ostrava"}, form_page=detail_url)

    assert asked.status_code == 200, "widening asks first"
    assert f"Who gains access: {later.name} — 1 organisation, 1 person" in text_of(asked.get_data(as_text=True))
    assert web(later_reader).get(detail_url).status_code == 404, "nothing widened before the confirmation"
    response = browser.submit(f"{detail_url}/audience", {"audience": "orgs", "orgs": "fn-ostrava", "confirm": "y"},
                              form_page=detail_url)
    assert response.status_code == 302
    assert web(later_reader).get(detail_url).status_code == 200
    assert item.stix_id in web(later_reader).get("/items").get_data(as_text=True)
    rows = [text_of(row) for row in audit_rows(web(admin).get("/audit"))]
    [widening] = [row for row in rows if " widen " in f" {row} "]
    assert item.stix_id in widening and analyst.email in widening
    assert "added orgs: fn-ostrava" in widening, "recipients are named, not numbered"


def test_widening_a_red_item_to_an_organisation_is_refused_next_to_the_audience(make, web):
    org = make.make_org()
    analyst = make.make_user(org)
    named = make.make_user(make.make_org())
    item = share(analyst, [indicator("198.51.100.62")], tlp="red", audience={"users": [named.email]})
    detail_url = f"/items/{item.stix_id}"

    response = web(analyst).submit(f"{detail_url}/audience", {"audience": "community"}, form_page=detail_url)

    assert response.status_code == 422
    assert "can only be widened to more named users" in response.get_data(as_text=True)
    assert web(make.make_user(make.make_org())).get(detail_url).status_code == 404


def test_recipients_see_no_manage_forms_and_get_403_when_they_try(make, web):
    owner_org = make.make_org()
    owner_viewer = make.make_user(owner_org, "viewer")
    item = share(make.make_user(owner_org), [indicator("198.51.100.63")], tlp="green")
    detail_url = f"/items/{item.stix_id}"

    for user in (make.make_user(make.make_org(), "admin"), owner_viewer):
        browser = web(user)
        assert "Revoke this item" not in browser.get(detail_url).get_data(as_text=True)
        assert browser.submit(f"{detail_url}/revoke", {"reason": "mine now"}, form_page=detail_url).status_code == 403
        assert browser.submit(f"{detail_url}/audience", {"audience": "community"},
                              form_page=detail_url).status_code == 403
    assert "revoked" not in web(owner_viewer).get(detail_url).get_data(as_text=True)


def test_those_who_cannot_read_an_item_get_404_when_they_try_to_change_it(make, web):
    item = share(make.make_user(make.make_org()), [indicator("198.51.100.64")], tlp="amber", audience="own")
    browser = web(make.make_user(make.make_org(), "admin"))

    response = browser.submit(f"/items/{item.stix_id}/revoke", {"reason": "x"}, form_page="/items")

    assert response.status_code == 404


def test_the_audit_log_is_for_admins_only(make, web):
    org = make.make_org()
    for role in ("analyst", "viewer"):
        page = web(make.make_user(org, role)).get("/audit")
        assert page.status_code == 403
        assert "admins" in page.get_data(as_text=True)
    assert web(make.make_user(org, "admin")).get("/audit").status_code == 200


def test_the_audit_log_shows_other_organisations_reading_amber_items(make, web):
    org = make.make_org()
    admin = make.make_user(org, "admin")
    reader_org = make.make_org("national_cert", slug="cert-cz")
    reader = make.make_user(reader_org)
    item = share(make.make_user(org), [indicator("198.51.100.65")], tlp="amber", audience={"orgs": ["cert-cz"]})
    web(reader).get(f"/items/{item.stix_id}")

    rows = [text_of(row) for row in audit_rows(web(admin).get("/audit"))]

    reads_by_reader = [row for row in rows if " read " in f" {row} " and reader.email in row]
    assert reads_by_reader and "cert-cz" in reads_by_reader[0] and item.stix_id in reads_by_reader[0]
    assert not [row for row in audit_rows(web(make.make_user(reader_org, "admin")).get("/audit"))
                if item.stix_id in row and " read " in f" {text_of(row)} "]


def test_the_audit_log_pages_back_with_before_id(make, web):
    org = make.make_org()
    admin = make.make_user(org, "admin")
    for n in range(60):
        accounts.create_token(admin, f"token {n}")
    total = len(audit.events_for_org(org.id, limit=1000))
    browser = web(admin)

    first = browser.get("/audit")
    assert len(audit_rows(first)) == 50
    older = re.search(r'href="(/audit\?before_id=\d+)"', first.get_data(as_text=True))
    assert older
    second = browser.get(older.group(1))
    assert len(audit_rows(second)) == total - 50
    assert "older events" not in second.get_data(as_text=True)
    assert browser.get("/audit?before_id=abc").status_code == 422
