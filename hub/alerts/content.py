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

from hub import policy
from hub.alerts.wording import acting_org_name, alert_title, event_label
from hub.intel.models import SharedItem
from hub.intel.reads import is_expired
from hub.intel.store import load_json
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


def item_link(stix_id: str) -> str:
    """Where a recipient reads the item in the hub (the web UI's item page, after signing in)."""
    return f"{current_app.config['HUB_BASE_URL'].rstrip('/')}/items/{quote(stix_id, safe='')}"


def alert_content(event: str, item: SharedItem, version_body: str | None, *, actor_org=None,
                  related: int = 0) -> AlertContent:
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
        title=alert_title(event, stix_type=item.stix_type, name=None if withheld else item.name,
                          stix_id=item.stix_id, by=by, related=related),
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
