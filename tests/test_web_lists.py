"""Everyday views show what members share, not STIX plumbing (issue 15, point 2): one row per
advisory or incident, indicators by their typed values, related objects inside their parent's
page (only when readable), threat actors once, and the raw STIX as a policy-checked download."""
from __future__ import annotations

import json
import re
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from hub.extensions import db
from hub.incidents import filing
from hub.intel import advisories
from hub.principal import Principal
from hub.tlp import TLP
from tests.factories import indicator, share
from tests.incidents_support import report

ITEM_LINK = re.compile(r'href="/items/([a-z0-9-]+--[0-9a-f-]+)"')
STAMP = "2026-11-01T10:00:00.000Z"


def listed(browser, query: str = "") -> tuple[set[str], int]:
    """The item ids linked from every page of the list, and the total it states."""
    page = browser.get("/items?status=all" + query)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    total = int(re.search(r"(\d+) items", text).group(1))
    return set(ITEM_LINK.findall(text)), total


def without_csrf_token(response) -> str:
    """A page's HTML without its sign-out form's CSRF token (signed with the time of the request)."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", response.get_data(as_text=True))


def sdo(stix_type: str, name: str, **extra) -> dict:
    return {"type": stix_type, "spec_version": "2.1", "id": f"{stix_type}--{uuid.uuid4()}",
            "created": STAMP, "modified": STAMP, "name": name, **extra}


def relationship(source: str, verb: str, target: str) -> dict:
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
            "created": STAMP, "modified": STAMP, "relationship_type": verb,
            "source_ref": source, "target_ref": target}


@pytest.fixture
def world_hospital(make):
    """A hospital analyst in a country with a national CERT (the incident form's default audience)."""
    make.make_org("national_cert", "CZ")
    return make.make_user(make.make_org("hospital", "CZ"))


def advisory(vendor_user) -> list[dict]:
    return advisories.build_advisory(advisories.Advisory(
        title="InfuSafe gateway: authentication bypass", summary="Remote attackers can log in.",
        cve_ids=["CVE-2026-20001", "CVE-2026-20002"],
        products=[advisories.AffectedProduct("MediDevice", "InfuSafe Gateway", "< 4.2.1"),
                  advisories.AffectedProduct("MediDevice", "InfuSafe Pump", "")],
        mitigation="Block TCP 8443 at the network edge until patched."),
        tlp=TLP.green, created_by_ref=vendor_user.org.identity_id)


def test_an_advisory_is_one_row_and_its_products_and_mitigation_are_on_its_page(make, web):
    vendor = make.make_user(make.make_org("vendor"))
    objects = advisory(vendor)
    share(vendor, objects, tlp="green")
    browser = web(make.make_user(make.make_org("hospital")))

    rows, total = listed(browser)
    assert rows == {objects[0]["id"]} and total == 1
    everything, total = listed(browser, "&supporting=1")
    assert everything == {obj["id"] for obj in objects} and total == len(objects) == 12
    # A type asked for by name is listed: the power user wants those objects.
    assert listed(browser, "&type=vulnerability")[0] == {o["id"] for o in objects if o["type"] == "vulnerability"}
    assert re.search(r"1 items?</a>", browser.get("/").get_data(as_text=True))  # home counts as the list shows

    page = browser.get(f"/items/{objects[0]['id']}").get_data(as_text=True)
    assert "Advisory" in page and "Affected products" in page
    assert "InfuSafe Gateway" in page and "&lt; 4.2.1" in page and "not stated" in page
    assert "CVE-2026-20001" in page and "Block TCP 8443 at the network edge" in page
    assert "relationship--" not in page and "software--" not in page


def test_indicators_read_as_typed_values_in_the_list_search_and_page(make, web):
    sharer = make.make_user(make.make_org())
    ip = share(sharer, [indicator("203.0.113.5", name="C2 server")])
    sha = "a" * 64
    share(sharer, [indicator(sha, kind="file", name="Dropper")])
    sco = share(sharer, [{"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}",
                          "value": "203.0.113.9"}])
    browser = web(make.make_user(make.make_org()))

    page = browser.get("/items").get_data(as_text=True)
    assert "203.0.113.5 (IPv4 address)" in page and f"{sha} (SHA-256 hash)" in page
    assert "ipv4-addr 203.0.113.5" not in page and "<code>indicator</code>" not in page
    assert sco.stix_id not in page  # an observable is a supporting object...
    assert sco.stix_id in browser.get("/items?supporting=1").get_data(as_text=True)  # ...listed on request

    found = browser.get("/search?q=203.0.113.5").get_data(as_text=True)
    assert "203.0.113.5 (IPv4 address)" in found and ip.stix_id in found
    detail = browser.get(f"/items/{ip.stix_id}").get_data(as_text=True)
    assert "203.0.113.5 (IPv4 address)" in detail


def test_related_objects_are_named_on_the_page_only_when_readable(make, web):
    reader_org, secret_org = make.make_org(), make.make_org()
    sharer = make.make_user(make.make_org())
    shown_malware = sdo("malware", "Known Malware Family", is_family=True)
    hidden_malware = sdo("malware", "Secret Malware Name", is_family=True)
    seen = share(sharer, [indicator("198.51.100.40")], tlp="green")
    share(make.make_user(secret_org), [hidden_malware], tlp="amber", audience="own")
    not_held = f"malware--{uuid.uuid4()}"
    share(sharer, [shown_malware,
                   relationship(seen.stix_id, "indicates", shown_malware["id"]),
                   relationship(seen.stix_id, "indicates", hidden_malware["id"]),
                   relationship(seen.stix_id, "indicates", not_held)], tlp="green")

    page = web(make.make_user(reader_org)).get(f"/items/{seen.stix_id}").get_data(as_text=True)
    assert "Related" in page and "indicates" in page and "Known Malware Family" in page
    assert f'href="/items/{shown_malware["id"]}"' in page
    assert "not held by this hub" in page
    assert "Secret Malware Name" not in page and hidden_malware["id"] not in page
    # The malware tied by its owner's relationship is on the indicator's page, not a row of its own.
    rows, total = listed(web(make.make_user(reader_org)))
    assert rows == {seen.stix_id} and total == 1

    # Its owner's colleagues see the secret one named: the policy, not the page, decides.
    owner_view = web(make.make_user(secret_org)).get(f"/items/{seen.stix_id}").get_data(as_text=True)
    assert "Secret Malware Name" in owner_view


def test_a_relationship_the_reader_may_not_read_does_not_hide_the_object_it_ties(make, web):
    """Whether an object is a supporting one is decided from relationships the reader may read:
    otherwise its missing row would tell that an unreadable relationship exists (rule 8)."""
    owner_org = make.make_org()
    owner = make.make_user(owner_org)
    malware = sdo("malware", "Tied Malware", is_family=True)
    share(owner, [malware], tlp="green")
    tool = sdo("tool", "Private Tool")
    share(owner, [tool, relationship(malware["id"], "uses", tool["id"])], tlp="amber", audience="own")

    assert malware["id"] in listed(web(make.make_user(make.make_org())))[0]
    assert malware["id"] not in listed(web(make.make_user(owner_org)))[0]


def test_one_threat_actor_named_by_several_incidents_shows_once_with_the_readable_ones(make, web):
    cert = make.make_user(make.make_org("national_cert", "CZ"))
    first = make.make_user(make.make_org("hospital", "CZ"))
    second = make.make_user(make.make_org("hospital", "CZ"))
    abroad = make.make_user(make.make_org("hospital", "BR"))
    filing.file_incident(Principal.of(first), report(title="EHR encrypted in Brno", threat_actor="LockBit"))
    filing.file_incident(Principal.of(second), report(title="PACS down in Ostrava", threat_actor=" lockbit "))
    filing.file_incident(Principal.of(abroad), report(title="Abroad and unreadable", threat_actor="LockBit"))
    browser = web(cert)

    page = browser.get("/actors").get_data(as_text=True)
    assert page.count('class="name"') == 1 and ">LockBit<" in page
    assert "EHR encrypted in Brno" in page and "PACS down in Ostrava" in page
    assert "Abroad and unreadable" not in page
    one = browser.get("/actors?name=LOCKBIT")
    assert one.status_code == 200 and "PACS down in Ostrava" in one.get_data(as_text=True)
    # Neither the actors nor the relationships are rows of the list: the incidents are.
    rows, total = listed(browser)
    assert {row.split("--")[0] for row in rows} == {"incident"} and total == 2

    # A reader who may read none of them learns nothing, not even that the name exists.
    outsider = web(make.make_user(make.make_org("hospital", "DE")))
    assert ">LockBit<" not in outsider.get("/actors").get_data(as_text=True)
    unknown = outsider.get("/actors?name=No Such Actor")
    hidden = outsider.get("/actors?name=LockBit")
    assert hidden.status_code == unknown.status_code == 404
    assert without_csrf_token(hidden) == without_csrf_token(unknown)


def test_the_incident_page_links_its_actor_and_shows_indicators_by_value(world_hospital, web):
    analyst = world_hospital
    browser = web(analyst)
    filed = browser.submit("/incidents/new", {
        "title": "Phishing wave", "detected_at": "2026-03-28T06:45", "attack_type": "phishing",
        "services": ["email"], "patient_care_disrupted": "no", "threat_actor": "TA505", "tlp": "amber",
        "new_indicators": "203.0.113.77\nevil[.]example\nipv4-addr 198.51.100.99",
    })
    assert filed.status_code == 302, filed.get_data(as_text=True)[:2000]
    page = browser.get(filed.location).get_data(as_text=True)
    for shown in ("203.0.113.77 (IPv4 address)", "evil.example (domain name)", "198.51.100.99 (IPv4 address)"):
        assert shown in page
    assert 'href="/actors?name=TA505"' in page
    linked = re.search(r"Linked indicators</h3>(.*?)</ul>", page, re.S).group(1)
    assert "indicator--" not in re.sub(r"<[^>]+>", "", linked)  # links, but no ids to read

    refused = browser.submit("/incidents/new", {
        "title": "Typo", "detected_at": "2026-03-28T06:45", "attack_type": "phishing",
        "services": ["email"], "patient_care_disrupted": "no", "tlp": "amber",
        "new_indicators": "203.0.113.78\nnot a value at all!",
    }, form_page="/incidents/new")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="new_indicators-error"' in text
    assert "line 2" in text and "not a value at all!" in text  # named, and the input kept


def test_the_stix_download_is_read_like_the_page_and_unreadable_is_missing(make, web):
    owner_org = make.make_org()
    item = share(make.make_user(owner_org), [indicator("198.51.100.50")], tlp="amber", audience="own")
    colleague = web(make.make_user(owner_org))
    download = colleague.get(f"/items/{item.stix_id}/stix.json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    assert json.loads(download.get_data(as_text=True))["id"] == item.stix_id
    assert "pattern_type" not in colleague.get(f"/items/{item.stix_id}").get_data(as_text=True)

    outsider = web(make.make_user(make.make_org()))
    hidden = outsider.get(f"/items/{item.stix_id}/stix.json")
    missing_id = f"indicator--{uuid.uuid4()}"
    missing = outsider.get(f"/items/{missing_id}/stix.json")
    assert hidden.status_code == missing.status_code == 404
    assert without_csrf_token(hidden).replace(item.stix_id, "X") == without_csrf_token(missing).replace(missing_id, "X")


@contextmanager
def counted_statements():
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_the_list_costs_the_same_few_queries_for_a_few_rows_or_a_full_page(make, web):
    sharer = make.make_user(make.make_org())
    browser = web(make.make_user(make.make_org()))
    share(sharer, [indicator(f"198.51.100.{n}") for n in range(2)])
    browser.get("/items")  # warm up: the session, the warning lists' stamp
    with counted_statements() as few:
        assert browser.get("/items").status_code == 200
    share(sharer, [indicator(f"198.51.101.{n}") for n in range(40)] + advisory(sharer))
    with counted_statements() as many:
        assert browser.get("/items").status_code == 200
    assert many["n"] == few["n"], "the list runs queries per row"



def test_anonymous_items_are_not_grouped_for_others_as_that_would_link_them_to_one_source(make, web):
    owner_org = make.make_org()
    owner = make.make_user(owner_org)
    ioc = share(owner, [indicator("198.51.100.70")], anonymous=True)
    malware = sdo("malware", "Anonymous Family", is_family=True)
    share(owner, [malware, relationship(ioc.stix_id, "indicates", malware["id"])], anonymous=True)

    assert malware["id"] in listed(web(make.make_user(make.make_org())))[0]
    assert malware["id"] not in listed(web(make.make_user(owner_org)))[0]
