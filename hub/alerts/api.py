"""REST API v1 for alerts: subscriptions, notifications, deliveries. Parse, call, answer."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify, request

from hub.alerts import services
from hub.alerts.models import DELIVERY_STATUSES
from hub.errors import ValidationFailed
from hub.principal import current_principal
from hub.rest import ApiError, json_body, page_limit

bp = Blueprint("alerts", __name__)


def _limit() -> int:
    return page_limit(services.DEFAULT_PAGE, services.MAX_PAGE)


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ApiError(400, f"invalid {name}", [{"field": name, "value": value, "error": "1 or 0"}])


@bp.post("/subscriptions")
def create_subscription():
    body = json_body()
    unknown = sorted(set(body) - {"channel", "target", "secret", "filters", "mode", "scope"})
    if unknown:
        raise ApiError(422, "unknown fields", [{"field": key, "error": "not a subscription field"} for key in unknown])
    if "channel" not in body:
        raise ApiError(422, "missing channel", [{"field": "channel", "error": "in_app, email or webhook"}])
    created = services.create_subscription(
        current_principal(),
        channel=body["channel"],
        target=body.get("target"),
        secret=body.get("secret"),
        filters=body.get("filters") or {},
        mode=body.get("mode", "immediate"),
        scope=body.get("scope", "user"),
    )
    answer = {"id": created.subscription.id}
    if created.generated_secret:
        answer["secret"] = created.generated_secret
    return jsonify(answer), 201


@bp.get("/subscriptions")
def list_subscriptions():
    principal = current_principal()
    return jsonify({"subscriptions": [
        services.describe_subscription(principal, s) for s in services.list_subscriptions(principal)
    ]})


@bp.get("/subscriptions/<int:subscription_id>")
def get_subscription(subscription_id: int):
    principal = current_principal()
    return jsonify(services.describe_subscription(principal, services.get_subscription(principal, subscription_id)))


@bp.delete("/subscriptions/<int:subscription_id>")
def delete_subscription(subscription_id: int):
    services.delete_subscription(current_principal(), subscription_id)
    return "", 204


@bp.get("/subscriptions/<int:subscription_id>/deliveries")
def list_deliveries(subscription_id: int):
    status = request.args.get("status") or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise ApiError(400, "invalid status", [{"field": "status", "value": status,
                                                "error": "one of " + ", ".join(DELIVERY_STATUSES)}])
    page = services.deliveries_of(current_principal(), subscription_id, status=status, limit=_limit(),
                                  cursor=request.args.get("cursor") or None)
    return jsonify({"deliveries": [services.describe_delivery(d) for d in page.rows], "next": page.next_cursor})


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int):
    delivery = services.replay_delivery(current_principal(), delivery_id)
    return jsonify(services.describe_delivery(delivery)), 202


@bp.get("/built-in-alerts")
def list_built_in_alerts():
    return jsonify({"built_in_alerts": [asdict(a) for a in services.default_alerts(current_principal())]})


@bp.put("/built-in-alerts/<rule>")
def set_built_in_alert(rule: str):
    body = json_body()
    if "on" not in body:
        raise ValidationFailed("missing on", [{"field": "on", "error": "required: true or false"}])
    return jsonify(asdict(services.set_default_alert(current_principal(), rule, body["on"])))


@bp.get("/notifications")
def list_notifications():
    page = services.list_notifications(current_principal(), unread_only=_flag("unread"), limit=_limit(),
                                       cursor=request.args.get("cursor") or None)
    views = services.notification_views(current_principal(), page.rows)
    return jsonify({"notifications": [services.describe_notification(v) for v in views],
                    "next": page.next_cursor})


@bp.get("/notifications/unread-count")
def unread_count():
    return jsonify({"unread": services.unread_count(current_principal())})


@bp.post("/notifications/<int:notification_id>/read")
def mark_read(notification_id: int):
    principal = current_principal()
    [view] = services.notification_views(principal, [services.mark_read(principal, notification_id)])
    return jsonify(services.describe_notification(view))


@bp.post("/notifications/read-all")
def mark_all_read():
    return jsonify({"marked": services.mark_all_read(current_principal())})
