"""The transactional outbox: every event that may alert someone, written with the change itself.

`announce()` (and `announce_many()` for bulk writes) is the only writer of outbox rows; the
alert feature fans them out after commit, and a sweeper catches what the broker missed. `Event`
is the one list of event names.

Every row announced in one transaction belongs to one *sharing act* (`act`): an incident report
with its relationships, actor and indicators, a bundle, a TAXII add. The fan-out turns an act
into one alert per recipient, whichever share path wrote it, and leaves out the person who acted
(`actor_user_id`).
"""
from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, insert
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import BigId, UTCDateTime, copy_sequences, insert_ignoring_duplicates, on_postgresql, reserve_ids, utcnow
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
    # Incident reporting between a hospital and its national CERT.
    incident_significant = "incident_significant"
    early_warning_sent = "early_warning_sent"
    notification_sent = "notification_sent"
    intermediate_sent = "intermediate_sent"
    progress_sent = "progress_sent"
    final_report_sent = "final_report_sent"
    advice_given = "advice_given"
    intermediate_asked = "intermediate_asked"


ITEM_EVENTS = (Event.shared, Event.updated, Event.revoked, Event.expired, Event.widened, Event.sighted)
CASE_EVENTS = (Event.case_opened, Event.case_message, Event.case_status)
REMINDER_EVENTS = (Event.nis2_early_warning, Event.nis2_notification, Event.nis2_intermediate,
                   Event.nis2_progress, Event.nis2_final)
INCIDENT_EVENTS = (Event.incident_significant, Event.early_warning_sent, Event.notification_sent,
                   Event.intermediate_sent, Event.progress_sent, Event.final_report_sent, Event.advice_given,
                   Event.intermediate_asked)
# The event announced when a hospital submits each NIS2 stage (hub.incidents.nis2.Stage values).
SUBMITTED_EVENTS = {"early_warning": Event.early_warning_sent, "notification": Event.notification_sent,
                    "intermediate": Event.intermediate_sent, "progress": Event.progress_sent,
                    "final": Event.final_report_sent}
# Events that follow an earlier alert about the same item (told only to those who heard it).
FOLLOW_UP_EVENTS = (Event.updated, Event.revoked, Event.expired)


def names(events) -> tuple[str, ...]:
    return tuple(event.value for event in events)


