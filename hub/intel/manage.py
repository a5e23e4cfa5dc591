"""What the owner organisation does to its items after sharing: revoke, widen the audience."""
from __future__ import annotations

import orjson
import stix2

from hub import audit, policy
from hub.outbox import Event, announce
from hub.errors import Forbidden, ValidationFailed
from hub.extensions import db
from hub.intel.audience import Audience
from hub.intel.writing import add_audience
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
    parsed = stix2.parse(current, allow_custom=True, version="2.1")
    if isinstance(parsed, dict):  # stix2 hands custom object types back as plain dicts
        modified = max(now_us(), stix_stamp_to_us(current["modified"]) + 1000)
        return {**current, "revoked": True, "modified": stix_stamp_ms(modified)}
    return orjson.loads(parsed.revoke().serialize())


def revoke(principal: Principal, stix_id: str, reason: str = "") -> SharedItem:
    """Revoke an item: a new STIX version with revoked=true, announced to its recipients.

    Objects without versions (SCOs) are marked revoked by the hub alone.
    """
    item = managed_item(principal, stix_id)
    if item.revoked:
        return item
    current = stix_object(item)
    version = None
    if "modified" in current:
        revoked = _revoked_version(current)
        [stamp] = allocate_date_added(1)
        version = StixVersion(
            item=item,
            modified_us=stix_stamp_to_us(revoked["modified"]),
            date_added_us=stamp,
            spec_version="2.1",
            body=canonical_json(revoked),
        )
        db.session.add(version)
        item.latest_version = version
        item.last_added_us = stamp
    item.revoked = True
    db.session.flush()
    announce(Event.revoked, item.id, version.id if version else None, actor_id=principal.user_id)
    audit.record("revoke", principal, item=item, reason=reason[:500])
    db.session.commit()
    return item


def widen(principal: Principal, stix_id: str, audience: Audience) -> SharedItem:
    """Add recipients to an item's audience. Nobody is ever removed (rule 10)."""
    item = managed_item(principal, stix_id)
    if policy.named_users_only(item.tlp) and (audience.community or audience.group_ids or audience.org_ids):
        raise ValidationFailed(
            "invalid audience for TLP:RED",
            [{"field": "audience", "error": "a TLP:RED item can only be widened to more named users"}],
        )
    added = add_audience(item, audience)
    if added is None:
        return item  # it already reaches everyone named: nothing to record or announce
    announce(Event.widened, item.id, item.latest_version_id, actor_id=principal.user_id)
    audit.record("widen", principal, item=item, added=added)
    db.session.commit()
    return item
