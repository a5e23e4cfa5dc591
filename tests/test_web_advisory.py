"""Publishing a vulnerability advisory: vendors and national CERTs only, valid STIX 2.1 throughout."""
from __future__ import annotations

import html
import re
import uuid

import jsonschema
import pytest
from sqlalchemy import select
from stix2validator import ValidationOptions, validate_instance

from hub.alerts.models import Notification
from hub.extensions import db

from hub.intel import advisories, reads, severity
from hub.tlp import TLP
from hub.principal import Principal
from tests.alerts_support import run_fan_out, subscribe


V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def advisory_form(**overrides) -> dict:
    data = {
        "title": "Remote code execution in InfuSafe pump gateway",
        "summary": "An unauthenticated attacker on the clinical network can run code on the gateway.",
        "cve_ids": "cve-2026-10001, CVE-2026-10002",
        "products-0-vendor": "MediDevice", "products-0-product": "InfuSafe Gateway",
        "products-0-versions": "< 4.2.1", "products-0-fixed_version": "4.2.1",
        "products-1-vendor": "MediDevice", "products-1-product": "InfuSafe Pump", "products-1-versions": "3.x",
        "products-2-vendor": "", "products-2-product": "", "products-2-versions": "",
        "cvss_v3": V3,
        "cvss_v4": V4,
        "cwe_ids": "cwe-306 CWE-787",
        "mitigation": "Update the gateway to 4.2.1; until then block TCP 8443 from user VLANs.",
        "references": "https://medidevice.example/psirt/2026-07 " + "ab" * 32
                      + "\nhttps://www.cve.org/CVERecord?id=CVE-2026-10001",
        "tlp": "amber",
        "audience": "community",
        "publish": "Publish",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


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
        assert vulnerability["external_references"] == [
            {"source_name": "cve", "external_id": cve},
            {"source_name": "cwe", "external_id": "CWE-306"}, {"source_name": "cwe", "external_id": "CWE-787"}]
        cvss = vulnerability["extensions"][severity.ADVISORY_EXTENSION]
        assert cvss["cvss_v3"] == {"vector_string": V3, "base_score": 9.8, "base_severity": "CRITICAL"}
        assert cvss["cvss_v4"] == {"vector_string": V4, "base_score": 9.3, "base_severity": "CRITICAL"}
    software = {(s["vendor"], s["name"], s["version"]) for s in by_type["software"]}
    assert software == {("MediDevice", "InfuSafe Gateway", "< 4.2.1"), ("MediDevice", "InfuSafe Pump", "3.x")}
    [course_of_action] = by_type["course-of-action"]
    assert "block TCP 8443" in course_of_action["description"]

    links = {(r["source_ref"], r["relationship_type"], r["target_ref"]) for r in by_type["relationship"]}
    vulnerability_ids = {v["id"] for v in vulnerabilities.values()}
    assert {(course_of_action["id"], "mitigates", v) for v in vulnerability_ids} <= links
    assert {(s["id"], "related-to", v) for s in by_type["software"] for v in vulnerability_ids} <= links
    assert len(links) == 2 + 2 * 2
    products = report["extensions"][severity.ADVISORY_EXTENSION]["affected_products"]
    assert products[0] == {"vendor": "MediDevice", "product": "InfuSafe Gateway", "affected_versions": "< 4.2.1",
                           "fixed_version": "4.2.1"}

    options = ValidationOptions(version="2.1", strict=True)
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
    response = web(cert_analyst).submit("/share/advisory", advisory_form(references="", cvss_v4="", cwe_ids=""))
    assert response.status_code == 302
    report = reads.stix_object(reads.get_item(Principal.of(cert_analyst), response.location.rsplit("/", 1)[1]))
    assert "external_references" not in report
    assert "cvss_v4" not in report["extensions"][severity.ADVISORY_EXTENSION]


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


def test_every_mistake_is_explained_next_to_its_field_in_one_round_and_the_input_is_kept(make, web):
    psirt = make.make_user(make.make_org("vendor"))

    response = web(psirt).submit("/share/advisory", advisory_form(
        cve_ids="CVE-2026-1 log4shell",
        cvss_v3="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X",
        cvss_v4="AV:N/AC:L",
        cwe_ids="CWE-79 XSS",
        references="ftp://medidevice.example/advisory",
        **{"products-0-product": "", "products-1-vendor": ""},
    ))

    assert response.status_code == 422
    assert "'CVE-2026-1' is not a CVE id" in error_next_to(response.text, "cve_ids")
    assert 'not a valid CVSS v3.1 vector: Unknown value "X" in field "A:X"' in error_next_to(response.text, "cvss_v3")
    assert "a CVSS v4.0 vector starts with CVSS:4.0/" in error_next_to(response.text, "cvss_v4")
    assert "'XSS' is not a CWE id (expected CWE-NNN" in error_next_to(response.text, "cwe_ids")
    assert "line 1: not an http(s) URL" in error_next_to(response.text, "references")
    assert error_next_to(response.text, "products-0-product") == "name the product"
    assert error_next_to(response.text, "products-1-vendor") == "name the vendor"
    # What was typed is still there, to be corrected rather than typed again.
    assert 'value="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X"' in response.text
    assert 'value="InfuSafe Pump"' in response.text
    assert "block TCP 8443" in response.text
    assert reads.count_items(Principal.of(psirt)) == 0


def test_an_advisory_names_at_least_one_product_and_one_cvss_vector(make, web):
    psirt = make.make_user(make.make_org("vendor"))
    no_product = {f"products-{row}-{name}": "" for row in range(3) for name in ("vendor", "product", "versions",
                                                                              "fixed_version")}

    response = web(psirt).submit("/share/advisory", advisory_form(cvss_v3="", cvss_v4="", **no_product))

    assert response.status_code == 422
    assert error_next_to(response.text, "products") == "name at least one affected product (vendor and product)"
    assert "give a CVSS v3.1 or a v4.0 vector" in error_next_to(response.text, "cvss_v3")
    assert reads.count_items(Principal.of(psirt)) == 0


def test_a_publisher_adds_product_rows_without_losing_what_was_typed(make, web):
    psirt = make.make_user(make.make_org("vendor"))
    response = web(psirt).submit("/share/advisory", advisory_form(publish=None, add_row="Add a product row"))
    assert response.status_code == 200
    assert 'name="products-3-vendor"' in response.text
    assert 'value="InfuSafe Gateway"' in response.text
    assert '<p class="error"' not in response.text
    assert reads.count_items(Principal.of(psirt)) == 0


def test_the_preview_shows_the_page_as_readers_will_see_it_and_publishes_nothing(make, web):
    psirt = make.make_user(make.make_org("vendor"))
    browser = web(psirt)

    preview = browser.submit("/share/advisory", advisory_form(publish=None, preview="Preview"))

    assert preview.status_code == 200
    page = preview.text
    assert reads.count_items(Principal.of(psirt)) == 0
    assert "Preview your advisory" in page
    assert '<span class="severity severity-critical">Critical 9.3</span>' in page  # v4.0 leads
    assert "Critical 9.8" in page and V3 in page
    assert "<td>InfuSafe Gateway</td><td>&lt; 4.2.1</td><td>4.2.1</td>" in page
    assert "<td>InfuSafe Pump</td><td>3.x</td><td>no fix yet</td>" in page
    assert "CWE-787</a>: Out-of-bounds Write" in page
    assert 'href="https://www.cve.org/CVERecord?id=CVE-2026-10002"' in page
    assert 'name="publish"' in page
    # Publishing needs the form's CSRF token: a forged cross-site POST is refused.
    assert browser.post("/share/advisory", data=advisory_form()).status_code == 400
    assert reads.count_items(Principal.of(psirt)) == 0

    published = browser.submit("/share/advisory", advisory_form())
    assert published.status_code == 302  # POST-redirect-GET
    assert browser.get(published.location).status_code == 200


def test_a_reader_sees_products_severity_cwe_and_mitigation_on_the_advisory_page(make, web):
    vendor = make.make_org("vendor", "DE")
    psirt = make.make_user(vendor)
    reader = make.make_user(make.make_org("hospital"), "viewer")
    report_id = web(psirt).submit("/share/advisory", advisory_form()).location.rsplit("/", 1)[1]

    page = web(reader).get(f"/items/{report_id}").get_data(as_text=True)

    assert "<td>MediDevice</td><td>InfuSafe Gateway</td><td>&lt; 4.2.1</td><td>4.2.1</td>" in page
    assert '<span class="severity severity-critical">Critical 9.3</span>' in page
    assert "CWE-306</a>: Missing Authentication for Critical Function" in page
    assert "block TCP 8443 from user VLANs" in page
    assert 'href="https://medidevice.example/psirt/2026-07"' in page
    assert f"Published by {vendor.name} on" in page
    assert "TLP:AMBER" in page
    assert "Edit and republish" not in page  # a reader, not the publisher


def test_a_reader_outside_the_audience_gets_404_as_for_a_missing_advisory(make, web):
    psirt = make.make_user(make.make_org("vendor"))
    named = make.make_org("hospital")
    outsider = make.make_user(make.make_org("hospital"))
    report_id = web(psirt).submit("/share/advisory", advisory_form(audience="orgs", orgs=named.slug)) \
        .location.rsplit("/", 1)[1]

    assert web(make.make_user(named)).get(f"/items/{report_id}").status_code == 200
    unreadable = web(outsider).get(f"/items/{report_id}")
    missing = web(outsider).get("/items/report--00000000-0000-4000-8000-000000000000")
    assert unreadable.status_code == missing.status_code == 404
    assert "InfuSafe" not in unreadable.get_data(as_text=True)
    assert web(outsider).get(f"/items/{report_id}/advisory").status_code == 404


def test_the_publisher_edits_and_republishes_a_new_version_that_readers_see_and_are_told_of(make, web):
    vendor = make.make_org("vendor")
    psirt, colleague = make.make_user(vendor), make.make_user(vendor)
    reader = make.make_user(make.make_org("hospital"))
    report_id = web(psirt).submit("/share/advisory", advisory_form()).location.rsplit("/", 1)[1]
    subscribe(reader)
    run_fan_out()
    before = reads.stix_object(reads.get_item(Principal.of(reader), report_id))

    editor = web(colleague)  # any analyst of the publishing organisation
    form_page = editor.get(f"/items/{report_id}/advisory").get_data(as_text=True)
    assert 'value="InfuSafe Gateway"' in form_page and V4 in form_page  # the published advisory, to change
    changed = advisory_form(tlp=None, audience=None, mitigation="Update the gateway to 4.2.2: 4.2.1 was incomplete.",
                            **{"products-0-fixed_version": "4.2.2", "cvss_v4": "", "products-3-vendor": ""})
    preview = editor.submit(f"/items/{report_id}/advisory", {**changed, "publish": None, "preview": "Preview"})
    assert preview.status_code == 200 and "Republish as version 2" in preview.text
    assert len(reads.hub_metadata(Principal.of(reader), reads.get_item(Principal.of(reader), report_id),
                                  with_versions=True)["versions"]) == 1

    response = editor.submit(f"/items/{report_id}/advisory", changed)

    assert response.status_code == 302
    assert response.location.endswith(f"/items/{report_id}")
    after = reads.stix_object(reads.get_item(Principal.of(reader), report_id))
    assert after["id"] == before["id"] and after["created"] == before["created"]
    assert after["modified"] > before["modified"]
    assert set(after["object_refs"]) == set(before["object_refs"])  # same objects, new versions
    page = web(reader).get(f"/items/{report_id}").get_data(as_text=True)
    assert "4.2.1 was incomplete" in page
    assert "<td>4.2.2</td>" in page
    assert "version 2, updated" in page
    assert '<span class="severity severity-critical">Critical 9.8</span>' in page  # v3.1 now leads
    run_fan_out()
    told = db.session.scalars(select(Notification.event).where(Notification.user_id == reader.id)).all()
    assert "updated" in told


@pytest.mark.parametrize("who", ["other_vendor", "viewer"])
def test_only_analysts_of_the_publishing_organisation_may_edit(make, web, who):
    vendor = make.make_org("vendor")
    psirt = make.make_user(vendor)
    report_id = web(psirt).submit("/share/advisory", advisory_form()).location.rsplit("/", 1)[1]
    user = make.make_user(make.make_org("vendor")) if who == "other_vendor" else make.make_user(vendor, "viewer")
    browser = web(user)

    assert browser.get(f"/items/{report_id}/advisory").status_code == 403
    refused = browser.submit(f"/items/{report_id}/advisory", advisory_form(mitigation="Ignore it."),
                             form_page=f"/items/{report_id}")
    assert refused.status_code == 403
    assert "Ignore it." not in web(psirt).get(f"/items/{report_id}").get_data(as_text=True)


def _advisory_objects(org) -> list[dict]:
    return advisories.build_advisory(advisories.Advisory(
        title="Pump gateway advisory", summary="Remote code execution.", cve_ids=["CVE-2026-10001"],
        products=[advisories.AffectedProduct("MediDevice", "InfuSafe Gateway", "< 4.2.1", "4.2.1")],
        mitigation="Update.", cvss=[severity.score_cvss("v3", V3)], cwe_ids=["CWE-306"]),
        tlp=TLP.green, created_by_ref=org.identity_id)


def test_the_rest_api_takes_an_advisory_and_refuses_a_wrong_score_or_cwe_naming_the_property(make, api):
    vendor = make.make_org("vendor")
    psirt = make.make_user(vendor)
    client = api(psirt)
    extension = f"extensions.{severity.ADVISORY_EXTENSION}"

    objects = _advisory_objects(vendor)
    objects[0]["extensions"][severity.ADVISORY_EXTENSION]["cvss_v3"]["vector_string"] = "CVSS:3.1/AV:N"
    objects[1]["extensions"][severity.ADVISORY_EXTENSION]["cvss_v3"]["base_score"] = 5.0
    refused = client.post("/share", json={"objects": objects, "audience": "community"})

    assert refused.status_code == 422
    fields = {detail["field"]: detail["error"] for detail in refused.json["details"]}
    assert "not a valid CVSS v3.1 vector" in fields[f"objects[0].{extension}.cvss_v3.vector_string"]
    assert "5.0 is not the vector's base score (9.8)" in fields[f"objects[1].{extension}.cvss_v3.base_score"]
    assert reads.count_items(Principal.of(psirt)) == 0

    objects = _advisory_objects(vendor)
    objects[1]["external_references"][1]["external_id"] = "CWE-XSS"
    refused = client.post("/share", json={"objects": objects, "audience": "community"})
    assert refused.status_code == 422
    assert refused.json["details"][0]["field"] == "objects[1].external_references[1].external_id"
    assert "'CWE-XSS' is not a CWE id" in refused.json["details"][0]["error"]

    accepted = client.post("/share", json={"objects": _advisory_objects(vendor), "audience": "community"})
    assert accepted.status_code == 201, accepted.json


def test_a_red_advisory_for_everyone_is_refused_at_the_preview_already(make, web):
    psirt = make.make_user(make.make_org("vendor"))
    response = web(psirt).submit("/share/advisory", advisory_form(tlp="red", publish=None, preview="Preview"))
    assert response.status_code == 422
    assert "Preview your advisory" not in response.text
    assert "TLP:RED" in error_next_to(response.text, "audience")


def test_a_shared_report_with_an_odd_advisory_extension_still_shows_without_error(make, api, web):
    vendor = make.make_org("vendor")
    psirt = make.make_user(vendor)
    [report] = _advisory_objects(vendor)[:1]
    extension = report["extensions"][severity.ADVISORY_EXTENSION]
    extension["affected_products"] = "MediDevice gateway"
    del extension["cvss_v3"]["base_score"], extension["cvss_v3"]["base_severity"]
    report["object_refs"] = [f"note--{uuid.uuid4()}"]
    report["external_references"] = [{"source_name": "x", "external_id": "javascript:alert(1)"}]
    assert api(psirt).post("/share", json={"objects": [report], "audience": "community"}).status_code == 201

    page = web(make.make_user(make.make_org("hospital"))).get(f"/items/{report['id']}")

    assert page.status_code == 200
    assert "Critical 9.8" in page.text  # scored from the vector
    assert 'href="javascript:' not in page.text


def test_the_advisory_extension_is_defined_and_what_the_hub_builds_follows_its_schema(make, api):
    vendor = make.make_org("vendor")
    client = api(make.make_user(make.make_org("hospital")))
    definition = client.get(f"/extension-definitions/{severity.ADVISORY_EXTENSION}")
    assert definition.status_code == 200
    assert validate_instance(definition.json, ValidationOptions(version="2.1", strict=True)).is_valid
    schema = client.get(definition.json["schema"].split("/api/v1", 1)[1]).json

    report, vulnerability = _advisory_objects(vendor)[:2]
    for obj in (report, vulnerability):
        jsonschema.validate(obj["extensions"][severity.ADVISORY_EXTENSION], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**report["extensions"][severity.ADVISORY_EXTENSION], "cwe_ids": ["XSS"]}, schema)


