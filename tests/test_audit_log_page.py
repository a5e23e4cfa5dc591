"""The audit log page: filters, CSV export of the filtered view, coalesced reads, channel labels."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import orjson
from sqlalchemy import select

from hub import audit
from hub.audit import AuditEvent
from hub.extensions import db
from hub.intel.manage import revoke
from hub.principal import Principal
from tests import factories as f
from tests.factories import indicator

SECRET_REASON = "Nightingale C2 moved to 203.0.113.99"


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def old_event(action: str, user, at: datetime) -> None:
    db.session.add(AuditEvent(action=action, actor_user_id=user.id, actor_org_id=user.org_id,
                              subject_org_id=user.org_id, at=at, detail='{"channel": "web"}'))
    db.session.commit()


def test_filters_narrow_the_page_and_the_csv_to_the_same_events(web, api):
    hospital, cert = f.make_org("hospital", "CZ"), f.make_org("national_cert", "CZ")
    admin, author = f.make_user(hospital, "admin"), f.make_user(hospital, "analyst")
    reader = f.make_user(cert, "analyst")
    amber = f.share(author, [indicator("198.51.100.1")], tlp="amber")
    other = f.share(author, [indicator("198.51.100.2")], tlp="amber")
    api(reader).get(f"/objects/{amber.stix_id}")
    api(reader).get(f"/objects/{other.stix_id}")
    old_event("password_change", author, datetime(2026, 3, 1, 12, tzinfo=timezone.utc))
    browser = web(admin)

    by_item = browser.get(f"/audit?item={amber.stix_id}").text
    assert amber.stix_id in by_item and other.stix_id not in by_item
    by_actor = browser.get(f"/audit?actor={reader.email}").text
    assert "action-read" in by_actor and "action-share" not in by_actor
    by_org = browser.get(f"/audit?org={cert.slug}&action=read").text
    assert amber.stix_id in by_org and other.stix_id in by_org and "action-share" not in by_org
    march = browser.get("/audit?since=2026-03-01&until=2026-03-31").text
    assert "action-password_change" in march and "action-read" not in march
    assert "No events match these filters" in browser.get("/audit?action=no_such_action").text

    rows = csv_rows(browser.get(f"/audit.csv?org={cert.slug}&action=read"))
    assert sorted(row["item"] for row in rows) == sorted([amber.stix_id, other.stix_id])
    assert {(row["actor"], row["actor_org"], row["action"], row["channel"], row["count"]) for row in rows} == {
        (reader.email, cert.slug, "read", "api", "1")}
    assert [row["action"] for row in csv_rows(browser.get("/audit.csv?since=2026-03-01&until=2026-03-31"))] == [
        "password_change"]


def test_a_reversed_date_range_is_explained_next_to_the_field(web):
    browser = web(f.make_user(f.make_org(), "admin"))
    page = browser.get("/audit?since=2026-05-02&until=2026-05-01")
    assert '<p class="error" id="until-error">the end is before the start</p>' in page.text
    assert browser.get("/audit.csv?since=2026-05-02&until=2026-05-01").status_code == 422
    assert browser.get("/audit?since=yesterday").status_code == 422


def test_another_organisations_admin_filters_and_exports_nothing_of_ours(web, api):
    hospital, other = f.make_org(), f.make_org()
    author = f.make_user(hospital, "analyst")
    outsider = f.make_user(other, "admin")
    item = f.share(author, [indicator("198.51.100.3")], tlp="amber")
    api(f.make_user(f.make_org(), "analyst")).get(f"/objects/{item.stix_id}")

    browser = web(outsider)
    # The filter field echoes what was typed; no event line names it.
    assert f"<code>{item.stix_id}</code>" not in browser.get(f"/audit?item={item.stix_id}").text
    assert "No events match these filters" in browser.get(f"/audit?actor={author.email}").text
    exported = browser.get("/audit.csv").get_data(as_text=True)
    assert item.stix_id not in exported and author.email not in exported
    assert web(author).get("/audit.csv").status_code == 403, "analysts read no audit log"


def test_the_csv_withholds_red_content_like_the_page(web):
    hospital = f.make_org()
    admin, author = f.make_user(hospital, "admin"), f.make_user(hospital, "analyst")
    item = f.share(author, [indicator("203.0.113.99", name="Nightingale")], tlp="red",
                   audience={"users": [author.email]})
    revoke(Principal.of(author), item.stix_id, reason=SECRET_REASON)
    db.session.commit()

    exported = web(admin).get("/audit.csv").get_data(as_text=True)
    assert SECRET_REASON not in exported and "203.0.113.99" not in exported
    [revoked] = [row for row in csv_rows(web(admin).get("/audit.csv?action=revoke"))]
    assert revoked["item"] == item.stix_id and "reason: withheld (TLP:RED)" in revoked["detail"]


def test_reloads_of_an_item_page_show_as_one_line_with_a_count_and_the_chain_holds(web, runner):
    hospital, cert = f.make_org("hospital", "CZ"), f.make_org("national_cert", "CZ")
    admin, author = f.make_user(hospital, "admin"), f.make_user(hospital, "analyst")
    reader = web(f.make_user(cert, "analyst"))
    item = f.share(author, [indicator("198.51.100.4")], tlp="amber")
    for _ in range(3):
        assert reader.get(f"/items/{item.stix_id}").status_code == 200

    stored = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "read")).all()
    assert len(stored) == 3, "every read stays in the log"
    page = web(admin).get("/audit?action=read").text
    assert page.count('class="action action-read"') == 1 and "×3" in page
    [line] = csv_rows(web(admin).get("/audit.csv?action=read"))
    assert line["count"] == "3" and line["channel"] == "web"
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_reads_further_apart_than_the_window_stay_separate_lines(web):
    hospital = f.make_org()
    admin, user = f.make_user(hospital, "admin"), f.make_user(hospital, "analyst")
    for minute in (0, 5, 30):
        db.session.add(AuditEvent(action="case_read", actor_user_id=user.id, actor_org_id=user.org_id,
                                  subject_org_id=hospital.id, at=datetime(2026, 6, 1, 9, minute, tzinfo=timezone.utc),
                                  detail='{"case": "c-1", "channel": "web"}'))
    db.session.commit()
    counts = sorted(row["count"] for row in csv_rows(web(admin).get("/audit.csv?action=case_read")))
    assert counts == ["1", "2"]


def test_each_action_is_labelled_with_the_channel_it_came_through(app, web, api, taxii, runner):
    hospital, cert = f.make_org("hospital", "CZ"), f.make_org("national_cert", "CZ")
    author = f.make_user(hospital, "analyst")
    reader = f.make_user(cert, "analyst")
    item = f.share(author, [indicator("198.51.100.5")], tlp="amber")

    reader_browser = web()
    reader_browser.submit("/login", {"email": reader.email, "password": f.PASSWORD})
    reader_browser.get(f"/items/{item.stix_id}")
    api(reader).get(f"/objects/{item.stix_id}")
    client = taxii(reader)
    collection = client.collections()["community"]["id"]
    assert client.get(f"/api/collections/{collection}/objects/{item.stix_id}/").status_code == 200
    assert runner.invoke(args=["tokens", "create", author.email, "--label", "cli"]).exit_code == 0

    def channels(action):
        return [orjson.loads(e.detail)["channel"] for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]

    assert channels("login") == ["web"]
    assert channels("read") == ["web", "api", "taxii"]
    assert channels("token_created")[-1] == "cli"

    probe = app.extensions["celery"].task(name="tests.audit_channel_probe")(audit.current_channel)
    assert probe.apply().get() == "worker"
