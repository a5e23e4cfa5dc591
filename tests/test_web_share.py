"""Sharing an indicator through the web form, as a hospital analyst would."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta

from stix2patterns.pattern import Pattern
from stix2validator import ValidationOptions, validate_instance

from hub.intel import reads
from hub.tlp import TLP
from hub.principal import Principal


def indicator_form(**overrides) -> dict:
    data = {
        "observable_type": "ipv4-addr",
        "value": "203.0.113.77",
        "name": "C2 of the imaging-network beacon",
        "description": "Cobalt Strike beacon seen from PACS workstations.",
        "confidence": "80",
        "valid_until": "",
        "tlp": "amber",
        "audience": "community",
    }
    data.update(overrides)
    return data


def share(browser, **overrides):
    return browser.submit("/share/indicator", indicator_form(**overrides))


def shared_id(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.fullmatch(r"/items/(indicator--[0-9a-f-]+)", response.location)
    assert match, response.location
    return match.group(1)


def error_next_to(page_text: str, field: str) -> str:
    """The error message rendered right under a form field."""
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page_text)
    assert match, f"no error shown next to {field}"
    return html.unescape(match.group(1))


def visible_count(user) -> int:
    return reads.count_items(Principal.of(user))


def test_indicator_shared_to_a_group_reaches_members_and_no_one_else(make, web):
    brno, ostrava, outsider_org = make.make_org("hospital"), make.make_org("hospital"), make.make_org("hospital")
    make.make_group("cz-hospitals", brno, ostrava)
    sharer, member, outsider = make.make_user(brno), make.make_user(ostrava, "viewer"), make.make_user(outsider_org)

    stix_id = shared_id(share(web(sharer), audience="groups", groups="cz-hospitals"))

    member_view = web(member)
    listing = member_view.get("/items")
    assert f'href="/items/{stix_id}"' in listing.text
    assert "1 items" in listing.text
    detail = member_view.get(f"/items/{stix_id}")
    assert detail.status_code == 200
    assert "[ipv4-addr:value = &#39;203.0.113.77&#39;]" in detail.text
    assert brno.slug in detail.text

    outsider_view = web(outsider)
    assert stix_id not in outsider_view.get("/items").text
    assert "0 items" in outsider_view.get("/items").text
    missing = outsider_view.get(f"/items/{stix_id}")
    assert missing.status_code == 404
    assert "nothing you may read" in missing.text
    assert stix_id not in outsider_view.get("/search?q=203.0.113.77").text


def test_the_built_indicator_is_valid_stix_with_identity_confidence_expiry_and_tlp(make, web):
    org = make.make_org("hospital")
    sharer = make.make_user(org)
    until = date.today() + timedelta(days=30)

    stix_id = shared_id(share(web(sharer), valid_until=until.isoformat(), tlp="amber+strict", audience="own"))

    obj = reads.stix_object(reads.get_item(Principal.of(sharer), stix_id))
    assert obj["pattern"] == "[ipv4-addr:value = '203.0.113.77']"
    assert obj["created_by_ref"] == org.identity_id
    assert obj["confidence"] == 80
    assert obj["valid_until"].startswith(until.isoformat() + "T23:59:59")
    assert obj["object_marking_refs"] == [TLP.amber_strict.marking_id]
    assert obj["name"] == "C2 of the imaging-network beacon"
    assert validate_instance(obj, ValidationOptions(version="2.1")).is_valid


def test_an_invalid_value_is_explained_next_to_the_field_and_nothing_is_written(make, web):
    sharer = make.make_user(make.make_org())
    browser = web(sharer)

    response = share(browser, value="999.1.1.1")

    assert response.status_code == 422
    assert "does not appear to be an IPv4 or IPv6 address" in error_next_to(response.text, "value")
    assert 'value="999.1.1.1"' in response.text, "the form keeps what the user typed"
    assert visible_count(sharer) == 0

    wrong_hash = share(browser, observable_type="sha256", value="abc123")
    assert "SHA256 hash (64 hexadecimal digits)" in error_next_to(wrong_hash.text, "value")
    assert visible_count(sharer) == 0


def test_quotes_in_a_url_are_escaped_in_the_pattern_not_injected(make, web):
    sharer = make.make_user(make.make_org())
    sneaky = "http://evil.example/a'] OR [ipv4-addr:value = '10.0.0.1"

    stix_id = shared_id(share(web(sharer), observable_type="url", value=sneaky))

    obj = reads.stix_object(reads.get_item(Principal.of(sharer), stix_id))
    assert obj["pattern"].startswith("[url:value = 'http://evil.example/a\\'")
    comparisons = Pattern(obj["pattern"]).inspect().comparisons
    assert list(comparisons) == ["url"], "the quote did not open a second comparison"
    assert validate_instance(obj, ValidationOptions(version="2.1")).is_valid


def test_expiry_in_the_past_and_missing_choices_are_refused(make, web):
    sharer = make.make_user(make.make_org())
    browser = web(sharer)

    response = share(browser, valid_until=(date.today() - timedelta(days=1)).isoformat(), tlp="", audience="")

    assert response.status_code == 422
    assert error_next_to(response.text, "valid_until") == "must be in the future"
    assert error_next_to(response.text, "tlp") == "choose a TLP label"
    assert error_next_to(response.text, "audience") == "choose who receives this"
    assert visible_count(sharer) == 0


def test_red_needs_named_people_and_says_so_next_to_the_audience(make, web):
    org = make.make_org()
    sharer, colleague = make.make_user(org), make.make_user(org)
    browser = web(sharer)

    refused = share(browser, tlp="red", audience="community")
    assert refused.status_code == 422
    assert "TLP:RED item must be shared with named users only" in error_next_to(refused.text, "audience")
    assert visible_count(sharer) == 0

    cert = make.make_org("national_cert")
    named, cert_colleague = make.make_user(cert), make.make_user(cert)
    stix_id = shared_id(share(browser, tlp="red", audience="users", users=named.email.upper()))
    assert web(named).get(f"/items/{stix_id}").status_code == 200
    assert web(cert_colleague).get(f"/items/{stix_id}").status_code == 404
    assert web(colleague).get(f"/items/{stix_id}").status_code == 404


def test_unknown_recipients_are_named_next_to_their_field(make, web):
    sharer = make.make_user(make.make_org())

    response = share(web(sharer), audience="users", users="ghost@nowhere.example")

    assert response.status_code == 422
    assert "ghost@nowhere.example: unknown user" in error_next_to(response.text, "users")
    assert visible_count(sharer) == 0


def test_group_audience_without_a_group_chosen_is_refused(make, web):
    org = make.make_org()
    make.make_group("cz-hospitals", org, make.make_org())
    sharer = make.make_user(org)

    response = share(web(sharer), audience="groups")

    assert error_next_to(response.text, "groups") == "choose at least one sharing group"


def test_anonymous_share_shows_the_source_to_its_organisation_only(make, web):
    brno = make.make_org("hospital", slug="fn-brno")
    sharer, colleague = make.make_user(brno), make.make_user(brno, "viewer")
    reader = make.make_user(make.make_org("national_cert", slug="cert-cz"))

    stix_id = shared_id(share(web(sharer), anonymous="y", tlp="green", audience="community"))

    seen_by_reader = web(reader)
    for page in (seen_by_reader.get("/items"), seen_by_reader.get(f"/items/{stix_id}"),
                 seen_by_reader.get("/search?q=203.0.113.77")):
        assert page.status_code == 200
        assert stix_id in page.text
        assert "anonymous" in page.text
        assert "fn-brno" not in page.text and brno.name not in page.text and brno.identity_id not in page.text
        assert sharer.email not in page.text
    assert "fn-brno" in web(colleague).get(f"/items/{stix_id}").text


def test_viewers_cannot_open_or_post_the_share_form(make, web):
    viewer = make.make_user(make.make_org(), "viewer")
    browser = web(viewer)

    assert browser.get("/share/indicator").status_code == 403
    response = browser.submit("/share/indicator", indicator_form(), form_page="/items")
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert visible_count(viewer) == 0


def test_sharing_without_the_csrf_token_writes_nothing(make, web):
    sharer = make.make_user(make.make_org())

    response = web(sharer).post("/share/indicator", data=indicator_form())

    assert response.status_code == 400
    assert visible_count(sharer) == 0


def test_signed_out_visitors_are_sent_to_sign_in(web):
    response = web().get("/share/indicator")
    assert response.status_code == 302 and response.location.startswith("/login?next=")
