"""Publishing a vulnerability advisory: vendors and national CERTs only, valid STIX 2.1 throughout."""
from __future__ import annotations

import html
import re

import pytest
from stix2validator import ValidationOptions, validate_instance

from hub.intel import reads
from hub.tlp import TLP
from hub.principal import Principal


def advisory_form(**overrides) -> dict:
    data = {
        "title": "Remote code execution in InfuSafe pump gateway",
        "summary": "An unauthenticated attacker on the clinical network can run code on the gateway.",
        "cve_ids": "cve-2026-10001, CVE-2026-10002",
        "products": "MediDevice | InfuSafe Gateway | < 4.2.1\nMediDevice | InfuSafe Pump | 3.x",
        "mitigation": "Update the gateway to 4.2.1; until then block TCP 8443 from user VLANs.",
        "references": "https://medidevice.example/psirt/2026-07 " + "ab" * 32
                      + "\nhttps://www.cve.org/CVERecord?id=CVE-2026-10001",
        "tlp": "amber",
        "audience": "community",
    }
    data.update(overrides)
    return data


def error_next_to(page_text: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page_text)
    assert match, f"no error shown next to {field}"
    return html.unescape(match.group(1))


def test_a_vendor_publishes_an_advisory_as_a_report_with_everything_it_refers_to(make, web):
    vendor = make.make_org("vendor", "DE")
    psirt = make.make_user(vendor)
    hospital_analyst = make.make_user(make.make_org("hospital"))

    response = web(psirt).submit("/share/advisory", advisory_form())

    assert response.status_code == 302
    report_id = response.location.rsplit("/", 1)[1]
    reader = Principal.of(hospital_analyst)
    report = reads.stix_object(reads.get_item(reader, report_id))
    assert report["type"] == "report"
    assert report["report_types"] == ["vulnerability"]
    assert report["name"] == "Remote code execution in InfuSafe pump gateway"
    assert report["created_by_ref"] == vendor.identity_id
    # With its SHA-256, a reference is a url with hashes; without, the URL names the document.
    assert report["external_references"] == [
        {"source_name": "medidevice.example", "url": "https://medidevice.example/psirt/2026-07",
         "hashes": {"SHA-256": "ab" * 32}},
        {"source_name": "www.cve.org", "external_id": "https://www.cve.org/CVERecord?id=CVE-2026-10001"}]

    referred = {ref: reads.stix_object(reads.get_item(reader, ref)) for ref in report["object_refs"]}
    by_type: dict[str, list[dict]] = {}
    for obj in referred.values():
        by_type.setdefault(obj["type"], []).append(obj)
    vulnerabilities = {v["name"]: v for v in by_type["vulnerability"]}
    assert set(vulnerabilities) == {"CVE-2026-10001", "CVE-2026-10002"}
    for cve, vulnerability in vulnerabilities.items():
        assert vulnerability["external_references"] == [{"source_name": "cve", "external_id": cve}]
    software = {(s["vendor"], s["name"], s["version"]) for s in by_type["software"]}
    assert software == {("MediDevice", "InfuSafe Gateway", "< 4.2.1"), ("MediDevice", "InfuSafe Pump", "3.x")}
    [course_of_action] = by_type["course-of-action"]
    assert "block TCP 8443" in course_of_action["description"]

    links = {(r["source_ref"], r["relationship_type"], r["target_ref"]) for r in by_type["relationship"]}
    vulnerability_ids = {v["id"] for v in vulnerabilities.values()}
    assert {(course_of_action["id"], "mitigates", v) for v in vulnerability_ids} <= links
    assert {(s["id"], "related-to", v) for s in by_type["software"] for v in vulnerability_ids} <= links
    assert len(links) == 2 + 2 * 2

    options = ValidationOptions(version="2.1")
    for obj in [report, *referred.values()]:
        result = validate_instance(obj, options)
        assert result.is_valid, (obj["type"], [str(error) for error in result.errors])
        assert obj["object_marking_refs"] == [TLP.amber.marking_id]

    page = web(hospital_analyst).get(f"/items/{report_id}").get_data(as_text=True)
    # Products, vulnerabilities and mitigation in words on the advisory's page, not as ids.
    assert "Affected products" in page and "InfuSafe Gateway" in page and "&lt; 4.2.1" in page
    assert "CVE-2026-10001" in page and "block TCP 8443" in page
    assert not any(ref in page for ref in report["object_refs"] if ref.startswith(("relationship--", "software--")))


def test_a_national_cert_may_publish_advisories_too(make, web):
    cert_analyst = make.make_user(make.make_org("national_cert"))
    response = web(cert_analyst).submit("/share/advisory", advisory_form(products="", references=""))
    assert response.status_code == 302
    report = reads.stix_object(reads.get_item(Principal.of(cert_analyst), response.location.rsplit("/", 1)[1]))
    assert "external_references" not in report


@pytest.mark.parametrize(("kind", "role"), [("hospital", "analyst"), ("law_enforcement", "admin"), ("vendor", "viewer")])
def test_others_get_403_on_the_advisory_form(make, web, kind, role):
    user = make.make_user(make.make_org(kind), role)
    browser = web(user)

    assert browser.get("/share/advisory").status_code == 403
    assert browser.submit("/share/advisory", advisory_form(), form_page="/items").status_code == 403
    assert reads.count_items(Principal.of(user)) == 0


def test_the_nav_offers_advisories_to_vendors_only(make, web):
    vendor_page = web(make.make_user(make.make_org("vendor"))).get("/items").get_data(as_text=True)
    hospital_page = web(make.make_user(make.make_org("hospital"))).get("/items").get_data(as_text=True)
    assert 'href="/share/advisory"' in vendor_page
    assert 'href="/share/advisory"' not in hospital_page


def test_malformed_cve_ids_product_lines_and_urls_are_explained_and_nothing_is_shared(make, web):
    psirt = make.make_user(make.make_org("vendor"))

    response = web(psirt).submit("/share/advisory", advisory_form(
        cve_ids="CVE-2026-1 log4shell",
        products="MediDevice InfuSafe Gateway",
        references="ftp://medidevice.example/advisory",
    ))

    assert response.status_code == 422
    assert "'CVE-2026-1' is not a CVE id" in error_next_to(response.text, "cve_ids")
    assert 'line 1: expected "vendor | product | versions"' in error_next_to(response.text, "products")
    assert "line 1: not an http(s) URL" in error_next_to(response.text, "references")
    assert reads.count_items(Principal.of(psirt)) == 0
