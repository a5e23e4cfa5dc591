"""Sightings (issue 14): "we saw this too", as a STIX 2.1 sighting shared through the one write path.

A member who may read an item reports that it saw it: a `sighting` object (sighting_of_ref = the
item) shared with its own TLP and audience by `hub.intel.ingest.share_objects`, and a `sighted`
event on the item itself, committed with it, so that those following the item hear of it through
the normal fan-out (which asks the policy about every recipient). Rule 7 hides the sighting from
anyone who may not read the item it saw (hub.policy, through its sighting_of_ref).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from hub import bounds, policy
from hub.accounts.models import Organisation
from hub.errors import Forbidden, ValidationFailed
from hub.extensions import db
from hub.intel import correlation, observables
from hub.intel.audience import Audience, resolve_audience
from hub.intel.builders import build_sighting
from hub.intel.ingest import prepare_all, share_objects, store_prepared
from hub.intel.models import SharedItem
from hub.intel.reads import audit_reads, get_item
from hub.outbox import Event
from hub.principal import Principal
from hub.tlp import TLP

SIGHTING_FIELDS = ("count", "first_seen", "last_seen", "note", "tlp", "audience", "anonymous")
# STIX 2.1 bounds a sighting's count (0..999,999,999); the hub asks for at least one.
MAX_COUNT = 999_999_999
MAX_NOTE = 5000
TLP_CHOICES = ", ".join(tlp.value for tlp in TLP)


@dataclass(frozen=True)
class SightingRequest:
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    note: str = ""
    tlp: TLP | None = None
    audience: object = None  # the API spelling (hub.intel.audience); None = the default audience
    anonymous: bool = False


def _problem(field: str, value, error: str) -> dict:
    return {"field": field, "value": value, "error": error}


def _instant(body: dict, field: str, problems: list) -> datetime | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(_problem(field, value, "expected an RFC 3339 date-time with a time zone"))
        return None
    try:
        return bounds.parse_instant(value)
    except bounds.OutOfBounds as exc:
        problems.append(_problem(field, value, str(exc)))
    except (ValueError, TypeError):
        problems.append(_problem(field, value, "expected an RFC 3339 date-time with a time zone"))
    return None


def parse_request(body: dict) -> SightingRequest:
    """A sighting request from its JSON body; one 422 naming every bad field otherwise."""
    problems = [_problem(name, None, "not a field of a sighting (" + ", ".join(SIGHTING_FIELDS) + ")")
                for name in sorted(set(body) - set(SIGHTING_FIELDS))]
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        problems.append(_problem("count", count, f"expected a whole number from 1 to {MAX_COUNT}"))
    first_seen = _instant(body, "first_seen", problems)
    last_seen = _instant(body, "last_seen", problems)
    if first_seen and last_seen and last_seen < first_seen:
        problems.append(_problem("last_seen", body["last_seen"], "must not be before first_seen"))
    note = body.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        problems.append(_problem("note", None, f"expected a text of at most {MAX_NOTE} characters"))
    tlp = None
    if body.get("tlp") is not None:
        try:
            tlp = TLP.parse(body["tlp"])
        except ValueError:
            problems.append(_problem("tlp", body["tlp"], f"one of {TLP_CHOICES}"))
    anonymous = body.get("anonymous", False)
    if not isinstance(anonymous, bool):
        problems.append(_problem("anonymous", anonymous, "expected true or false"))
    if problems:
        raise ValidationFailed("invalid sighting; nothing was recorded", problems)
    return SightingRequest(count=count, first_seen=first_seen, last_seen=last_seen, note=note.strip(),
                           tlp=tlp, audience=body.get("audience"), anonymous=anonymous)


def default_audience(principal: Principal, item: SharedItem) -> Audience:
    """The item's owner organisation, the sighting organisation and its country's national CERTs
    (hub.policy). Ids only: an anonymous item's owner is a recipient without being named."""
    org_ids = db.session.scalars(
        select(Organisation.id).where(policy.default_sighting_audience_orgs(principal, item))
    )
    return Audience(org_ids=frozenset(org_ids))


