"""The NIS2 early warning on a phone, end to end in headless Chromium.

A hospital analyst on a 390 px wide screen files a significant incident, opens the early
warning, answers NIS2 Art. 23(4)(a), confirms, and prints the document for the regulator. Its
admin then grants consent to the police only after reading what the unit will see. Every page
of the journey fits the screen (no horizontal scrolling) and has no serious or critical axe-core
violation.
"""
from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.test_browser import ACTION_TIMEOUT_MS, PASSWORD, headless_chromium, running_hub, sign_in, sign_out

SEED = f"""
from hub import create_app
from hub.accounts import services as accounts
from hub.alerts import services as alerts
from hub.principal import Principal

app = create_app()
with app.app_context():
    accounts.create_org("fn-brno", "University Hospital Brno", "hospital", "CZ")
    accounts.create_org("cert-cz", "CERT-CZ", "national_cert", "CZ")
    accounts.create_org("policie-nccc", "Police NCCC", "law_enforcement", "CZ")
    for email, org, role in [("analyst@fn-brno.test", "fn-brno", "analyst"), ("admin@fn-brno.test", "fn-brno", "admin"),
                             ("analyst@cert.test", "cert-cz", "analyst"), ("liaison@policie.test", "policie-nccc", "analyst")]:
        user = accounts.create_user(email, org, role, {PASSWORD!r})[0]
        if email == "analyst@fn-brno.test":
            alerts.create_subscription(Principal.of(user), channel="email", target="soc@fn-brno.example", mode="daily")
    accounts.create_user("operator@cert.test", "cert-cz", "admin", {PASSWORD!r}, is_operator=True)
    accounts.create_group("cz-hospitals", "CZ hospitals", ["fn-brno"])
"""
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    yield from running_hub(tmp_path_factory, "hub-e2e-nis2", SEED)


@pytest.fixture(scope="module")
def chromium():
    yield from headless_chromium()


def phone_context(browser):
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    return context


def assert_fits_and_accessible(page, where: str) -> None:
    """No horizontal scrolling at 390 px, and no serious or critical axe-core violation."""
    # Measured once the stylesheet applies: right after a form's POST the document can be parsed
    # (the elements a test waited for are there) before hub.css has loaded.
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        wide = page.evaluate("""[...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                    && e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' in ' + e.parentElement.tagName + ' ' + getComputedStyle(e.parentElement).display + ' ' + getComputedStyle(e.parentElement).overflowX + ' ' + Math.round(e.parentElement.getBoundingClientRect().right))""")
        pytest.fail(f"{where} scrolls sideways by {overflow}px at 390px: {wide}")
    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations
               if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{where}: {serious}"


