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
from hub.intel.audience import Audience, resolve_audience
from hub.intel.builders import build_sighting
from hub.intel.ingest import share_objects
from hub.intel.models import SharedItem
from hub.intel.reads import get_item
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
