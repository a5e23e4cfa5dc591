"""Blocklist feeds end to end in headless Chromium, against a real hub server process.

A hospital analyst opens Feeds from the navigation, creates a domain feed, copies the token shown
once, and a firewall (urllib here) polls the URL with it: it gets the domain another hospital
shared with the community, and not the one shared with a third hospital only. Reloading the page
does not show the token again. Deleting asks first, saying what happens to the firewalls; then the
URL answers 401.
"""
from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from tests.e2e.test_browser import PASSWORD, headless_chromium, new_context, running_hub, sign_in

SEED = f"""
import uuid
from hub import create_app
from hub.accounts import services as accounts
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.principal import Principal
from hub.tlp import TLP

def indicator(domain):
    stamp = "2026-11-01T10:00:00.000Z"
    return {{"type": "indicator", "spec_version": "2.1", "id": f"indicator--{{uuid.uuid4()}}", "created": stamp,
            "modified": stamp, "name": domain, "pattern": f"[domain-name:value = '{{domain}}']",
            "pattern_type": "stix", "valid_from": stamp}}

app = create_app()
with app.app_context():
    for slug, name in [("fn-brno", "University Hospital Brno"), ("fn-ostrava", "University Hospital Ostrava"),
                       ("fn-plzen", "University Hospital Plzen")]:
        accounts.create_org(slug, name, "hospital", "CZ")
        accounts.create_user(f"analyst@{{slug}}.test", slug, "analyst", {PASSWORD!r})
    sharer = Principal.of(accounts.user_by_email("analyst@fn-ostrava.test"))
    share_objects(sharer, [indicator("phish-portal.example")], audience=resolve_audience(sharer, "community"),
                  tlp=TLP.green, anonymous=False)
    share_objects(sharer, [indicator("plzen-only.example")], audience=resolve_audience(sharer, {{"orgs": ["fn-plzen"]}}),
                  tlp=TLP.amber, anonymous=False)
"""


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    yield from running_hub(tmp_path_factory, "hub-e2e-feeds", SEED)


@pytest.fixture(scope="module")
def chromium():
    yield from headless_chromium()


def firewall_poll(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_hospital_creates_a_feed_its_firewall_polls_and_deletes_it(hub_url, chromium):
    context = new_context(chromium)
    page = sign_in(context, hub_url, "analyst@fn-brno.test")
    page.get_by_role("link", name="Feeds").click()
    page.wait_for_url(hub_url + "/feeds/")
    assert "No feeds yet." in page.content()

    page.get_by_label("Name (e.g. Perimeter firewall)").fill("DNS firewall")
    for kind in ("ipv4-addr", "ipv6-addr", "url"):
        page.get_by_label(kind, exact=True).uncheck()
    page.get_by_label("domain-name", exact=True).check()
    page.get_by_role("button", name="Create feed").click()
    page.wait_for_url(hub_url + "/feeds/")
    token = page.locator("#new-feed-token").inner_text().strip()
    assert token.startswith("hcf_")
    row = page.locator("table.feeds tr", has_text="DNS firewall")
    assert "domain-name" in row.inner_text()
    txt_url = row.locator("code.feed-url", has_text=".txt").inner_text().strip()
    feed_path = re.sub(r"^https?://[^/]+", "", txt_url)

    status, body = firewall_poll(hub_url + feed_path, token)
    assert status == 200
    assert body.splitlines() == ["phish-portal.example"]

    page.reload()
    assert token not in page.content()  # shown once

    row = page.locator("table.feeds tr", has_text="DNS firewall")
    row.get_by_role("link", name="Delete").click()
    assert "firewalls polling this URL will get 401 from now on" in page.content()
    page.get_by_role("button", name="Delete feed").click()
    page.wait_for_url(hub_url + "/feeds/")
    assert "Feed deleted" in page.content() and "No feeds yet." in page.content()
    assert firewall_poll(hub_url + feed_path, token)[0] == 401
    context.close()
