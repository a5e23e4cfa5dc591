"""Subscriptions, notifications and deliveries as their users see them.

Plain functions over an explicit Principal; they raise domain errors. Every list that names an
item (notifications, deliveries) is filtered by the sharing policy for the reader, so an alert
never outlives the right to read its item (rule 7).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select, update

from hub import audit
from hub.db import as_utc, decode_cursor, encode_cursor, utcnow
from hub.alerts import defaults, fanout
from hub.alerts.content import alert_subject, sighted_items
from hub.alerts import delivery as deliveries
from hub.alerts.filters import dump_filters, load_filters, parse_filters
from hub.accounts.models import Organisation, User
from hub.alerts.models import CHANNELS, MODES, SCOPES, Delivery, MutedDefault, Notification, Subscription
from hub.alerts.wording import acting_org_name, alert_title, event_label
from hub.alerts.webhooks import AllowList, TargetRefused, check_target
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.extensions import db
from hub.intel.models import SharedItem
from hub.outbox import OutboxEntry
from hub.policy import can_manage_subscription, readable_items, reveals_owner, visible_subscriptions
from hub.principal import Principal

MAX_SUBSCRIPTIONS = 100  # per user, and org-wide per organisation
MAX_SECRET = 256
DEFAULT_PAGE = 50
MAX_PAGE = 200


@dataclass
class NewSubscription:
    subscription: Subscription
    # Only when the hub generated the webhook secret: the one chance to see it.
    generated_secret: str | None = None


@dataclass
class Page:
    rows: list
    next_cursor: str | None


def _invalid(field: str, error: str, value=None) -> ValidationFailed:
    detail = {"field": field, "error": error}
    if value is not None:
        detail["value"] = value
    return ValidationFailed(f"invalid {field}", [detail])


def _choice(field: str, value, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _invalid(field, "one of " + ", ".join(allowed), value)
    return value


def create_subscription(principal: Principal, *, channel, target=None, secret=None, filters=None,
                        mode="immediate", scope="user") -> NewSubscription:
    """Subscribe the principal (scope user) or, for an admin, the organisation (scope org)."""
    channel = _choice("channel", channel, CHANNELS)
    mode = _choice("mode", mode or "immediate", MODES)
    scope = _choice("scope", scope or "user", SCOPES)
    parsed_filters = parse_filters(filters)
    if not principal.can_share:
        raise Forbidden("viewers read only: ask an analyst or admin of your organisation to subscribe")
    if scope == "org" and not principal.is_admin:
        raise Forbidden("only an organisation admin may set organisation-wide subscriptions")
    generated = None
    if channel == "in_app":
        if target:
            raise _invalid("target", "in-app notifications have no target")
        if mode != "immediate":
            raise _invalid("mode", "in-app notifications are immediate; digests are sent by e-mail", mode)
        target = None
    elif channel == "email":
        target = _email_target(target)
    else:
        target = _webhook_target(target)
        if mode != "immediate":
            raise _invalid("mode", "webhooks are immediate (receivers batch as they like); "
                           "digests are sent by e-mail", mode)
        if secret is None:
            secret = generated = secrets.token_urlsafe(32)
        if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET:
            raise _invalid("secret", f"a non-empty string of at most {MAX_SECRET} characters")
    if channel != "webhook" and secret is not None:
        raise _invalid("secret", "only webhooks are signed")
    fanout.hold_off_unheard_acts()  # before the quota is read: it holds until commit
    _check_quota(principal, scope)
    subscription = Subscription(
        user_id=principal.user_id,
        org_id=principal.org_id,
        scope=scope,
        channel=channel,
        target=target,
        secret=secret if channel == "webhook" else None,
        filters=dump_filters(parsed_filters),
        mode=mode,
    )
    db.session.add(subscription)
    db.session.flush()
    audit.record("subscription_created", principal, subscription_id=subscription.id, scope=scope,
                 channel=channel, mode=mode)
    db.session.commit()
    return NewSubscription(subscription, generated)


def _email_target(target) -> str:
    if not isinstance(target, str) or not target.strip():
        raise _invalid("target", "an e-mail address is required for e-mail alerts")
    try:
        return validate_email(target.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise _invalid("target", str(exc), target) from None


def _webhook_target(target) -> str:
    if not isinstance(target, str) or not target.strip():
        raise _invalid("target", "a URL is required for webhooks")
    if len(target) > 2048:
        raise _invalid("target", "at most 2048 characters")
    try:
        check_target(target, AllowList.parse(current_app.config["HUB_WEBHOOK_ALLOW"]))
    except TargetRefused as exc:
        raise _invalid("target", str(exc), target) from None
    return target.strip()


def _check_quota(principal: Principal, scope: str) -> None:
    query = select(func.count(Subscription.id))
    if scope == "user":
        query = query.where(Subscription.user_id == principal.user_id, Subscription.scope == "user")
    else:
        query = query.where(Subscription.org_id == principal.org_id, Subscription.scope == "org")
    if db.session.scalar(query) >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"at most {MAX_SUBSCRIPTIONS} {scope} subscriptions; delete one first")


def list_subscriptions(principal: Principal) -> list[Subscription]:
    return list(db.session.scalars(
        select(Subscription).where(visible_subscriptions(principal)).order_by(Subscription.id)
    ))


def get_subscription(principal: Principal, subscription_id: int) -> Subscription:
    subscription = db.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id, visible_subscriptions(principal))
    )
    if subscription is None:
        raise NotFound("no such subscription")
    return subscription


def can_manage(principal: Principal, subscription: Subscription) -> bool:
    """The owner manages a user subscription; an admin any subscription of the organisation."""
    return can_manage_subscription(principal, subscription)


def delete_subscription(principal: Principal, subscription_id: int) -> None:
    subscription = get_subscription(principal, subscription_id)
    if not can_manage(principal, subscription):
        raise Forbidden("you may not delete this subscription")
    audit.record("subscription_deleted", principal, subscription_id=subscription.id,
                 scope=subscription.scope, channel=subscription.channel)
    db.session.delete(subscription)
    db.session.commit()


def describe_subscription(principal: Principal, subscription: Subscription) -> dict:
    """The API's view; the webhook secret is never shown again. Delivery totals count only
    deliveries about items the viewer may read now (rule 7)."""
    stats = dict(db.session.execute(
        select(Delivery.status, func.count(Delivery.id))
        .join(SharedItem, SharedItem.id == Delivery.item_id)
        .where(Delivery.subscription_id == subscription.id, readable_items(principal))
        .group_by(Delivery.status)
    ).all())
    return {
        "id": subscription.id,
        "channel": subscription.channel,
        "target": subscription.target,
        "filters": load_filters(subscription.filters).as_json(),
        "mode": subscription.mode,
        "scope": subscription.scope,
        "owner": subscription.user.email if subscription.scope == "user" else None,
        "created": _stamp(subscription.created),
        "deliveries": stats,
    }


def _stamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value is not None else None


def _decode_cursor(cursor: str) -> int:
    try:
        return decode_cursor(cursor, int)[0]
    except ValidationFailed:
        raise _invalid("cursor", "not a cursor this hub issued") from None


def _page(query, id_column, limit: int, cursor: str | None) -> Page:
    limit = max(1, min(limit, MAX_PAGE))
    if cursor:
        query = query.where(id_column < _decode_cursor(cursor))
    rows = list(db.session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more else None)


def deliveries_of(principal: Principal, subscription_id: int, *, status: str | None = None,
                  limit: int = DEFAULT_PAGE, cursor: str | None = None) -> Page:
    """A subscription's deliveries, newest first, about items the viewer may read."""
    subscription = get_subscription(principal, subscription_id)
    query = (
        select(Delivery)
        .join(SharedItem, SharedItem.id == Delivery.item_id)
        .where(Delivery.subscription_id == subscription.id, readable_items(principal))
    )
    if status:
        query = query.where(Delivery.status == status)
    return _page(query, Delivery.id, limit, cursor)


