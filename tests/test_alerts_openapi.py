"""The alerts part of the OpenAPI document says what the endpoints do, and real answers match it."""
from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import select

from hub.alerts import delivery as deliveries
from hub.alerts.models import Delivery
from hub.alerts.openapi import (
    DELIVERY,
    NOTIFICATION,
    SUBSCRIPTION,
    WEBHOOK_BODY,
    alerts_openapi_paths,
    alerts_openapi_webhooks,
)
from hub.api.openapi import openapi_document
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import WebhookReceiver, cheap_password_hashing, run_fan_out


@pytest.fixture(autouse=True)
def _settings(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", "127.0.0.1/32")


def test_the_served_document_includes_the_alert_endpoints_and_webhook_and_is_valid(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(alerts_openapi_paths()) <= set(document["paths"])
    assert document["webhooks"] == alerts_openapi_webhooks()
    validate(document)


def test_every_alerts_route_is_documented_with_exactly_its_methods(app):
    documented = {path: {m for m in spec if m != "parameters"} for path, spec in alerts_openapi_paths().items()}
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.alerts."):
            path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            served.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    assert served == documented


def test_real_answers_and_webhook_bodies_match_the_schemas(api):
    def check(schema, value):
        errors = list(Draft202012Validator(schema).iter_errors(value))
        assert not errors, errors[0].message

    receiver = WebhookReceiver(behaviour="always_fail")
    try:
        admin_user = f.make_user(f.make_org("national_cert"), "admin")
        admin = api(admin_user)
        created = admin.post("/subscriptions", json={"channel": "webhook", "target": receiver.url(),
                                                     "scope": "org", "filters": {"min_tlp": "green"}})
        assert created.status_code == 201
        assert admin.post("/subscriptions", json={"channel": "in_app"}).status_code == 201
        f.share(f.make_user(f.make_org()), tlp="green")
        run_fan_out()
        deliveries.deliver(list(db.session.scalars(select(Delivery.id))))

        for subscription in admin.get("/subscriptions").json["subscriptions"]:
            check(SUBSCRIPTION, subscription)
        [listed] = admin.get(f"/subscriptions/{created.json['id']}/deliveries").json["deliveries"]
        check(DELIVERY, listed)
        [notification] = admin.get("/notifications").json["notifications"]
        check(NOTIFICATION, notification)
        [request] = receiver.requests
        check(WEBHOOK_BODY, request.json)
    finally:
        receiver.stop()
