"""What an organisation's incidents ask of its people today: the home page's incident part.

Only the organisation's own incidents (rule 5: it reads them whole), so nothing here is a read of
another organisation's report, and the home page does not flood the owners' audit logs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


from hub import policy
from hub.db import utcnow
from hub.extensions import db
from hub.incidents.clocks import nis2_clocks
from hub.incidents.models import Incident, IncidentAdvice
from hub.incidents.reading import readable_incidents
from hub.principal import Principal

OPEN_STATES = ("overdue", "due_soon", "due")
RECENT_ADVICE = timedelta(days=14)


@dataclass(frozen=True)
class OpenClock:
    incident: Incident
    stage: str
    due_at: datetime
    state: str  # overdue | due_soon | due


def open_clocks(principal: Principal, now: datetime | None = None) -> list[OpenClock]:
    """NIS2 reports the organisation still owes on its significant incidents, most urgent first
    (an intermediate report the CERT requested included)."""
    now = now or utcnow()
    incidents = db.session.scalars(
        readable_incidents(principal).where(policy.owned_by_org_of(principal, Incident.owner_org_id),
                                            Incident.significant)
    ).all()
    found = [
        OpenClock(incident, clock["stage"], datetime.fromisoformat(clock["due_at"]), clock["state"])
        for incident in incidents for clock in nis2_clocks(incident, now) if clock["state"] in OPEN_STATES
    ]
    return sorted(found, key=lambda clock: clock.due_at)


def recent_advice(principal: Principal, now: datetime | None = None) -> list[tuple[Incident, IncidentAdvice]]:
    """Advice national CERTs gave on the organisation's own incidents in the last two weeks."""
    since = (now or utcnow()) - RECENT_ADVICE
    rows = db.session.execute(
        readable_incidents(principal)
        .where(policy.owned_by_org_of(principal, Incident.owner_org_id))
        .join(IncidentAdvice, IncidentAdvice.incident_id == Incident.id)
        .where(IncidentAdvice.created >= since)
        .add_columns(IncidentAdvice)
        .order_by(IncidentAdvice.created.desc())
        .limit(20)
    ).all()
    return [(incident, advice) for incident, advice in rows]


@dataclass(frozen=True)
class QueueCounts:
    overdue: int
    due_soon: int
    incidents: int


def cert_queue_counts(principal: Principal, now: datetime | None = None) -> QueueCounts | None:
    """A national CERT's NIS2 queue in figures (no titles: the home page reads no report)."""
    if not policy.is_national_cert(principal):
        return None
    now = now or utcnow()
    incidents = db.session.scalars(readable_incidents(principal).where(policy.nis2_queue_incidents(principal))).all()
    states = [clock["state"] for incident in incidents for clock in nis2_clocks(incident, now)]
    return QueueCounts(overdue=states.count("overdue"), due_soon=states.count("due_soon"), incidents=len(incidents))


__all__ = ["OpenClock", "QueueCounts", "cert_queue_counts", "open_clocks", "recent_advice"]
