"""In-app notifications for incident work that concerns named people, not subscribers: NIS2
deadlines for the hospital, case activity for the hospital and the liaison.

They ride the alert system's tables (an outbox entry, already dispatched, and its notifications)
so that the bell counts them, the API lists them, and a notification disappears if its item
stops being readable to its user — e.g. when consent is revoked.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hub import policy
from hub.accounts.models import User
from hub.alerts.models import Notification
from hub.db import insert_rows
from hub.outbox import OutboxEntry, announce
from hub.principal import Role
from hub.extensions import db
from hub.incidents.clocks import utcnow
from hub.incidents.models import Incident

def team_of(org_id: int) -> list[int]:
    """Who acts for an organisation on an incident: its active admins and analysts."""
    return list(db.session.scalars(select(User.id).where(
        User.org_id == org_id, User.active, User.role.in_([Role.admin, Role.analyst]))))


def notify(incident: Incident, event: str, user_ids: list[int], *, once_key: str | None = None,
           now: datetime | None = None) -> OutboxEntry:
    """Record the event and ring the bells of those of these users who may read the incident now,
    in the current transaction."""
    now = now or utcnow()
    entry = announce(event, incident.item_id, incident.item.latest_version_id, once_key=once_key,
                     dispatched_at=now)
    db.session.flush()
    user_ids = policy.users_who_may_read(incident.item_id, user_ids)
    if user_ids:
        insert_rows(Notification, [{"user_id": user_id} for user_id in sorted(set(user_ids))],
                    {"outbox_id": entry.id, "item_id": incident.item_id, "event": event, "created": now})
    return entry
