"""The alert pages: notifications behind the bell, subscriptions, deliveries and replay."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hub.alerts import delivery as deliveries
from hub.alerts.models import Delivery, Subscription
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import WebhookReceiver, cheap_password_hashing, run_fan_out, subscribe


@pytest.fixture(autouse=True)
def _settings(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", "127.0.0.1/32")
    monkeypatch.setitem(app.config, "HUB_ALERTS_MAX_ATTEMPTS", 1)


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def test_the_notification_list_shows_unread_alerts_and_opening_one_marks_it_read(web):
    """Opening from the list is a POST (a button with the CSRF token) that marks read, then redirects."""
    reader = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(reader)
    item = f.share(f.make_user(f.make_org("hospital", "CZ")), [f.indicator(name="Beacon <b>to</b> C2")], tlp="amber",
                   audience="community")
    run_fan_out()
    browser = web(reader)
    page = browser.get("/alerts/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Beacon &lt;b&gt;to&lt;/b&gt; C2" in html and "TLP:AMBER" in html
    assert re.search(r'class="count"[^>]*>1<', html)
    action = re.search(r'<form[^>]*method="post" action="(/alerts/\d+)"', html).group(1)
    assert browser.post(action).status_code == 400  # without the form's CSRF token: refused, nothing marked
    assert re.search(r'class="count"[^>]*>1<', browser.get("/alerts/").get_data(as_text=True))
    opened = browser.submit(action, form_page="/alerts/")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/items/{item.stix_id}")
    assert 'class="count"' not in browser.get("/alerts/").get_data(as_text=True)
    assert "Nothing unread." in browser.get("/alerts/?unread=1").get_data(as_text=True)


def test_following_a_notification_link_by_get_does_not_mark_it_read(web):
    """A link prefetcher or mail scanner fetching /alerts/<id> must not clear the alert."""
    reader = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(reader)
    item = f.share(f.make_user(f.make_org("hospital", "CZ")), [f.indicator()], tlp="amber", audience="community")
    run_fan_out()
    browser = web(reader)
    action = re.search(r'action="(/alerts/\d+)"', browser.get("/alerts/").get_data(as_text=True)).group(1)
    followed = browser.get(action)
    assert followed.status_code == 302 and followed.headers["Location"].endswith(f"/items/{item.stix_id}")
    assert re.search(r'class="count"[^>]*>1<', browser.get("/alerts/").get_data(as_text=True))
    assert "Nothing unread." not in browser.get("/alerts/?unread=1").get_data(as_text=True)
    assert web(f.make_user(f.make_org("hospital", "DE"))).get(action).status_code == 404


def test_the_bell_partial_counts_unread_notifications(app, web):
    reader = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(reader)
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    for n in range(3):
        f.share(sharer, [f.indicator(f"192.0.2.{n + 1}")], tlp="green")
    run_fan_out()
    with app.test_request_context():
        from flask import render_template_string
        from flask_login import login_user

        login_user(reader)
        bell = render_template_string('{% include "alerts/_bell.html" %}')
    assert 'href="/alerts/"' in bell and ">3</span>" in bell


def test_a_user_subscribes_in_the_browser_and_deletes_it(web):
    user = f.make_user(f.make_org("hospital", "CZ"), "analyst")
    browser = web(user)
    page = browser.get("/alerts/subscriptions").get_data(as_text=True)
    assert 'name="scope"' not in page  # organisation-wide subscriptions are for admins
    saved = browser.submit("/alerts/subscriptions", {
        "channel": "email", "target": "me@hospital.example", "mode": "daily", "scope": "org",
        "types": "indicator, Report", "min_tlp": "amber", "owner_country": "cz", "events": ["shared", "revoked"],
    })
    assert saved.status_code == 302
    subscription = db.session.scalars(select(Subscription)).one()
    assert (subscription.channel, subscription.target, subscription.mode, subscription.scope) == (
        "email", "me@hospital.example", "daily", "user")
    listing = browser.get("/alerts/subscriptions").get_data(as_text=True)
    assert "me@hospital.example" in listing and "indicator, report" in listing and "amber" in listing
    confirm_page = f"/alerts/subscriptions/{subscription.id}/delete"
    assert f'href="{confirm_page}"' in listing
    # One click does nothing: the page states what stops, and the box must be ticked.
    unconfirmed = browser.submit(confirm_page, {}, form_page=confirm_page)
    assert unconfirmed.status_code == 422 and "Nothing was deleted" in unconfirmed.get_data(as_text=True)
    assert "No more alerts from this subscription" in unconfirmed.get_data(as_text=True)
    assert db.session.scalars(select(Subscription)).one() == subscription
    deleted = browser.submit(confirm_page, {"confirm": "y"}, form_page=confirm_page)
    assert deleted.status_code == 302
    assert db.session.scalars(select(Subscription)).all() == []


def test_a_wrong_address_is_shown_beside_the_field(web):
    browser = web(f.make_user(f.make_org()))
    answer = browser.submit("/alerts/subscriptions",
                            {"channel": "email", "target": "not an address", "mode": "immediate"})
    assert answer.status_code == 422
    assert 'class="error"' in answer.get_data(as_text=True)
    assert db.session.scalars(select(Subscription)).all() == []


def test_a_generated_webhook_secret_is_shown_once(web, receiver):
    browser = web(f.make_user(f.make_org()))
    answer = browser.submit("/alerts/subscriptions",
                            {"channel": "webhook", "target": receiver.url(), "mode": "immediate"})
    # POST-redirect-GET: reloading the page that shows the secret does not subscribe again.
    assert answer.status_code == 302 and answer.location.endswith("/alerts/subscriptions")
    secret = db.session.scalars(select(Subscription.secret)).one()
    assert secret in browser.get(answer.location).get_data(as_text=True)
    assert secret not in browser.get("/alerts/subscriptions").get_data(as_text=True)
    assert len(db.session.scalars(select(Subscription)).all()) == 1


def test_an_admin_sees_deliveries_with_their_errors_and_replays_a_dead_letter(web, receiver):
    org = f.make_org("national_cert", "CZ")
    admin = f.make_user(org, "admin")
    subscription = subscribe(admin, channel="webhook", target=receiver.url(), secret="s", scope="org")
    f.share(f.make_user(f.make_org("hospital", "CZ")), tlp="green")
    run_fan_out()
    receiver.behaviour = "always_fail"
    deliveries.deliver(list(db.session.scalars(select(Delivery.id))))
    browser = web(admin)
    detail_path = f"/alerts/subscriptions/{subscription.id}"
    html = browser.get(detail_path).get_data(as_text=True)
    assert "dead" in html and "the receiver answered HTTP 503" in html and ">Replay<" in html

    analyst_view = web(f.make_user(org, "analyst")).get(detail_path)
    assert analyst_view.status_code == 404  # an organisation subscription is the admins' business

    receiver.behaviour = "ok"
    row = db.session.scalars(select(Delivery)).one()
    replayed = browser.submit(f"/alerts/deliveries/{row.id}/replay", {"subscription_id": subscription.id},
                              form_page=detail_path)
    assert replayed.status_code == 302
    deliveries.deliver([row.id])
    db.session.expire_all()
    assert db.session.get(Delivery, row.id).status == "delivered"
    assert "delivered" in browser.get(f"{detail_path}?status=delivered").get_data(as_text=True)


def test_the_alert_pages_need_a_signed_in_user(web):
    for path in ("/alerts/", "/alerts/subscriptions", "/alerts/subscriptions/1"):
        assert web().get(path).status_code in (302, 401)
