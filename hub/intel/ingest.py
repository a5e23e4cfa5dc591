"""Sharing: validate STIX 2.1 objects with the stix2 library, mark them TLP 2.0, store them.

A share is atomic: every object is checked before anything is written, and the items, versions,
observables, audience grants, audit events and outbox rows commit in one transaction.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import orjson
import stix2
from sqlalchemy import select

from hub import audit, bounds, policy
from hub.outbox import Event, announce
from hub.errors import Forbidden, ValidationFailed
from hub.extensions import db
from hub.intel import fastpath, observables
from hub.intel.audience import Audience
from hub.intel.models import AudienceGrant, Observable, SharedItem, StixVersion
from hub.intel.store import allocate_date_added, canonical_json, stix_stamp_to_us
from hub.db import us_to_datetime
from hub.tlp import TLP, TLP_BY_MARKING_ID, TLP2_MARKING_IDS
from hub.principal import Principal

_STIX_ID = re.compile(
    r"^[a-z0-9][a-z0-9-]*[a-z0-9]--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
SEARCH_TEXT_LIMIT = 4000


class ObjectRejected(Exception):
    """One object cannot be shared; the message says why."""


@dataclass
class PreparedObject:
    stix_id: str
    stix_type: str
    modified_us: int
    spec_version: str
    body: str
    tlp: TLP
    name: str
    search_text: str
    valid_until_us: int | None
    revoked: bool
    observables: set[tuple[str, str]] = field(default_factory=set)


def _tlp_of(raw: dict, requested: TLP | None) -> TLP:
    refs = raw.get("object_marking_refs") or []
    # Strings only, checked before any lookup: a list or object as a reference is not hashable.
    if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
        raise ObjectRejected("object_marking_refs must be a list of marking-definition ids")
    marked = {TLP_BY_MARKING_ID[ref] for ref in refs if ref in TLP_BY_MARKING_ID}
    granulars = raw.get("granular_markings") or []
    if not isinstance(granulars, list):
        raise ObjectRejected("granular_markings must be a list")
    for granular in granulars:
        ref = granular.get("marking_ref") if isinstance(granular, dict) else None
        if isinstance(ref, str) and ref in TLP_BY_MARKING_ID:
            raise ObjectRejected("TLP must be an object marking (object_marking_refs), not granular")
    if len(marked) > 1:
        labels = ", ".join(sorted(t.label for t in marked))
        raise ObjectRejected(f"object carries more than one TLP marking ({labels})")
    own = next(iter(marked), None)
    if own is not None and requested is not None and own != requested:
        raise ObjectRejected(
            f"object is marked {own.label}, which contradicts the requested tlp {requested.label}"
        )
    tlp = own or requested
    if tlp is None:
        raise ObjectRejected("object carries no TLP marking and the request names no tlp")
    return tlp


def _with_tlp2_marking(raw: dict, tlp: TLP) -> dict:
    """Replace any TLP 1.0 / 2.0 reference by the TLP 2.0 one: the hub emits TLP 2.0 only."""
    refs = [ref for ref in raw.get("object_marking_refs") or [] if ref not in TLP_BY_MARKING_ID]
    return {**raw, "object_marking_refs": refs + [TLP2_MARKING_IDS[tlp]]}


def _parse(raw: dict) -> dict:
    """Validate with the stix2 library (properties, types, patterns); return the canonical dict.

    Simple indicators take hub.intel.fastpath, which gives the same result much faster.
    """
    fast = fastpath.parse_indicator(raw)
    if fast is not None:
        return fast
    obj = _parse_fully(raw)
    # stix2 accepts a few things the STIX 2.1 specification forbids (confidence above 100,
    # modified before created, a malformed lang...); the hub serves only valid STIX.
    result = _stix_validator()(obj)
    if not result.is_valid:
        raise ObjectRejected("; ".join(str(error) for error in result.errors[:3]))
    return obj


@functools.cache
def _stix_validator():
    # Imported on first use: stix2-validator takes seconds to import (it builds an RFC 3987
    # grammar), which every CLI command and worker would otherwise pay at start.
    from stix2validator import ValidationOptions, validate_instance

    options = ValidationOptions(version="2.1")
    return lambda obj: validate_instance(obj, options)


def _parse_fully(raw: dict) -> dict:
    object_type = raw["type"]
    if object_type == "indicator" and isinstance(raw.get("pattern"), str) and not raw["pattern"].strip():
        raise ObjectRejected("invalid indicator: the pattern is empty")
    try:
        parsed = stix2.parse(raw, allow_custom=True, version="2.1")
    except stix2.exceptions.STIXError as exc:
        raise ObjectRejected(str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        # Untrusted input inside a third-party parser: whatever it raises (stix2patterns even
        # raises UnboundLocalError for an empty pattern) means the object is invalid, never a 500.
        raise ObjectRejected(f"invalid {object_type}: {exc or type(exc).__name__}") from None
    if isinstance(parsed, dict):
        # stix2 hands back custom object types unvalidated: hold them to the common rules.
        if not object_type.startswith("x-"):
            raise ObjectRejected(f"unknown STIX object type {object_type!r}")
        for required in ("created", "modified"):
            if required not in raw:
                raise ObjectRejected(f"custom object lacks the required property {required!r}")
        try:
            stix2.properties.TimestampProperty().clean(raw["created"], False)
            stix2.properties.TimestampProperty().clean(raw["modified"], False)
        except (ValueError, TypeError) as exc:
            raise ObjectRejected(f"invalid timestamp: {exc}") from None
        return dict(raw)
    return orjson.loads(parsed.serialize())


# The timestamp properties of STIX 2.1 objects: each within the hub's years (hub.bounds), so
# that expiry, alerts and NIS2 arithmetic on them never overflow.
STIX_TIMESTAMPS = ("created", "modified", "valid_from", "valid_until", "first_seen", "last_seen",
                   "published", "first_observed", "last_observed", "start_time", "stop_time")


def _check_timestamps(obj: dict) -> None:
    for key in STIX_TIMESTAMPS:
        value = obj.get(key)
        if value is None:
            continue
        try:
            bounds.parse_instant(value)
        except bounds.OutOfBounds as exc:
            raise ObjectRejected(f"{key}: {exc}") from None
        except (ValueError, TypeError):
            raise ObjectRejected(f"{key}: not a STIX timestamp") from None


def _modified_us(obj: dict) -> int:
    stamp = obj.get("modified") or obj.get("created")
    if stamp is None:  # SCOs are not versioned
        return 0
    return stix_stamp_to_us(stamp)


def _display_name(obj: dict) -> str:
    for key in ("name", "value", "pattern", "path", "body"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return obj["id"]


def _search_text(obj: dict, found: set[tuple[str, str]]) -> str:
    parts = [obj.get("name"), obj.get("description"), obj.get("value"), obj.get("pattern")]
    parts += [label for label in obj.get("labels") or [] if isinstance(label, str)]
    for ref in obj.get("external_references") or []:
        if isinstance(ref, dict):
            parts += [ref.get("external_id"), ref.get("url")]
    parts += [value for _kind, value in found]
    return " ".join(str(part) for part in parts if part).lower()[:SEARCH_TEXT_LIMIT]


def prepare_object(raw, requested_tlp: TLP | None, anonymous: bool) -> PreparedObject | None:
    """Check one incoming object; None for the well-known TLP marking definitions themselves."""
    if not isinstance(raw, dict):
        raise ObjectRejected("not a JSON object")
    try:
        bounds.check_json(raw)
    except bounds.OutOfBounds as exc:
        raise ObjectRejected(str(exc)) from None
    object_type, stix_id = raw.get("type"), raw.get("id")
    if not isinstance(object_type, str) or not isinstance(stix_id, str):
        raise ObjectRejected("a STIX object needs a string 'type' and 'id'")
    if not _STIX_ID.match(stix_id) or not stix_id.startswith(object_type + "--"):
        raise ObjectRejected(f"invalid STIX id {stix_id!r} for type {object_type!r}")
    if object_type == "marking-definition" and stix_id in TLP_BY_MARKING_ID:
        return None
    if raw.get("spec_version") != "2.1":
        raise ObjectRejected("only STIX 2.1 objects are accepted (spec_version must be '2.1')")
    tlp = _tlp_of(raw, requested_tlp)
    if anonymous and raw.get("created_by_ref"):
        raise ObjectRejected("an anonymous share must not carry created_by_ref")
    obj = _parse(_with_tlp2_marking(raw, tlp))
    _check_timestamps(obj)
    found = fastpath.pattern_observables(obj)
    if found is None:
        try:
            found = observables.from_object(obj)
        except Exception:  # the stix2 validator accepted the pattern; indexing is best effort
            found = set()
    valid_until = obj.get("valid_until")
    return PreparedObject(
        stix_id=stix_id,
        stix_type=object_type,
        modified_us=_modified_us(obj),
        spec_version="2.1",
        body=canonical_json(obj),
        tlp=tlp,
        name=_display_name(obj),
        search_text=_search_text(obj, found),
        valid_until_us=_modified_us({"modified": valid_until}) if valid_until else None,
        revoked=bool(obj.get("revoked")),
        observables=found,
    )


def prepare_all(objects, requested_tlp: TLP | None, anonymous: bool) -> list[PreparedObject]:
    """Check every object; one ValidationFailed lists every rejected object with its index."""
    if not isinstance(objects, list) or not objects:
        raise ValidationFailed("nothing to share", [{"field": "objects", "error": "expected a non-empty list of STIX objects"}])
    prepared, problems, seen = [], [], set()
    for index, raw in enumerate(objects):
        try:
            candidate = prepare_object(raw, requested_tlp, anonymous)
        except ObjectRejected as exc:
            problems.append({
                "index": index,
                "id": raw.get("id") if isinstance(raw, dict) else None,
                "error": str(exc),
            })
            continue
        if candidate is None or (candidate.stix_id, candidate.modified_us) in seen:
            continue
        seen.add((candidate.stix_id, candidate.modified_us))
        prepared.append(candidate)
    if problems:
        raise ValidationFailed(f"{len(problems)} object(s) rejected; nothing was shared", problems)
    if not prepared:
        raise ValidationFailed("nothing to share", [{"field": "objects", "error": "only TLP marking definitions were given"}])
    return prepared


def share_objects(
    principal: Principal,
    objects: list,
    *,
    audience: Audience,
    tlp: TLP | None = None,
    anonymous: bool = False,
) -> list[SharedItem]:
    """Share STIX objects on behalf of the principal's organisation. Atomic; returns the items."""
    if not principal.can_share:
        raise Forbidden("viewers cannot share")
    prepared = prepare_all(objects, tlp, anonymous)
    for candidate in prepared:
        problem = policy.check_audience_for_tlp(
            candidate.tlp, audience.community, audience.group_ids, audience.org_ids, audience.user_ids
        )
        if problem:
            raise ValidationFailed("invalid audience for TLP:RED", [{"field": "audience", "id": candidate.stix_id, "error": problem}])
    try:
        items = store_prepared(principal, prepared, audience, anonymous)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return items