def test_an_early_warning_is_confirmed_sent_once_and_printed_with_its_tlp_marking(hub_url, chromium):
    context = phone_context(chromium)
    page = sign_in(context, hub_url, "analyst@fn-brno.test")
    page.goto(hub_url + "/incidents/new")
    page.get_by_label("Title").fill("Ransomware stopped the laboratory")
    page.get_by_label("Detected — when you became aware (local time)").fill("2026-11-20T03:15")
    page.get_by_label("Attack type").select_option("ransomware")
    page.get_by_label("Laboratory").check()
    page.get_by_label("Ransom demanded (amount)").fill("750000")
    page.get_by_label("Threat actor, if known").fill("LockBit")
    page.get_by_label(re.compile("Indicators seen in this incident")).fill("203.0.113.77\nlab-portal-update[.]example")
    page.get_by_label("Significant incident under NIS2 (starts the reporting clocks)").check()
    # By default the report reaches the hospital and its country's national CERT, and says so.
    # People: the hospital's analyst and admin, the CERT's analyst and its operator (the seed).
    assert page.locator(".who-reads-text").inner_text() == "Your organisation and CERT-CZ — 2 organisations, 4 people"
    page.get_by_role("button", name="File report").click()
    page.wait_for_url(re.compile(re.escape(hub_url) + r"/incidents/incident--[0-9a-f-]+$"))
    incident_url = page.url
    # The early warning was due 24 hours after 20 Nov: long overdue, and it says by how much.
    row = page.locator("#nis2 tr.clock-overdue", has_text="early warning")
    assert "late by" in row.inner_text()
    assert "20 Nov 2026, 03:15 CET" in page.locator(".facts").first.inner_text()
    assert "lab-portal-update.example (domain name)" in page.locator("ul.parts").inner_text()
    assert_fits_and_accessible(page, "incident detail")

    # The list shows the incident and its indicators by value, not the actor or the relationship.
    page.goto(hub_url + "/items")
    rows = page.locator("table.items").inner_text()
    assert "203.0.113.77 (IPv4 address)" in rows and "Ransomware stopped the laboratory" in rows
    assert "Threat actor" not in rows and "Relationship" not in rows
    assert_fits_and_accessible(page, "items list")
    page.goto(incident_url.replace("/incidents/", "/items/"))
    assert "LockBit" in page.locator("ul.related").inner_text()
    assert_fits_and_accessible(page, "item detail with related objects")
    page.get_by_role("link", name="every incident naming LockBit").click()
    assert "Ransomware stopped the laboratory" in page.locator("table.actors").inner_text()
    assert_fits_and_accessible(page, "threat actor")
    page.goto(incident_url)

    page.get_by_role("link", name="Submit early warning…").click()
    assert "This sends the early warning to CERT-CZ; it cannot be withdrawn." in page.locator("#consequence").inner_text()
    assert_fits_and_accessible(page, "early warning confirmation")
    page.get_by_role("group", name=re.compile("unlawful or malicious")).get_by_label("Yes").check()
    page.get_by_role("group", name=re.compile("cross-border impact")).get_by_label("Yes").check()
    page.get_by_label(re.compile("Countries possibly affected")).fill("AT, SK")
    send = page.locator("form.stacked button[type=submit]")
    assert send.inner_text() == "Send the early warning"
    # Without the tick the browser does not send the form.
    send.click()
    assert page.url.endswith("/nis2/early_warning")

    # Once pressed, the button is disabled so that a second press cannot send it again
    # (observed on a form whose navigation this test holds back).
    page.evaluate("document.querySelector('form.stacked').addEventListener('submit', e => e.preventDefault())")
    page.get_by_label("I send this early warning to CERT-CZ").check()
    send.click()
    page.wait_for_function("document.querySelector('form.stacked button[type=submit]').disabled")
    assert send.inner_text() == "Sending…"
    page.reload()

    page.get_by_role("group", name=re.compile("unlawful or malicious")).get_by_label("Yes").check()
    page.get_by_role("group", name=re.compile("cross-border impact")).get_by_label("Yes").check()
    page.get_by_label(re.compile("Countries possibly affected")).fill("AT, SK")
    page.get_by_label("I send this early warning to CERT-CZ").check()
    page.get_by_role("button", name="Send the early warning").click()
    page.wait_for_url(incident_url)
    assert "Early warning submitted." in page.locator(".flash").inner_text()
    assert page.locator("#nis2 a", has_text="printable").count() == 1

    page.locator("#nis2 a", has_text="printable").click()
    page.wait_for_url(re.compile(r".*/nis2/submissions/[0-9a-f-]+$"))
    document = page.locator("#nis2-document")
    assert "Yes: AT, SK" in page.locator("#art-23-4-a").inner_text()
    assert "750,000 EUR" in document.inner_text() and "Laboratory" in document.inner_text()
    assert_fits_and_accessible(page, "printable document")
    # On paper: the TLP marking at top and bottom in its colours on black, and no menu or buttons.
    page.emulate_media(media="print")
    markings = page.locator(".tlp-marking .tlp")
    assert markings.count() == 2 and all(m.is_visible() for m in markings.all())
    assert markings.first.inner_text() == "TLP:AMBER"
    assert markings.first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 0)"
    assert markings.first.evaluate("e => getComputedStyle(e).color") == "rgb(255, 192, 0)"
    assert not page.locator("header.topbar").is_visible() and not page.locator("nav.mainnav").is_visible()
    assert not page.locator(".print-hint").is_visible()
    page.emulate_media(media="screen")
    sign_out(page, hub_url)

    # The admin consents to the police only after reading what the unit will see.
    page = sign_in(context, hub_url, "admin@fn-brno.test")
    page.goto(incident_url)
    scope = page.locator("#consent-scope").inner_text()
    assert "every revision of it" in scope and "from then on" in scope
    assert "if you consent to Police NCCC: Police NCCC — 1 organisation, 1 person" in page.locator(".consent-gains").inner_text()
    page.get_by_label("Grant consent to").select_option("policie-nccc")
    page.get_by_role("button", name="Grant consent").click()
    assert "consent active" not in page.locator("#law-enforcement").inner_text()  # the box was not ticked
    page.get_by_label("I consent that the chosen police unit sees this incident as described above").check()
    page.get_by_role("button", name="Grant consent").click()
    page.wait_for_url(incident_url)
    assert "consent active" in page.locator("#law-enforcement").inner_text()
    assert_fits_and_accessible(page, "incident detail (admin)")
    # Widening is asked first, naming who gains: the unit already reads it with consent.
    widen = page.locator("#widen-audience")
    widen.get_by_label("Named organisations").check()
    widen.get_by_label(re.compile("^Police NCCC")).check()
    widen.get_by_role("button", name="Add recipients…").click()
    assert page.locator(".who-gains").inner_text() == "Nobody else"
    assert_fits_and_accessible(page, "widening confirmation")
    page.goto(incident_url)
    page.goto(hub_url + "/incidents")
    assert_fits_and_accessible(page, "incident list")
    page.goto(hub_url + "/audit")
    assert_fits_and_accessible(page, "audit log")
    sign_out(page, hub_url)

    # The other pages this journey touches fit the phone too: the CERT's queue, the liaison's
    # case with its decline step, and deleting a subscription.
    page = sign_in(context, hub_url, "analyst@cert.test")
    page.goto(hub_url + "/nis2")
    assert "late by" in page.locator("td.clock-overdue").first.inner_text()
    assert_fits_and_accessible(page, "NIS2 queue")
    sign_out(page, hub_url)
    page = sign_in(context, hub_url, "liaison@policie.test")
    page.goto(hub_url + "/cases")
    assert_fits_and_accessible(page, "case queue")
    page.get_by_role("link", name="Ransomware stopped the laboratory").click()
    page.get_by_role("button", name="Start review").click()
    page.get_by_role("button", name="Decline case").click()  # not ticked: the browser keeps the form
    assert page.locator("#case-status").inner_text() == "under review"
    assert "will not investigate" in page.locator("#decline-case").inner_text()
    assert_fits_and_accessible(page, "case")
    sign_out(page, hub_url)
    page = sign_in(context, hub_url, "analyst@fn-brno.test")
    page.goto(hub_url + "/alerts/subscriptions")
    assert_fits_and_accessible(page, "subscriptions")
    page.get_by_role("link", name="Delete…").click()
    assert "No more alerts from this subscription reach soc@fn-brno.example" in page.locator(".consequence").inner_text()
    assert_fits_and_accessible(page, "subscription delete")
    page.get_by_label("Delete this subscription").check()
    page.get_by_role("button", name="Delete subscription").click()
    page.wait_for_url(hub_url + "/alerts/subscriptions")
    assert "soc@fn-brno.example" not in page.locator("main").inner_text()
    context.close()


