"""The web UI end to end in headless Chromium, against a real hub server process.

A hospital analyst signs in and shares an indicator with a sharing group through the form; a
member of the group signs in and finds it in the list and on its detail page; an organisation
outside the group does not see it, and its URL answers the 404 page.

The server runs on its own SQLite file under a temporary directory (the pytest fixtures empty
the test database between tests, so the server must not share it), migrated with
`flask db upgrade` and seeded through the account services.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PROJECT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-correct-horse-battery"
SCREENSHOT = Path("/tmp/healthcert-e2e-items.png")
SERVER_START_SECONDS = 120
# Generous: the suite runs in parallel with other heavy tests, and a slow answer is not a failure here.
ACTION_TIMEOUT_MS = 90_000

SEED = f"""
from hub import create_app
from hub.accounts import services as accounts

app = create_app()
with app.app_context():
    accounts.create_org("fn-brno", "University Hospital Brno", "hospital", "CZ")
    accounts.create_org("fn-ostrava", "University Hospital Ostrava", "hospital", "CZ")
    accounts.create_org("hc-sao-paulo", "Hospital das Clinicas Sao Paulo", "hospital", "BR")
    accounts.create_group("cz-hospitals", "CZ hospitals", ["fn-brno", "fn-ostrava"])
    for email, org in [("analyst@fn-brno.test", "fn-brno"), ("analyst@fn-ostrava.test", "fn-ostrava"),
                       ("analyst@hc-sao-paulo.test", "hc-sao-paulo")]:
        accounts.create_user(email, org, "analyst", {PASSWORD!r})
"""


MIGRATE = """
from flask_migrate import upgrade as _upgrade
from hub import create_app as _create_app

with _create_app().app_context():
    _upgrade()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env(instance: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "RATELIMIT_STORAGE_URI")}
    env.update({
        "HUB_CONFIG": "development",
        "HUB_INSTANCE_DIR": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'hub.sqlite'}",
        "SECRET_KEY": secrets.token_hex(32),
        "HUB_SECURE_COOKIES": "0",  # plain http on loopback
        "HUB_ALERTS_ENQUEUE": "0",  # no worker runs here; alerts wait in the outbox
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the hub server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    pytest.fail(f"the hub server did not answer within {SERVER_START_SECONDS}s:\n{log.read_text()[-3000:]}")


def running_hub(tmp_path_factory, name: str, seed: str):
    """A hub server process on a fresh SQLite file, migrated and seeded; yields its URL."""
    instance = tmp_path_factory.mktemp(name)
    env = _server_env(instance)
    flask = [sys.executable, "-m", "flask", "--app", "hub"]
    # Migrated (what `flask db upgrade` does) and seeded in one process: one start-up fewer.
    migrate_then_seed = MIGRATE + seed
    done = subprocess.run([sys.executable, "-c", migrate_then_seed], cwd=PROJECT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"migrating and seeding the e2e hub failed:\n{done.stderr[-3000:]}")

    port = _free_port()
    log = instance / "server.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            flask + ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"],
            cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def headless_chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's chromium package "
                    "(apt-get install chromium); the browser test does not skip.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    yield from running_hub(tmp_path_factory, "hub-e2e", SEED)


@pytest.fixture(scope="module")
def chromium():
    yield from headless_chromium()


