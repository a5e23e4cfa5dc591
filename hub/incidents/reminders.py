"""NIS2 deadline reminders, sent through the alert system by a periodic job.

Before each open deadline (nis2.reminder_points) and once when it passes, every admin and
analyst of the hospital gets an in-app notification, and each e-mail subscription held in the
hospital gets an e-mail delivery with the alert system's retries and dead letters. A legal
deadline ignores subscription filters. The NisReminder row and the outbox entry's once_key make
the job idempotent: run it twice, or on two workers, and nobody is told twice.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.db import insert_rows
from hub.alerts import dispatch
from hub.alerts.fanout import recipient_key
from hub.alerts.models import Delivery, Subscription
from hub.extensions import db
from hub.incidents import nis2
from hub.incidents.clocks import as_utc, first_submissions, utcnow
from hub.incidents.models import Incident, NisReminder
from hub.incidents.notify import notify, team_of



def _latest_point_passed(stage: nis2.Stage, due_at: datetime, now: datetime) -> datetime | None:
    """The most recent reminder moment not in the future (the deadline itself counts): a job
    that was down sends one reminder, not a burst of stale ones."""
    points = [p for p in [*nis2.reminder_points(stage, due_at), due_at] if p <= now]
    return max(points) if points else None


TASK_NIS2_REMINDERS = "incidents.nis2_reminders"


def send_and_queue_nis2_reminders() -> int:
    """The periodic task: send what is due and queue its e-mail deliveries."""
    delivery_ids = send_nis2_reminders()
    dispatch.enqueue_deliveries(delivery_ids)
    return len(delivery_ids)


def send_nis2_reminders(now: datetime | None = None) -> list[int]:
    """Send what is due; returns the e-mail delivery ids to queue."""
    now = now or utcnow()
    delivery_ids: list[int] = []
    incidents = db.session.scalars(
        select(Incident).where(Incident.significant, Incident.aware_at.is_not(None)).order_by(Incident.id)
    ).all()
    for incident in incidents:
        submitted = first_submissions(incident)
        due = nis2.deadlines(as_utc(incident.aware_at), incident.owner.timezone,
                             notification_submitted_at=submitted.get(nis2.Stage.notification),
                             intermediate_due_at=as_utc(incident.intermediate_due_at))
        for stage, due_at in due.items():
            if stage in submitted:
                continue
            point = _latest_point_passed(stage, due_at, now)
            if point is not None:
                delivery_ids += _remind(incident, stage, due_at, point, now)
    return delivery_ids


def _remind(incident: Incident, stage: nis2.Stage, due_at: datetime, point: datetime, now: datetime) -> list[int]:
    try:
        with db.session.begin_nested():
            db.session.add(NisReminder(incident_id=incident.id, stage=stage.value, due_at=due_at, point_at=point))
            entry = notify(incident, f"nis2_{stage.value}", team_of(incident.owner_org_id), now=now,
                           once_key=f"nis2:{incident.id}:{stage.value}:{int(point.timestamp())}")
    except IntegrityError:
        db.session.rollback()
        return []  # already sent, by this job earlier or by another worker just now
    mail_subscriptions = db.session.scalars(select(Subscription).where(
        Subscription.org_id == incident.owner_org_id, Subscription.channel == "email",
        Subscription.target.is_not(None))).all()
    rows, seen = [], set()
    for subscription in mail_subscriptions:
        key = recipient_key("email", subscription.target)
        if key not in seen:
            seen.add(key)
            rows.append({"public_id": str(uuid.uuid4()), "subscription_id": subscription.id,
                         "recipient_key": key})
    ids: list[int] = []
    if rows:
        insert_rows(Delivery, rows, {"outbox_id": entry.id, "item_id": incident.item_id, "event": entry.event,
                                     "channel": "email", "status": "pending", "attempts": 0, "created": now,
                                     "next_attempt_at": now})
        ids = list(db.session.scalars(select(Delivery.id).where(Delivery.outbox_id == entry.id)))
    db.session.commit()
    return ids
