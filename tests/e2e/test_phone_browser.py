"""Every page of the web UI on a 390 px phone, as every role, in headless Chromium.

The seed fills the hub with what makes pages wide (long names, values, hashes, case evidence,
deliveries, a NIS2 submission, an advisory); each role signs in and opens every GET page of the
web and administration blueprints, and the error pages. No page may scroll sideways (wide tables
scroll inside their own container), and no page may have a serious or critical axe-core
violation: both checked on the same page load. The list of pages is checked against the
application's URL map, so a new page cannot be forgotten here.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.test_browser import ACTION_TIMEOUT_MS, PASSWORD, headless_chromium, running_hub

PHONE = {"width": 390, "height": 844}
ROLES = ("analyst@fn-brno.test", "admin@fn-brno.test", "viewer@fn-brno.test", "analyst@cert.test",
         "viewer@cert.test", "liaison@policie.test", "analyst@vendor.test", "operator@cert.test")
LONG = "Ransomware encrypted the picture archiving system of the radiology department overnight"
SEED = f"""
import io, json, sys
from hub import create_app
from hub.accounts import services as accounts
from hub.alerts import services as alerts
from hub.intel import advisories
from hub.intel.audience import resolve_audience
from hub.intel.severity import score_cvss
from hub.tlp import TLP
from hub.feeds import services as feeds
from hub.incidents import cases, evidence, filing, reporting, summaries
from hub.principal import Principal
from tests import factories as f
from tests.incidents_support import report

app = create_app()
with app.app_context():
    accounts.create_org("fn-brno", "University Hospital Brno", "hospital", "CZ")
    accounts.create_org("cert-cz", "CERT-CZ", "national_cert", "CZ")
    accounts.create_org("policie-nccc", "Police NCCC", "law_enforcement", "CZ")
    accounts.create_org("medtech", "Medtech Devices Inc.", "vendor", "CZ")
    users = {{}}
    for email, org, role in [("analyst@fn-brno.test", "fn-brno", "analyst"), ("admin@fn-brno.test", "fn-brno", "admin"),
                             ("viewer@fn-brno.test", "fn-brno", "viewer"), ("analyst@cert.test", "cert-cz", "analyst"),
                             ("viewer@cert.test", "cert-cz", "viewer"), ("liaison@policie.test", "policie-nccc", "analyst"),
                             ("analyst@vendor.test", "medtech", "analyst")]:
        users[email] = accounts.create_user(email, org, role, {PASSWORD!r})[0]
    users["operator@cert.test"] = accounts.create_user("operator@cert.test", "cert-cz", "admin", {PASSWORD!r},
                                                       is_operator=True)[0]
    accounts.create_group("cz-hospitals", "Hospitals of the Czech Republic", ["fn-brno", "medtech"])
    vendor = Principal.of(users["analyst@vendor.test"])
    advisory = advisories.publish(vendor, advisories.Advisory(
        title="InfuSafe gateway: authentication bypass in the maintenance interface", summary="Remote attackers can log in.",
        cve_ids=["CVE-2026-21001"], cwe_ids=["CWE-287"],
        cvss=[score_cvss("v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")],
        products=[advisories.AffectedProduct("Medtech Devices", "InfuSafe Gateway", "< 4.2.1", "4.2.1")],
        mitigation="Update the gateway; block TCP 8443 meanwhile."),
        tlp=TLP.green, audience=resolve_audience(vendor, "community"), created_by_ref=None)
    analyst = Principal.of(users["analyst@fn-brno.test"])
    item = f.share(users["analyst@fn-brno.test"], [f.indicator(
        "https://very-long-subdomain-name-of-a-phishing-portal.imitating-the-ehr-login.example/login/session/"
        "a3f9c2d4e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2", kind="url", name={LONG!r})])
    incident = filing.file_incident(analyst, report(title={LONG!r}, significant=True, new_indicators=[
        {{"type": "sha256", "value": "a3f9c2d4e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2"}}]))
    submission = reporting.submit_nis_report(analyst, incident.stix_id, "early_warning", suspected_malicious="yes",
                                             cross_border_impact="no")
    case = cases.grant_consent(Principal.of(users["admin@fn-brno.test"]), incident.stix_id, "policie-nccc")
    cases.post_message(Principal.of(users["liaison@policie.test"]), case.public_id,
                       "Please send the firewall logs of the night " + "x" * 120, "info_request")
    evidence.add_evidence(analyst, case.public_id, "firewall-export-" + "2026-03-28" * 6 + ".log",
                          io.BytesIO(b"203.0.113.5 blocked"), "text/plain", "Firewall export")
    summaries.publish_summary(analyst, incident.stix_id)
    subscription = alerts.create_subscription(analyst, channel="email", target="soc-team-with-a-long-address@fn-brno.example",
                                              mode="immediate").subscription
    feed, _token = feeds.create_feed(analyst, "Perimeter firewall of the main campus", ["ipv4-addr", "domain-name"],
                                     ["clear", "green"], 0)
    json.dump({{"item": item.stix_id, "incident": incident.stix_id, "submission": submission.public_id,
               "case": case.public_id, "subscription": subscription.id, "feed": feed.public_id,
               "advisory": advisory, "viewer": users["viewer@fn-brno.test"].id}},
              open(sys.argv[1], "w"))