def store_prepared(principal, prepared, audience: Audience, anonymous: bool) -> list[SharedItem]:
    """Write prepared objects (new items or new versions) in the current transaction; no commit."""
    stix_ids = {p.stix_id for p in prepared}
    existing = {
        item.stix_id: item
        for item in db.session.scalars(
            select(SharedItem).where(
                SharedItem.owner_org_id == principal.org_id, SharedItem.stix_id.in_(stix_ids)
            )
        )
    }
    _check_new_versions(prepared, existing, anonymous)
    known_versions = set(
        db.session.execute(
            select(StixVersion.item_id, StixVersion.modified_us).where(
                StixVersion.item_id.in_([item.id for item in existing.values()])
            )
        ).all()
    ) if existing else set()

    date_added = iter(allocate_date_added(len(prepared)))
    touched: dict[str, SharedItem] = {}
    for candidate in prepared:
        item = existing.get(candidate.stix_id)
        is_new = item is None
        if is_new:
            item = SharedItem(
                stix_id=candidate.stix_id,
                stix_type=candidate.stix_type,
                owner_org_id=principal.org_id,
                author_id=principal.user_id,
                tlp=candidate.tlp,
                anonymous=anonymous,
                audience_community=False,
                revoked=False,
            )
            db.session.add(item)
            existing[candidate.stix_id] = item
        elif (item.id, candidate.modified_us) in known_versions:
            touched[item.stix_id] = item  # the same version again: nothing to add
            continue
        stamp = next(date_added)
        version = StixVersion(
            item=item,
            modified_us=candidate.modified_us,
            date_added_us=stamp,
            spec_version=candidate.spec_version,
            body=candidate.body,
        )
        db.session.add(version)
        if is_new:
            item.first_added_us = stamp
        item.last_added_us = stamp
        current = item.latest_version
        if current is None or candidate.modified_us >= current.modified_us:
            item.latest_version = version
            item.name = candidate.name
            item.search_text = candidate.search_text
            item.valid_until = (
                us_to_datetime(candidate.valid_until_us) if candidate.valid_until_us else None
            )
            item.revoked = item.revoked or candidate.revoked
        db.session.flush()
        _add_observables(item, candidate.observables)
        added = add_grants(item, audience)
        event = Event.shared if is_new else (Event.revoked if candidate.revoked else Event.updated)
        announce(event, item.id, version.id)
        audit.record(
            "share" if is_new else "update",
            principal,
            item=item,
            tlp=item.tlp.value,
            anonymous=anonymous,
            audience=describe_grants(added, audience.community) if added or audience.community else "own",
            modified_us=candidate.modified_us,
        )
        touched[item.stix_id] = item
    return list(touched.values())


