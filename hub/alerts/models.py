"""The transactional outbox: one row per sharing event, committed with the event itself."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.accounts.models import utcnow
from hub.extensions import db
from hub.intel.models import BigId


class OutboxEntry(db.Model):
    __tablename__ = "outbox_entry"
    __table_args__ = (Index("ix_outbox_entry_pending", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event: Mapped[str] = mapped_column(String(20))  # shared, updated, revoked, expired, widened
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("stix_version.id"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by the fan-out once every recipient's notification exists; the sweeper re-enqueues
    # rows left unset (broker or worker was down).
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