def describe_delivery(delivery: Delivery) -> dict:
    return {
        "id": delivery.id,
        "delivery_id": delivery.public_id,
        "event": delivery.event,
        "object_id": delivery.item.stix_id,
        "channel": delivery.channel,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "created": _stamp(delivery.created),
        "last_attempt": _stamp(delivery.last_attempt_at),
        "next_attempt": _stamp(delivery.next_attempt_at) if delivery.status == "retrying" else None,
        "delivered": _stamp(delivery.delivered_at),
    }


def replay_delivery(principal: Principal, delivery_id: int) -> Delivery:
    """Give a dead letter a fresh set of attempts: the subscription's owner or an org admin."""
    delivery = db.session.scalar(
        select(Delivery)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .join(SharedItem, SharedItem.id == Delivery.item_id)
        .where(Delivery.id == delivery_id, visible_subscriptions(principal), readable_items(principal))
    )
    if delivery is None:
        raise NotFound("no such delivery")
    if not can_manage(principal, delivery.subscription):
        raise Forbidden("only the subscription's owner or an organisation admin may replay it")
    if not deliveries.replayable(delivery):
        raise Conflict(f"only dead letters can be replayed; this delivery is {delivery.status}")
    audit.record("delivery_replayed", principal, item=delivery.item, delivery_id=delivery.public_id)
    deliveries.replay(delivery)
    return delivery


def _readable_notifications(principal: Principal):
    """The principal's alerts (one per sharing act: the lead notification) about items they may
    read now."""
    return (
        select(Notification)
        .join(SharedItem, SharedItem.id == Notification.item_id)
        .where(Notification.user_id == principal.user_id, Notification.lead, readable_items(principal))
    )


