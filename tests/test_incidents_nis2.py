"""NIS2 clock arithmetic across time zones and daylight-saving changes (store UTC, show local)."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from hub.accounts.services import default_timezone
from hub.incidents.nis2 import (
    Stage,
    add_months_local,
    clock_status,
    deadlines,
    format_local,
    local_time,
    reminder_points,
)

PRAGUE, SAO_PAULO = "Europe/Prague", "America/Sao_Paulo"
UTC = timezone.utc
DST_ZONES = [PRAGUE, SAO_PAULO, "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]
ZONES = [*DST_ZONES, "UTC", "Asia/Kolkata"]


def wall(instant: datetime, tz: str) -> datetime:
    # Through UTC: astimezone() into the instant's own zone would keep a nonexistent wall time.
    return instant.astimezone(UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def states(due, submitted, now, **kwargs) -> dict[Stage, str]:
    return {status.stage: status.state for status in clock_status(due, submitted, now, **kwargs)}


# --- the 24 h and 72 h clocks: elapsed hours -------------------------------------------------

def test_the_24_and_72_hour_clocks_count_elapsed_hours_across_spring_forward():
    aware = datetime(2026, 3, 28, 10, 0, tzinfo=ZoneInfo(PRAGUE))  # CET; CEST from 29 March 02:00
    due = deadlines(aware, PRAGUE)
    assert due[Stage.early_warning] == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)
    # 24 elapsed hours end at 11:00 local, not at 10:00: the wall clock skipped an hour.
    assert format_local(due[Stage.early_warning], PRAGUE) == "2026-03-29 11:00 CEST (UTC+02:00)"
    assert due[Stage.notification] == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    assert format_local(due[Stage.notification], PRAGUE) == "2026-03-31 11:00 CEST (UTC+02:00)"


def test_across_fall_back_the_local_deadline_is_an_hour_earlier():
    aware = datetime(2026, 10, 24, 12, 0, tzinfo=ZoneInfo(PRAGUE))  # CEST; CET from 25 October 03:00
    due = deadlines(aware, PRAGUE)
    assert due[Stage.early_warning] == datetime(2026, 10, 25, 10, 0, tzinfo=UTC)
    assert format_local(due[Stage.early_warning], PRAGUE) == "2026-10-25 11:00 CET (UTC+01:00)"
    assert wall(due[Stage.early_warning], PRAGUE) == datetime(2026, 10, 25, 11, 0)
    assert due[Stage.notification] == datetime(2026, 10, 27, 10, 0, tzinfo=UTC)
    assert format_local(due[Stage.notification], PRAGUE) == "2026-10-27 11:00 CET (UTC+01:00)"


def test_awareness_given_in_any_offset_means_the_same_instant():
    in_prague = deadlines(datetime(2026, 6, 1, 14, 0, tzinfo=ZoneInfo(PRAGUE)), PRAGUE)
    in_utc = deadlines(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), PRAGUE)
    assert in_prague == in_utc
    assert all(due_at.utcoffset() == timedelta(0) for due_at in in_prague.values())


def test_brazil_keeps_its_offset_all_year():
    aware = datetime(2026, 11, 1, 23, 0, tzinfo=ZoneInfo(SAO_PAULO))  # UTC-3, no DST since 2019
    due = deadlines(aware, SAO_PAULO)
    assert due[Stage.early_warning] == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert format_local(due[Stage.early_warning], SAO_PAULO) == "2026-11-02 23:00 -03 (UTC-03:00)"
    assert due[Stage.final] == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 4 December 23:00 local


# --- the monthly clock: calendar months in the organisation's zone ---------------------------

def test_the_final_report_is_due_a_calendar_month_after_the_notification_at_the_same_local_time():
    aware = datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo(PRAGUE))
    notified = datetime(2026, 3, 3, 15, 30, tzinfo=ZoneInfo(PRAGUE))  # CET (UTC+1)
    due = deadlines(aware, PRAGUE, notification_submitted_at=notified)
    # 3 April 15:30 is CEST (UTC+2): 13:30 UTC, not 14:30.
    assert due[Stage.final] == datetime(2026, 4, 3, 13, 30, tzinfo=UTC)


def test_before_the_notification_the_final_report_counts_from_the_notification_deadline():
    aware = datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo(PRAGUE))  # 08:00 UTC
    due = deadlines(aware, PRAGUE)
    assert due[Stage.notification] == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert due[Stage.final] == datetime(2026, 4, 4, 7, 0, tzinfo=UTC)  # 09:00 CEST
    early = deadlines(aware, PRAGUE, notification_submitted_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    assert early[Stage.final] == datetime(2026, 4, 2, 7, 0, tzinfo=UTC)
    assert early[Stage.notification] == due[Stage.notification], "submitting does not move its own deadline"


@pytest.mark.parametrize("start, expected", [
    (datetime(2026, 1, 31, 12, 0), datetime(2026, 2, 28, 12, 0)),
    (datetime(2028, 1, 31, 12, 0), datetime(2028, 2, 29, 12, 0)),
    (datetime(2026, 8, 31, 8, 0), datetime(2026, 9, 30, 8, 0)),
    (datetime(2026, 12, 31, 23, 59), datetime(2027, 1, 31, 23, 59)),
])
def test_month_ends_clamp(start, expected):
    zone = ZoneInfo(PRAGUE)
    result = add_months_local(start.replace(tzinfo=zone), 1, PRAGUE)
    assert wall(result, PRAGUE) == expected


def test_a_final_report_after_a_notification_on_january_31_is_due_on_the_last_day_of_february():
    aware = datetime(2028, 1, 29, 8, 0, tzinfo=UTC)
    notified = datetime(2028, 1, 31, 17, 0, tzinfo=ZoneInfo(PRAGUE))
    due = deadlines(aware, PRAGUE, notification_submitted_at=notified)
    assert due[Stage.final] == datetime(2028, 2, 29, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("start, tz, expected, shown", [
    # 28 February 2027 02:30 CET; 28 March 2027 02:00-03:00 does not exist in Prague.
    (datetime(2027, 2, 28, 1, 30, tzinfo=UTC), PRAGUE,
     datetime(2027, 3, 28, 1, 0, tzinfo=UTC), "2027-03-28 03:00 CEST (UTC+02:00)"),
    # Sao Paulo's last summer time began at midnight on 4 November 2018.
    (datetime(2018, 10, 4, 3, 30, tzinfo=UTC), SAO_PAULO,
     datetime(2018, 11, 4, 3, 0, tzinfo=UTC), "2018-11-04 01:00 -02 (UTC-02:00)"),
    # Lord Howe Island moves its clocks by half an hour (02:00 -> 02:30 on 4 October 2026).
    (datetime(2026, 9, 3, 15, 45, tzinfo=UTC), "Australia/Lord_Howe",
     datetime(2026, 10, 3, 15, 30, tzinfo=UTC), "2026-10-04 02:30 +11 (UTC+11:00)"),
])
def test_a_monthly_deadline_in_the_spring_forward_gap_moves_to_the_end_of_the_gap(start, tz, expected, shown):
    result = add_months_local(start, 1, tz)
    assert result == expected
    assert format_local(result, tz) == shown


def test_an_ambiguous_monthly_deadline_takes_the_earlier_instant():
    start = datetime(2026, 9, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    result = add_months_local(start, 1, PRAGUE)
    assert result == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30 (CEST), not 01:30 UTC (CET)
    assert format_local(result, PRAGUE) == "2026-10-25 02:30 CEST (UTC+02:00)"


def test_ongoing_incidents_get_a_progress_report_then_a_final_one_after_handling():
    aware = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    notified = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    still_open = deadlines(aware, PRAGUE, notification_submitted_at=notified, ongoing_at_final=True)
    assert still_open[Stage.progress] == datetime(2026, 6, 6, 8, 0, tzinfo=UTC)
    assert Stage.final not in still_open, "no final deadline until the incident is handled"

    handled = datetime(2026, 7, 10, 8, 0, tzinfo=UTC)
    due = deadlines(aware, PRAGUE, notification_submitted_at=notified, ongoing_at_final=True, handled_at=handled)
    assert due[Stage.progress] == datetime(2026, 6, 6, 8, 0, tzinfo=UTC)
    assert due[Stage.final] == datetime(2026, 8, 10, 8, 0, tzinfo=UTC)
    # A handled date alone (not ongoing at the month) changes nothing.
    assert deadlines(aware, PRAGUE, notification_submitted_at=notified, handled_at=handled)[Stage.final] == \
        datetime(2026, 6, 6, 8, 0, tzinfo=UTC)


def test_an_intermediate_report_is_due_only_when_the_csirt_asks():
    aware = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    assert Stage.intermediate not in deadlines(aware, PRAGUE)
    asked = datetime(2026, 5, 20, 12, 0, tzinfo=ZoneInfo(PRAGUE))
    assert deadlines(aware, PRAGUE, intermediate_due_at=asked)[Stage.intermediate] == \
        datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


# --- status ---------------------------------------------------------------------------------

def test_states_follow_the_clock():
    aware = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    due = deadlines(aware, PRAGUE)
    assert states(due, {}, aware + timedelta(hours=1)) == {
        Stage.early_warning: "due", Stage.notification: "due", Stage.final: "due"}
    assert states(due, {}, aware + timedelta(hours=20)) == {
        Stage.early_warning: "due_soon", Stage.notification: "due", Stage.final: "due"}
    assert states(due, {}, aware + timedelta(hours=24))[Stage.early_warning] == "due_soon", "due at the deadline itself"
    assert states(due, {}, aware + timedelta(hours=24, seconds=1))[Stage.early_warning] == "overdue"

    late = states(due, {Stage.early_warning: aware + timedelta(hours=30)}, aware + timedelta(hours=80))
    assert late == {Stage.early_warning: "submitted_late", Stage.notification: "overdue", Stage.final: "due"}
    on_time = states(due, {Stage.early_warning: aware + timedelta(hours=24)}, aware + timedelta(hours=80))
    assert on_time[Stage.early_warning] == "submitted"


def test_the_warning_window_is_configurable():
    aware = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    due = deadlines(aware, PRAGUE)
    now = aware + timedelta(hours=12)
    assert states(due, {}, now)[Stage.early_warning] == "due"
    assert states(due, {}, now, warning=timedelta(hours=12))[Stage.early_warning] == "due_soon"


def test_statuses_come_earliest_deadline_first_with_their_instants():
    aware = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    submitted_at = aware + timedelta(hours=3)
    due = deadlines(aware, PRAGUE, intermediate_due_at=aware + timedelta(hours=48))
    statuses = clock_status(due, {Stage.early_warning: submitted_at}, aware)
    assert [s.stage for s in statuses] == [Stage.early_warning, Stage.intermediate, Stage.notification, Stage.final]
    assert statuses[0].due_at == aware + timedelta(hours=24) and statuses[0].submitted_at == submitted_at
    assert statuses[1].submitted_at is None


# --- reminders and display ------------------------------------------------------------------

def test_reminders_come_before_each_deadline():
    due = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    hourly = [datetime(2026, 6, 2, 0, 0, tzinfo=UTC), datetime(2026, 6, 2, 10, 0, tzinfo=UTC)]  # 12 h, 2 h
    monthly = [datetime(2026, 5, 26, 12, 0, tzinfo=UTC), datetime(2026, 6, 1, 12, 0, tzinfo=UTC)]  # 7 d, 1 d
    for stage in (Stage.early_warning, Stage.notification):
        assert reminder_points(stage, due) == hourly
    for stage in (Stage.intermediate, Stage.progress, Stage.final):
        assert reminder_points(stage, due) == monthly


def test_instants_are_shown_on_the_local_clock():
    instant = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_time(instant, PRAGUE) == datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo(PRAGUE))
    assert local_time(instant, PRAGUE).tzname() == "CEST"
    assert format_local(instant, PRAGUE) == "2026-03-29 03:30 CEST (UTC+02:00)"
    assert format_local(instant - timedelta(hours=1), PRAGUE) == "2026-03-29 01:30 CET (UTC+01:00)"
    assert format_local(instant, "Asia/Kolkata") == "2026-03-29 07:00 IST (UTC+05:30)"
    assert format_local(instant, "UTC") == "2026-03-29 01:30 UTC (UTC+00:00)"


def test_organisations_get_their_countrys_zone():
    assert default_timezone("CZ") == PRAGUE
    assert default_timezone("br") == SAO_PAULO
    assert default_timezone("XX") == "UTC"


# --- refusals -------------------------------------------------------------------------------

NAIVE = datetime(2026, 6, 1, 12, 0)
AWARE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("call", [
    lambda: deadlines(NAIVE, PRAGUE),
    lambda: deadlines(AWARE, PRAGUE, notification_submitted_at=NAIVE),
    lambda: deadlines(AWARE, PRAGUE, ongoing_at_final=True, handled_at=NAIVE),
    lambda: add_months_local(NAIVE, 1, PRAGUE),
    lambda: clock_status(deadlines(AWARE, PRAGUE), {}, NAIVE),
    lambda: clock_status(deadlines(AWARE, PRAGUE), {Stage.early_warning: NAIVE}, AWARE),
    lambda: local_time(NAIVE, PRAGUE),
    lambda: format_local(NAIVE, PRAGUE),
], ids=["aware_at", "notification", "handled", "months", "now", "submission", "local_time", "format_local"])
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="time zone"):
        call()


@pytest.mark.parametrize("tz", ["Europe/Atlantis", "", "../etc/passwd"])
def test_unknown_zones_are_refused(tz):
    with pytest.raises(ValueError, match="time zone"):
        deadlines(AWARE, tz)


# --- properties -----------------------------------------------------------------------------

def one_month_later(day: datetime) -> tuple[int, int, int]:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return year, month, min(day.day, calendar.monthrange(year, month)[1])


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)),
    tz=st.sampled_from(ZONES),
)
def test_properties_hold_for_any_instant_and_zone(instant, tz):
    due = deadlines(instant, tz)
    assert due[Stage.early_warning] - instant == timedelta(hours=24)
    assert due[Stage.notification] - instant == timedelta(hours=72)
    start = local_time(due[Stage.notification], tz)
    final = local_time(due[Stage.final], tz)
    assert (final.year, final.month, final.day) == one_month_later(start)


@cache
def transitions(tz: str, year: int) -> list[datetime]:
    """UTC instants (to the minute) at which the zone's offset changes during the year."""
    zone, found = ZoneInfo(tz), []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        if day.astimezone(zone).utcoffset() != (day + timedelta(days=1)).astimezone(zone).utcoffset():
            low, high = day, day + timedelta(days=1)
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        day += timedelta(days=1)
    return found


