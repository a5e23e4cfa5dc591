"""Instants in incident reports and the NIS2 clocks a significant incident starts.

The lowest layer of the incident services: reading, filing, reporting, cases and reminders all
use it, and it imports none of them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub import bounds
from hub.accounts.models import Organisation
from hub.db import as_utc, utcnow  # noqa: F401  (the incident services take the clock from here)
from hub.extensions import db
from hub.incidents import nis2
from hub.incidents.models import Incident, NisSubmission
from hub.principal import Principal


def parse_instant(value, field: str, problems: list, required: bool = False, tz: str = "UTC") -> str | None:
    """An ISO 8601 date-time, as UTC. Without an offset it is the organisation's local time
    (`tz`), as a person filling in a report means it."""
    if value in (None, ""):
        if required:
            problems.append({"field": field, "error": "required: when the hospital became aware"})
        return None
    try:
        parsed = bounds.parse_instant(value, default_zone=ZoneInfo(tz))
    except bounds.OutOfBounds as exc:
        problems.append({"field": field, "value": value, "error": str(exc)})
        return None
    except ValueError:
        problems.append({"field": field, "value": value, "error": "an ISO 8601 date-time, e.g. 2026-03-28T06:45:00+01:00"})
        return None
    return parsed.astimezone(timezone.utc).isoformat()


def org_timezone(principal: Principal) -> str:
    """The time zone of the principal's organisation, in which its people write times."""
    return db.session.get(Organisation, principal.org_id).timezone


def first_submissions(incident: Incident) -> dict:
    """When each NIS2 stage was first submitted, by stage."""
    first: dict = {}
    for submission in db.session.scalars(
        select(NisSubmission).where(NisSubmission.incident_id == incident.id).order_by(NisSubmission.submitted_at)
    ):
        first.setdefault(nis2.Stage(submission.stage), as_utc(submission.submitted_at))
    return first


def nis2_clocks(incident: Incident, now: datetime | None = None) -> list[dict]:
    """The incident's NIS2 deadlines with their state, as JSON (none unless significant)."""
    if not incident.significant or incident.aware_at is None:
        return []
    tz = incident.owner.timezone
    submitted = first_submissions(incident)
    due = nis2.deadlines(
        as_utc(incident.aware_at),
        tz,
        notification_submitted_at=submitted.get(nis2.Stage.notification),
        intermediate_due_at=as_utc(incident.intermediate_due_at),
    )
    return [
        {"stage": status.stage.value, "due_at": status.due_at.isoformat(),
         "due_local": nis2.format_local(status.due_at, tz), "state": status.state,
         "submitted_at": status.submitted_at.isoformat() if status.submitted_at else None}
        for status in nis2.clock_status(due, submitted, now or utcnow())
    ]
