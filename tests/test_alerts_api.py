"""The public alerts contract: /api/v1/subscriptions and /api/v1/notifications."""
from __future__ import annotations

import pytest

from tests import factories as f
from tests.alerts_support import WebhookReceiver, cheap_password_hashing, run_fan_out


@pytest.fixture(autouse=True)
def _fast_users(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def allow_loopback(app, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", "127.0.0.1/32")


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def test_a_user_subscribes_lists_and_unsubscribes(api):
    me = api(f.make_user(f.make_org()))
    created = me.post("/subscriptions", json={"channel": "in_app",
                                              "filters": {"types": ["indicator"], "min_tlp": "GREEN"},
                                              "mode": "immediate", "scope": "user"})
    assert created.status_code == 201, created.json
    assert set(created.json) == {"id"}
    listed = me.get("/subscriptions").json["subscriptions"]
    assert [(s["id"], s["channel"], s["filters"], s["scope"]) for s in listed] == [
        (created.json["id"], "in_app", {"types": ["indicator"], "min_tlp": "green"}, "user")
    ]
    assert me.client.delete(f"/api/v1/subscriptions/{created.json['id']}", headers=me._headers()).status_code == 204
    assert me.get("/subscriptions").json["subscriptions"] == []
    assert me.client.delete(f"/api/v1/subscriptions/{created.json['id']}", headers=me._headers()).status_code == 404


def test_an_empty_filter_means_everything_the_subscriber_may_read(api):
    org = f.make_org()
    me = api(f.make_user(org))
    assert me.post("/subscriptions", json={"channel": "in_app", "filters": {}}).status_code == 201
    f.share(f.make_user(f.make_org()), tlp="green", audience="community")
    f.share(f.make_user(f.make_org()), tlp="amber", audience="own")
    run_fan_out()
    assert len(me.get("/notifications").json["notifications"]) == 1


@pytest.mark.parametrize("body, field", [
    ({"channel": "pager"}, "channel"),
    ({"channel": "in_app", "filters": {"colour": ["red"]}}, "filters.colour"),
    ({"channel": "in_app", "filters": {"min_tlp": "purple"}}, "filters.min_tlp"),
    ({"channel": "in_app", "filters": {"observable_types": ["phone"]}}, "filters.observable_types"),
    ({"channel": "in_app", "filters": {"owner_country": ["Czechia"]}}, "filters.owner_country"),
    ({"channel": "in_app", "target": "me@example.org"}, "target"),
    ({"channel": "in_app", "mode": "hourly"}, "mode"),
    ({"channel": "email", "target": "not-an-address"}, "target"),
    ({"channel": "email", "target": "soc@example.org", "mode": "weekly"}, "mode"),
    ({"channel": "webhook"}, "target"),
    ({"channel": "webhook", "target": "ftp://example.org/x"}, "target"),
    ({"channel": "email", "target": "soc@example.org", "secret": "x"}, "secret"),
    ({"channel": "in_app", "scope": "world"}, "scope"),
])
def test_an_invalid_subscription_is_refused_naming_the_field(api, body, field):
    response = api(f.make_user(f.make_org())).post("/subscriptions", json=body)
    assert response.status_code == 422, response.json
    assert field in [detail.get("field") for detail in response.json["details"]]


def test_webhooks_to_private_addresses_need_the_operator_allow_list(api, app, monkeypatch, receiver):
    me = api(f.make_user(f.make_org()))
    for target in (receiver.url(), "http://localhost:9/hook", "http://169.254.169.254/latest/meta-data/",
                   "http://10.0.0.8/hook", "http://[::1]:8080/hook"):
        refused = me.post("/subscriptions", json={"channel": "webhook", "target": target, "secret": "s3cr3t"})
        assert refused.status_code == 422, target
        assert "HUB_WEBHOOK_ALLOW" in refused.json["details"][0]["error"]
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", "127.0.0.1/32")
    allowed = me.post("/subscriptions", json={"channel": "webhook", "target": receiver.url(), "secret": "s3cr3t"})
    assert allowed.status_code == 201
    assert "secret" not in allowed.json
    assert "secret" not in me.get("/subscriptions").json["subscriptions"][0]


def test_a_webhook_without_a_secret_gets_one_generated_and_shown_once(api, allow_loopback, receiver):
    me = api(f.make_user(f.make_org()))
    created = me.post("/subscriptions", json={"channel": "webhook", "target": receiver.url()})
    assert created.status_code == 201
    assert len(created.json["secret"]) >= 32
    assert "secret" not in me.get(f"/subscriptions/{created.json['id']}").json


def test_only_an_organisation_admin_sets_organisation_wide_subscriptions(api):
    org = f.make_org("national_cert", "CZ")
    admin, analyst = api(f.make_user(org, "admin")), api(f.make_user(org, "analyst"))
    refused = analyst.post("/subscriptions", json={"channel": "email", "target": "soc@cert.example", "scope": "org"})
    assert refused.status_code == 403
    org_wide = admin.post("/subscriptions", json={
        "channel": "email", "target": "soc@cert.example", "scope": "org",
        "filters": {"owner_kind": ["hospital"], "owner_country": ["CZ"]},
    })
    assert org_wide.status_code == 201
    own = analyst.post("/subscriptions", json={"channel": "in_app"})
    assert [s["id"] for s in analyst.get("/subscriptions").json["subscriptions"]] == [own.json["id"]]
    assert {s["id"] for s in admin.get("/subscriptions").json["subscriptions"]} == {org_wide.json["id"], own.json["id"]}
    deleting = analyst.client.delete(f"/api/v1/subscriptions/{org_wide.json['id']}", headers=analyst._headers())
    assert deleting.status_code == 404


def test_nobody_sees_or_deletes_another_users_subscription(api):
    mine = api(f.make_user(f.make_org()))
    other = api(f.make_user(f.make_org()))
    created = mine.post("/subscriptions", json={"channel": "in_app"}).json["id"]
    assert other.get(f"/subscriptions/{created}").status_code == 404
    assert other.client.delete(f"/api/v1/subscriptions/{created}", headers=other._headers()).status_code == 404
    assert other.get(f"/subscriptions/{created}/deliveries").status_code == 404


def test_notifications_page_with_a_cursor_and_are_marked_read(api):
    reader_user = f.make_user(f.make_org("national_cert"))
    reader = api(reader_user)
    reader.post("/subscriptions", json={"channel": "in_app"})
    sharer = f.make_user(f.make_org())
    shared = [f.share(sharer, [f.indicator(f"198.51.100.{n}")], tlp="green") for n in range(5)]
    run_fan_out()

    seen, cursor = [], None
    while True:
        page = reader.get("/notifications?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        assert len(page["notifications"]) <= 2
        seen += page["notifications"]
        cursor = page["next"]
        if cursor is None:
            break
    assert [n["object_id"] for n in seen] == [item.stix_id for item in reversed(shared)]
    assert all(set(n) == {"id", "event", "title", "object_id", "related_objects", "created", "read"} for n in seen)
    assert seen[0]["title"] == f"Indicator “{shared[-1].name}” shared by {sharer.org.name}"
    assert all(n["event"] == "shared" and n["read"] is False for n in seen)

    marked = reader.post(f"/notifications/{seen[0]['id']}/read")
    assert marked.status_code == 200 and marked.json["read"] is True
    unread = reader.get("/notifications?unread=1").json
    assert [n["id"] for n in unread["notifications"]] == [n["id"] for n in seen[1:]]
    assert unread["next"] is None
    assert reader.get("/notifications/unread-count").json == {"unread": 4}

    stranger = api(f.make_user(f.make_org()))
    assert stranger.post(f"/notifications/{seen[1]['id']}/read").status_code == 404
    assert reader.post("/notifications/read-all").json == {"marked": 4}
    assert reader.get("/notifications?unread=1").json["notifications"] == []


def test_the_alert_endpoints_need_a_token(client):
    for method, path in (("get", "/api/v1/subscriptions"), ("post", "/api/v1/subscriptions"),
                         ("get", "/api/v1/notifications"), ("post", "/api/v1/notifications/1/read")):
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.json["error"]


def test_a_viewer_cannot_subscribe(make, api):
    """Viewers read, nothing else: subscribing is left to analysts and admins."""
    viewer = api(make.make_user(make.make_org(), "viewer"))
    refused = viewer.post("/subscriptions", json={"channel": "in_app"})
    assert refused.status_code == 403
    assert viewer.get("/subscriptions").json["subscriptions"] == []
