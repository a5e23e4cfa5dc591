"""Row counts of the tables a request can write: equal before and after means nothing was written."""
from __future__ import annotations

from sqlalchemy import func, select

from hub.accounts.models import ApiToken, Organisation, User
from hub.alerts.models import Subscription
from hub.audit import AuditEvent
from hub.extensions import db
from hub.incidents.models import Incident, IncidentRevision, NisSubmission
from hub.intel.models import AudienceGrant, Observable, SharedItem, StixVersion
from hub.outbox import OutboxEntry

TABLES = (SharedItem, StixVersion, Observable, AudienceGrant, Incident, IncidentRevision, NisSubmission,
          Subscription, OutboxEntry, Organisation, User, ApiToken)
# The access log: a token issued or used, an audited read. Recorded whatever the request then
# asks, so not a partial write of a refused request.
ACCESS_LOG = ("token_created", "token_use", "read", "incident_read", "case_read", "evidence_downloaded")


def write_counts() -> dict[str, int]:
    """Committed rows per table (as another connection sees them), the access log left out."""
    db.session.rollback()
    counts = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}
    counts["audit_event"] = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.not_in(ACCESS_LOG)))
    return counts
