"""The result page of a bulk sighting upload.

The upload's POST records the sightings, keeps a summary here and redirects to it, so a reload
or a Back shows the result instead of sending the values again. The page shows what the
uploader may read now: an item no longer readable by them drops out.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson
from sqlalchemy import delete, select

from hub import policy
from hub.extensions import db
from hub.intel.models import SharedItem, SightingUpload
from hub.intel.sightings import BulkResult
from hub.principal import Principal

SHOWN_MATCHES = 1000
KEPT_FOR = timedelta(days=30)


@dataclass(frozen=True)
class UploadSummary:
    id: str
    created_at: datetime
    value_count: int
    matched_count: int
    unmatched_count: int
    sighting_count: int
    matches: list[tuple[str, list[str]]]  # the first SHOWN_MATCHES: value as sent, readable item ids


def keep(principal: Principal, result: BulkResult, value_count: int) -> str:
    """Store the summary of an upload just recorded; returns the id of its result page."""
    now = datetime.now(timezone.utc)
    # Summaries are a convenience, not a record (the sightings and the audit log are): old ones go.
    db.session.execute(delete(SightingUpload).where(SightingUpload.user_id == principal.user_id,
                                                    SightingUpload.created_at < now - KEPT_FOR))
    upload = SightingUpload(
        id=str(uuid.uuid4()), user_id=principal.user_id, created_at=now, value_count=value_count,
        matched_count=len(result.matched), unmatched_count=result.unmatched, sighting_count=len(result.sightings),
        shown_matches=orjson.dumps([[m.value, list(m.object_ids)] for m in result.matched[:SHOWN_MATCHES]]).decode())
    db.session.add(upload)
    db.session.commit()
    return upload.id


def summary(principal: Principal, upload_id: str) -> UploadSummary | None:
    """The uploader's own summary, or None (someone else's upload is as missing as an unknown one)."""
    upload = db.session.get(SightingUpload, upload_id)
    if upload is None or upload.user_id != principal.user_id:
        return None
    matches = orjson.loads(upload.shown_matches)
    named = {stix_id for _, ids in matches for stix_id in ids}
    readable = set(db.session.scalars(
        select(SharedItem.stix_id).where(SharedItem.stix_id.in_(named), policy.readable_items(principal)))) if named else set()
    shown = [(value, [i for i in ids if i in readable]) for value, ids in matches]
    return UploadSummary(id=upload.id, created_at=upload.created_at, value_count=upload.value_count,
                         matched_count=upload.matched_count, unmatched_count=upload.unmatched_count,
                         sighting_count=upload.sighting_count, matches=[m for m in shown if m[1]])
