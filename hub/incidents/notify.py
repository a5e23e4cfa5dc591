"""In-app notifications for incident work that concerns named people, not subscribers: NIS2
deadlines for the hospital, case activity for the hospital and the liaison.

They ride the alert system's tables (an outbox entry, already dispatched, and its notifications)
so that the bell counts them, the API lists them, and a notification disappears if its item
stops being readable to its user — e.g. when consent is revoked.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hub.accounts.models import Role, User
from hub.alerts.bulk import insert_rows
from hub.alerts.models import Notification, OutboxEntry
from hub.extensions import db
from hub.incidents.clocks import utcnow
from hub.incidents.models import Incident

CASE_EVENTS = ("case_opened", "case_message", "case_status")


def team_of(org_id: int) -> list[int]:
    """Who acts for an organisation on an incident: its active admins and analysts."""
    return list(db.session.scalars(select(User.id).where(
        User.org_id == org_id, User.active, User.role.in_([Role.admin, Role.analyst]))))


def notify(incident: Incident, event: str, user_ids: list[int], *, once_key: str | None = None,
           now: datetime | None = None) -> OutboxEntry:
    """Record the event and ring these users' bells, in the current transaction."""
    now = now or utcnow()
    entry = OutboxEntry(event=event, item_id=incident.item_id, version_id=incident.item.latest_version_id,
                        dispatched_at=now, once_key=once_key)
    db.session.add(entry)
    db.session.flush()
    if user_ids:
        insert_rows(Notification, [{"user_id": user_id} for user_id in sorted(set(user_ids))],
                    {"outbox_id": entry.id, "item_id": incident.item_id, "event": event, "created": now})
    return entry
