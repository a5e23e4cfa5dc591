"""NIS2 deadline reminders through the alert system: in-app for the hospital, e-mail by SMTP."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hub.alerts import delivery as deliveries
from hub.alerts.models import Notification
from hub.extensions import db
from hub.incidents.reminders import send_nis2_reminders
from tests.alerts_support import subscribe
from tests.incidents_support import build_world, report

AWARE = datetime(2026, 3, 28, 5, 45, tzinfo=timezone.utc)  # the report's detected_at


@pytest.fixture
def world():
    return build_world()


def notified() -> list[tuple[int, str]]:
    return sorted((n.user_id, n.event) for n in db.session.scalars(select(Notification)))


def test_the_hospital_is_reminded_before_each_deadline_once(api, world):
    api(world.hospital_analyst).post("/incidents", json=report(significant=True))

    assert send_nis2_reminders(AWARE + timedelta(hours=11)) == [] and notified() == []
    send_nis2_reminders(AWARE + timedelta(hours=13))  # 12 h before the early warning is due
    team = sorted([world.hospital_admin.id, world.hospital_analyst.id])
    assert notified() == [(user_id, "nis2_early_warning") for user_id in team]
    send_nis2_reminders(AWARE + timedelta(hours=13, minutes=5))
    assert len(notified()) == 2, "a reminder is sent once"

    # Down for two days: one reminder per open deadline, the latest, not a burst of stale ones.
    send_nis2_reminders(AWARE + timedelta(hours=71))
    events = [event for _user, event in notified()]
    assert events.count("nis2_early_warning") == 4 and events.count("nis2_notification") == 2


def test_submitted_reports_are_not_reminded(api, world):
    incident_id = api(world.hospital_analyst).post("/incidents", json=report(significant=True)).json["id"]
    api(world.hospital_analyst).post(f"/incidents/{incident_id}/nis2/early_warning")
    send_nis2_reminders(AWARE + timedelta(hours=23))
    assert [event for _user, event in notified()] == []


def test_reminders_reach_the_hospitals_email_subscriptions(api, world, smtp):
    subscribe(world.hospital_analyst, channel="email", target="soc@fn.example", filters={"types": ["indicator"]})
    subscribe(world.cert, channel="email", target="duty@cert.example")
    api(world.hospital_analyst).post("/incidents", json=report(significant=True))

    delivery_ids = send_nis2_reminders(AWARE + timedelta(hours=22, minutes=30))
    deliveries.deliver(delivery_ids)
    [(recipients, message)] = smtp.messages
    assert recipients == ["soc@fn.example"]
    assert message["Subject"] == "[TLP:AMBER] NIS2 early warning due for incident “Ransomware encrypted the EHR”"
