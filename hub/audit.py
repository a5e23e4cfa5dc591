"""The append-only audit log.

Rows are only ever inserted; the migration adds database triggers that refuse UPDATE and
DELETE, so not even a bug in the hub can rewrite history. An organisation's admin reads the
events whose `subject_org_id` is their organisation.
"""
from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import ForeignKey, Index, String, Text, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import BigId, UTCDateTime, utcnow
from hub.extensions import db
from hub.principal import Principal


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject_org_id_id", "subject_org_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # The organisation whose admin reads this event: the item's owner, or the actor's own org.
    subject_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("shared_item.id"))
    stix_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text, default="{}")


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
            detail=orjson.dumps(detail).decode(),
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
            "detail": orjson.dumps({"channel": channel}).decode(),
            "at": utcnow(),
        }
        for item in items
    ]
    if rows:
        db.session.execute(insert(AuditEvent), rows)
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
