"""The transactional outbox: every event that may alert someone, written with the change itself.

`announce()` (and `announce_many()` for bulk writes) is the only writer of outbox rows; the
alert feature fans them out after commit, and a sweeper catches what the broker missed. `Event`
is the one list of event names.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, insert
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import BigId, UTCDateTime, insert_ignoring_duplicates, insert_rows, on_postgresql, reserve_ids, utcnow
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


# Where a session keeps the ids of the outbox entries its transaction wrote (hub.alerts.dispatch
# queues them after commit and forgets them on rollback).
NEW_ENTRIES_KEY = "alerts_outbox_ids"


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
    """`announce` for a bulk write: one event per (item id, version id), in one statement.

    Written with SQL rather than as ORM objects (a third of a bulk share's write time went on
    building and flushing them); the new ids are remembered on the session like flushed entries,
    so the alert fan-out queues them after commit all the same.
    """
    if not items_and_versions:
        return
    table = OutboxEntry.__table__
    rows = [{"item_id": item_id, "version_id": version_id} for item_id, version_id in items_and_versions]
    constants = {"event": Event(event).value, "created": utcnow()}
    if on_postgresql():
        ids = reserve_ids(table, len(rows))
        insert_rows(OutboxEntry, [{"id": entry_id, **row} for entry_id, row in zip(ids, rows)], constants)
    else:
        ids = list(db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                      [{**row, **constants} for row in rows]).scalars())
    remember_new_entries(db.session, ids)


def remember_new_entries(session, entry_ids: list[int]) -> None:
    """Note outbox entries written in the session's transaction: fanned out once it commits."""
    session.info.setdefault(NEW_ENTRIES_KEY, []).extend(entry_ids)


def announce_once_each(event: Event | str, rows: list[dict]) -> list[tuple[int, datetime | None]]:
    """Announce rows ({item_id, version_id, once_key, dispatched_at}) whose once_key is new;
    the (id, dispatched_at) of those written. Racing writers write each key once."""
    values = [{**row, "event": Event(event).value, "created": row.get("created") or utcnow()} for row in rows]
    if not values:
        return []
    return [tuple(row) for row in db.session.execute(
        insert_ignoring_duplicates(OutboxEntry).returning(OutboxEntry.id, OutboxEntry.dispatched_at), values
    ).all()]
