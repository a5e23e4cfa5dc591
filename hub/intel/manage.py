"""What the owner organisation does to its items after sharing: revoke, extend, widen the audience."""
from __future__ import annotations

from datetime import datetime, timezone

from hub import audit, policy
from hub.outbox import Event, announce
from hub.errors import Forbidden, ValidationFailed
from hub.db import datetime_to_us, us_to_datetime
from hub.extensions import db
from hub.intel.audience import Audience
from hub.intel.writing import add_audience, id_as_sent, version_as_sent
from hub.intel.models import SharedItem, StixVersion
from hub.intel.reads import get_item, stix_object
from hub.intel.store import (
    allocate_date_added,
    canonical_json,
    now_us,
    stix_stamp_ms,
    stix_stamp_to_us,
)
from hub.principal import Principal


def managed_item(principal: Principal, stix_id: str) -> SharedItem:
    """The caller's own item; 404 if unreadable, 403 if readable but not theirs to change."""
    item = get_item(principal, stix_id)
    if not policy.can_manage(principal, item):
        raise Forbidden("only analysts and admins of the owner organisation may change this item")
    return item


def _revoked_version(current: dict) -> dict:
    """The next version of the object, revoked: every property as stored, a later modified.

    Not the stix2 library's revoke(): it would write the object again in its own form (dropping
    `revoked: false` and the like) and cannot read timestamps finer than the microsecond."""
    modified = max(now_us(), stix_stamp_to_us(current["modified"]) + 1000)
    return {**current, "revoked": True, "modified": stix_stamp_ms(modified)}


def revoke(principal: Principal, stix_id: str, reason: str = "") -> SharedItem:
    """Revoke an item: a new STIX version with revoked=true, announced to its recipients.

    Objects without versions (SCOs) are marked revoked by the hub alone.
    """
    item = managed_item(principal, stix_id)
    if item.revoked:
        return item
    current = stix_object(item)
    version = _add_version(item, _revoked_version(current)) if "modified" in current else None
    item.revoked = True
    db.session.flush()
    announce(Event.revoked, item.id, version.id if version else None, actor_id=principal.user_id)
    audit.record("revoke", principal, item=item, reason=reason[:500])
    db.session.commit()
    return item


def _add_version(item: SharedItem, body: dict) -> StixVersion:
    """Store `body` as the item's newest version (the owner's own change of its own object)."""
    [stamp] = allocate_date_added(1)
    modified_us = stix_stamp_to_us(body["modified"])
    version = StixVersion(item=item, modified_us=modified_us, date_added_us=stamp,
                          spec_version="2.1", body=canonical_json(body),
                          id_as_sent=id_as_sent(body["id"]),
                          version_as_sent=version_as_sent(body["modified"], modified_us))
    db.session.add(version)
    item.latest_version = version
    item.last_added_us = stamp
    return version


def extend(principal: Principal, stix_id: str, valid_until: datetime) -> SharedItem:
    """Give an indicator a later valid_until: a new STIX version, announced as `updated`, so that
    it is current again (back in lists, matching and feeds) and its followers know."""
    item = managed_item(principal, stix_id)
    problem = None
    current = stix_object(item)
    if item.revoked:
        problem = "this item is revoked; a revoked object cannot get new versions"
    elif item.stix_type != "indicator":
        problem = "only indicators have a validity period (valid_until)"
    elif valid_until <= datetime.now(timezone.utc):
        problem = "must be in the future"
    elif stix_stamp_to_us(current.get("valid_from", current["created"])) >= datetime_to_us(valid_until):
        problem = "must be after the indicator's valid_from"
    if problem:
        raise ValidationFailed("cannot extend this item", [{"field": "valid_until", "error": problem}])
    modified = max(now_us(), stix_stamp_to_us(current["modified"]) + 1000)
    until_us = datetime_to_us(valid_until) // 1000 * 1000  # STIX timestamps here carry milliseconds
    version = _add_version(item, {**current, "valid_until": stix_stamp_ms(until_us), "modified": stix_stamp_ms(modified)})
    item.valid_until = us_to_datetime(until_us)
    db.session.flush()
    announce(Event.updated, item.id, version.id)
    audit.record("extend", principal, item=item, valid_until=stix_stamp_ms(until_us))
    db.session.commit()
    return item


def check_widening(item: SharedItem, audience: Audience) -> None:
    """Refuse an audience the item's TLP does not allow (before asking the owner to confirm it)."""
    if policy.named_users_only(item.tlp) and (audience.community or audience.group_ids or audience.org_ids):
        raise ValidationFailed(
            "invalid audience for TLP:RED",
            [{"field": "audience", "error": "a TLP:RED item can only be widened to more named users"}],
        )


def widen(principal: Principal, stix_id: str, audience: Audience) -> SharedItem:
    """Add recipients to an item's audience. Nobody is ever removed (rule 10)."""
    item = managed_item(principal, stix_id)
    check_widening(item, audience)
    added = add_audience(item, audience)
    if added is None:
        return item  # it already reaches everyone named: nothing to record or announce
    announce(Event.widened, item.id, item.latest_version_id, actor_id=principal.user_id)
    audit.record("widen", principal, item=item, added=added)
    db.session.commit()
    return item
