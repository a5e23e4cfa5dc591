"""The append-only audit log.

Rows are only ever inserted; the migration adds database triggers that refuse UPDATE and
DELETE, so not even a bug in the hub can rewrite history. An organisation's admin reads the
events whose `subject_org_id` is their organisation.

Each row also carries the hash of the row before it (in id order) and its own hash over its
fields and that link, so that someone who gets past the triggers (a superuser) cannot remove
or alter an entry without `flask audit verify` naming where. Every insert path chains its rows
through `chain_rows` under one transaction-level lock, so concurrent writers never fork it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import orjson
from celery import current_task
from flask import has_request_context, request
from sqlalchemy import Index, Integer, String, Text, event, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import BigId, UTCDateTime, as_utc, utcnow
from hub.extensions import db
from hub.principal import Principal


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject_org_id_id", "subject_org_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    # Ids of the user, organisations and item the entry names, without foreign keys: the log is a
    # record of what happened, hash-chained and never changed, which must neither hold up nor
    # depend on the rows it names; and in a bulk share the four row-by-row key checks were most
    # of the cost of writing its entries (18-25 ms of every 1,000 shared objects; 4-6 ms without).
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_org_id: Mapped[int | None] = mapped_column(Integer)
    # The organisation whose admin reads this event: the item's owner, or the actor's own org.
    subject_org_id: Mapped[int | None] = mapped_column(Integer)
    item_id: Mapped[int | None] = mapped_column(BigId)
    stix_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# The link the first entry points back to.
GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key of the chain's tail (any constant unique to this purpose).
CHAIN_LOCK_KEY = 0x4155444954  # "AUDIT"
HASHED_FIELDS = ("at", "action", "actor_user_id", "actor_org_id", "subject_org_id", "item_id", "stix_id",
                 "detail")


@lru_cache(maxsize=64)  # the entries of one bulk share all carry the same time
def _canonical_time(value: datetime) -> str:
    # Raw rows (the migration's backfill) may come back naive from SQLite: every stored time is UTC.
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(fields: dict, prev_hash: str) -> str:
    """Hex SHA-256 over a canonical serialisation of an entry (HASHED_FIELDS) and its link."""
    values = [prev_hash] + [
        _canonical_time(fields["at"]) if name == "at" else fields.get(name) for name in HASHED_FIELDS
    ]
    return hashlib.sha256(orjson.dumps(values)).hexdigest()


def _chain_tail(session: Session) -> str:
    """The last entry's hash, after taking the chain lock (held until this transaction ends)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    last = connection.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    return last or GENESIS_HASH


def chain_rows(rows: list[dict], session: Session | None = None) -> list[dict]:
    """Fill in `prev_hash` and `hash` of rows about to be inserted, in order, at the chain's tail.

    Call right before the INSERT, in the transaction that makes it; until that transaction ends
    no other writer can append.
    """
    session = session or db.session()
    if any(isinstance(obj, AuditEvent) for obj in session.new):
        session.flush()  # ORM entries added earlier go first
    prev = _chain_tail(session)
    for row in rows:
        row.setdefault("at", utcnow())
        row.setdefault("detail", "{}")
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row, prev)
    return rows


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, _flush_context, _instances) -> None:
    """Entries added through the ORM (`record`) are chained as they are flushed."""
    new = sorted((obj for obj in session.new if isinstance(obj, AuditEvent)),
                 key=lambda obj: obj._sa_instance_state.insert_order)
    if not new:
        return
    prev = _chain_tail(session)
    for entry in new:
        entry.at = entry.at or utcnow()
        entry.detail = entry.detail if entry.detail is not None else "{}"
        entry.prev_hash = prev
        entry.hash = prev = entry_hash({name: getattr(entry, name) for name in HASHED_FIELDS}, prev)


# How an action reached the hub. Taken from where the code runs, never from the caller, so that a
# service called from a web page is not labelled with the default of a service written for the API.
TRANSPORTS = ("web", "api", "taxii", "cli", "worker")


