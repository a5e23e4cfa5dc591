"""Vulnerability advisories: what vendors and national CERTs publish and hospitals read.

An advisory is a STIX 2.1 report (report_types ["vulnerability"]) that refers to one vulnerability
per CVE, one software SCO per affected product, a course-of-action with the mitigation, and the
relationships between them. What STIX 2.1 has no property for (CVSS scores, fixed versions) travels
in the hub's advisory property extension, as stix2-validator --strict asks of custom properties.
The report carries the whole advisory in that extension, so that a reader of the report alone has
everything, and the hub shows and edits an advisory from one object. CWE ids are external
references (source_name "cwe") of each vulnerability, as STIX does for CVE and CAPEC.

Republishing keeps every STIX id (derived from the report's id) and adds versions through the one
write path (hub.intel.ingest.share_objects → hub.intel.writing), so rule 11 and alerts apply.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson
import stix2

from hub.errors import NotFound, ValidationFailed
from hub.intel import builders
from hub.intel.audience import Audience
from hub.intel.ingest import share_objects
from hub.intel.manage import managed_item, revoke
from hub.intel.models import SharedItem
from hub.intel.reads import stix_object, versions_of
from hub.intel.severity import ADVISORY_EXTENSION, CVSS_FAMILIES, CvssScore, score_cvss
from hub.intel.store import now_us, stix_stamp_ms, stix_stamp_to_us
from hub.principal import Principal
from hub.tlp import TLP

_ID_NAMESPACE = uuid.UUID("6f1d9a52-3c84-4b7e-a0d5-2e9f8c1b7d43")


@dataclass(frozen=True)
class AffectedProduct:
    vendor: str
    product: str
    versions: str = ""  # the affected versions, as the vendor writes them ("< 4.2.1", "3.x")
    fixed_version: str = ""


@dataclass(frozen=True)
class Advisory:
    """What a publisher says: the form's answers, and what the page shows."""

    title: str
    summary: str
    cve_ids: list[str]
    products: list[AffectedProduct]
    mitigation: str
    cvss: list[CvssScore] = field(default_factory=list)
    cwe_ids: list[str] = field(default_factory=list)
    references: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def headline_score(self) -> CvssScore | None:
        """The score a reader sorts by: v4.0 when given, else v3.1."""
        return max(self.cvss, key=lambda score: score.family == "v4", default=None)


# --- STIX ---------------------------------------------------------------------------------------

def derived_id(object_type: str, report_id: str, *parts: str) -> str:
    """Stable across versions of one advisory; shaped as a UUIDv4, which STIX recommends."""
    digest = uuid.uuid5(_ID_NAMESPACE, "|".join((report_id, *parts))).bytes
    return f"{object_type}--{uuid.UUID(bytes=digest, version=4)}"


def _to_dict(obj) -> dict:
    return orjson.loads(obj.serialize())


def _extension(**properties) -> dict:
    return {ADVISORY_EXTENSION: {"extension_type": "property-extension", **properties}}


def _cvss_properties(advisory: Advisory) -> dict:
    return {f"cvss_{score.family}": score.as_extension() for score in advisory.cvss}


