"""Large add-objects requests, shared by the workers after the 202 (spec 5.5: status `pending`).

A bundle such as ATT&CK (thousands of objects) takes longer to validate than a web worker may
take to answer. From HUB_TAXII_ASYNC_OBJECTS objects on, the request is stored with its status
(TaxiiPendingAdd) and answered at once; a worker shares it a chunk at a time and records each
chunk's outcomes in the status, so the counts are exact while it runs
(success + failure + pending = total). A worker that dies loses nothing: the request is in the
database, its lease runs out, and the sweeper queues it again; the next worker continues after
the last recorded chunk. Sharing a chunk twice is harmless (already shared objects count as
successes again, once), so a chunk shared but not yet recorded is simply shared again.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import orjson
from flask import current_app
from sqlalchemy import or_, select, update

from hub.accounts.models import User
from hub.db import utcnow
from hub.alerts import dispatch
from hub.errors import HubError
from hub.extensions import db
from hub.intel.bulk import ShareOutcome, share_each
from hub.intel.store import now_us
from hub.principal import Principal
from hub.taxii.collections import Collection, collection_for
from hub.taxii.models import TaxiiPendingAdd, TaxiiStatus

log = logging.getLogger(__name__)

TASK_COMPLETE_ADD = "taxii.complete_add"
TASK_SWEEP_ADDS = "taxii.sweep_adds"
# Objects shared and recorded together: progress a client can watch, little work to redo.
# 500 (a second or two of work): each chunk costs some forty round trips to the database and two
# commits whatever its size, which at 100 was a third of an ATT&CK bundle's time in the worker.
CHUNK = 500


def is_large(objects: list) -> bool:
    return len(objects) >= current_app.config["HUB_TAXII_ASYNC_OBJECTS"]


def queue_add(principal: Principal, collection: Collection, objects: list) -> TaxiiStatus:
    """Store the request with a pending status and queue it for a worker; returns the status."""
    status = TaxiiStatus(
        id=str(uuid.uuid4()), user_id=principal.user_id, collection_id=collection.id,
        request_timestamp_us=now_us(), status="pending", total_count=len(objects),
        success_count=0, failure_count=0, pending_count=len(objects), details="{}",
    )
    db.session.add(status)
    db.session.flush()
    db.session.add(TaxiiPendingAdd(id=status.id, collection_id=collection.id, objects=orjson.dumps(objects).decode(),
                                   done_count=0))
    db.session.commit()
    # Best effort: if the broker cannot take it now, the sweeper queues it.
    dispatch.enqueue(TASK_COMPLETE_ADD, [status.id])
    return status


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["HUB_TAXII_LEASE_SECONDS"])


def _claim(status_id: str) -> bool:
    """Take the request for this worker unless another one holds it."""
    now = utcnow()
    claimed = db.session.execute(
        update(TaxiiPendingAdd)
        .where(TaxiiPendingAdd.id == status_id,
               or_(TaxiiPendingAdd.lease_until.is_(None), TaxiiPendingAdd.lease_until < now))
        .values(lease_until=now + _lease())
    ).rowcount
    db.session.commit()
    return claimed == 1


def _detail(outcome: ShareOutcome, offset: int) -> dict:
    entry = {"id": outcome.stix_id or f"(object {offset + outcome.index} of the request has no id)",
             "version": outcome.version}
    if outcome.message:
        entry["message"] = outcome.message
    return entry


def _record(pending: TaxiiPendingAdd, outcomes: list[ShareOutcome], offset: int) -> None:
    """Add one chunk's outcomes to the status and move the request past it; commits."""
    status = db.session.get(TaxiiStatus, pending.id, with_for_update=True)
    details = orjson.loads(status.details)
    for outcome in outcomes:
        details.setdefault("successes" if outcome.stored else "failures", []).append(_detail(outcome, offset))
    stored = sum(1 for outcome in outcomes if outcome.stored)
    status.success_count += stored
    status.failure_count += len(outcomes) - stored
    pending.done_count = offset + len(outcomes)
    status.pending_count = status.total_count - pending.done_count
    status.details = orjson.dumps(details).decode()
    if status.pending_count == 0:
        status.status = "complete"
        db.session.delete(pending)
    else:
        pending.lease_until = utcnow() + _lease()
    db.session.commit()


def _refused(objects: list, offset: int, reason: str) -> list[ShareOutcome]:
    outcomes = []
    for index, raw in enumerate(objects):
        stix_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else ""
        version = (raw.get("modified") or raw.get("created") or "") if isinstance(raw, dict) else ""
        outcomes.append(ShareOutcome(index, stix_id, version if isinstance(version, str) else "", False, reason))
    return outcomes


def complete_pending_add(status_id: str) -> int:
    """Share the objects of a queued request not recorded yet; returns how many this call recorded.

    Does nothing when another worker holds the request or it is finished. The sharer's rights are
    read now: a user deactivated, or an organisation that left the collection's group, since the
    request was made gets the remaining objects refused.
    """
    if not _claim(status_id):
        return 0
    pending = db.session.get(TaxiiPendingAdd, status_id)
    if pending is None:
        return 0
    status = db.session.get(TaxiiStatus, status_id)
    objects = orjson.loads(pending.objects)
    user = db.session.get(User, status.user_id)
    try:
        if user is None or not user.active:
            raise HubError("the account that posted this request is no longer active")
        principal = Principal.of(user)
        collection = collection_for(principal, pending.collection_id, with_default=True)
        if not collection.can_write:
            raise HubError("this collection is read-only for you")
    except HubError as refusal:
        remaining = objects[pending.done_count:]
        _record(pending, _refused(remaining, pending.done_count, refusal.message), pending.done_count)
        return len(remaining)
    recorded = 0
    while pending.done_count < len(objects):
        offset = pending.done_count
        chunk = objects[offset:offset + CHUNK]
        try:
            outcomes = share_each(principal, chunk, audience=collection.audience, default_tlp=collection.default_tlp)
        except HubError as refusal:  # e.g. the user became a viewer meanwhile
            db.session.rollback()
            outcomes = _refused(chunk, offset, refusal.message)
        # share_each committed: re-read the request (expired by the commit) before recording.
        pending = db.session.get(TaxiiPendingAdd, status_id)
        _record(pending, outcomes, offset)
        recorded += len(outcomes)
    return recorded


def sweep_pending_adds() -> int:
    """Queue every request no worker holds (lost task, dead worker); returns how many."""
    grace = timedelta(seconds=current_app.config["HUB_TAXII_SWEEP_SECONDS"])
    now = utcnow()
    ids = db.session.scalars(select(TaxiiPendingAdd.id).where(or_(
        TaxiiPendingAdd.lease_until < now,
        TaxiiPendingAdd.lease_until.is_(None) & (TaxiiPendingAdd.created < now - grace),
    ))).all()
    for status_id in ids:
        dispatch.enqueue(TASK_COMPLETE_ADD, [status_id])
    return len(ids)
