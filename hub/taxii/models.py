"""TAXII's own tables: the status resources of add-objects requests, the requests the workers
finish (pending adds), and collection defaults."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import UTCDateTime, compress_with_lz4, enum_column, utcnow
from hub.extensions import db
from hub.intel.models import SharedItem
from hub.tlp import TLP


# Collections serve the latest version of each item by default: the page walks stix_version in
# date_added order and reaches each item through this index (a version is the latest of at most
# one item). Declared here, beside the TAXII tables, because TAXII paging is what needs it.
Index("ix_shared_item_latest_version_id", SharedItem.latest_version_id, unique=True)


class TaxiiStatus(db.Model):
    """The outcome of one POST to a collection's objects, as the status endpoint reports it.

    Readable by the user who posted only: the lists name every object of the request.
    """

    __tablename__ = "taxii_status"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[str] = mapped_column(String(36))
    request_timestamp_us: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="complete")
    total_count: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    pending_count: Mapped[int] = mapped_column(Integer, default=0)
    # {"successes": [...], "failures": [...], "pendings": [...]}, each a list of status-details.
    details: Mapped[str] = mapped_column(Text, default="{}")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class TaxiiPendingAdd(db.Model):
    """A large add-objects request, kept until the workers have shared every object of it.

    The posted objects are stored with the request, so a worker that dies, or a broker that loses
    the task, loses nothing. The request is cut into `slice_count` slices (TaxiiPendingSlice) that
    separate workers share at the same time (hub/taxii/pending.py). One row per status resource.
    """

    __tablename__ = "taxii_pending_add"

    id: Mapped[str] = mapped_column(ForeignKey("taxii_status.id", ondelete="CASCADE"), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(36))
    # The `objects` of the envelope, as JSON (lz4-compressed on PostgreSQL: compress_with_lz4).
    objects: Mapped[str] = mapped_column(Text)
    # Every version of one STIX id falls in the same slice (pending.slice_positions).
    slice_count: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaxiiPendingSlice(db.Model):
    """One slice of a pending add that is not finished yet: what a worker claims and continues.

    A worker holds a slice under a lease; after that, the sweeper may hand it to another worker,
    which continues after the last object recorded. Deleted when its last object is recorded.
    """

    __tablename__ = "taxii_pending_slice"

    status_id: Mapped[str] = mapped_column(ForeignKey("taxii_pending_add.id", ondelete="CASCADE"), primary_key=True)
    slice_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Objects of this slice shared (or refused) so far, and recorded in the status.
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class TaxiiCollectionDefault(db.Model):
    """An organisation's explicit default TLP for objects posted unmarked to one collection.

    Without one, an unmarked object is rejected (the sharing policy: the TLP is the sharer's
    explicit choice, never the hub's guess).
    """

    __tablename__ = "taxii_collection_default"
    __table_args__ = (UniqueConstraint("org_id", "collection_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[str] = mapped_column(String(36))
    tlp: Mapped[TLP] = mapped_column(enum_column(TLP, 12))
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# A pending add's request is written once by the web worker that answers 202 and read back by the
# workers: with PostgreSQL's default compression (pglz) the 2.5 MB of the ATT&CK ICS bundle took
# 35-40 ms to store, with lz4 11-12 ms, and less space. Only where the server was built with lz4.
compress_with_lz4(TaxiiPendingAdd.__table__, "objects")