def list_notifications(principal: Principal, *, unread_only: bool = False, limit: int = DEFAULT_PAGE,
                       cursor: str | None = None) -> Page:
    """The principal's notifications, newest first, one keyset page."""
    query = _readable_notifications(principal)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return _page(query, Notification.id, limit, cursor)


def unread_count(principal: Principal) -> int:
    query = _readable_notifications(principal).where(Notification.read_at.is_(None))
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


@dataclass(frozen=True)
class NotificationView:
    notification: Notification
    title: str
    label: str
    related: int


def _related_counts(principal: Principal, rows: list[Notification]) -> dict[str, int]:
    """Per sharing act, how many distinct items of it the principal heard of and may read now."""
    acts = sorted({n.act for n in rows if n.act})
    if not acts:
        return {}
    return dict(db.session.execute(
        select(Notification.act, func.count(func.distinct(Notification.item_id)))
        .join(SharedItem, SharedItem.id == Notification.item_id)
        .where(Notification.user_id == principal.user_id, Notification.act.in_(acts), readable_items(principal))
        .group_by(Notification.act)
    ).all())


def _actor_orgs(rows: list[Notification]) -> dict[int, Organisation]:
    """The organisation of the user who did each notification's act, by outbox entry id."""
    outbox_ids = sorted({n.outbox_id for n in rows})
    if not outbox_ids:
        return {}
    return {outbox_id: org for outbox_id, org in db.session.execute(
        select(OutboxEntry.id, Organisation)
        .join(User, User.id == OutboxEntry.actor_user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .where(OutboxEntry.id.in_(outbox_ids))
    ).all()}


def notification_views(principal: Principal, rows: list[Notification]) -> list[NotificationView]:
    """The notifications in words, each with the number of related objects of its act that the
    principal may read (rule 7: never counting what it may not)."""
    counts = _related_counts(principal, rows)
    actors = _actor_orgs(rows)
    sighted = sighted_items((n.item_id for n in rows if n.item.stix_type == "sighting"), principal)
    views = []
    for n in rows:
        related = max(counts.get(n.act, 1) - 1, 0) if n.act else 0
        by = acting_org_name(actors.get(n.outbox_id), n.item, reveals_owner(principal, n.item))
        title = alert_title(n.event, **alert_subject(n.item, sighted.get(n.item_id), outbound=False),
                            by=by, related=related)
        views.append(NotificationView(n, title, event_label(n.event), related))
    return views


def describe_notification(view: NotificationView) -> dict:
    notification = view.notification
    return {
        "id": notification.id,
        "event": notification.event,
        "title": view.title,
        "object_id": notification.item.stix_id,
        "related_objects": view.related,
        "created": _stamp(notification.created),
        "read": notification.read_at is not None,
    }


def get_notification(principal: Principal, notification_id: int) -> Notification:
    """One of the principal's notifications about an item they may read now; reading it marks nothing."""
    notification = db.session.scalar(
        _readable_notifications(principal).where(Notification.id == notification_id)
    )
    if notification is None:
        raise NotFound("no such notification")
    return notification


def mark_read(principal: Principal, notification_id: int) -> Notification:
    notification = get_notification(principal, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification


def mark_all_read(principal: Principal) -> int:
    """Mark read every unread notification about an item the principal may read now; their number."""
    readable_unread = _readable_notifications(principal).where(Notification.read_at.is_(None)) \
        .with_only_columns(Notification.id)
    result = db.session.execute(
        update(Notification)
        .where(Notification.id.in_(readable_unread))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


# --- Built-in alerts (hub/alerts/defaults.py) ------------------------------------------------

@dataclass(frozen=True)
class DefaultAlert:
    key: str
    title: str
    on: bool


def default_alerts(principal: Principal) -> list[DefaultAlert]:
    """The built-in alerts of the principal's kind of organisation, and whether each is on for them."""
    muted = set(db.session.scalars(select(MutedDefault.rule).where(MutedDefault.user_id == principal.user_id)))
    return [DefaultAlert(rule.key, rule.title, rule.key not in muted) for rule in defaults.rules_for(principal.org_kind)]


def set_default_alert(principal: Principal, rule: str, on) -> DefaultAlert:
    """Turn one of the principal's built-in alerts on or off (for the principal only)."""
    known = {r.key: r for r in defaults.rules_for(principal.org_kind)}
    if rule not in known:
        raise _invalid("rule", "one of " + (", ".join(known) or "(none for your organisation)"), rule)
    if not isinstance(on, bool):
        raise _invalid("on", "true or false", on)
    current = db.session.get(MutedDefault, (principal.user_id, rule))
    if on and current is not None:
        db.session.delete(current)
    elif not on and current is None:
        db.session.add(MutedDefault(user_id=principal.user_id, rule=rule))
    audit.record("default_alert_" + ("on" if on else "off"), principal, rule=rule)
    db.session.commit()
    return DefaultAlert(rule, known[rule].title, on)