def new_context(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    return context


def sign_in(context, hub_url: str, email: str):
    page = context.new_page()
    page.goto(hub_url + "/")
    assert page.url == hub_url + "/login"
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(hub_url + "/")  # the home page: what needs me today
    assert email in page.locator("header").inner_text()
    assert page.get_by_role("heading", name="Today").is_visible()
    page.get_by_role("link", name="Items", exact=True).click()
    page.wait_for_url(hub_url + "/items")
    return page


def sign_out(page, hub_url: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(hub_url + "/login")
    assert page.goto(hub_url + "/items").url.startswith(hub_url + "/login")


def assert_fits_and_accessible(page, where: str) -> None:
    """The checks of the NIS2 journey (390 px, axe-core), imported here where they are used."""
    from tests.e2e.test_nis2_browser import assert_fits_and_accessible as check  # that module imports this one

    check(page, where)


def test_an_indicator_shared_with_a_group_reaches_its_members_only(hub_url, chromium):
    indicator_name = "Phishing portal imitating the EHR login"

    # A hospital analyst shares an indicator with the CZ hospitals group.
    sharer = new_context(chromium)
    page = sign_in(sharer, hub_url, "analyst@fn-brno.test")
    page.get_by_role("link", name="Share indicator").click()
    page.get_by_label("Observable type").select_option("domain-name")
    page.get_by_label("Value").fill("ehr-login-fnbrno.example")
    page.get_by_label("Name (optional)").fill(indicator_name)
    page.get_by_label("Description").fill("Credential phishing sent to ward staff on 2 November.")
    page.get_by_label("Confidence").fill("85")
    who = page.locator(".who-reads-text")
    assert who.inner_text().startswith("choose a TLP and an audience")
    page.locator("input[name=tlp][value=amber]").check()
    page.get_by_label("Sharing groups of my organisation").check()
    expect(who).to_have_text("not known yet: name at least one of the groups")
    # "Who will see this" follows the form: ticking the group asks the hub, and the words change.
    page.get_by_label(re.compile(r"^CZ hospitals")).check()
    group_words = "Your organisation and University Hospital Ostrava — 2 organisations, 2 people"
    expect(who).to_have_text(group_words)
    page.get_by_label("My organisation only").check()
    expect(who).to_have_text("Only your organisation — 1 organisation, 1 person")
    page.get_by_label("Sharing groups of my organisation").check()
    expect(who).to_have_text(group_words)
    page.get_by_role("button", name="Share indicator").click()
    page.wait_for_url(re.compile(re.escape(hub_url) + r"/items/indicator--[0-9a-f-]+$"))
    detail_url = page.url
    assert "Shared as TLP:AMBER" in page.content()
    assert page.locator(".shared-with").inner_text() == "sharing group “CZ hospitals”"
    assert page.locator(".who-can-read").inner_text() == group_words
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits_and_accessible(page, "the item page with who can read and the widening preview")
    sign_out(page, hub_url)
    sharer.close()

    # A member of the group finds it in the list and opens it.
    member = new_context(chromium)
    page = sign_in(member, hub_url, "analyst@fn-ostrava.test")
    row = page.locator("table.items tr", has_text=indicator_name)
    assert row.count() == 1
    assert "TLP:AMBER" in row.inner_text() and "fn-brno" in row.inner_text()
    assert "1 items" in page.locator("p.count").inner_text()
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    row.get_by_role("link", name=indicator_name).click()
    page.wait_for_url(detail_url)
    assert "[domain-name:value = 'ehr-login-fnbrno.example']" in page.locator("pre.pattern").inner_text()
    assert "Revoke this item" not in page.content()
    sign_out(page, hub_url)
    member.close()

    # An organisation outside the group sees nothing, and the URL answers 404.
    outsider = new_context(chromium)
    page = sign_in(outsider, hub_url, "analyst@hc-sao-paulo.test")
    assert indicator_name not in page.content()
    assert "0 items" in page.locator("p.count").inner_text()
    response = page.goto(detail_url)
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    page.goto(hub_url + "/search?q=ehr-login-fnbrno.example")
    assert indicator_name not in page.content()
    outsider.close()


def test_we_saw_this_too_seen_by_and_correlation(hub_url, chromium):
    """Issue 14 in the browser: a member reports a sighting in one click, shares the same value
    defanged and finds the correlation, uploads observed values; the source sees "Seen by"."""
    sharer = new_context(chromium)
    page = sign_in(sharer, hub_url, "analyst@fn-brno.test")
    page.get_by_role("link", name="Share indicator").click()
    page.get_by_label("Observable type").select_option("ipv4-addr")
    page.get_by_label("Value").fill("203.0.113.66")
    page.get_by_label("Name (optional)").fill("VPN brute force source")
    page.get_by_label("Description").fill("Password spraying against the VPN gateway.")
    page.locator("input[name=tlp][value=green]").check()
    page.get_by_label("Sharing groups of my organisation").check()
    page.get_by_label(re.compile(r"^CZ hospitals")).check()
    page.get_by_role("button", name="Share indicator").click()
    page.wait_for_url(re.compile(re.escape(hub_url) + r"/items/indicator--[0-9a-f-]+$"))
    detail_url = page.url
    assert page.locator("dd.seen-by").inner_text() == "no sightings yet"

    member = new_context(chromium)
    other = sign_in(member, hub_url, "analyst@fn-ostrava.test")
    other.goto(detail_url)
    other.get_by_label("How many times").fill("3")
    other.get_by_label("Note (optional)").fill("Same source hit our VPN at night")
    other.get_by_role("button", name="Record sighting").click()
    other.wait_for_url(detail_url)
    assert "Sighting recorded" in other.content()
    assert other.locator("dd.seen-by").inner_text() == "1 organisation (University Hospital Ostrava)"

    # The member shares the same address, defanged as it came in an e-mail: the hub correlates.
    other.get_by_role("link", name="Share indicator").click()
    other.get_by_label("Observable type").select_option("ipv4-addr")
    other.get_by_label("Value").fill("203.0.113[.]66")
    other.get_by_label("Description").fill("From a CERT mailing.")
    other.locator("input[name=tlp][value=green]").check()
    other.get_by_label("Sharing groups of my organisation").check()
    other.get_by_label(re.compile(r"^CZ hospitals")).check()
    other.get_by_role("button", name="Share indicator").click()
    other.wait_for_url(re.compile(re.escape(hub_url) + r"/items/indicator--[0-9a-f-]+$"))
    panel = other.locator("section.correlations").inner_text()
    assert "VPN brute force source" in panel and "same value" in panel

    # Bulk: a pasted log excerpt.
    other.get_by_role("link", name="Report sightings").click()
    other.get_by_label("Observed values, one per line").fill("203.0.113.66\n198.18.0.1\nnot-a-value\n")
    other.get_by_role("button", name="Match and record sightings").click()
    # Sent in the background with a progress display, then on to the result's own page.
    other.wait_for_url(re.compile(re.escape(hub_url) + r"/sightings/upload/[0-9a-f-]{36}$"))
    assert "1 value matched, 2 did not" in other.locator("main").inner_text()
    other.reload()  # shows the result again, records nothing again
    assert "2 sightings recorded from 3 lines" in other.locator("main").inner_text()  # its own copy and the sharer's
    member.close()

    page.reload()
    assert page.locator("dd.seen-by").inner_text() == "1 organisation (University Hospital Ostrava)"
    sharer.close()
