"""A blocklist feed: what one organisation exports to its firewalls, and the token that reads it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.accounts.models import Organisation, User
from hub.db import BigId, UTCDateTime, utcnow
from hub.extensions import db


class Feed(db.Model):
    """One feed URL of an organisation. It reads as the organisation as a whole (policy
    `readable_items_for_organisation`), filtered by observable kinds, TLPs and confidence."""

    __tablename__ = "feed"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # What the URL carries: random and unguessable, so that URLs in firewall configs name nothing.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Observable kinds (hub.intel.observables) and TLP values the feed carries.
    kinds: Mapped[list] = mapped_column(JSON)
    tlps: Mapped[list] = mapped_column(JSON)
    min_confidence: Mapped[int] = mapped_column(Integer, default=0)
    # SHA-256 of the feed's token (as API tokens): the token is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    org: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship()
