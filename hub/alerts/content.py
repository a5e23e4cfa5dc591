"""What an outbound alert (e-mail or webhook) may say about an item.

RED and AMBER+STRICT content never leaves the hub in an alert: the recipient gets the event,
the item id, its TLP and a link, and reads the rest in the hub. Anonymous items never name
their source in any alert.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import orjson
from flask import current_app
from sqlalchemy import select

from hub import policy
from hub.alerts.wording import acting_org_name, alert_title, event_label
from hub.extensions import db
from hub.intel import reads
from hub.intel.models import ItemReference, SharedItem
from hub.intel.reads import is_expired
from hub.intel.store import load_json
from hub.principal import Principal
from hub.tlp import TLP

DESCRIPTION_LIMIT = 1000


@dataclass(frozen=True)
class AlertContent:
    event: str
    object_id: str
    object_type: str
    tlp: TLP
    link: str
    withheld: bool
    revoked: bool
    expired: bool
    # None when withheld (RED, AMBER+STRICT):
    name: str | None
    description: str | None
    pattern: str | None
    stix: dict | None
    # None when withheld or anonymous:
    owner_name: str | None
    # The alert in words (hub/alerts/wording.py), and how many other objects of the same
    # sharing act the recipient may read.
    title: str = ""
    label: str = ""
    related: int = 0

    @property
    def tlp_label(self) -> str:
        return self.tlp.label


def sighted_items(sighting_item_ids, principal: Principal | None = None) -> dict[int, SharedItem]:
    """What each of these sightings saw (its sighting_of_ref), by the sighting's item id: an
    alert about a sighting names the sighted item, for `principal` the copy a read of it serves.

    Only an item the sighting's writer could read when naming it (ItemReference.writer_reads_end):
    within the sighting's own organisation, its readers need not read one it could not (rule 7
    against rule 8, hub.policy), so naming that would reveal it. Anyone else who may read the
    sighting may read what it saw (rule 7)."""
    ids = sorted(set(sighting_item_ids))
    if not ids:
        return {}
    query = (select(ItemReference.item_id, SharedItem)
             .join(SharedItem, SharedItem.stix_id == ItemReference.ref_stix_id)
             .where(ItemReference.item_id.in_(ids), ItemReference.writer_reads_end,
                    SharedItem.stix_type != "observed-data"))
    if principal is not None:
        query = query.where(policy.readable_items(principal)).order_by(ItemReference.id, *reads.serving_order(principal))
    else:
        query = query.order_by(ItemReference.id, SharedItem.id)
    found: dict[int, SharedItem] = {}
    for sighting_id, seen in db.session.execute(query).all():
        found.setdefault(sighting_id, seen)
    return found


def alert_subject(item: SharedItem, sighted: SharedItem | None, *, outbound: bool) -> dict:
    """The object an alert's sentence names: a sighting's sighted item, else the item itself;
    outside the hub, without a name when its content is withheld (RED, AMBER+STRICT)."""
    shown = sighted if item.stix_type == "sighting" and sighted is not None else item
    named = not outbound or (policy.alert_carries_content(shown) and policy.alert_carries_content(item))
    return {"stix_type": shown.stix_type, "name": shown.name if named else None, "stix_id": shown.stix_id}


def item_link(stix_id: str) -> str:
    """Where a recipient reads the item in the hub (the web UI's item page, after signing in)."""
    return f"{current_app.config['HUB_BASE_URL'].rstrip('/')}/items/{quote(stix_id, safe='')}"


def alert_content(event: str, item: SharedItem, version_body: str | None, *, actor_org=None,
                  related: int = 0, sighted: SharedItem | None = None) -> AlertContent:
    """What an outbound alert says about `event` on `item`; `actor_org`: the organisation that
    acted (named only where the item's content may leave the hub)."""
    withheld = not policy.alert_carries_content(item)
    by = None if withheld else acting_org_name(actor_org, item, policy.alert_names_owner(item))
    stix = None if withheld else load_json(version_body or item.latest_version.body)
    description = (stix or {}).get("description")
    return AlertContent(
        event=event,
        object_id=item.stix_id,
        object_type=item.stix_type,
        tlp=item.tlp,
        link=item_link(item.stix_id),
        withheld=withheld,
        revoked=item.revoked,
        expired=is_expired(item),
        name=None if withheld else item.name,
        description=description[:DESCRIPTION_LIMIT] if isinstance(description, str) else None,
        pattern=(stix or {}).get("pattern") if isinstance((stix or {}).get("pattern"), str) else None,
        stix=stix,
        owner_name=item.owner.name if policy.alert_names_owner(item) else None,
        title=alert_title(event, **alert_subject(item, sighted, outbound=True), by=by, related=related),
        label=event_label(event),
        related=related,
    )


def webhook_body(alert: AlertContent, delivery_id: str) -> bytes:
    """The webhook JSON, exactly as the public contract spells it."""
    body = {
        "event": alert.event,
        "title": alert.title,
        "object_id": alert.object_id,
        "related_objects": alert.related,
        "tlp": alert.tlp.value,
        "link": alert.link,
        "delivery_id": delivery_id,
    }
    if alert.stix is not None:
        body["object"] = alert.stix
    return orjson.dumps(body)