def test_a_cert_previews_publishes_and_edits_an_advisory_that_a_hospital_reads_on_a_phone(hub_url, chromium):
    context = phone_context(chromium)
    page = sign_in(context, hub_url, "analyst@cert.test")
    page.get_by_role("link", name="Publish advisory").click()
    page.get_by_label("Title").fill("Authentication bypass in InfuSafe pump gateway")
    page.get_by_label("Summary").fill("An attacker on the clinical network can reconfigure the pumps.")
    page.locator("#products-0-vendor").fill("MediDevice")
    page.locator("#products-0-product").fill("InfuSafe Gateway")
    page.locator("#products-0-versions").fill("< 4.2.1")
    page.locator("#products-0-fixed_version").fill("4.2.1")
    page.get_by_label("CVSS v3.1 vector").fill("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:")
    page.get_by_label("CVE ids (separated by spaces or commas)").fill("CVE-2026-20001")
    page.get_by_label("CWE ids (optional, separated by spaces or commas)").fill("CWE-306")
    page.get_by_label("Mitigation").fill("Update to 4.2.1; block TCP 8443 from user VLANs meanwhile.")
    page.locator("input[name=tlp][value=green]").check()
    page.get_by_label("Every member organisation").check()
    page.get_by_role("button", name="Preview").click()
    # A truncated vector is explained next to its field, the rest kept.
    assert "not a valid CVSS v3.1 vector" in page.locator("#cvss_v3-error").inner_text()
    assert page.locator("#products-0-product").input_value() == "InfuSafe Gateway"
    assert_fits_and_accessible(page, "advisory form with errors")
    page.get_by_label("CVSS v3.1 vector").fill("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    page.get_by_role("button", name="Preview").click()
    assert "Critical 9.8" in page.locator(".advisory .badges").inner_text()
    assert_fits_and_accessible(page, "advisory preview")
    page.get_by_role("button", name="Publish advisory").click()
    page.wait_for_url(re.compile(re.escape(hub_url) + r"/items/report--[0-9a-f-]+$"))
    advisory_url = page.url
    page.get_by_role("link", name="Edit and republish").click()
    page.get_by_label("Mitigation").fill("Update to 4.2.2: 4.2.1 did not close the bypass.")
    page.locator("#products-0-fixed_version").fill("4.2.2")
    page.get_by_role("button", name="Preview").click()
    assert_fits_and_accessible(page, "advisory edit preview")
    page.get_by_role("button", name="Republish as version 2").click()
    page.wait_for_url(advisory_url)
    sign_out(page, hub_url)

    page = sign_in(context, hub_url, "analyst@fn-brno.test")
    page.goto(advisory_url)
    advisory = page.locator("section.advisory")
    assert "4.2.1 did not close the bypass" in advisory.inner_text()
    assert "version 2, updated" in advisory.inner_text()
    assert "Missing Authentication for Critical Function" in advisory.inner_text()
    assert page.locator("table.affected-products td").all_inner_texts() == ["MediDevice", "InfuSafe Gateway", "< 4.2.1", "4.2.2"]
    assert_fits_and_accessible(page, "advisory page")
    context.close()


def test_an_admin_manages_users_and_an_operator_members_on_a_phone(hub_url, chromium):
    """Administration pages fit the phone: users, the one-time password, a confirmed 2FA reset,
    the filtered audit log, and the operator's organisations and sharing groups."""
    context = phone_context(chromium)
    page = sign_in(context, hub_url, "admin@fn-brno.test")
    page.get_by_role("link", name="Users").click()
    assert_fits_and_accessible(page, "users")
    page.get_by_label("E-mail", exact=True).fill("nurse@fn-brno.test")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r".*/admin/users/\d+$"))
    user_url = page.url
    assert len(page.locator("#initial-password").inner_text()) >= 12
    assert_fits_and_accessible(page, "user with its initial password")
    page.get_by_role("link", name="Reset two-factor sign-in…").click()
    assert "must set up two-factor sign-in again" in page.locator(".consequence").inner_text()
    assert_fits_and_accessible(page, "two-factor reset confirmation")
    page.get_by_role("button", name="Reset two-factor sign-in").click()
    page.wait_for_url(user_url)
    assert "set-up due" in page.locator(".page-head").inner_text()
    page.get_by_role("link", name="What this user did (audit log)").click()
    page.goto(hub_url + "/audit?action=totp_reset")
    assert "nurse@fn-brno.test" in page.locator("table.audit").inner_text()
    assert_fits_and_accessible(page, "filtered audit log")
    sign_out(page, hub_url)

    page = sign_in(context, hub_url, "operator@cert.test")
    page.get_by_role("link", name="Members").click()
    assert_fits_and_accessible(page, "organisations")
    page.get_by_role("link", name="University Hospital Brno").click()
    assert_fits_and_accessible(page, "organisation")
    page.goto(hub_url + "/admin/groups/cz-hospitals")
    assert "University Hospital Brno" in page.locator("main").inner_text()
    assert_fits_and_accessible(page, "sharing group")
    page.get_by_role("link", name="Remove…").click()
    assert_fits_and_accessible(page, "member removal confirmation")
    context.close()
