"""NIS2 clock arithmetic across time zones and daylight-saving changes (store UTC, show local)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.accounts.services import default_timezone
from hub.incidents.nis2 import (
    Stage,
    add_months_local,
    clock_status,
    deadlines,
    format_local,
    reminder_points,
)

PRAGUE, SAO_PAULO = "Europe/Prague", "America/Sao_Paulo"
UTC = timezone.utc


def test_the_24_and_72_hour_clocks_count_elapsed_hours_across_spring_forward():
    aware = datetime(2026, 3, 28, 10, 0, tzinfo=ZoneInfo(PRAGUE))  # CET; CEST from 29 March 02:00
    due = deadlines(aware, PRAGUE)
    assert due[Stage.early_warning] == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)
    assert format_local(due[Stage.early_warning], PRAGUE) == "2026-03-29 11:00 CEST (UTC+02:00)"
    assert due[Stage.notification] == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)


def test_across_fall_back_the_local_deadline_is_an_hour_earlier():
    aware = datetime(2026, 10, 24, 12, 0, tzinfo=ZoneInfo(PRAGUE))  # CEST; CET from 25 October 03:00
    due = deadlines(aware, PRAGUE)
    assert due[Stage.early_warning] == datetime(2026, 10, 25, 10, 0, tzinfo=UTC)
    assert format_local(due[Stage.early_warning], PRAGUE) == "2026-10-25 11:00 CET (UTC+01:00)"


def test_the_final_report_is_due_a_calendar_month_after_the_notification_at_the_same_local_time():
    aware = datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo(PRAGUE))
    notified = datetime(2026, 3, 3, 15, 30, tzinfo=ZoneInfo(PRAGUE))  # CET (UTC+1)
    due = deadlines(aware, PRAGUE, notification_submitted_at=notified)
    # 3 April 15:30 is CEST (UTC+2): 13:30 UTC, not 14:30.
    assert due[Stage.final] == datetime(2026, 4, 3, 13, 30, tzinfo=UTC)
    before = deadlines(aware, PRAGUE)
    assert before[Stage.final] == add_months_local(before[Stage.notification], 1, PRAGUE)


@pytest.mark.parametrize("start, expected", [
    (datetime(2026, 1, 31, 12, 0), datetime(2026, 2, 28, 12, 0)),
    (datetime(2028, 1, 31, 12, 0), datetime(2028, 2, 29, 12, 0)),
    (datetime(2026, 8, 31, 8, 0), datetime(2026, 9, 30, 8, 0)),
])
def test_month_ends_clamp(start, expected):
    zone = ZoneInfo(PRAGUE)
    result = add_months_local(start.replace(tzinfo=zone), 1, PRAGUE)
    assert result.astimezone(zone).replace(tzinfo=None) == expected


def test_a_monthly_deadline_in_the_spring_forward_gap_moves_forward_by_the_gap():
    # 28 February 2027 02:30 CET; 28 March 2027 02:30 does not exist in Prague.
    result = add_months_local(datetime(2027, 2, 28, 1, 30, tzinfo=UTC), 1, PRAGUE)
    assert result == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert format_local(result, PRAGUE) == "2027-03-28 03:30 CEST (UTC+02:00)"


def test_an_ambiguous_monthly_deadline_takes_the_earlier_instant():
    result = add_months_local(datetime(2026, 9, 25, 0, 30, tzinfo=UTC), 1, PRAGUE)  # 02:30 CEST
    assert result == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first 02:30


def test_brazil_keeps_its_offset_all_year():
    aware = datetime(2026, 11, 1, 23, 0, tzinfo=ZoneInfo(SAO_PAULO))
    due = deadlines(aware, SAO_PAULO)
    assert due[Stage.early_warning] == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert format_local(due[Stage.early_warning], SAO_PAULO).startswith("2026-11-02 23:00")


def test_ongoing_incidents_get_a_progress_report_then_a_final_one_after_handling():
    aware = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    notified = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    handled = datetime(2026, 7, 10, 8, 0, tzinfo=UTC)
    due = deadlines(aware, PRAGUE, notification_submitted_at=notified, ongoing_at_final=True, handled_at=handled)
    assert due[Stage.progress] == datetime(2026, 6, 6, 8, 0, tzinfo=UTC)
    assert due[Stage.final] == datetime(2026, 8, 10, 8, 0, tzinfo=UTC)


def test_states_follow_the_clock():
    aware = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    due = deadlines(aware, PRAGUE)
    statuses = {s.stage: s.state for s in clock_status(due, {}, aware + timedelta(hours=20))}
    assert statuses == {Stage.early_warning: "due_soon", Stage.notification: "due", Stage.final: "due"}
    late = {s.stage: s.state for s in clock_status(
        due, {Stage.early_warning: aware + timedelta(hours=30)}, aware + timedelta(hours=80))}
    assert late[Stage.early_warning] == "submitted_late" and late[Stage.notification] == "overdue"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        deadlines(datetime(2026, 6, 1, 12, 0), PRAGUE)


def test_reminders_come_before_each_deadline():
    due = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    assert reminder_points(Stage.early_warning, due) == [due - timedelta(hours=12), due - timedelta(hours=2)]
    assert reminder_points(Stage.final, due) == [due - timedelta(days=7), due - timedelta(days=1)]


def test_organisations_get_their_countrys_zone():
    assert default_timezone("CZ") == PRAGUE
    assert default_timezone("br") == SAO_PAULO
    assert default_timezone("XX") == "UTC"


@settings(max_examples=200, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)),
    tz=st.sampled_from([PRAGUE, SAO_PAULO, "America/New_York", "Australia/Sydney", "UTC", "Asia/Kolkata"]),
)
def test_properties_hold_for_any_instant_and_zone(instant, tz):
    due = deadlines(instant, tz)
    assert due[Stage.early_warning] - instant == timedelta(hours=24)
    assert due[Stage.notification] - instant == timedelta(hours=72)
    start = due[Stage.notification].astimezone(ZoneInfo(tz))
    final = due[Stage.final].astimezone(ZoneInfo(tz))
    months = (final.year - start.year) * 12 + final.month - start.month
    assert months == 1
    assert final.day == start.day or (final.day < start.day and (final + timedelta(days=1)).month != final.month)