class OutboxEntry(db.Model):
    __tablename__ = "outbox_entry"
    __table_args__ = (
        Index("ix_outbox_entry_pending", "dispatched_at", "id"),
        Index("ix_outbox_entry_item_id_event", "item_id", "event"),
        Index("ix_outbox_entry_act", "act"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event: Mapped[str] = mapped_column(String(20))
    # No foreign keys: an entry is written with its item and version, in their transaction, by
    # the one write path, and nothing deletes items. Checking each entry's two keys row by row
    # was two fifths of the cost of writing a bulk share's outbox (migration 13fa57000002).
    item_id: Mapped[int] = mapped_column(BigId)
    version_id: Mapped[int | None] = mapped_column(BigId)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the fan-out once every recipient's notification exists; the sweeper re-enqueues
    # rows left unset (broker or worker was down).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Events that must happen once (an item's expiry) carry a key the database keeps unique,
    # so two sweeps racing each other still write one row.
    once_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # The sharing act (one transaction) this row belongs to: fanned out together, one alert per
    # recipient. None for rows that stand alone (expiries, reminders).
    act: Mapped[str | None] = mapped_column(String(32))
    # Who did it: never alerted about their own act. None for the hub's own events (expiry).
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)

    item: Mapped["SharedItem"] = relationship(  # noqa: F821 (the intel model, by name)
        "SharedItem", primaryjoin="foreign(OutboxEntry.item_id) == SharedItem.id", viewonly=True)


# Where a session keeps the ids of the outbox entries its transaction wrote (hub.alerts.dispatch
# queues them after commit and forgets them on rollback).
NEW_ENTRIES_KEY = "alerts_outbox_ids"

_ACT_KEY = "outbox_act"

# Asked by announce_many whether an act of an event about items of some STIX types can alert
# anyone; set by the alert feature (hub.alerts.init_app), which owns subscriptions and built-in
# alerts. Unset (a bare app, SQLite's simple path), every entry is fanned out after commit.
_alerts_nobody: Callable[[str, set[str]], bool] | None = None


def decide_unheard_acts_with(check: Callable[[str, set[str]], bool] | None) -> None:
    """`check(event, stix_types)` True: the entries of that act are written as dispatched, and
    no fan-out is queued for them. It answers for the current transaction until it commits."""
    global _alerts_nobody
    _alerts_nobody = check


def _transaction():
    session = db.session()
    if session.get_transaction() is None:
        session.connection()  # begins it: an act is tied to one transaction
    return session, session.get_transaction()


def current_act() -> str:
    """The id of the sharing act in progress: one per transaction, made on first use."""
    session, transaction = _transaction()
    held = session.info.get(_ACT_KEY)
    if held is None or held[0] is not transaction:
        held = session.info[_ACT_KEY] = (transaction, uuid.uuid4().hex)
    return held[1]


def continue_act(act: str) -> None:
    """Announce what the current transaction writes as part of an act begun earlier: a large
    TAXII add written in chunks is still one sharing act (32 characters, e.g. a uuid's hex)."""
    session, transaction = _transaction()
    session.info[_ACT_KEY] = (transaction, act[:32])


def announce(event: Event | str, item_id: int, version_id: int | None, *, actor_id: int | None = None,
             once_key: str | None = None, dispatched_at: datetime | None = None) -> OutboxEntry:
    """Record an event about a shared item in the current transaction; it commits with the change.

    `actor_id`: the user who acted, never alerted about it. `dispatched_at` set means the caller
    has told its recipients itself (case activity rings bells directly); the row is then the
    record, and nobody is alerted twice.
    """
    standalone = once_key is not None or dispatched_at is not None
    entry = OutboxEntry(event=Event(event).value, item_id=item_id, version_id=version_id,
                        once_key=once_key, dispatched_at=dispatched_at, actor_user_id=actor_id,
                        act=None if standalone else current_act())
    db.session.add(entry)
    return entry


def announce_many(event: Event | str, items_and_versions: list[tuple[int, int]], *,
                  actor_id: int | None = None, stix_types: set[str] | None = None) -> None:
    """`announce` for a bulk write: one event per (item id, version id), in one statement, all
    of the current sharing act.

    Written with SQL rather than as ORM objects (a third of a bulk share's write time went on
    building and flushing them); the new ids are remembered on the session like flushed entries,
    so the alert fan-out queues them after commit all the same. When the alert feature answers
    that nobody can be alerted of this act (`stix_types`: the types of the items), the entries are
    written as dispatched instead: rewriting every one of them after commit only to say so cost
    the database a tenth of a bulk share.
    """
    if not items_and_versions:
        return
    table = OutboxEntry.__table__
    event = Event(event).value
    unheard = stix_types is not None and _alerts_nobody is not None and _alerts_nobody(event, stix_types)
    constants = {"event": event, "created": utcnow(), "act": current_act(), "actor_user_id": actor_id,
                 "dispatched_at": utcnow() if unheard else None}
    if on_postgresql():
        # New entries (fresh ids, no once_key): nothing to skip, so COPY rather than arrays.
        ids = reserve_ids(table, len(items_and_versions))
        same = tuple(constants.values())
        copy_sequences(table, ["id", "item_id", "version_id", *constants],
                       [(entry_id, item_id, version_id, *same)
                        for entry_id, (item_id, version_id) in zip(ids, items_and_versions)])
    else:
        ids = list(db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), [
            {"item_id": item_id, "version_id": version_id, **constants} for item_id, version_id in items_and_versions
        ]).scalars())
    if not unheard:
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
