"""Incident records kept beside the shared STIX objects.

The report's STIX objects (`incident`, `impact`, …) live in the intel store as SharedItems, so TLP,
audience and rule 6 of the sharing policy apply to them like to any item. What follows here is
what the store does not hold: the structured revisions a hospital edits, NIS2 submissions,
law-enforcement consents and cases, evidence with its custody log, and anonymised summaries.
"""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.accounts.models import Organisation, User

from hub.db import BigId, StixId, UTCDateTime, enum_column, utcnow
from hub.extensions import db
from hub.intel.models import SharedItem


def new_public_id() -> str:
    return str(uuid.uuid4())


class Incident(db.Model):
    """One incident report of one organisation; `item` is its STIX `incident` object."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stix_id: Mapped[str] = mapped_column(StixId, unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id"), unique=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    title: Mapped[str] = mapped_column(String(300))
    attack_type: Mapped[str] = mapped_column(String(32))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # NIS2: set when the hospital marks the incident significant; the clocks run from here.
    significant: Mapped[bool] = mapped_column(Boolean, default=False)
    aware_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the incident was handled (the final report's clock when it was still ongoing).
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An intermediate report requested by the CSIRT, due then.
    intermediate_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revision_count: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[SharedItem] = relationship(foreign_keys=[item_id])
    owner: Mapped[Organisation] = relationship(foreign_keys=[owner_org_id])
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    revisions: Mapped[list["IncidentRevision"]] = relationship(
        back_populates="incident", order_by="IncidentRevision.number"
    )


class IncidentItem(db.Model):
    """Every shared item that belongs to an incident report (incident, impacts, threat actor,
    relationships): consent to law enforcement covers exactly these."""

    __tablename__ = "incident_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shared_item.id"), unique=True)


class IncidentRevision(db.Model):
    """The report as filed or updated: every revision is kept (the form's data, as JSON)."""

    __tablename__ = "incident_revision"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[str] = mapped_column(Text)
    # The author confirmed that flagged free text may leave the hospital as written.
    personal_data_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)

    incident: Mapped[Incident] = relationship(back_populates="revisions")
    author: Mapped[User] = relationship()


class CaseStatus(str, enum.Enum):
    received = "received"
    under_review = "under_review"
    investigation_opened = "investigation_opened"
    declined = "declined"
    closed = "closed"


class LawEnforcementCase(db.Model):
    """A hospital's consent to one law-enforcement organisation for one incident, and the case
    that organisation works on it. The liaison sees the case only while consent is active."""

    __tablename__ = "law_enforcement_case"
    __table_args__ = (UniqueConstraint("incident_id", "org_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    consent_active: Mapped[bool] = mapped_column(Boolean, default=True)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus, 24), default=CaseStatus.received)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    incident: Mapped[Incident] = relationship()
    org: Mapped[Organisation] = relationship()


class CaseMessage(db.Model):
    """A message on a case between the hospital and the liaison; `kind` marks requests for
    information, which the hospital sees as open until it answers."""

    __tablename__ = "case_message"
    __table_args__ = (Index("ix_case_message_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("law_enforcement_case.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    author_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(20), default="message")  # message | info_request
    body: Mapped[str] = mapped_column(Text)
    personal_data_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship()


class IncidentAdvice(db.Model):
    """A national CERT's advice on an incident, e.g. to involve law enforcement (NIS2 Art. 23(5))."""

    __tablename__ = "incident_advice"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(32), default="involve_law_enforcement")
    body: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    org: Mapped[Organisation] = relationship()


class NisSubmission(db.Model):
    """One NIS2 report as submitted: a snapshot of the incident at that moment, never changed."""

    __tablename__ = "nis_submission"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revision_number: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[str] = mapped_column(Text)
    # NIS2 Art. 23(4)(a), asked with the early warning (and updated by later reports):
    # yes | no | unknown.
    suspected_malicious: Mapped[str | None] = mapped_column(String(8))
    cross_border_impact: Mapped[str | None] = mapped_column(String(8))
    cross_border_countries: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    # The sender's one-time key: the same form sent twice stores one submission.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    submitted_by: Mapped[User] = relationship()


class NisReminder(db.Model):
    """A reminder already sent for one deadline point: the beat job never sends it twice."""

    __tablename__ = "nis_reminder"
    __table_args__ = (UniqueConstraint("incident_id", "stage", "due_at", "point_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    stage: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    point_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EvidenceFile(db.Model):
    """A file attached to a case, stored outside the intel store under its SHA-256."""

    __tablename__ = "evidence_file"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    case_id: Mapped[int] = mapped_column(ForeignKey("law_enforcement_case.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")

    uploaded_by: Mapped[User] = relationship()


class CustodyEvent(db.Model):
    """Chain of custody: every upload and access of an evidence file. Append-only."""

    __tablename__ = "custody_event"
    __table_args__ = (Index("ix_custody_event_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("law_enforcement_case.id"))
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_file.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    actor_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    action: Mapped[str] = mapped_column(String(20))  # upload | download
    sha256: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")


class IncidentSummary(db.Model):
    """An anonymised summary published to the community.

    Nothing here names the hospital: outputs use `public_id`, the country and the month only;
    `incident_id` exists so the owner can withdraw it and is never serialised.
    """

    __tablename__ = "incident_summary"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    attack_type: Mapped[str] = mapped_column(String(32))
    services: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    figures: Mapped[str] = mapped_column(Text, default="{}")  # JSON: human-impact figures
    text: Mapped[str] = mapped_column(Text, default="")  # reviewed free text, or empty
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