@settings(max_examples=300, deadline=None)
@given(data=st.data(), tz=st.sampled_from(DST_ZONES), year=st.integers(2000, 2037),
       minutes=st.integers(-150, 150), seconds=st.integers(0, 59))
def test_monthly_deadlines_near_clock_changes_are_when_the_local_clock_first_reads_the_time(
        data, tz, year, minutes, seconds):
    changes = transitions(tz, year)
    assume(changes)
    change = data.draw(st.sampled_from(changes))
    zone = ZoneInfo(tz)
    target = wall(change, tz) + timedelta(minutes=minutes, seconds=seconds)
    start = (target - relativedelta(months=1)).replace(tzinfo=zone)

    result = add_months_local(start, 1, tz)

    expected = wall(start, tz) + relativedelta(months=1)
    exists = wall(expected.replace(tzinfo=zone, fold=0), tz) == expected
    ambiguous = expected.replace(tzinfo=zone, fold=0).utcoffset() != expected.replace(tzinfo=zone, fold=1).utcoffset()
    event("gap" if not exists else "fold" if ambiguous else "unique")
    if exists:
        assert wall(result, tz) == expected
        # Comparisons within one zone ignore fold: compare in UTC.
        readings = [expected.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
        assert result == min(at for at in readings if wall(at, tz) == expected)
    else:
        assert wall(result, tz) > expected
    assert wall(result - timedelta(microseconds=1), tz) < expected, "no earlier instant reads the time"
