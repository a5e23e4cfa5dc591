"""Add objects (spec 5.5) and the status resource (spec 4.3).

Posting to a collection shares with its audience; the TLP comes from each object's marking
(or the collection's explicit default). A request of fewer than HUB_TAXII_ASYNC_OBJECTS objects
is processed before the answer goes out, so its status is `complete` at once; a larger one is
answered `pending` and shared by the workers (hub/taxii/pending.py). A status stays readable at
its URL for a week after it completes.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
from sqlalchemy import delete, select

from hub.db import now_us, utcnow
from hub.errors import Forbidden, NotFound
from hub.extensions import db
from hub.intel.bulk import ShareOutcome, share_each
from hub.intel.store import stix_timestamp
from hub.principal import Principal
from hub.taxii import pending
from hub.taxii.collections import Collection
from hub.taxii.models import TaxiiStatus

STATUS_KEPT_FOR = timedelta(days=7)


def add_objects(principal: Principal, collection: Collection, objects: list) -> TaxiiStatus:
    """Share each posted object with the collection's audience; the status reports each one."""
    if not collection.can_write:
        raise Forbidden(
            "this collection is read-only for you"
            + ("" if principal.can_share else ": viewers cannot share")
        )
    if pending.is_large(objects):
        return pending.queue_add(principal, collection, objects)
    requested_us = now_us()
    outcomes = share_each(principal, objects, audience=collection.audience, default_tlp=collection.default_tlp)
    status = _record_status(principal, collection, requested_us, outcomes)
    return status


def _details(outcome: ShareOutcome, with_message: bool) -> dict:
    entry = {"id": outcome.stix_id or f"(object {outcome.index} of the request has no id)", "version": outcome.version}
    if with_message and outcome.message:
        entry["message"] = outcome.message
    return entry


def _record_status(principal, collection, requested_us, outcomes) -> TaxiiStatus:
    successes = [_details(o, True) for o in outcomes if o.stored]
    failures = [_details(o, True) for o in outcomes if not o.stored]
    details = {}
    if successes:
        details["successes"] = successes
    if failures:
        details["failures"] = failures
    status = TaxiiStatus(
        id=str(uuid.uuid4()),
        user_id=principal.user_id,
        collection_id=collection.id,
        request_timestamp_us=requested_us,
        status="complete",
        total_count=len(outcomes),
        success_count=len(successes),
        failure_count=len(failures),
        pending_count=0,
        details=orjson.dumps(details).decode(),
    )
    db.session.add(status)
    # Old statuses go as new ones come: the spec asks for 24 hours; a week is generous.
    db.session.execute(delete(TaxiiStatus).where(TaxiiStatus.created < utcnow() - STATUS_KEPT_FOR,
                                                 TaxiiStatus.status == "complete"))
    db.session.commit()
    return status


def status_resource(status: TaxiiStatus) -> dict:
    body = {
        "id": status.id,
        "status": status.status,
        "request_timestamp": stix_timestamp(status.request_timestamp_us),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "failure_count": status.failure_count,
        "pending_count": status.pending_count,
    }
    body.update(orjson.loads(status.details))
    return body


def get_status(principal: Principal, status_id: str) -> TaxiiStatus:
    """A status the caller created; NotFound for any other (it names the caller's objects)."""
    status = db.session.scalar(
        select(TaxiiStatus).where(TaxiiStatus.id == status_id, TaxiiStatus.user_id == principal.user_id)
    )
    if status is None:
        raise NotFound(f"no status {status_id}")
    return status