def _check_new_versions(prepared, existing: dict, anonymous: bool) -> None:
    problems = []
    for candidate in prepared:
        item = existing.get(candidate.stix_id)
        if item is None:
            continue
        if item.tlp != candidate.tlp:
            problems.append({"id": item.stix_id, "error": f"this item was shared as {item.tlp.label}; a new version cannot change its TLP"})
        elif item.anonymous != anonymous:
            problems.append({"id": item.stix_id, "error": "a new version cannot change whether the item is anonymous"})
        elif item.revoked:
            problems.append({"id": item.stix_id, "error": "this item is revoked; a revoked object cannot get new versions"})
    if problems:
        raise ValidationFailed("some objects conflict with what your organisation already shared", problems)


def _add_observables(item: SharedItem, found: set[tuple[str, str]]) -> None:
    if not found:
        return
    have = set(
        db.session.execute(
            select(Observable.kind, Observable.value).where(Observable.item_id == item.id)
        ).all()
    ) if item.id else set()
    for kind, value in sorted(found - have):
        db.session.add(Observable(item_id=item.id, kind=kind, value=value))


def add_grants(item: SharedItem, audience: Audience) -> list[AudienceGrant]:
    """Union the audience into the item's grants; returns the grants that are new."""
    if audience.community:
        item.audience_community = True
    have = {(g.org_id, g.group_id, g.user_id) for g in item.grants} if item.id else set()
    wanted = (
        [(org_id, None, None) for org_id in sorted(audience.org_ids)]
        + [(None, group_id, None) for group_id in sorted(audience.group_ids)]
        + [(None, None, user_id) for user_id in sorted(audience.user_ids)]
    )
    added = []
    for org_id, group_id, user_id in wanted:
        if (org_id, group_id, user_id) in have:
            continue
        grant = AudienceGrant(org_id=org_id, group_id=group_id, user_id=user_id)
        item.grants.append(grant)
        added.append(grant)
    return added


def describe_grants(grants, community: bool) -> dict:
    return {
        "community": community,
        "org_ids": [g.org_id for g in grants if g.org_id],
        "group_ids": [g.group_id for g in grants if g.group_id],
        "user_ids": [g.user_id for g in grants if g.user_id],
    }