def test_a_cve_taken_out_of_an_advisory_is_revoked_for_its_readers(make, web):
    vendor = make.make_org("vendor")
    psirt = make.make_user(vendor)
    reader = Principal.of(make.make_user(make.make_org("hospital")))
    report_id = web(psirt).submit("/share/advisory", advisory_form()).location.rsplit("/", 1)[1]
    before = reads.stix_object(reads.get_item(reader, report_id))["object_refs"]

    response = web(psirt).submit(f"/items/{report_id}/advisory", advisory_form(
        tlp=None, audience=None, cve_ids="CVE-2026-10001", **{"products-3-vendor": ""}))

    assert response.status_code == 302
    after = reads.stix_object(reads.get_item(reader, report_id))["object_refs"]
    dropped = set(before) - set(after)
    assert {ref.split("--")[0] for ref in dropped} == {"vulnerability", "relationship"}
    assert all(reads.get_item(reader, ref).revoked for ref in dropped)
    assert not any(reads.get_item(reader, ref).revoked for ref in after)


def test_republishing_through_an_upper_case_id_keeps_the_advisorys_objects(make, web):
    """The page answers for either spelling of the id; a republish through the upper-case one
    derived every object id anew from it, revoking the advisory's vulnerabilities and
    relationships and minting new ones."""
    from hub.intel.models import SharedItem

    psirt = make.make_user(make.make_org("vendor"))
    report_id = web(psirt).submit("/share/advisory", advisory_form()).location.rsplit("/", 1)[1]
    before = reads.stix_object(reads.get_item(Principal.of(psirt), report_id))
    prefix, hexpart = report_id.split("--")
    response = web(psirt).submit(f"/items/{prefix}--{hexpart.upper()}/advisory",
                                 advisory_form(tlp=None, audience=None, mitigation="Update to 4.2.2."))
    assert response.status_code == 302 and response.location.endswith(report_id)
    after = reads.stix_object(reads.get_item(Principal.of(psirt), report_id))
    assert after["id"] == report_id and set(after["object_refs"]) == set(before["object_refs"])
    assert db.session.scalars(select(SharedItem.stix_id).where(SharedItem.revoked.is_(True))).all() == []