"""
# GET endpoints of the web blueprints that are not pages: files, redirects, sign-in steps.
NOT_PAGES = {"web.static", "web.favicon", "incidents.bundle", "incidents.download", "incidents.dashboard_csv",
             "alerts.show_notification", "accounts.login", "accounts.login_totp", "feeds.index_slash",
             "accounts.audit_csv", "intel.item_stix", "intel.audience_preview",
             # The upload page's own template with a result: tests/e2e/test_browser.py opens it.
             "intel.sighting_upload_result"}
IDS = ("item", "incident", "submission", "case", "subscription", "feed", "advisory", "viewer")


def pages(ids: dict) -> dict[str, str]:
    """Every GET page by endpoint, with real ids from the seed."""
    incident = ids["incident"]
    return {
        "home.index": "/", "intel.items": "/items", "intel.item_detail": f"/items/{ids['item']}",
        "intel.search": "/search?q=phishing", "intel.share_indicator": "/share/indicator",
        "intel.share_advisory": "/share/advisory", "intel.import_text": "/share/import",
        "intel.upload_sightings": "/sightings/upload",
        "incidents.index": "/incidents", "incidents.new": "/incidents/new",
        "incidents.detail": f"/incidents/{incident}", "incidents.edit": f"/incidents/{incident}/edit",
        "incidents.submit": f"/incidents/{incident}/nis2/notification",
        "incidents.submission": f"/incidents/{incident}/nis2/submissions/{ids['submission']}",
        "incidents.nis_queue": "/nis2", "incidents.case_queue": "/cases", "incidents.case": f"/cases/{ids['case']}",
        "incidents.summary_list": "/summaries", "incidents.dashboard": "/dashboard",
        "alerts.notifications": "/alerts/", "alerts.subscriptions": "/alerts/subscriptions",
        "alerts.subscription_detail": f"/alerts/subscriptions/{ids['subscription']}",
        "alerts.delete_subscription": f"/alerts/subscriptions/{ids['subscription']}/delete",
        "feeds.index": "/feeds/", "feeds.confirm": f"/feeds/{ids['feed']}/rotate",
        "accounts.account": "/account", "accounts.totp_setup": "/account/totp", "accounts.audit_log": "/audit",
        "accounts.recovery_codes": "/account/recovery-codes", "incidents.actors": "/actors",
        "actor": "/actors?name=LockBit", "advisory": f"/items/{ids['advisory']}",
        "intel.edit_advisory": f"/items/{ids['advisory']}/advisory",
        "admin.users": "/admin/users", "admin.user": f"/admin/users/{ids['viewer']}",
        "admin.deactivate_page": f"/admin/users/{ids['viewer']}/deactivate",
        "admin.reactivate_page": f"/admin/users/{ids['viewer']}/reactivate",
        "admin.reset_totp_page": f"/admin/users/{ids['viewer']}/reset-2fa",
        "admin.organisations": "/admin/organisations", "admin.organisation": "/admin/organisations/medtech",
        "admin.organisation_active": "/admin/organisations/medtech/deactivate",
        "admin.groups": "/admin/groups", "admin.group": "/admin/groups/cz-hospitals",
        "admin.remove_member": "/admin/groups/cz-hospitals/members/medtech/remove",
        # The styled error page: an unknown address (404); the 403 shows on the pages above that a
        # role may not open (administration for analysts, the incident form for viewers).
        "not found": "/no-such-page",
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    ids_file = tmp_path_factory.mktemp("phone-ids") / "ids.json"
    seed = SEED.replace("sys.argv[1]", repr(str(ids_file)))
    for url in running_hub(tmp_path_factory, "hub-e2e-phone", seed):
        yield url, json.loads(ids_file.read_text())


def test_every_page_is_listed_here(app):
    """A GET page added to a web blueprint must be added to the phone walk (or to NOT_PAGES)."""
    web_blueprints = {"home", "intel", "incidents", "alerts", "feeds", "accounts", "admin", "web"}
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if "GET" in rule.methods and rule.endpoint.split(".")[0] in web_blueprints}
    listed = set(pages(dict.fromkeys(IDS, "x")))
    assert endpoints - listed - NOT_PAGES == set()


def sign_in_on_phone(browser, hub_url: str, email: str):
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.goto(hub_url + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(hub_url + "/")
    return context, page


# The page's markup with its words set aside: elements and attributes, text only as present or
# not, no link targets, dates, titles or hidden values, a run of identical siblings (table rows,
# list items) as one. axe-core judges markup and style, so two pages with the same skeleton have
# the same violations: each role's rows and names need not be checked again.
SKELETON = """(() => {
  const ignored = ['href', 'action', 'datetime', 'title', 'value'];
  const skeleton = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent.trim() ? '#' : '';
    if (node.nodeType !== Node.ELEMENT_NODE) return '';
    const attributes = [...node.attributes]
      .map(a => ignored.includes(a.name) ? a.name : a.name + '=' + a.value).join(' ');
    const children = [];
    for (const child of node.childNodes) {
      const part = skeleton(child);
      if (part && part !== children[children.length - 1]) children.push(part);
    }
    return '<' + node.tagName + ' ' + attributes + '>' + children.join('') + '</>';
  };
  return (document.title ? 'titled' : '') + skeleton(document.documentElement);
})()"""


def serious_violations(page) -> list[tuple[str, list]]:
    """The page's serious and critical axe-core violations: (rule, first elements)."""
    violations = Axe().run(page).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]][:2]) for v in violations
            if v["impact"] in ("serious", "critical")]