def build_advisory(
    advisory: Advisory,
    *,
    tlp: TLP,
    created_by_ref: str | None,
    report_id: str | None = None,
    created: datetime | str | None = None,
    now: datetime | str | None = None,
) -> list[dict]:
    """The advisory as STIX 2.1: the report first, then every object it refers to.

    One vulnerability per CVE (with the CWE ids and the CVSS scores), one software SCO per affected
    product, one course-of-action with the mitigation, and the relationships "course-of-action
    mitigates vulnerability" and "software related-to vulnerability" (described as affected by it:
    STIX 2.1 suggests no relationship type from software to a vulnerability). Given `report_id`,
    the objects keep the ids they had in earlier versions of that advisory.
    """
    stamp = now or datetime.now(timezone.utc)
    report_id = report_id or f"report--{uuid.uuid4()}"
    markings = [tlp.marking_id]
    authored = {"created": created or stamp, "modified": stamp, "object_marking_refs": markings}
    if created_by_ref:
        authored["created_by_ref"] = created_by_ref
    cvss = _cvss_properties(advisory)

    vulnerabilities = [
        stix2.v21.Vulnerability(
            id=derived_id("vulnerability", report_id, cve),
            name=cve,
            description=f"{cve}: {advisory.title}",
            external_references=[{"source_name": "cve", "external_id": cve}]
            + [{"source_name": "cwe", "external_id": cwe} for cwe in advisory.cwe_ids],
            **({"extensions": _extension(**cvss)} if cvss else {}),
            **authored,
        )
        for cve in advisory.cve_ids
    ]
    software = [
        stix2.v21.Software(
            name=product.product,
            vendor=product.vendor,
            object_marking_refs=markings,
            **({"version": product.versions} if product.versions else {}),
        )
        for product in advisory.products
    ]
    course_of_action = stix2.v21.CourseOfAction(
        id=derived_id("course-of-action", report_id, "mitigation"),
        name=f"Mitigation: {advisory.title}"[:250], description=advisory.mitigation, **authored,
    )
    relationships = [
        stix2.v21.Relationship(
            id=derived_id("relationship", report_id, course_of_action.id, "mitigates", vuln.id),
            source_ref=course_of_action.id, relationship_type="mitigates", target_ref=vuln.id, **authored,
        )
        for vuln in vulnerabilities
    ] + [
        stix2.v21.Relationship(
            id=derived_id("relationship", report_id, sco.id, "related-to", vuln.id),
            source_ref=sco.id, relationship_type="related-to", target_ref=vuln.id,
            description=_affected_sentence(product, vuln.name),
            **authored,
        )
        for sco, product in zip(software, advisory.products)
        for vuln in vulnerabilities
    ]
    referred = [*vulnerabilities, *software, course_of_action, *relationships]
    report = stix2.v21.Report(
        id=report_id,
        name=advisory.title,
        description=advisory.summary,
        report_types=["vulnerability"],
        published=authored["created"],
        object_refs=[obj.id for obj in referred],
        external_references=[builders.external_reference(url, sha256) for url, sha256 in advisory.references]
        or None,
        extensions=_extension(
            cve_ids=list(advisory.cve_ids),
            # STIX forbids empty lists: without CWE ids the property is left out.
            **({"cwe_ids": list(advisory.cwe_ids)} if advisory.cwe_ids else {}),
            affected_products=[
                {"vendor": p.vendor, "product": p.product, "affected_versions": p.versions,
                 "fixed_version": p.fixed_version} for p in advisory.products
            ],
            mitigation=advisory.mitigation,
            **cvss,
        ),
        **authored,
    )
    return [_to_dict(obj) for obj in (report, *referred)]


def _affected_sentence(product: AffectedProduct, cve: str) -> str:
    versions = f" {product.versions}" if product.versions else ""
    fixed = f"; fixed in {product.fixed_version}" if product.fixed_version else ""
    return f"{product.vendor} {product.product}{versions} is affected by {cve}{fixed}."


def _list(value) -> list:
    # Another hub's or a member's report may carry anything here: shown as far as it makes sense.
    return value if isinstance(value, list) else []


