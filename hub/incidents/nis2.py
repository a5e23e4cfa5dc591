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
Instants are stored and compared in UTC and shown in the organisation's local time. Naive
datetimes are refused (ValueError): guessing their zone would move a legal deadline silently.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

EARLY_WARNING_AFTER = timedelta(hours=24)
NOTIFICATION_AFTER = timedelta(hours=72)
DUE_SOON = timedelta(hours=6)
# Hour-counted clocks leave a working half-day and a last call; monthly ones a working week and a day.
HOURLY_REMINDERS = (timedelta(hours=12), timedelta(hours=2))
MONTHLY_REMINDERS = (timedelta(days=7), timedelta(days=1))


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


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    # Through UTC: astimezone() into the instant's own zone would keep a nonexistent wall time.
    return instant.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)


def _instant_of_wall_time(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local clock reads `wall`.

    Ambiguous (fall-back) wall times take the earlier instant (fold=0). A wall time that does not
    exist (spring-forward gap) moves forward to the first valid instant, the end of the gap: the
    moment the local clock first reads `wall` or later (02:30 on a 02:00->03:00 night is 03:00).
    """
    earlier = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if _wall(earlier, zone) == wall:
        return earlier
    # In a gap fold=1 uses the offset after it and fold=0 the one before, so the transition lies
    # between the two readings; transitions fall on whole seconds, so bisect seconds.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc).replace(microsecond=0)
    steps_low, steps_high = 0, int((earlier - low).total_seconds()) + 1
    while steps_high - steps_low > 1:
        middle = (steps_low + steps_high) // 2
        if _wall(low + timedelta(seconds=middle), zone) > wall:
            steps_high = middle
        else:
            steps_low = middle
    return low + timedelta(seconds=steps_high)


def add_months_local(instant: datetime, months: int, tz: str) -> datetime:
    """`months` calendar months later at the same local wall-clock time, in UTC.

    The local day clamps to the month's end (Jan 31 + 1 month = Feb 28/29). A wall time that
    does not exist that day (spring-forward gap) moves forward to the end of the gap; an
    ambiguous one (fall-back) takes the earlier instant.
    """
    _require_aware(instant, "instant")
    zone = _zone(tz)
    return _instant_of_wall_time(_wall(instant, zone) + relativedelta(months=months), zone)


def deadlines(
    aware_at: datetime,
    tz: str,
    *,
    notification_submitted_at: datetime | None = None,
    ongoing_at_final: bool = False,
    handled_at: datetime | None = None,
    intermediate_due_at: datetime | None = None,
) -> dict[Stage, datetime]:
    """Every deadline that applies, in UTC.

    `tz` is the organisation's IANA zone (for the monthly clocks). With `ongoing_at_final` the
    month after the notification is the progress report's deadline and the final report is due a
    month after `handled_at` (absent until the incident is handled). `intermediate_due_at` is
    the date a CSIRT set when it requested an intermediate report.
    """
    _require_aware(aware_at, "aware_at")
    for name, value in (("notification_submitted_at", notification_submitted_at), ("handled_at", handled_at),
                        ("intermediate_due_at", intermediate_due_at)):
        if value is not None:
            _require_aware(value, name)
    aware = aware_at.astimezone(timezone.utc)
    due = {
        Stage.early_warning: aware + EARLY_WARNING_AFTER,
        Stage.notification: aware + NOTIFICATION_AFTER,
    }
    notified = notification_submitted_at or due[Stage.notification]
    final: datetime | None = add_months_local(notified, 1, tz)
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
    """The state of each deadline at `now`, earliest deadline first.

    A report submitted by its deadline (inclusive) is "submitted", after it "submitted_late";
    an open one is "due_soon" within `warning` of the deadline (inclusive) and "overdue" after it.
    """
    _require_aware(now, "now")
    statuses = []
    for stage, due_at in sorted(due.items(), key=lambda pair: pair[1]):
        at = submitted.get(stage)
        if at is not None:
            _require_aware(at, f"submission of {stage.value}")
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
    """When to remind before a deadline, earliest first: 12 h and 2 h before the hour-counted
    clocks (early warning, notification), 7 days and 1 day before the others (monthly reports and
    a CSIRT's intermediate request, which is set in days)."""
    before = HOURLY_REMINDERS if stage in (Stage.early_warning, Stage.notification) else MONTHLY_REMINDERS
    return [due_at - delta for delta in before]


def local_time(instant: datetime, tz: str) -> datetime:
    """The instant on the organisation's local clock."""
    _require_aware(instant, "instant")
    return instant.astimezone(timezone.utc).astimezone(_zone(tz))


def format_local(instant: datetime, tz: str) -> str:
    """E.g. "2026-03-29 11:00 CEST (UTC+02:00)"."""
    local = local_time(instant, tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} (UTC{offset[:3]}:{offset[3:5]})"
