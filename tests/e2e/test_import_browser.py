"""Free-text import end to end in headless Chromium.

A hospital analyst pastes a phishing report with defanged indicators; the page lists what it
found with checkboxes, greys out the address on a warning list (RFC 1918), and shares the ticked
values as indicators with one TLP and audience; a member of the sharing group finds them.
"""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import PASSWORD, headless_chromium, new_context, running_hub, sign_in, sign_out

SEED = f"""
from hub import create_app
from hub.accounts import services as accounts
from hub.intel import warninglist_sources

app = create_app()
with app.app_context():
    accounts.create_org("fn-brno", "University Hospital Brno", "hospital", "CZ")
    accounts.create_org("fn-ostrava", "University Hospital Ostrava", "hospital", "CZ")
    accounts.create_group("cz-hospitals", "CZ hospitals", ["fn-brno", "fn-ostrava"])
    for email, org in [("analyst@fn-brno.test", "fn-brno"), ("analyst@fn-ostrava.test", "fn-ostrava")]:
        accounts.create_user(email, org, "analyst", {PASSWORD!r})
    warninglist_sources.load(["rfc1918"])
"""

REPORT = """Phishing wave, 2 December
Links: hxxps://ehr-login-portal[.]com/reset and the sender attacker@phish-mailer[.]net
Callback to 185[.]220[.]101[.]5 seen from 10[.]1[.]2[.]3 (our own workstation).
"""


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    yield from running_hub(tmp_path_factory, "hub-e2e-import", SEED)


@pytest.fixture(scope="module")
def chromium():
    yield from headless_chromium()


def test_pasted_indicators_are_found_refanged_and_the_ticked_ones_shared(hub_url, chromium):
    sharer = new_context(chromium)
    page = sign_in(sharer, hub_url, "analyst@fn-brno.test")
    page.get_by_role("link", name="Import from text").click()
    page.get_by_label("Paste an e-mail, a report or log lines").fill(REPORT)
    page.get_by_role("button", name="Find indicators").click()
    page.wait_for_load_state()

    found = page.locator("table.found")
    assert "https://ehr-login-portal.com/reset" in found.inner_text()
    assert "attacker@phish-mailer.net" in found.inner_text()
    assert "185.220.101.5" in found.inner_text()
    dropped = page.locator("ul.dropped").inner_text()
    assert "10.1.2.3" in dropped and "dropped: on warning list rfc1918" in dropped
    assert page.locator("input[value='ipv4-addr|10.1.2.3']").count() == 0

    # Share the URL and the address, not the sender.
    page.locator("input[value='email-addr|attacker@phish-mailer.net']").uncheck()
    page.locator("input[name=tlp][value=amber]").check()
    page.get_by_label("Sharing groups of my organisation").check()
    page.get_by_label(re.compile(r"^CZ hospitals")).check()
    page.get_by_role("button", name="Share selected as indicators").click()
    page.wait_for_url(hub_url + "/items")
    assert "Shared 2 indicator(s) as TLP:AMBER" in page.content()
    sign_out(page, hub_url)
    sharer.close()

    member = new_context(chromium)
    page = sign_in(member, hub_url, "analyst@fn-ostrava.test")
    items = page.locator("table.items").inner_text()
    assert "185.220.101.5" in items and "https://ehr-login-portal.com/reset" in items
    assert "attacker@phish-mailer.net" not in items
    member.close()
