"""Free-text import: paste a mail or report, tick what was found, share it as indicators in one step."""
from __future__ import annotations

import re

import pytest

from hub.errors import ValidationFailed
from hub.intel import freetext, reads, warninglist_sources
from hub.principal import Principal
from tests import factories as f
from tests.alerts_support import cheap_password_hashing

PHISHING_MAIL = """From: attacker@phish-mailer[.]net
Subject: Your EHR password expires today

Our proxy blocked hxxps://ehr-login-portal[.]com/reset?user=ward7 and a beacon to 185[.]220[.]101[.]5.
The dropper resolved update-check(.)org from 10[.]1[.]2[.]3 (our own LAN).
Attachment SHA-256: 5f2b7c1a3d9e4f6a8b0c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a
Empty attachment MD5: d41d8cd98f00b204e9800998ecf8427e
"""
MALICIOUS_SHA256 = "5f2b7c1a3d9e4f6a8b0c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a"


@pytest.fixture(autouse=True)
def _fast_users(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def lists():
    warninglist_sources.load(["rfc1918", "empty-hashes"])


def found_by_value(found) -> dict:
    return {item.value: item for item in found}


def test_defanged_values_are_found_refanged_and_listed_ones_dropped(lists):
    user = f.make_user(f.make_org())
    found = found_by_value(freetext.extract(Principal.of(user), PHISHING_MAIL))
    assert found["https://ehr-login-portal.com/reset?user=ward7"].kind == "url"
    assert found["185.220.101.5"].kind == "ipv4-addr"
    assert found["update-check.org"].kind == "domain-name"
    assert found["attacker@phish-mailer.net"].kind == "email-addr"
    assert found[MALICIOUS_SHA256].kind == "sha256"
    assert found["10.1.2.3"].lists == ("rfc1918",)
    assert found["d41d8cd98f00b204e9800998ecf8427e"].lists == ("empty-hashes",)
    assert found["185.220.101.5"].lists == ()


def test_already_shared_counts_only_what_the_reader_may_read(lists):
    brno, ostrava = f.make_org(), f.make_org()
    reader = f.make_user(brno)
    f.share(f.make_user(ostrava), [f.indicator("185.220.101.5")], tlp="green")
    f.share(f.make_user(ostrava), [f.indicator("185.220.101.5")], tlp="amber", audience="own")  # unreadable
    found = found_by_value(freetext.extract(Principal.of(reader), PHISHING_MAIL))
    assert found["185.220.101.5"].known == 1
    assert found["update-check.org"].known == 0


def test_bounds_refuse_too_much_text_with_a_message():
    user = f.make_user(f.make_org())
    with pytest.raises(ValidationFailed) as refused:
        freetext.extract(Principal.of(user), "x" * (freetext.MAX_TEXT_BYTES + 1))
    assert refused.value.details[0]["field"] == "text"
    assert "at most 256 KB" in refused.value.details[0]["error"]


def test_bounds_refuse_too_many_values(monkeypatch):
    monkeypatch.setattr(freetext, "MAX_VALUES", 3)
    user = f.make_user(f.make_org())
    with pytest.raises(ValidationFailed) as refused:
        freetext.extract(Principal.of(user), "198.51.100.1 198.51.100.2 198.51.100.3 198.51.100.4")
    assert "found 4 values; at most 3" in refused.value.details[0]["error"]


def test_web_import_shows_found_values_and_shares_the_ticked_ones(lists, web):
    org = f.make_org()
    group_peer = f.make_org()
    f.make_group("cz-hospitals", org, group_peer)
    user = f.make_user(org)
    browser = web(user)
    page = browser.submit("/share/import", {"text": PHISHING_MAIL})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'value="ipv4-addr|185.220.101.5"' in text
    assert "dropped: on warning list rfc1918" in text
    assert 'value="ipv4-addr|10.1.2.3"' not in text  # a dropped value has no checkbox

    shared = browser.submit("/share/import/share", {
        "text": PHISHING_MAIL,
        "chosen": ["ipv4-addr|185.220.101.5", f"sha256|{MALICIOUS_SHA256}"],
        "tlp": "amber", "audience": "groups", "groups": "cz-hospitals", "confidence": "70",
        "description": "From the phishing wave of 2 December.",
    }, form_page="/share/import")
    assert shared.status_code == 302, shared.get_data(as_text=True)[:3000]
    peer = Principal.of(f.make_user(group_peer))
    assert {item.name for item in reads.list_items(peer).items} == {
        "IPv4 address or network: 185.220.101.5", f"File hash: SHA-256: {MALICIOUS_SHA256}"}
    assert all(item.tlp.value == "amber" for item in reads.list_items(peer).items)
    assert reads.count_items(Principal.of(f.make_user(f.make_org()))) == 0


def test_web_import_refuses_a_listed_value_slipped_into_the_form(lists, web):
    user = f.make_user(f.make_org())
    refused = web(user).submit("/share/import/share", {
        "text": PHISHING_MAIL, "chosen": ["ipv4-addr|10.1.2.3"], "tlp": "green", "audience": "community",
        "confidence": "50",
    }, form_page="/share/import")
    assert refused.status_code == 422
    assert "on warning list rfc1918" in refused.get_data(as_text=True)
    assert reads.count_items(Principal.of(user)) == 0


def test_web_import_without_a_tlp_shares_nothing_and_says_so(web):
    user = f.make_user(f.make_org())
    refused = web(user).submit("/share/import/share", {
        "text": PHISHING_MAIL, "chosen": ["ipv4-addr|185.220.101.5"], "audience": "community", "confidence": "50",
    }, form_page="/share/import")
    assert refused.status_code == 422
    assert re.search(r'id="tlp-error">choose a TLP label', refused.get_data(as_text=True))
    assert reads.count_items(Principal.of(user)) == 0


def test_web_import_bounds_show_a_clear_message(web):
    user = f.make_user(f.make_org())
    page = web(user).submit("/share/import", {"text": "a " * (freetext.MAX_TEXT_BYTES // 2 + 10)})
    assert page.status_code == 422
    assert "at most 256 KB of text at once" in page.get_data(as_text=True)


def test_viewers_may_not_import(web):
    viewer = f.make_user(f.make_org(), "viewer")
    browser = web(viewer)
    assert browser.get("/share/import").status_code == 403
    assert browser.post("/share/import/share", data={"text": PHISHING_MAIL}).status_code in (400, 403)
    assert reads.count_items(Principal.of(viewer)) == 0


def test_values_longer_than_the_index_holds_are_not_offered(web):
    user = f.make_user(f.make_org())
    long_url = "http://" + "a." * 1100 + "com/x"
    found = found_by_value(freetext.extract(Principal.of(user), f"{long_url} 198.51.100.9"))
    assert list(found) == ["198.51.100.9"]
    refused = web(user).submit("/share/import/share", {
        "text": "198.51.100.9", "chosen": [f"url|{long_url}"], "tlp": "green", "audience": "community",
        "confidence": "50"}, form_page="/share/import")
    assert refused.status_code == 422
    assert reads.count_items(Principal.of(user)) == 0
