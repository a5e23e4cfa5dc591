"""Shared items and their STIX versions, audience grants and the observables index."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.accounts.models import Organisation, User
from hub.db import BigId, StixId, UTCDateTime, compress_with_lz4, enum_column
from hub.extensions import db
from hub.tlp import TLP

class SharedItem(db.Model):
    """One STIX object as shared by one organisation: the hub's columns beside its versions.

    The same STIX id shared by two organisations is two items, so that a share never reveals
    that another organisation holds an object the sharer cannot read (policy rule 8).
    """

    __tablename__ = "shared_item"
    # Also the index for owner_org_id alone: an index of its own was one more entry to write
    # with every item and served no query this one does not (migration 13fa57000003).
    __table_args__ = (UniqueConstraint("owner_org_id", "stix_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stix_id: Mapped[str] = mapped_column(StixId, index=True)
    stix_type: Mapped[str] = mapped_column(String(64), index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    tlp: Mapped[TLP] = mapped_column(enum_column(TLP, 12), index=True)
    audience_community: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Indexed: the expiry sweep looks for items whose validity has just ended.
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    # Lower-cased name, description, labels and observable values, for the search box.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # An observable whose id is the one STIX derives from its values: among several
    # organisations' copies of one id, a read serves such a copy first (hub.intel.reads).
    id_from_content: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_added_us: Mapped[int] = mapped_column(BigInteger)
    # date_added of the newest version, in microseconds since the epoch: the list order.
    last_added_us: Mapped[int] = mapped_column(BigInteger, index=True)
    # Checked at commit (deferred): a bulk share writes the item naming its version before the
    # version exists (one COPY each), instead of updating every item row afterwards.
    latest_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("stix_version.id", use_alter=True, name="fk_shared_item_latest_version",
                   deferrable=True, initially="DEFERRED")
    )

    owner: Mapped[Organisation] = relationship(foreign_keys=[owner_org_id])
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    grants: Mapped[list["AudienceGrant"]] = relationship(
        back_populates="item", cascade="all, delete-orphan"
    )
    versions: Mapped[list["StixVersion"]] = relationship(
        back_populates="item",
        foreign_keys="StixVersion.item_id",
        order_by="StixVersion.modified_us",
    )
    latest_version: Mapped["StixVersion | None"] = relationship(
        foreign_keys=[latest_version_id], post_update=True
    )


class AudienceGrant(db.Model):
    """One part of an item's audience: an organisation, a sharing group or a user.

    An item's audience is the union of its grants (plus `audience_community`); widening adds
    grants and nothing ever removes one, so no one loses what they already received.
    """

    __tablename__ = "audience_grant"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("shared_item.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"), index=True
    )
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_group.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)

    item: Mapped[SharedItem] = relationship(back_populates="grants")


class StixVersion(db.Model):
    """One version (id + modified) of a STIX object, serialised canonically."""

    __tablename__ = "stix_version"
    __table_args__ = (UniqueConstraint("item_id", "modified_us"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE"))
    modified_us: Mapped[int] = mapped_column(BigInteger)
    # Server clock, strictly increasing across the hub: TAXII paging relies on it.
    date_added_us: Mapped[int] = mapped_column(BigInteger, unique=True)
    spec_version: Mapped[str] = mapped_column(String(8), default="2.1")
    body: Mapped[str] = mapped_column(Text)
    # The id as this version's sender spelt it, when not in the hub's canonical lower case (the
    # body keeps it too): what a manifest names, without reading every body. Null otherwise.
    id_as_sent: Mapped[str | None] = mapped_column(String(200))
    # The version (modified, else created) as its sender spelt it, when not as
    # store.version_spelling writes modified_us (".120000Z", nine digits, no fraction): what a
    # manifest and the versions endpoint name, as the object and the add's status do. Null otherwise.
    version_as_sent: Mapped[str | None] = mapped_column(Text)

    item: Mapped[SharedItem] = relationship(back_populates="versions", foreign_keys=[item_id])


# A tenth of ATT&CK's objects have bodies over PostgreSQL's 2 kB compression threshold (attack
# patterns' descriptions): writing the ICS bundle's versions took 23-25 ms with pglz, 12-14 ms with
# lz4, inside the date_added lock that bulk writers take in turn.
compress_with_lz4(StixVersion.__table__, "body")


class Observable(db.Model):
    """An observable value named by an item (indicator pattern or SCO), normalised for lookup."""

    __tablename__ = "observable"
    __table_args__ = (
        Index("ix_observable_value_kind", "value", "kind"),
        # Also the index for item_id alone (see SharedItem's unique constraint).
        UniqueConstraint("item_id", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE", deferrable=True,
                                                    initially="DEFERRED"))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(2048))
    # IP addresses and networks only (hub.intel.observables.ip_key): CIDR containment by range.
    ip_key: Mapped[str | None] = mapped_column(String(40), index=True)


class ItemReference(db.Model):
    """A STIX id that a derived item refers to: a relationship's ends, what a sighting saw.

    The policy hides a derived item from readers who cannot read one of the items it names
    (SHARING_POLICY.md rule 7), with index lookups rather than parsing bodies at read time.
    """

    __tablename__ = "item_reference"
    # Also the index for item_id alone (see SharedItem's unique constraint).
    __table_args__ = (UniqueConstraint("item_id", "ref_stix_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id", ondelete="CASCADE", deferrable=True,
                                                    initially="DEFERRED"))
    ref_stix_id: Mapped[str] = mapped_column(StixId, index=True)
    # Whether a user writing a version that names the end could read it then (or shared it
    # alongside). Within the item's own organisation only such an end hides the item (rule 7):
    # one its writers could not read must not tell them, by hiding it, that someone holds it.
    writer_reads_end: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class WarningList(db.Model):
    """A loaded (so enabled) list of known-benign values, from MISP's warninglists.

    Dropping a list deletes it and its entries; `name` is the list's directory name in
    pymispwarninglists (e.g. "rfc1918"), `title` MISP's own name for it.
    """

    __tablename__ = "warning_list"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # MISP's list type: string, hostname, substring or cidr (regex lists are not loaded).
    misp_type: Mapped[str] = mapped_column(String(16))
    misp_version: Mapped[int] = mapped_column(BigInteger, default=0)
    # The observable kinds its values stand for, from MISP's matching_attributes (comma-separated):
    # whether its domains also flag URL hosts and e-mail domains.
    applies_to: Mapped[str] = mapped_column(String(200), default="")
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WarningListEntry(db.Model):
    """One value of a warning list, normalised as the observable index is.

    `match` says how it applies: "exact" (the normalised value itself), "suffix" (a domain and
    every name under it) or "cidr" (an IPv4/IPv6 network, in `value` as CIDR text).
    """

    __tablename__ = "warning_list_entry"
    __table_args__ = (Index("ix_warning_list_entry_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("warning_list.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(2048))
    match: Mapped[str] = mapped_column(String(8))


class WarningListStamp(db.Model):
    """One row whose token changes with every load or drop: a process holding the lists in
    memory compares it to know, with one tiny query, whether its copy is current."""

    __tablename__ = "warning_list_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


class SightingUpload(db.Model):
    """What one bulk sighting upload matched, kept so the result has its own page (the upload
    redirects there: reloading it never records the sightings twice). Only its uploader sees it."""

    __tablename__ = "sighting_upload"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    value_count: Mapped[int] = mapped_column(Integer)
    matched_count: Mapped[int] = mapped_column(Integer)
    unmatched_count: Mapped[int] = mapped_column(Integer)
    sighting_count: Mapped[int] = mapped_column(Integer)
    # JSON [[value as sent, [stix ids]], ...]: the first SHOWN_MATCHES matches only.
    shown_matches: Mapped[str] = mapped_column(Text)
