"""NIS2 Art. 23 reporting clocks for a significant incident: pure arithmetic, no database.

- early warning: 24 hours after becoming aware (elapsed time: a DST change in between moves the
  local wall-clock deadline, not the 24 hours);
- incident notification: 72 hours after becoming aware (elapsed);
- final report: one calendar month after the notification was submitted (before that, one month
  after the notification deadline), counted in the organisation's own time zone so the local
  wall-clock time is kept across DST; the 31st clamps to the month's last day. When the hospital
  says the incident is still ongoing then, a progress report is due at that time and the final
  report one month after it was handled;
- intermediate report: only when the CSIRT requests one, by the date it sets.
Instants are stored and compared in UTC and shown in the organisation's local time.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

EARLY_WARNING_AFTER = timedelta(hours=24)
NOTIFICATION_AFTER = timedelta(hours=72)
DUE_SOON = timedelta(hours=6)


class Stage(str, enum.Enum):
    early_warning = "early_warning"
    notification = "notification"
    intermediate = "intermediate"
    progress = "progress"
    final = "final"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize() + (" report" if self in (
            Stage.intermediate, Stage.progress, Stage.final) else "")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone")


def add_months_local(instant: datetime, months: int, tz: str) -> datetime:
    """`months` calendar months later at the same local wall-clock time, in UTC.

    The local day clamps to the month's end (Jan 31 + 1 month = Feb 28/29). A wall time that
    does not exist that day (spring-forward gap) moves forward by the gap; an ambiguous one
    (fall-back) takes the earlier instant.
    """
    _require_aware(instant, "instant")
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    target = (local.replace(tzinfo=None) + relativedelta(months=months)).replace(tzinfo=zone, fold=0)
    # zoneinfo maps a nonexistent wall time with the offset from before the gap: going
    # through UTC and back exposes it, and the gap's width is added.
    round_trip = target.astimezone(timezone.utc).astimezone(zone)
    if round_trip.replace(tzinfo=None) != target.replace(tzinfo=None):
        return round_trip.astimezone(timezone.utc)
    return target.astimezone(timezone.utc)


def deadlines(
    aware_at: datetime,
    tz: str,
    *,
    notification_submitted_at: datetime | None = None,
    ongoing_at_final: bool = False,
    handled_at: datetime | None = None,
    intermediate_due_at: datetime | None = None,
) -> dict[Stage, datetime]:
    """Every deadline that applies, in UTC."""
    _require_aware(aware_at, "aware_at")
    aware = aware_at.astimezone(timezone.utc)
    due = {
        Stage.early_warning: aware + EARLY_WARNING_AFTER,
        Stage.notification: aware + NOTIFICATION_AFTER,
    }
    notified = notification_submitted_at or due[Stage.notification]
    final = add_months_local(notified, 1, tz)
    if ongoing_at_final:
        due[Stage.progress] = final
        final = add_months_local(handled_at, 1, tz) if handled_at else None
    if final is not None:
        due[Stage.final] = final
    if intermediate_due_at is not None:
        due[Stage.intermediate] = intermediate_due_at.astimezone(timezone.utc)
    return due


@dataclass(frozen=True)
class ClockStatus:
    stage: Stage
    due_at: datetime
    submitted_at: datetime | None
    state: str  # submitted | submitted_late | due | due_soon | overdue


def clock_status(
    due: dict[Stage, datetime],
    submitted: dict[Stage, datetime],
    now: datetime,
    warning: timedelta = DUE_SOON,
) -> list[ClockStatus]:
    _require_aware(now, "now")
    statuses = []
    for stage, due_at in sorted(due.items(), key=lambda pair: pair[1]):
        at = submitted.get(stage)
        if at is not None:
            state = "submitted" if at <= due_at else "submitted_late"
        elif now > due_at:
            state = "overdue"
        elif due_at - now <= warning:
            state = "due_soon"
        else:
            state = "due"
        statuses.append(ClockStatus(stage, due_at, at, state))
    return statuses


def reminder_points(stage: Stage, due_at: datetime) -> list[datetime]:
    """When to remind before a deadline: 12 h and 2 h before the hour-counted ones, 7 days and
    1 day before the monthly ones."""
    if stage in (Stage.early_warning, Stage.notification):
        before = (timedelta(hours=12), timedelta(hours=2))
    else:
        before = (timedelta(days=7), timedelta(days=1))
    return [due_at - delta for delta in before]


def local_time(instant: datetime, tz: str) -> datetime:
    _require_aware(instant, "instant")
    return instant.astimezone(ZoneInfo(tz))


def format_local(instant: datetime, tz: str) -> str:
    """E.g. "2026-03-29 10:00 CEST (UTC+02:00)"."""
    local = local_time(instant, tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"