def record_sighting(principal: Principal, stix_id: str, request: SightingRequest) -> SharedItem:
    """Share a sighting of a readable item; returns the sighting's item.

    404 (as if absent) when the caller may not read the item, 403 for viewers, 422 for bad input
    or an audience the TLP does not allow. Atomic: the sighting and the `sighted` event commit
    together or not at all.
    """
    item = get_item(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot report sightings")
    tlp = request.tlp or policy.default_sighting_tlp(item.tlp)
    if request.audience is None:
        if policy.named_users_only(tlp):
            raise ValidationFailed("invalid audience for TLP:RED", [
                {"field": "audience", "error": "a TLP:RED sighting must name its users (audience {\"users\": [...]})"}])
        audience = default_audience(principal, item)
    else:
        audience = resolve_audience(principal, request.audience)
    now = datetime.now(timezone.utc)
    first_seen = request.first_seen or min(now, request.last_seen or now)
    last_seen = request.last_seen or max(now, first_seen)
    identity = None if request.anonymous else db.session.get(Organisation, principal.org_id).identity_id
    try:
        sighting = build_sighting(
            item.stix_id, count=request.count, first_seen=first_seen, last_seen=last_seen, tlp=tlp,
            description=request.note or None, where_sighted_ref=identity, created_by_ref=identity, now=now,
        )
    except ValueError as exc:
        raise ValidationFailed("this object cannot be sighted", [
            {"field": "stix_id", "value": stix_id, "error": str(exc)}]) from None
    [shared] = share_objects(principal, [sighting], audience=audience, tlp=tlp, anonymous=request.anonymous,
                             announced_as=Event.sighted)
    return shared


# --- Bulk: "here is what we observed; which of it does the community know?" --------------------

MAX_BULK_VALUES = 100_000
MAX_VALUE_LENGTH = 2048
BULK_FIELDS = ("values", "tlp", "audience", "anonymous", "note", "first_seen", "last_seen")
# Only an SDO can be sighted (STIX 2.1 sighting_of_ref): a matched observable object is reported,
# not sighted.
SIGHTABLE_TYPES = ("indicator",)


@dataclass(frozen=True)
class BulkSightingRequest:
    values: tuple[str, ...]
    sighting: SightingRequest


@dataclass(frozen=True)
class BulkMatch:
    value: str  # as the caller sent it
    object_ids: tuple[str, ...]


@dataclass(frozen=True)
class BulkResult:
    matched: list[BulkMatch]
    unmatched: int
    sightings: list[str]  # STIX ids of the sightings recorded


def parse_bulk_request(body: dict) -> BulkSightingRequest:
    """A bulk upload from its JSON body; one 422 naming every problem otherwise."""
    problems = [_problem(name, None, "not a field of a bulk sighting (" + ", ".join(BULK_FIELDS) + ")")
                for name in sorted(set(body) - set(BULK_FIELDS))]
    values = body.get("values")
    if not isinstance(values, list) or not values:
        problems.append(_problem("values", None, "expected a non-empty list of observed values (strings)"))
        values = []
    elif len(values) > MAX_BULK_VALUES:
        problems.append(_problem("values", len(values), f"at most {MAX_BULK_VALUES:,} values per upload"))
    else:
        for index, value in enumerate(values):
            if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
                problems.append(_problem(f"values[{index}]", None,
                                         f"expected a string of at most {MAX_VALUE_LENGTH} characters"))
                if len(problems) >= 20:
                    break
    single = {key: body[key] for key in ("tlp", "audience", "anonymous", "note", "first_seen", "last_seen") if key in body}
    try:
        sighting = parse_request(single)
    except ValidationFailed as exc:
        problems += exc.details or []
        sighting = None
    if problems or sighting is None:
        raise ValidationFailed("invalid bulk sighting; nothing was recorded", problems)
    return BulkSightingRequest(values=tuple(values), sighting=sighting)


def record_bulk(principal: Principal, request: BulkSightingRequest) -> BulkResult:
    """Match observed values (any usual or defanged spelling) against every indicator and
    observable the caller may read, and record one sighting of each matched indicator, counting
    the values that matched it. Atomic: every sighting commits, or none."""
    if not principal.can_share:
        raise Forbidden("viewers cannot report sightings")
    wanted: dict[tuple[str, str], list[str]] = {}
    distinct = list(dict.fromkeys(value.strip() for value in request.values if value.strip()))
    for value in distinct:
        pair = observables.classify(value)
        if pair is not None:
            wanted.setdefault(pair, []).append(value)
    matches = correlation.readable_items_naming(principal, set(wanted))
    object_ids: dict[str, list[str]] = {}
    hits_per_item: dict[int, int] = {}
    items: dict[int, SharedItem] = {}
    for item, kind, value in matches:
        for sent in wanted[(kind, value)]:
            object_ids.setdefault(sent, []).append(item.stix_id)
        items[item.id] = item
        hits_per_item[item.id] = hits_per_item.get(item.id, 0) + len(wanted[(kind, value)])
    sighted = [items[item_id] for item_id in sorted(items) if items[item_id].stix_type in SIGHTABLE_TYPES]
    audit_reads(principal, list(items.values()), "api")  # before the commit below expires them
    recorded = _record_many(principal, sighted, hits_per_item, request.sighting) if sighted else []
    matched = [BulkMatch(value, tuple(sorted(set(object_ids[value])))) for value in distinct if value in object_ids]
    return BulkResult(matched=matched, unmatched=len(distinct) - len(matched), sightings=recorded)


def _record_many(principal: Principal, items: list[SharedItem], counts: dict[int, int],
                 request: SightingRequest) -> list[str]:
    """One sighting per item, shared in one transaction, grouped by TLP and default audience.

    A TLP:RED item's sighting would be RED too, which only named people may receive: without an
    audience naming them, the item is reported as matched but not sighted."""
    now = datetime.now(timezone.utc)
    first_seen = request.first_seen or min(now, request.last_seen or now)
    last_seen = request.last_seen or max(now, first_seen)
    identity = None if request.anonymous else db.session.get(Organisation, principal.org_id).identity_id
    chosen = None if request.audience is None else resolve_audience(principal, request.audience)
    groups: dict[tuple, list[dict]] = {}
    default_by_owner: dict[int, Audience] = {}  # the default audience depends on the item's owner only
    for item in items:
        tlp = request.tlp or policy.default_sighting_tlp(item.tlp)
        if chosen is None and policy.named_users_only(tlp):
            continue
        if chosen is None and item.owner_org_id not in default_by_owner:
            default_by_owner[item.owner_org_id] = default_audience(principal, item)
        audience = chosen or default_by_owner[item.owner_org_id]
        sighting = build_sighting(item.stix_id, count=min(counts[item.id], MAX_COUNT), first_seen=first_seen,
                                  last_seen=last_seen, tlp=tlp, description=request.note or None,
                                  where_sighted_ref=identity, created_by_ref=identity, now=now)
        groups.setdefault((tlp, audience), []).append(sighting)
    recorded: list[str] = []
    try:
        for (tlp, audience), objects in groups.items():
            prepared = prepare_all(objects, tlp, request.anonymous)
            for shared in store_prepared(principal, prepared, audience, request.anonymous, announced_as=Event.sighted):
                recorded.append(shared.stix_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return recorded
