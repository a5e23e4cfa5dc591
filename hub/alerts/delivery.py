"""Delivering alerts by e-mail and webhook: claim, check visibility, send, record, retry.

A worker first claims deliveries with one UPDATE (status `sending`, a lease, attempts + 1): a
delivery that is already delivered, or held by another live worker, is not claimed, so a task
that runs twice (late acknowledgement, a sweeper, a replay) sends nothing twice. A worker killed
mid-delivery loses its lease, and the sweeper hands the delivery on. Each outcome is written
only if the attempt is still the latest, so a slow worker cannot overwrite a newer one.
"""
from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, and_, or_, select, tuple_, update
from sqlalchemy.orm import aliased, joinedload

from hub.accounts.models import Organisation, User

from hub.db import utcnow
from hub.alerts import dispatch
from hub.alerts.content import AlertContent, alert_content, sighted_items, webhook_body
from hub.alerts.mail import MailFailed, MailSender, alert_message, digest_message
from hub.alerts.models import Delivery, Subscription
from hub.alerts.webhooks import (
    AllowList,
    DeliveryFailed,
    TargetRefused,
    WebhookSender,
    check_target,
    signed_headers,
)
from hub.extensions import db
from hub.intel.models import SharedItem, StixVersion
from hub.outbox import OutboxEntry
from hub.policy import Reader, readable_items_for, reads_at_all

log = logging.getLogger(__name__)

RETRYABLE = ("pending", "retrying")
# Receivers answer at their own pace: a batch waits for the slowest few, not for their sum.
WEBHOOK_THREADS = 16


@dataclass
class Outcome:
    delivery_id: int
    attempt: int
    error: str | None = None
    # Set when retrying cannot help: "dead" (e.g. a refused target) or "cancelled" (the
    # recipient may no longer read the item).
    final_status: str | None = None


