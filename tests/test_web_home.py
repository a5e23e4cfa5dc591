"""The home page says what needs me today, by role (issue 15, point 7)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hub.web import format_due
from tests.alerts_support import run_fan_out
from tests.factories import indicator, share
from tests.incidents_support import build_world, report


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_deadlines_read_like_a_person():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
    assert format_due(now - timedelta(days=2, hours=3), now) == "late by 2 days"
    assert format_due(now + timedelta(hours=5), now) == "due in 5 hours"
    assert format_due(now + timedelta(minutes=1), now) == "due in 1 minute"


def test_new_items_count_only_what_i_may_read(make, web):
    alpha, beta, outsider = make.make_org(), make.make_org(), make.make_org()
    reader = make.make_user(beta)
    share(make.make_user(alpha), [indicator("192.0.2.200")], audience={"orgs": [beta.slug]})
    share(make.make_user(alpha), [indicator("192.0.2.201")], audience={"orgs": [beta.slug]})
    share(make.make_user(outsider), [indicator("192.0.2.202")], audience="own")
    assert "2 items shared with you" in _text(web(reader).get("/"))


def test_each_role_sees_what_needs_it(api, web):
    world = build_world()
    filed = api(world.hospital_analyst).post("/incidents", json=report(significant=True))
    assert filed.status_code == 201, filed.json
    incident_id = filed.json["id"]
    assert api(world.cert).post(f"/incidents/{incident_id}/advice",
                                json={"body": "Report it to the police today."}).status_code == 201
    assert api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                          json={"org": world.police.org.slug}).status_code in (200, 201)

    hospital = _text(web(world.hospital_analyst).get("/"))
    # The report was filed with awareness in March 2026: every clock is long overdue.
    assert "NIS2 reports you owe" in hospital
    assert re.search(r"Ransomware encrypted the EHR\s*: early warning — late by \d+ (days|weeks|months)", hospital)
    assert "Advice on your incidents" in hospital and "Report it to the police today." in hospital

    cert = _text(web(world.cert).get("/"))
    assert "NIS2 queue" in cert and "1 significant incident in your country" in cert
    assert "NIS2 reports you owe" not in cert and "Ransomware encrypted the EHR" not in cert
    foreign = _text(web(world.foreign_cert).get("/"))
    assert "0 significant incidents in your country" in foreign

    police = _text(web(world.police).get("/"))
    assert "Cases awaiting review" in police and "received" in police
    other_police = _text(web(world.other_police).get("/"))
    assert "No case is waiting for you." in other_police
    assert "Cases awaiting review" not in hospital and "NIS2 queue" not in hospital


def test_unread_alerts_read_as_sentences(api, web):
    world = build_world()
    filed = api(world.hospital_analyst).post("/incidents", json=report(significant=True))
    assert filed.status_code == 201
    run_fan_out()
    cert_home = _text(web(world.cert).get("/"))
    assert "Unread alerts" in cert_home
    assert "Nothing unread" not in cert_home
    assert "nis2_" not in cert_home and "significant_incident" not in cert_home
