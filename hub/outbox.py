"""The transactional outbox: every event that may alert someone, written with the change itself.

`announce()` (and `announce_many()` for bulk writes) is the only writer of outbox rows; the
alert feature fans them out after commit, and a sweeper catches what the broker missed. `Event`
is the one list of event names.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import BigId, UTCDateTime, insert_ignoring_duplicates, reserve_ids, utcnow
from hub.extensions import db


class Event(str, enum.Enum):
    # What happens to a shared item; subscribers filter on these.
    shared = "shared"
    updated = "updated"
    revoked = "revoked"
    expired = "expired"
    widened = "widened"
    sighted = "sighted"
    # Law-enforcement case activity: rings the other side's bell.
    case_opened = "case_opened"
    case_message = "case_message"
    case_status = "case_status"
    # NIS2 deadline reminders for the hospital team.
    nis2_early_warning = "nis2_early_warning"
    nis2_notification = "nis2_notification"
    nis2_intermediate = "nis2_intermediate"
    nis2_progress = "nis2_progress"
    nis2_final = "nis2_final"


ITEM_EVENTS = (Event.shared, Event.updated, Event.revoked, Event.expired, Event.widened, Event.sighted)
CASE_EVENTS = (Event.case_opened, Event.case_message, Event.case_status)
REMINDER_EVENTS = (Event.nis2_early_warning, Event.nis2_notification, Event.nis2_intermediate,
                   Event.nis2_progress, Event.nis2_final)
# Events that follow an earlier alert about the same item (told only to those who heard it).
FOLLOW_UP_EVENTS = (Event.updated, Event.revoked, Event.expired)


def names(events) -> tuple[str, ...]:
    return tuple(event.value for event in events)


class OutboxEntry(db.Model):
    __tablename__ = "outbox_entry"
    __table_args__ = (
        Index("ix_outbox_entry_pending", "dispatched_at", "id"),
        Index("ix_outbox_entry_item_id_event", "item_id", "event"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("stix_version.id"))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the fan-out once every recipient's notification exists; the sweeper re-enqueues
    # rows left unset (broker or worker was down).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Events that must happen once (an item's expiry) carry a key the database keeps unique,
    # so two sweeps racing each other still write one row.
    once_key: Mapped[str | None] = mapped_column(String(100), unique=True)

    item: Mapped["SharedItem"] = relationship("SharedItem")  # noqa: F821 (the intel model, by name)


def announce(event: Event | str, item_id: int, version_id: int | None, *, once_key: str | None = None,
             dispatched_at: datetime | None = None) -> OutboxEntry:
    """Record an event about a shared item in the current transaction; it commits with the change.

    `dispatched_at` set means the caller has told its recipients itself (case activity rings
    bells directly); the row is then the record, and nobody is alerted twice.
    """
    entry = OutboxEntry(event=Event(event).value, item_id=item_id, version_id=version_id,
                        once_key=once_key, dispatched_at=dispatched_at)
    db.session.add(entry)
    return entry


def announce_many(event: Event | str, items_and_versions: list[tuple[int, int]]) -> None:
    """`announce` for a bulk write: one event per (item id, version id), ids reserved in one go."""
    ids = reserve_ids(OutboxEntry.__table__, len(items_and_versions))
    db.session.add_all(
        OutboxEntry(event=Event(event).value, item_id=item_id, version_id=version_id,
                    **({"id": entry_id} if entry_id else {}))
        for (item_id, version_id), entry_id in zip(items_and_versions, ids)
    )


def announce_once_each(event: Event | str, rows: list[dict]) -> list[tuple[int, datetime | None]]:
    """Announce rows ({item_id, version_id, once_key, dispatched_at}) whose once_key is new;
    the (id, dispatched_at) of those written. Racing writers write each key once."""
    values = [{**row, "event": Event(event).value, "created": row.get("created") or utcnow()} for row in rows]
    if not values:
        return []
    return [tuple(row) for row in db.session.execute(
        insert_ignoring_duplicates(OutboxEntry).returning(OutboxEntry.id, OutboxEntry.dispatched_at), values
    ).all()]