NOT_READABLE = "the recipient may no longer read this item"


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about BASE·2^(attempt-1), between half and all of it."""
    config = current_app.config
    ceiling = min(config["HUB_ALERTS_BACKOFF_MAX"], config["HUB_ALERTS_BACKOFF_BASE"] * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def _claim(delivery_ids: list[int]) -> list[int]:
    """Take the deliveries that are due and not held by a live worker; commit the claim."""
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["HUB_ALERTS_LEASE_SECONDS"])
    # A retry's task may arrive a moment before its time: a second of slack.
    due = now + timedelta(seconds=1)
    claimed = db.session.scalars(
        update(Delivery)
        .where(
            Delivery.id.in_(delivery_ids),
            or_(
                and_(Delivery.status.in_(RETRYABLE),
                     or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= due)),
                and_(Delivery.status == "sending", Delivery.lease_until < now),
            ),
        )
        .values(status="sending", attempts=Delivery.attempts + 1, lease_until=lease, last_attempt_at=now)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return list(claimed)


def readable_deliveries(delivery_ids: list[int]) -> set[int]:
    """Of these deliveries, those whose recipient may read the item now (the policy, in SQL)."""
    if not delivery_ids:
        return set()
    user_org = aliased(Organisation)
    by_user: Select = (
        select(Delivery.id)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .join(User, User.id == Subscription.user_id)
        .join(user_org, user_org.id == User.org_id)
        .join(SharedItem, SharedItem.id == Delivery.item_id)
        .where(
            Delivery.id.in_(delivery_ids),
            Subscription.scope == "user",
            User.active,
            reads_at_all(user_org),
            readable_items_for(Reader(User.id, User.org_id, user_org.kind)),
        )
    )
    by_org: Select = (
        select(Delivery.id)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .join(Organisation, Organisation.id == Subscription.org_id)
        .join(SharedItem, SharedItem.id == Delivery.item_id)
        .where(
            Delivery.id.in_(delivery_ids),
            Subscription.scope == "org",
            reads_at_all(),
            readable_items_for(Reader(None, Subscription.org_id, Organisation.kind)),
        )
    )
    return set(db.session.scalars(by_user)) | set(db.session.scalars(by_org))


def _load(delivery_ids: list[int]) -> list[Delivery]:
    """The deliveries with everything an alert is built from, in one query."""
    return list(db.session.scalars(
        select(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .options(
            joinedload(Delivery.subscription),
            joinedload(Delivery.outbox),
            joinedload(Delivery.item).joinedload(SharedItem.owner),
            joinedload(Delivery.item).joinedload(SharedItem.latest_version),
        )
        .order_by(Delivery.id)
    ).unique())


def _version_bodies(deliveries: list[Delivery]) -> dict[int, str]:
    version_ids = {d.outbox.version_id for d in deliveries if d.outbox.version_id}
    if not version_ids:
        return {}
    return dict(db.session.execute(
        select(StixVersion.id, StixVersion.body).where(StixVersion.id.in_(version_ids))
    ).all())


def _related_counts(deliveries: list[Delivery]) -> dict[int, int]:
    """For each delivery that names a sharing act, how many other objects of the act went to
    the same recipient with it (coalesced) and may still be read by that recipient."""
    acts = sorted({d.outbox.act for d in deliveries if d.outbox.act})
    if not acts:
        return {}
    rows = db.session.execute(
        select(Delivery.id, Delivery.item_id, OutboxEntry.act, Delivery.channel, Delivery.recipient_key)
        .join(OutboxEntry, OutboxEntry.id == Delivery.outbox_id)
        .where(OutboxEntry.act.in_(acts), Delivery.status == "coalesced")
    ).all()
    readable = readable_deliveries([row.id for row in rows])
    items: dict[tuple, set[int]] = {}
    for row in rows:
        if row.id in readable:
            items.setdefault((row.act, row.channel, row.recipient_key), set()).add(row.item_id)
    return {
        d.id: len(items.get((d.outbox.act, d.channel, d.recipient_key), set()) - {d.item_id})
        for d in deliveries if d.outbox.act
    }


def _actor_orgs(deliveries: list[Delivery]) -> dict[int, Organisation]:
    """The organisation of each acting user, by user id."""
    actor_ids = sorted({d.outbox.actor_user_id for d in deliveries if d.outbox.actor_user_id})
    if not actor_ids:
        return {}
    return dict(db.session.execute(
        select(User.id, Organisation).join(Organisation, Organisation.id == User.org_id).where(User.id.in_(actor_ids))
    ).all())


class _Contents:
    """Alert contents of a batch: one per outbox entry and related count, however many
    recipients it has."""

    def __init__(self, deliveries: list[Delivery]):
        self.bodies = _version_bodies(deliveries)
        self.related = _related_counts(deliveries)
        self.actors = _actor_orgs(deliveries)
        self.sighted = sighted_items(d.item_id for d in deliveries if d.item.stix_type == "sighting")
        self._by_key: dict[tuple[int, int], AlertContent] = {}

    def of(self, delivery: Delivery) -> AlertContent:
        related = self.related.get(delivery.id, 0)
        content = self._by_key.get((delivery.outbox_id, related))
        if content is None:
            content = alert_content(delivery.event, delivery.item, self.bodies.get(delivery.outbox.version_id),
                                    actor_org=self.actors.get(delivery.outbox.actor_user_id), related=related,
                                    sighted=self.sighted.get(delivery.item_id))
            self._by_key[(delivery.outbox_id, related)] = content
        return content


def deliver(delivery_ids: list[int]) -> None:
    """One attempt at each of these deliveries that is due; schedules retries."""
    claimed = _claim(sorted(set(delivery_ids)))
    if not claimed:
        return
    deliveries = _load(claimed)
    allowed = readable_deliveries(claimed)
    contents = _Contents(deliveries)
    outcomes: list[Outcome] = []
    webhooks, emails = [], []
    for delivery in deliveries:
        if delivery.id not in allowed:
            outcomes.append(Outcome(delivery.id, delivery.attempts, NOT_READABLE, "cancelled"))
        elif delivery.channel == "webhook":
            webhooks.append(delivery)
        else:
            emails.append(delivery)
    outcomes += _send_webhooks(webhooks, contents)
    outcomes += _send_emails(emails, contents)
    retries = _record(outcomes)
    for delivery_id, delay in retries:
        dispatch.enqueue(dispatch.TASK_DELIVER, [[delivery_id]], countdown=delay)


def _send_webhooks(deliveries: list[Delivery], contents: _Contents) -> list[Outcome]:
    if not deliveries:
        return []
    allow = AllowList.parse(current_app.config["HUB_WEBHOOK_ALLOW"])
    sender = WebhookSender(current_app.config["HUB_WEBHOOK_TIMEOUT"], connections=WEBHOOK_THREADS)
    # Built here, in the app context; the threads below only do network I/O.
    jobs = []
    outcomes = []
    for delivery in deliveries:
        subscription = delivery.subscription
        body = webhook_body(contents.of(delivery), delivery.public_id)
        headers = signed_headers(subscription.secret or "", body, delivery_id=delivery.public_id, event=delivery.event)
        jobs.append((delivery.id, delivery.attempts, subscription.target, body, headers))

    def attempt(job) -> Outcome:
        delivery_id, attempt_no, url, body, headers = job
        try:
            # Checked again at every attempt: the name may resolve elsewhere by now.
            target = check_target(url, allow)
        except TargetRefused as exc:
            return Outcome(delivery_id, attempt_no, str(exc), "dead")
        try:
            sender.post(target, body, headers)
        except DeliveryFailed as exc:
            return Outcome(delivery_id, attempt_no, str(exc))
        return Outcome(delivery_id, attempt_no)

    try:
        with ThreadPoolExecutor(max_workers=min(WEBHOOK_THREADS, len(jobs))) as pool:
            outcomes = list(pool.map(attempt, jobs))
    finally:
        sender.close()
    return outcomes


def _send_emails(deliveries: list[Delivery], contents: _Contents) -> list[Outcome]:
    outcomes = []
    sender = MailSender()
    try:
        for delivery in deliveries:
            message = alert_message(contents.of(delivery), delivery.subscription.target,
                                    message_key=delivery.public_id)
            try:
                sender.send(message)
            except MailFailed as exc:
                outcomes.append(Outcome(delivery.id, delivery.attempts, str(exc)))
                continue
            outcomes.append(Outcome(delivery.id, delivery.attempts))
    finally:
        sender.close()
    return outcomes


def _record(outcomes: list[Outcome]) -> list[tuple[int, float]]:
    """Write each attempt's outcome (if still the latest attempt); returns retries to schedule."""
    now = utcnow()
    max_attempts = current_app.config["HUB_ALERTS_MAX_ATTEMPTS"]
    delivered = [(o.delivery_id, o.attempt) for o in outcomes if o.error is None]
    if delivered:
        db.session.execute(
            update(Delivery)
            .where(tuple_(Delivery.id, Delivery.attempts).in_(delivered), Delivery.status == "sending")
            .values(status="delivered", delivered_at=now, lease_until=None, next_attempt_at=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
    retries = []
    for outcome in outcomes:
        if outcome.error is None:
            continue
        if outcome.final_status:
            status, next_at = outcome.final_status, None
        elif outcome.attempt >= max_attempts:
            status, next_at = "dead", None
        else:
            delay = backoff_seconds(outcome.attempt)
            status, next_at = "retrying", now + timedelta(seconds=delay)
            retries.append((outcome.delivery_id, delay))
        db.session.execute(
            update(Delivery)
            .where(Delivery.id == outcome.delivery_id, Delivery.attempts == outcome.attempt,
                   Delivery.status == "sending")
            .values(status=status, next_attempt_at=next_at, lease_until=None, last_error=outcome.error[:2000])
            .execution_options(synchronize_session=False)
        )
        if status == "dead":
            log.warning("delivery %s is a dead letter after %s attempt(s): %s",
                        outcome.delivery_id, outcome.attempt, outcome.error)
    db.session.commit()
    return retries


def stalled_delivery_ids(older_than: datetime, limit: int = 5000) -> list[int]:
    """Deliveries whose task was lost (broker outage) or whose worker died: the sweeper's work."""
    now = utcnow()
    return list(db.session.scalars(
        select(Delivery.id)
        .where(or_(
            and_(Delivery.status.in_(RETRYABLE), Delivery.next_attempt_at < older_than),
            and_(Delivery.status == "sending", Delivery.lease_until < now),
        ))
        .order_by(Delivery.id)
        .limit(limit)
    ))


def send_digests(mode: str) -> int:
    """Send each `mode` (hourly/daily) subscription its waiting alerts as one e-mail.

    Returns the number of e-mails sent. Alerts that fail wait for the next digest, and become
    dead letters after the configured number of attempts.
    """
    subscription_ids = list(db.session.scalars(
        select(Delivery.subscription_id)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(Delivery.status == "digest", Subscription.mode == mode, Subscription.channel == "email")
        .distinct()
    ))
    sent = 0
    sender = MailSender()
    try:
        for subscription_id in subscription_ids:
            sent += _send_one_digest(db.session.get(Subscription, subscription_id), mode, sender)
    finally:
        sender.close()
    return sent


def _send_one_digest(subscription: Subscription, mode: str, sender: MailSender) -> int:
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["HUB_ALERTS_LEASE_SECONDS"])
    claimed = list(db.session.scalars(
        update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.status == "digest")
        .values(status="sending", attempts=Delivery.attempts + 1, lease_until=lease, last_attempt_at=now)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ))
    db.session.commit()
    if not claimed:
        return 0
    deliveries = _load(claimed)
    allowed = readable_deliveries(claimed)
    contents = _Contents(deliveries)
    outcomes = [Outcome(d.id, d.attempts, NOT_READABLE, "cancelled") for d in deliveries if d.id not in allowed]
    included = [d for d in deliveries if d.id in allowed]
    sent = 0
    if included:
        message = digest_message(
            [contents.of(d) for d in included], subscription.target, period=mode,
            message_key=f"digest-{subscription.id}-{included[0].public_id}",
        )
        try:
            sender.send(message)
            outcomes += [Outcome(d.id, d.attempts) for d in included]
            sent = 1
        except MailFailed as exc:
            outcomes += [Outcome(d.id, d.attempts, str(exc)) for d in included]
    _record_digest(outcomes)
    subscription.last_digest_at = now
    db.session.commit()
    return sent


def _record_digest(outcomes: list[Outcome]) -> None:
    """Like _record, but a failed digest alert waits for the next digest instead of a retry task."""
    max_attempts = current_app.config["HUB_ALERTS_MAX_ATTEMPTS"]
    retry_later = []
    final = []
    for outcome in outcomes:
        if outcome.error is not None and not outcome.final_status and outcome.attempt < max_attempts:
            retry_later.append(outcome)
        else:
            final.append(outcome)
    _record(final)
    for outcome in retry_later:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id == outcome.delivery_id, Delivery.attempts == outcome.attempt,
                   Delivery.status == "sending")
            .values(status="digest", lease_until=None, last_error=outcome.error[:2000])
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def replayable(delivery: Delivery) -> bool:
    return delivery.status == "dead"


def replay(delivery: Delivery) -> None:
    """Give a dead letter a fresh set of attempts and queue it (the caller checked the right)."""
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.lease_until = None
    db.session.commit()
    dispatch.enqueue_deliveries([delivery.id])