def advisory_of(report: dict) -> Advisory | None:
    """The advisory a report carries in the hub's extension; None for any other object.
    CVSS scores are checked on every share (hub.intel.severity.problems_in)."""
    extension = (report.get("extensions") or {}).get(ADVISORY_EXTENSION) if report.get("type") == "report" else None
    if not isinstance(extension, dict):
        return None
    scores = []
    for family in CVSS_FAMILIES:
        stated = extension.get(f"cvss_{family}")
        try:  # scored again from the vector: the page never shows a number the vector does not give
            scores.append(score_cvss(family, stated["vector_string"]))
        except (TypeError, KeyError, ValueError):
            continue
    references = []
    for ref in _list(report.get("external_references")):
        if not isinstance(ref, dict):
            continue
        if ref.get("url"):
            references.append((ref["url"], (ref.get("hashes") or {}).get("SHA-256")))
        elif ref.get("external_id"):
            references.append((ref["external_id"], None))
    return Advisory(
        title=report.get("name", ""),
        summary=report.get("description", ""),
        cve_ids=[str(cve) for cve in _list(extension.get("cve_ids"))],
        products=[AffectedProduct(str(p.get("vendor", "")), str(p.get("product", "")),
                                  str(p.get("affected_versions", "")), str(p.get("fixed_version", "")))
                  for p in _list(extension.get("affected_products")) if isinstance(p, dict)],
        mitigation=str(extension.get("mitigation", "")),
        cvss=scores,
        cwe_ids=[str(cwe) for cwe in _list(extension.get("cwe_ids"))],
        references=references,
    )


# --- Publishing and republishing ----------------------------------------------------------------

def publish(principal: Principal, advisory: Advisory, *, tlp: TLP, audience: Audience,
            created_by_ref: str | None) -> str:
    """Share a new advisory with its audience; returns the report's STIX id."""
    objects = build_advisory(advisory, tlp=tlp, created_by_ref=created_by_ref)
    share_objects(principal, objects, audience=audience, tlp=tlp)
    return objects[0]["id"]


def editable_advisory(principal: Principal, report_id: str) -> tuple[SharedItem, Advisory]:
    """The caller's organisation's advisory (404 unreadable or not an advisory, 403 not theirs)."""
    item = managed_item(principal, report_id)
    advisory = advisory_of(stix_object(item))
    if advisory is None:
        raise NotFound(f"no advisory {report_id}")
    return item, advisory


def republish(principal: Principal, report_id: str, advisory: Advisory) -> SharedItem:
    """A new version of every object of the advisory: same ids, a later `modified`, same TLP and
    audience. Readers who follow the advisory are alerted as for any new version."""
    item, _before = editable_advisory(principal, report_id)
    if item.revoked:
        raise ValidationFailed("a revoked advisory cannot be republished",
                               [{"field": "title", "error": "this advisory is revoked"}])
    current = stix_object(item)
    # The advisory's own id, not the spelling a link used (the hex in either case finds it): the
    # ids of its objects derive from it.
    report_id = current["id"]
    # Strictly later than the version it replaces, even within one millisecond.
    stamp = stix_stamp_ms(max(now_us(), stix_stamp_to_us(current["modified"]) + 1000))
    objects = build_advisory(advisory, tlp=item.tlp, created_by_ref=current.get("created_by_ref"),
                             report_id=report_id, created=current["created"], now=stamp)
    share_objects(principal, objects, audience=audience_of(item), tlp=item.tlp)
    # A CVE or product taken out of the advisory: its vulnerability and relationships (this
    # advisory's own, by their derived ids) are revoked, so that readers stop relying on them.
    dropped = set(current.get("object_refs") or []) - set(objects[0]["object_refs"])
    for stix_id in sorted(dropped):
        if stix_id.split("--")[0] in ("vulnerability", "relationship"):
            revoke(principal, stix_id, reason=f"no longer part of advisory {report_id}")
    return item


def audience_of(item: SharedItem) -> Audience:
    """Who an item reaches now: objects new in a version reach the same readers, nobody more."""
    return Audience(
        community=item.audience_community,
        org_ids=frozenset(grant.org_id for grant in item.grants if grant.org_id),
        group_ids=frozenset(grant.group_id for grant in item.grants if grant.group_id),
        user_ids=frozenset(grant.user_id for grant in item.grants if grant.user_id),
    )


def version_count(item: SharedItem) -> int:
    return len(versions_of(item))
