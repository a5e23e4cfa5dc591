"""STIX as people read it: what an item is, the values it names, and what it is made of.

Everyday pages show what members share (indicators, advisories, incidents, reports, notes) and
put the supporting objects (relationships, identities, observables, an advisory's products,
vulnerabilities and mitigation) inside their parent's page. Everything here reads through the
policy: a supporting object appears only when the reader may read it (rule 7), never its name
otherwise.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub import policy
from hub.db import StixIdMap, canonical_stix_id
from hub.extensions import db
from hub.intel import reads
from hub.intel.models import ItemReference, Observable, SharedItem
from hub.intel.store import load_json
from hub.principal import Principal

# Observable kinds (hub.intel.observables) as a person names them.
KIND_LABELS = {
    "ipv4-addr": "IPv4 address",
    "ipv6-addr": "IPv6 address",
    "domain-name": "domain name",
    "url": "URL",
    "email-addr": "e-mail address",
    "md5": "MD5 hash",
    "sha1": "SHA-1 hash",
    "sha256": "SHA-256 hash",
    "sha512": "SHA-512 hash",
}
NETWORK_LABELS = {"ipv4-addr": "IPv4 network", "ipv6-addr": "IPv6 network"}

# STIX object types as a person names them (others: the type with spaces, capitalised).
TYPE_LABELS = {
    "indicator": "Indicator",
    "report": "Report",
    "incident": "Incident",
    "note": "Note",
    "grouping": "Grouping",
    "threat-actor": "Threat actor",
    "course-of-action": "Mitigation",
    "attack-pattern": "Attack pattern",
    "intrusion-set": "Intrusion set",
    "observed-data": "Observed data",
    "ipv4-addr": "IPv4 address",
    "ipv6-addr": "IPv6 address",
    "domain-name": "Domain name",
    "email-addr": "E-mail address",
    "url": "URL",
}
# Advisories are reports about vulnerabilities (hub.intel.builders.build_advisory).
ADVISORY_REPORT_TYPES = {"vulnerability", "threat-report-vulnerability"}
# Reference properties whose targets are the parts of a container (report, grouping, note, opinion).
CONTAINED_REFS = "object_refs"
MAX_RELATED = 200
_SQL_PARAMETERS = 500  # SQLite caps the parameters of one statement


@dataclass(frozen=True)
class ObservableValue:
    """One value an item names, typed: "203.0.113.5 (IPv4 address)"."""

    kind: str
    value: str

    @property
    def label(self) -> str:
        if "/" in self.value and self.kind in NETWORK_LABELS:
            return NETWORK_LABELS[self.kind]
        return KIND_LABELS.get(self.kind, self.kind)

    def __str__(self) -> str:
        return f"{self.value} ({self.label})"


def typed(kind: str, value: str) -> ObservableValue:
    return ObservableValue(kind, value)


def type_label(stix_type: str, obj: dict | None = None) -> str:
    """What an object is, in words ("Advisory" for a vulnerability report)."""
    if stix_type == "report" and obj is not None and ADVISORY_REPORT_TYPES & set(obj.get("report_types") or ()):
        return "Advisory"
    return TYPE_LABELS.get(stix_type) or stix_type.replace("-", " ").capitalize()


def values_of_items(item_ids: Iterable[int]) -> dict[int, list[ObservableValue]]:
    """The observable values each item names (an indicator's pattern, an SCO's own value), from
    the observables index: one query for a whole page of items."""
    ids = sorted(set(item_ids))
    found: dict[int, list[ObservableValue]] = {}
    for start in range(0, len(ids), _SQL_PARAMETERS):
        rows = db.session.execute(
            select(Observable.item_id, Observable.kind, Observable.value)
            .where(Observable.item_id.in_(ids[start:start + _SQL_PARAMETERS]))
            .order_by(Observable.item_id, Observable.kind, Observable.value)
        )
        for item_id, kind, value in rows:
            found.setdefault(item_id, []).append(ObservableValue(kind, value))
    return found


@dataclass
class ItemSummary:
    """One row of a list: the item, what it is and the values it names."""

    item: SharedItem
    kind: str
    title: str
    values: list[ObservableValue] = field(default_factory=list)


def summaries(items: list[SharedItem]) -> dict[int, ItemSummary]:
    """Rows for a page of items (whose latest versions are loaded): one query for the values."""
    values = values_of_items(item.id for item in items)
    result = {}
    for item in items:
        obj = load_json(item.latest_version.body) if item.latest_version is not None else {}
        found = values.get(item.id, [])
        title = item.name or (str(found[0]) if found else "") or item.stix_id
        result[item.id] = ItemSummary(item, type_label(item.stix_type, obj), title, found)
    return result


def readable_by_stix_id(principal: Principal, stix_ids: Iterable[str]) -> dict[str, SharedItem]:
    """Of these STIX ids, those the principal may read: the copy a read of each serves."""
    ids = sorted({canonical_stix_id(i) for i in stix_ids if isinstance(i, str)})
    found = StixIdMap()  # looked up by ids read from objects, in whatever case they write them
    for start in range(0, len(ids), _SQL_PARAMETERS):
        rows = db.session.scalars(
            select(SharedItem).where(policy.readable_items(principal),
                                     SharedItem.stix_id.in_(ids[start:start + _SQL_PARAMETERS]))
            .options(selectinload(SharedItem.latest_version))
        )
        for item in rows:
            kept = found.get(item.stix_id)
            if kept is None or reads.serving_key(principal, item) < reads.serving_key(principal, kept):
                found[item.stix_id] = item
    return found


@dataclass
class Related:
    """One readable relationship of an item, seen from the item: "uses → Malware X"."""

    relationship: SharedItem
    verb: str
    outgoing: bool
    other_id: str
    other: SharedItem | None  # None: the hub holds no copy of the other end
    description: str = ""

    @property
    def other_type(self) -> str:
        if self.other is not None:
            return type_label(self.other.stix_type, load_json(self.other.latest_version.body))
        return type_label(self.other_id.split("--", 1)[0])


def related_of(principal: Principal, item: SharedItem, *, limit: int = MAX_RELATED) -> list[Related]:
    """The relationships the reader may read that name this item, with their other ends.

    The policy decides which relationships the reader may read (rule 7); an end it may not
    read is shown by its id alone, as one the hub does not hold: whether someone holds it must
    not show (rule 8; within the relationship's own organisation, an end its writers could not
    read does not hide it).
    """
    relationships = list(db.session.scalars(
        select(SharedItem)
        .where(SharedItem.stix_type == "relationship", policy.readable_items(principal),
               SharedItem.id.in_(select(ItemReference.item_id).where(ItemReference.ref_stix_id == item.stix_id)))
        .order_by(SharedItem.last_added_us.desc())
        .limit(limit)
        .options(selectinload(SharedItem.latest_version))
    ))
    parsed = []
    for relationship in relationships:
        obj = load_json(relationship.latest_version.body)
        source, target = canonical_stix_id(obj.get("source_ref")), canonical_stix_id(obj.get("target_ref"))
        if item.stix_id not in (source, target):
            continue
        outgoing = source == item.stix_id
        parsed.append((relationship, obj, outgoing, target if outgoing else source))
    others = readable_by_stix_id(principal, [other for *_rest, other in parsed])
    shown = []
    for relationship, obj, outgoing, other_id in parsed:
        shown.append(Related(relationship, str(obj.get("relationship_type") or "related-to").replace("-", " "),
                             outgoing, other_id, others.get(other_id), obj.get("description") or ""))
    return shown


@dataclass
class Contents:
    """What a report (an advisory, a threat report) is made of, as far as the reader may read it."""

    products: list[dict] = field(default_factory=list)  # software: vendor, product, version
    vulnerabilities: list[SharedItem] = field(default_factory=list)
    mitigations: list[dict] = field(default_factory=list)  # course-of-action: name, description
    indicators: list[tuple[SharedItem, list[ObservableValue]]] = field(default_factory=list)
    others: list[tuple[SharedItem, str]] = field(default_factory=list)  # (item, type label)

    def __bool__(self) -> bool:
        return bool(self.products or self.vulnerabilities or self.mitigations or self.indicators or self.others)


def contents_of(principal: Principal, obj: dict) -> Contents:
    """The readable objects a container refers to (object_refs), grouped for its page.

    Relationships among them are plumbing (a product "related-to" its vulnerability): the
    grouping says the same in words, so they are not listed. Objects the reader may not read
    are left out, names and all."""
    refs = [canonical_stix_id(ref) for ref in obj.get(CONTAINED_REFS) or [] if isinstance(ref, str)]
    readable = readable_by_stix_id(principal, refs)
    items = [readable[ref] for ref in dict.fromkeys(refs) if ref in readable]
    values = values_of_items(item.id for item in items if item.stix_type == "indicator")
    contents = Contents()
    for item in items:
        body = load_json(item.latest_version.body)
        if item.stix_type == "relationship":
            continue
        if item.stix_type == "software":
            contents.products.append({"vendor": body.get("vendor", ""), "product": body.get("name", ""),
                                      "version": body.get("version", ""), "item": item})
        elif item.stix_type == "vulnerability":
            contents.vulnerabilities.append(item)
        elif item.stix_type == "course-of-action":
            contents.mitigations.append({"name": body.get("name", ""), "description": body.get("description", ""),
                                         "item": item})
        elif item.stix_type == "indicator":
            contents.indicators.append((item, values.get(item.id, [])))
        else:
            contents.others.append((item, type_label(item.stix_type, body)))
    return contents


def indicators_with_values(principal: Principal, stix_ids: Iterable[str]) -> list[tuple[str, SharedItem, list[ObservableValue]]]:
    """Linked indicators as people read them: (id, item, its values), readable ones only."""
    readable = readable_by_stix_id(principal, stix_ids)
    values = values_of_items(item.id for item in readable.values())
    return [(stix_id, item, values.get(item.id, [])) for stix_id, item in sorted(readable.items())]