def current_channel() -> str:
    """The transport of the action being recorded: web, api, taxii, cli or worker."""
    if has_request_context():
        path = request.path
        if path == "/api" or path.startswith("/api/"):
            return "api"
        if path == "/taxii2" or path.startswith("/taxii2/"):
            return "taxii"
        return "web"
    if current_task and current_task.request.id is not None:  # a proxy: false outside a task
        return "worker"
    return "cli"


def _with_channel(detail: dict) -> dict:
    """`detail` with the detected channel; a caller's finer label ("search") is kept as `via`."""
    channel = current_channel()
    given = detail.get("channel")
    if given is not None and given not in TRANSPORTS and "via" not in detail:
        detail = {**detail, "via": given}
    return {**detail, "channel": channel}


def record(
    action: str,
    principal: Principal | None,
    *,
    subject_org_id: int | None = None,
    item=None,
    **detail,
) -> None:
    """Add one event to the current transaction; it commits (or rolls back) with the change."""
    db.session.add(
        AuditEvent(
            action=action,
            actor_user_id=principal.user_id if principal else None,
            actor_org_id=principal.org_id if principal else None,
            subject_org_id=subject_org_id
            if subject_org_id is not None
            else (item.owner_org_id if item else (principal.org_id if principal else None)),
            item_id=item.id if item else None,
            stix_id=item.stix_id if item else None,
            detail=orjson.dumps(_with_channel(detail)).decode(),
        )
    )


def record_reads(principal: Principal, items, channel: str) -> None:
    """Audit reads of these shared items, in one INSERT.

    Which reads are audited is the policy's decision (`policy.is_audited_read`); callers go
    through `intel.reads.audit_reads`.
    """
    rows = [
        {
            "action": "read",
            "actor_user_id": principal.user_id,
            "actor_org_id": principal.org_id,
            "subject_org_id": item.owner_org_id,
            "item_id": item.id,
            "stix_id": item.stix_id,
            "detail": orjson.dumps(_with_channel({"channel": channel})).decode(),
            "at": utcnow(),
        }
        for item in items
    ]
    if rows:
        db.session.execute(insert(AuditEvent), chain_rows(rows))
        _commit_keeping_loaded_objects()


def _commit_keeping_loaded_objects() -> None:
    """Commit without expiring what the session holds.

    Reads are audited before the page is rendered; a normal commit would expire every item
    on the page and reload each one, one query at a time, while it is serialised.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def events_for_org(org_id: int, *, limit: int = 100, before_id: int | None = None):
    """The audit log an organisation's admin reads: events about its items and its own users."""
    query = select(AuditEvent).where(AuditEvent.subject_org_id == org_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)).all()


@dataclass(frozen=True)
class ChainCheck:
    count: int
    broken_at: int | None  # the id of the first entry whose hash or link does not hold
    reason: str = ""


def verify_chain(batch: int = 5000) -> ChainCheck:
    """Walk the whole log in id order, recomputing every hash and link."""
    prev, count, after_id = GENESIS_HASH, 0, None
    columns = [AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash] + [
        getattr(AuditEvent, name) for name in HASHED_FIELDS]
    while True:
        query = select(*columns).order_by(AuditEvent.id).limit(batch)
        if after_id is not None:
            query = query.where(AuditEvent.id > after_id)
        rows = db.session.execute(query).all()
        if not rows:
            return ChainCheck(count, None)
        for row in rows:
            fields = row._mapping
            if fields["prev_hash"] != prev:
                return ChainCheck(count, row.id, "it does not link to the entry before it "
                                                 "(an entry was removed or altered)")
            if entry_hash(fields, prev) != fields["hash"]:
                return ChainCheck(count, row.id, "its content does not match its hash (it was altered)")
            prev, count = fields["hash"], count + 1
        after_id = rows[-1].id
