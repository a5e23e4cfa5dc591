"""Webhook deliveries against a real HTTP receiver on loopback, one attempt at a time.

The delivery job runs here as the worker runs it; test_alerts_worker.py drives real workers.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from hub.accounts.models import group_members
from hub.alerts import delivery as deliveries
from hub.alerts.models import Delivery, Subscription
from hub.alerts.webhooks import AllowList, TargetRefused, check_target
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import WebhookReceiver, cheap_password_hashing, run_fan_out, subscribe, valid_signature

SECRET = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _settings(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", "127.0.0.1/32")
    monkeypatch.setitem(app.config, "HUB_ALERTS_MAX_ATTEMPTS", 3)
    # Backoff well inside the claim's one-second slack: each retry is due at once.
    monkeypatch.setitem(app.config, "HUB_ALERTS_BACKOFF_BASE", 0.05)
    monkeypatch.setitem(app.config, "HUB_ALERTS_BACKOFF_MAX", 0.2)


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def deliver_due() -> None:
    """One delivery round: every delivery that is waiting for an attempt."""
    ids = list(db.session.scalars(select(Delivery.id).where(Delivery.status.in_(("pending", "retrying")))))
    db.session.rollback()
    if ids:
        deliveries.deliver(ids)


def only_delivery() -> Delivery:
    db.session.expire_all()
    [row] = db.session.scalars(select(Delivery)).all()
    return row


def test_a_share_arrives_signed_with_the_contract_body(receiver):
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    subscriber = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(subscriber, channel="webhook", target=receiver.url("/hooks/hub"), secret=SECRET)
    item = f.share(sharer, [f.indicator("203.0.113.50")], tlp="green")
    run_fan_out()
    deliver_due()

    [request] = receiver.requests
    assert request.path == "/hooks/hub"
    assert valid_signature(SECRET, request.headers, request.body)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Hub-Timestamp"].isdigit()
    body = request.json
    assert set(body) == {"event", "title", "object_id", "related_objects", "tlp", "object", "link", "delivery_id"}
    assert body["event"] == "shared" and body["object_id"] == item.stix_id and body["tlp"] == "green"
    assert body["title"] == f"Indicator “{item.name}” shared by {sharer.org.name}" and body["related_objects"] == 0
    assert body["object"]["id"] == item.stix_id and "203.0.113.50" in body["object"]["pattern"]
    assert body["link"] == f"http://hub.test/items/{item.stix_id}"
    row = only_delivery()
    assert (row.status, row.attempts, row.public_id) == ("delivered", 1, body["delivery_id"])
    assert not valid_signature("another secret", request.headers, request.body)


@pytest.mark.parametrize("tlp", ["red", "amber+strict"])
def test_red_and_amber_strict_travel_as_a_link_and_an_id_only(receiver, tlp):
    org = f.make_org("hospital", "CZ")
    sharer, subscriber = f.make_user(org), f.make_user(org)
    subscribe(subscriber, channel="webhook", target=receiver.url(), secret=SECRET)
    audience = {"users": [subscriber.email]} if tlp == "red" else "own"
    obj = f.indicator("198.51.100.201", name="Exfiltration host of ward 7", description="named patient data")
    item = f.share(sharer, [obj], tlp=tlp, audience=audience)
    run_fan_out()
    deliver_due()
    [request] = receiver.requests
    assert set(request.json) == {"event", "title", "object_id", "related_objects", "tlp", "link", "delivery_id"}
    assert request.json["object_id"] == item.stix_id and request.json["tlp"] == tlp
    assert request.json["title"] == f"Indicator {item.stix_id} shared"
    for secret_text in (b"198.51.100.201", b"ward 7", b"patient"):
        assert secret_text not in request.body


def test_an_anonymous_share_never_names_its_source(receiver):
    owner = f.make_org("hospital", "CZ", slug="fn-anonymous-source")
    subscriber = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(subscriber, channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(owner), tlp="green", anonymous=True)
    run_fan_out()
    deliver_due()
    [request] = receiver.requests
    for revealing in (owner.slug, owner.name, owner.identity_id):
        assert revealing.encode() not in request.body
    assert "created_by_ref" not in request.json["object"]


def test_a_failing_receiver_gets_retries_then_a_dead_letter_that_an_admin_replays(api, receiver):
    org = f.make_org("national_cert", "CZ")
    admin = f.make_user(org, "admin")
    subscription = subscribe(admin, channel="webhook", target=receiver.url(), secret=SECRET, scope="org")
    f.share(f.make_user(f.make_org("hospital", "CZ")), tlp="green")
    run_fan_out()
    receiver.behaviour = "always_fail"
    for expected_attempts, expected_status in ((1, "retrying"), (2, "retrying"), (3, "dead")):
        deliver_due()
        row = only_delivery()
        assert (row.attempts, row.status) == (expected_attempts, expected_status)
        assert row.last_error == "the receiver answered HTTP 503"
    deliver_due()  # a dead letter is not retried
    assert len(receiver.requests) == 3
    assert len({r.headers["X-Hub-Delivery"] for r in receiver.requests}) == 1

    listed = api(admin).get(f"/subscriptions/{subscription.id}/deliveries?status=dead").json["deliveries"]
    assert [(d["status"], d["attempts"], d["last_error"]) for d in listed] == [
        ("dead", 3, "the receiver answered HTTP 503")]

    viewer = api(f.make_user(org, "viewer"))
    assert viewer.post(f"/deliveries/{row.id}/replay").status_code == 404
    receiver.behaviour = "ok"
    replayed = api(admin).post(f"/deliveries/{row.id}/replay")
    assert replayed.status_code == 202 and replayed.json["status"] == "pending"
    deliver_due()
    row = only_delivery()
    assert (row.status, row.attempts) == ("delivered", 1)
    assert [r.answered for r in receiver.requests] == [503, 503, 503, 200]
    assert api(admin).post(f"/deliveries/{row.id}/replay").status_code == 409


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap(app, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_ALERTS_BACKOFF_BASE", 30)
    monkeypatch.setitem(app.config, "HUB_ALERTS_BACKOFF_MAX", 3600)
    for attempt, ceiling in ((1, 30), (2, 60), (3, 120), (6, 960), (9, 3600), (20, 3600)):
        delays = {deliveries.backoff_seconds(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jitter: retries of many deliveries do not arrive in lockstep


def test_a_retry_carries_the_same_delivery_id_and_a_delivered_alert_is_never_sent_again(receiver):
    subscriber = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(subscriber, channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(f.make_org()), tlp="green")
    run_fan_out()
    receiver.behaviour = "fail_first"
    deliver_due()
    deliver_due()
    row = only_delivery()
    assert (row.status, row.attempts) == ("delivered", 2)
    deliveries.deliver([row.id])  # a late duplicate task
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert {r.json["delivery_id"] for r in receiver.requests} == {row.public_id}
    assert all(valid_signature(SECRET, r.headers, r.body) for r in receiver.requests)


def test_a_delivery_held_by_a_live_worker_is_not_taken_by_another(receiver):
    subscriber = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(subscriber, channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(f.make_org()), tlp="green")
    run_fan_out()
    row = only_delivery()
    assert deliveries._claim([row.id]) == [row.id]  # a worker took it and is sending
    deliveries.deliver([row.id])                     # a duplicate task arrives meanwhile
    assert receiver.requests == []
    assert only_delivery().status == "sending"


def test_the_target_is_checked_again_at_delivery_time(app, monkeypatch, receiver):
    subscriber = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(subscriber, channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(f.make_org()), tlp="green")
    run_fan_out()
    # The operator withdrew the allowance (or the name now resolves somewhere private).
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", "")
    deliver_due()
    row = only_delivery()
    assert row.status == "dead" and "HUB_WEBHOOK_ALLOW" in row.last_error
    assert receiver.requests == []


def test_a_recipient_who_lost_access_before_delivery_gets_nothing(receiver):
    brno, ostrava = f.make_org("hospital", "CZ"), f.make_org("hospital", "CZ")
    group = f.make_group("cz-pair", brno, ostrava)
    subscribe(f.make_user(ostrava), channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(brno), tlp="amber", audience={"groups": ["cz-pair"]})
    run_fan_out()
    db.session.execute(delete(group_members).where(group_members.c.group_id == group.id,
                                                   group_members.c.org_id == ostrava.id))
    db.session.commit()
    deliver_due()
    assert only_delivery().status == "cancelled"
    assert receiver.requests == []


@pytest.mark.parametrize("scope", ["user", "org"])
def test_an_organisation_deactivated_before_delivery_gets_nothing(receiver, scope):
    brno, ostrava = f.make_org("hospital", "CZ"), f.make_org("hospital", "CZ")
    subscriber = f.make_user(ostrava, "admin")
    subscribe(subscriber, channel="webhook", target=receiver.url(), secret=SECRET, scope=scope)
    f.share(f.make_user(brno), tlp="green", audience="community")
    run_fan_out()
    ostrava.active = False  # left the hub between the fan-out and the delivery
    db.session.commit()
    deliver_due()
    assert only_delivery().status == "cancelled"
    assert receiver.requests == []


def test_two_subscriptions_to_one_url_make_one_delivery(receiver):
    org = f.make_org("national_cert", "CZ")
    for user in (f.make_user(org), f.make_user(org)):
        subscribe(user, channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(f.make_org()), tlp="green")
    run_fan_out()
    deliver_due()
    assert len(receiver.requests) == 1


def test_an_organisation_webhook_gets_every_share_by_its_countrys_hospitals(receiver):
    cert = f.make_org("national_cert", "CZ")
    subscribe(f.make_user(cert, "admin"), channel="webhook", target=receiver.url(), secret=SECRET, scope="org",
              filters={"owner_kind": ["hospital"], "owner_country": ["CZ"]})
    cz_share = f.share(f.make_user(f.make_org("hospital", "CZ")), tlp="green")
    f.share(f.make_user(f.make_org("hospital", "BR")), tlp="green")
    f.share(f.make_user(f.make_org("vendor", "CZ")), tlp="green")
    run_fan_out()
    deliver_due()
    assert [json.loads(r.body)["object_id"] for r in receiver.requests] == [cz_share.stix_id]


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost/", "http://10.1.2.3/", "http://192.168.0.1/",
    "http://172.16.5.4/", "http://169.254.169.254/", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://224.0.0.1/",
])
def test_private_loopback_link_local_and_reserved_targets_are_refused(url):
    with pytest.raises(TargetRefused):
        check_target(url, AllowList.parse(""))


def test_the_allow_list_takes_hosts_and_cidrs():
    assert check_target("http://localhost:8080/x", AllowList.parse("localhost")).port == 8080
    assert check_target("http://10.1.2.3/", AllowList.parse("10.0.0.0/8, 127.0.0.1")).addresses == ("10.1.2.3",)
    with pytest.raises(TargetRefused):
        check_target("http://10.1.2.3/", AllowList.parse("10.9.0.0/16"))
    with pytest.raises(TargetRefused):
        check_target("http://user:pw@127.0.0.1/", AllowList.parse("127.0.0.1"))


def test_an_operator_lists_and_replays_dead_letters_from_the_shell(runner, receiver):
    subscribe(f.make_user(f.make_org("national_cert")), channel="webhook", target=receiver.url(), secret=SECRET)
    f.share(f.make_user(f.make_org()), tlp="green")
    run_fan_out()
    receiver.behaviour = "always_fail"
    for _ in range(3):
        deliver_due()
    row = only_delivery()
    listed = runner.invoke(args=["alerts", "dead-letters"])
    assert listed.exit_code == 0
    assert f"{row.id}\tsubscription {row.subscription_id}\twebhook\t3 attempts" in listed.output
    receiver.behaviour = "ok"
    replayed = runner.invoke(args=["alerts", "replay", "--all-dead"])
    assert replayed.exit_code == 0 and "replayed 1 dead letter(s)" in replayed.output
    deliver_due()
    assert only_delivery().status == "delivered"
    assert runner.invoke(args=["alerts", "replay"]).exit_code != 0  # names nothing: refused


def test_nobody_gets_a_webhook_or_email_about_an_item_they_may_not_read(receiver):
    brno = f.make_org("hospital", "CZ")
    ostrava = f.make_org("hospital", "CZ")
    vendor = f.make_org("vendor", "DE")
    police = f.make_org("law_enforcement", "CZ")
    sharer, named = f.make_user(brno), f.make_user(ostrava)
    outsiders = [f.make_user(ostrava), f.make_user(vendor), f.make_user(police)]
    for n, user in enumerate([named, *outsiders]):
        subscribe(user, channel="webhook", target=receiver.url(f"/user-{n}"), secret=SECRET)
        subscribe(user, channel="email", target=f"user{n}@example.org")
    subscribe(f.make_user(vendor, "admin"), channel="webhook", target=receiver.url("/vendor-org"), secret=SECRET,
              scope="org")
    red = f.share(sharer, tlp="red", audience={"users": [named.email]})
    amber = f.share(sharer, tlp="amber", audience={"orgs": [brno.slug]})
    report = {"type": "incident", "spec_version": "2.1", "id": "incident--0b8c2a57-c03e-4a37-9a4c-1c3d0f6e8d11",
              "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z", "name": "Ward outage"}
    incident = f.share(sharer, [report], tlp="green", audience="community")
    run_fan_out()
    deliver_due()
    received = {(r.path, r.json["object_id"]) for r in receiver.requests}
    assert ("/user-0", red.stix_id) in received  # the named user
    assert all(object_id != amber.stix_id for _, object_id in received)
    assert ("/user-1", incident.stix_id) in received  # a hospital colleague may read the incident
    incident_paths = {path for path, object_id in received if object_id == incident.stix_id}
    assert not incident_paths & {"/user-2", "/user-3", "/vendor-org"}
    assert {path for path, object_id in received if object_id == red.stix_id} == {"/user-0"}
    readers_by_item = {}
    for row in db.session.scalars(select(Delivery)):
        readers_by_item.setdefault(row.item_id, set()).add(row.subscription.target)
    assert amber.id not in readers_by_item
    assert readers_by_item[red.id] == {receiver.url("/user-0"), "user0@example.org"}


def test_webhook_secrets_are_encrypted_at_rest_and_still_sign(app, api):
    """A database dump must not hand out the keys that let anyone forge the hub's webhooks."""
    from sqlalchemy import text

    hospital_admin = f.make_user(f.make_org("hospital"), "admin")
    created = api(hospital_admin).post("/subscriptions", json={
        "channel": "webhook", "target": "http://127.0.0.1:9/hook", "secret": "receiver-shared-secret"})
    assert created.status_code == 201
    stored = db.session.execute(text("SELECT secret FROM subscription")).scalar_one()
    assert "receiver-shared-secret" not in stored
    db.session.expire_all()
    assert db.session.scalars(select(Subscription)).one().secret == "receiver-shared-secret"
