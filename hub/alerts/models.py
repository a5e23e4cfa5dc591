"""Alerts: the transactional outbox, subscriptions, in-app notifications and outbound deliveries.

Every sharing act writes an OutboxEntry in its own transaction. The fan-out turns one entry into
Notifications (in-app, one per user) and Deliveries (e-mail and webhook, one per target), each
behind a unique key, so running the fan-out or a delivery twice never shows an alert twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.accounts.models import Organisation, User

from hub.db import BigId, UTCDateTime, utcnow
from hub.extensions import db
from hub.outbox import OutboxEntry
from hub.intel.models import SharedItem
from hub.secrets_at_rest import EncryptedText

CHANNELS = ("in_app", "email", "webhook")
MODES = ("immediate", "hourly", "daily")
SCOPES = ("user", "org")
# coalesced: one object of a sharing act whose alert went out with the act's main object (the
# row keeps who heard of the object, for later updates; it is never sent itself).
DELIVERY_STATUSES = ("pending", "sending", "retrying", "delivered", "dead", "cancelled", "digest", "coalesced")


class Subscription(db.Model):
    """What to be told about (filters), how (channel, target) and when (mode).

    A `user` subscription alerts its user about what that user may read; an `org` subscription,
    set by an organisation admin, alerts about what the organisation as a whole may read
    (never what only a named user may), on the organisation's webhook, mailbox or every member's
    bell.
    """

    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    scope: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(10))
    target: Mapped[str | None] = mapped_column(String(2048))
    # The webhook signing key: needed in clear to sign, so never shown again after creation.
    # The webhook signing secret, encrypted at rest (hub/secrets_at_rest.py).
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    filters: Mapped[str] = mapped_column(Text, default="{}")
    mode: Mapped[str] = mapped_column(String(10), default="immediate")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    org: Mapped[Organisation] = relationship()


class Notification(db.Model):
    """One in-app alert for one user; the bell counts the unread ones."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("outbox_id", "user_id"),
        Index("ix_notification_user_id_id", "user_id", "id"),
        Index("ix_notification_user_id_read_at_id", "user_id", "read_at", "id"),
        Index("ix_notification_item_id_user_id", "item_id", "user_id"),
        Index("ix_notification_act_user_id", "act", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_entry.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The sharing act (hub.outbox) it belongs to. One notification per act and user is the
    # `lead`, shown with "and N related objects"; the others only record that the user heard of
    # their object (so that its updates reach them) and are never listed.
    act: Mapped[str | None] = mapped_column(String(32))
    lead: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    item: Mapped[SharedItem] = relationship()
    outbox: Mapped[OutboxEntry] = relationship()


class MutedDefault(db.Model):
    """A built-in alert (hub/alerts/defaults.py) that a user turned off."""

    __tablename__ = "muted_default"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(40), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(db.Model):
    """One alert on its way to one e-mail address or webhook: attempts, backoff, dead letter.

    Unique per (outbox entry, channel, recipient): two subscriptions that point at the same
    address get one message. `public_id` is the webhook's delivery_id, the same on every retry.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("outbox_id", "channel", "recipient_key"),
        Index("ix_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_delivery_subscription_id_id", "subscription_id", "id"),
        Index("ix_delivery_item_id_subscription_id", "item_id", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_entry.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE")
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    # SHA-256 of the normalised target: the "recipient" part of the unique key.
    recipient_key: Mapped[str] = mapped_column(String(64))
    # pending → sending → delivered; sending → retrying → sending …; → dead after the last
    # attempt; → cancelled when the recipient may no longer read the item; digest: waits for
    # the subscription's hourly or daily digest.
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A worker owns a delivery in `sending` until then; after it (the worker died), the sweeper
    # hands it to another.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    subscription: Mapped[Subscription] = relationship()
    outbox: Mapped[OutboxEntry] = relationship()
    item: Mapped[SharedItem] = relationship()