def test_every_page_fits_a_390px_phone_and_is_accessible_for_every_role(seeded):
    """Two browsers walk half the roles each, at once: the walk waits mostly on one core each
    (the page's layout and axe-core in Chromium, the server's render)."""
    hub_url, ids = seeded
    too_wide, inaccessible, checked, lock = [], [], set(), threading.Lock()

    def check(page, who: str, path: str) -> None:
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            wide = page.evaluate("""[...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > 391
                        && e.parentElement.getBoundingClientRect().right <= 391)
                .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
            too_wide.append((who, path, width, wide))
        markup = page.evaluate(SKELETON)
        with lock:
            new = markup not in checked
            checked.add(markup)
        if new:
            inaccessible.extend((who, path, *violation) for violation in serious_violations(page))

    def walk(roles: tuple[str, ...]) -> None:
        for browser in headless_chromium():  # a Playwright instance per thread
            if ROLES[0] in roles:
                signed_out = browser.new_context(viewport=PHONE)
                login = signed_out.new_page()
                login.goto(hub_url + "/login")
                check(login, "signed out", "/login")
                signed_out.close()
            for email in roles:
                context, page = sign_in_on_phone(browser, hub_url, email)
                for endpoint, path in pages(ids).items():
                    if endpoint == "accounts.totp_setup" and email != ROLES[0]:
                        continue  # one visit starts a set-up; its page is the same for everyone
                    response = page.goto(hub_url + path)
                    assert response is not None and response.status < 500, (email, path)
                    check(page, email, path)
                context.close()

    with ThreadPoolExecutor(2) as pool:
        for walked in [pool.submit(walk, ROLES[0::2]), pool.submit(walk, ROLES[1::2])]:
            walked.result()
    assert too_wide == [], too_wide
    assert inaccessible == [], inaccessible
