"""Large add-objects requests, shared by the workers after the 202 (spec 5.5: status `pending`).

A bundle such as ATT&CK (thousands of objects) takes longer to validate than a web worker may
take to answer. From HUB_TAXII_ASYNC_OBJECTS objects on, the request is stored with its status
(TaxiiPendingAdd) and answered at once. The request is cut into slices (TaxiiPendingSlice, up to
HUB_TAXII_SLICES, by default one per worker process; at least SLICE_OBJECTS objects each) so that
several workers share one request at once: one task is queued per slice, and each task claims any slice no worker holds (a lease per
slice) and shares it a chunk at a time. Every version of one STIX id falls in the same slice (the
id is hashed to its slice) and keeps the request's order within it, so the version rules see the
versions in the order they were posted; the write path (hub.intel.bulk.share_each) and rule 11
apply per chunk as before.

Each chunk's outcomes are recorded in the status under a lock on the status row, in the commit
that moves the slice past the chunk, so the counts are exact at every moment
(success + failure + pending = total) whichever slices finish first. A worker that dies loses
nothing: its slice's lease runs out, the sweeper queues the slice again, and the next worker
continues after the slice's last recorded chunk. Sharing a chunk twice is harmless (already shared
objects count as successes again, once); a chunk recorded meanwhile by another worker (a lease that
ran out under a slow worker) is not recorded twice.
"""
from __future__ import annotations

import logging
import uuid
import zlib
from datetime import timedelta

import orjson
from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import defer

from hub import bounds
from hub.accounts.models import User
from hub.db import StixIdMap, canonical_stix_id, utcnow
from hub.alerts import dispatch
from hub.errors import HubError
from hub.extensions import db
from hub.intel import markings
from hub.intel.bulk import ShareOutcome, share_each
from hub.intel.store import now_us
from hub.outbox import continue_act
from hub.principal import Principal
from hub.taxii.collections import Collection, collection_for
from hub.taxii.models import TaxiiPendingAdd, TaxiiPendingSlice, TaxiiStatus

log = logging.getLogger(__name__)

TASK_COMPLETE_ADD = "taxii.complete_add"
TASK_SWEEP_ADDS = "taxii.sweep_adds"
# The fewest objects worth a slice (and a task) of their own: a full chunk (HUB_TAXII_CHUNK, 500
# by default). Each slice costs some thirty round trips and three commits of its own (claim,
# share, record) whatever its size; at 200 objects a slice, the ATT&CK ICS bundle in 8 slices took
# a third more CPU and wall time in one process than in 2 (bench/ingest_profile.py, README
# "ATT&CK over TAXII 2.1").
SLICE_OBJECTS = 500


def chunk_size() -> int:
    """Objects shared and recorded together (HUB_TAXII_CHUNK): the steps of progress a client
    sees. 500 by default: each chunk costs some forty round trips to the database and two commits
    whatever its size, which at 100 was a third of an ATT&CK bundle's time in the worker."""
    return int(current_app.config["HUB_TAXII_CHUNK"])


def chunk_end(offset: int, slice_size: int, reach: dict[int, int] | None = None) -> int:
    """Where the chunk of a slice that starts at `offset` ends: chunk_size() objects on, or the
    slice's end when fewer than a quarter of a chunk would be left after it. Every chunk costs its
    round trips and commits whatever its size: a bundle of 1,000 cut by id into two slices of 480
    to 520 made a chunk of a dozen objects one time in two.

    `reach` (copies_reach): the chunk also takes the later copies of the observables it holds,
    which supersede each other only within one share (bulk.share_each), so that the same request
    sent again changes nothing. Up to twice a chunk, and not from copy to copy (chained, copies a
    few places apart drew a whole slice into one chunk): copies farther apart are shared in turn,
    as if sent one after the other.
    """
    end = min(offset + chunk_size(), slice_size)
    if reach:
        stretched = max(reach.get(position, position) + 1 for position in range(offset, end))
        end = min(max(end, stretched), offset + 2 * chunk_size())
    return slice_size if slice_size - end < chunk_size() // 4 else end


def copies_reach(objects: list) -> dict[int, int]:
    """For each object without versions (no modified, no created) that the slice holds more than
    once under one id, its position -> the position of the id's last copy."""
    last: dict[str, int] = {}
    positions: dict[str, list[int]] = {}
    for position, raw in enumerate(objects):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str) and "modified" not in raw and "created" not in raw:
            key = canonical_stix_id(raw["id"])
            last[key] = position
            positions.setdefault(key, []).append(position)
    return {position: last[key] for key, found in positions.items() if len(found) > 1 for position in found}


def is_large(objects: list) -> bool:
    return len(objects) >= current_app.config["HUB_TAXII_ASYNC_OBJECTS"]


def slice_count_for(total: int) -> int:
    return max(1, min(int(current_app.config["HUB_TAXII_SLICES"]), total // max(1, SLICE_OBJECTS)))


def slice_of(raw, index: int, slice_count: int) -> int:
    """The slice of the object at `index`: by its STIX id (all its versions together), else its place."""
    stix_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(stix_id, str):
        return zlib.crc32(canonical_stix_id(stix_id).encode("utf-8", "surrogatepass")) % slice_count
    return index % slice_count


def slice_positions(objects: list, slice_count: int, slice_no: int) -> list[int]:
    """Positions in the request of the objects of one slice, in the request's order."""
    return positions_by_slice(objects, slice_count).get(slice_no, [])


def positions_by_slice(objects: list, slice_count: int) -> dict[int, list[int]]:
    """The positions of every slice's objects, in the request's order, in one pass over the request."""
    positions: dict[int, list[int]] = {}
    for index, raw in enumerate(objects):
        positions.setdefault(slice_of(raw, index, slice_count), []).append(index)
    return positions


def queue_add(principal: Principal, collection: Collection, objects: list) -> TaxiiStatus:
    """Store the request with a pending status and queue one task per slice; returns the status."""
    status = TaxiiStatus(
        id=str(uuid.uuid4()), user_id=principal.user_id, collection_id=collection.id,
        request_timestamp_us=now_us(), status="pending", total_count=len(objects),
        success_count=0, failure_count=0, pending_count=len(objects), details="{}",
    )
    db.session.add(status)
    db.session.flush()
    slice_count = slice_count_for(len(objects))
    try:
        stored = orjson.dumps(objects).decode()
    except TypeError:  # an integer beyond 64 bits: refused with its object, in the worker
        stored = orjson.dumps(bounds.writable_objects(objects)).decode()
    db.session.add(TaxiiPendingAdd(id=status.id, collection_id=collection.id, objects=stored, slice_count=slice_count))
    db.session.flush()
    # A slice with no object (every id hashed elsewhere) is never created: nothing to wait for.
    used = {slice_of(raw, index, slice_count) for index, raw in enumerate(objects)}
    db.session.add_all([TaxiiPendingSlice(status_id=status.id, slice_no=slice_no, done_count=0)
                        for slice_no in sorted(used)])
    db.session.commit()
    # Best effort: if the broker cannot take them now, the sweeper queues them.
    for _ in used:
        dispatch.enqueue(TASK_COMPLETE_ADD, [status.id])
    return status


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["HUB_TAXII_LEASE_SECONDS"])


def _claim(status_id: str) -> int | None:
    """Take one slice of the request that no worker holds; returns its number, or None."""
    now = utcnow()
    free = db.session.scalars(
        select(TaxiiPendingSlice.slice_no)
        .where(TaxiiPendingSlice.status_id == status_id,
               or_(TaxiiPendingSlice.lease_until.is_(None), TaxiiPendingSlice.lease_until < now))
        .order_by(TaxiiPendingSlice.slice_no)
    ).all()
    for slice_no in free:
        # Two workers may both see the slice free: the conditional update lets one of them have it.
        claimed = db.session.execute(
            update(TaxiiPendingSlice)
            .where(TaxiiPendingSlice.status_id == status_id, TaxiiPendingSlice.slice_no == slice_no,
                   or_(TaxiiPendingSlice.lease_until.is_(None), TaxiiPendingSlice.lease_until < now))
            .values(lease_until=now + _lease())
        ).rowcount
        db.session.commit()
        if claimed == 1:
            return slice_no
    db.session.commit()
    return None


def _detail(outcome: ShareOutcome, position: int) -> dict:
    entry = {"id": outcome.stix_id or f"(object {position} of the request has no id)",
             "version": outcome.version}
    if outcome.message:
        entry["message"] = outcome.message
    return entry


def _record(status_id: str, slice_no: int, size: int, outcomes: list[ShareOutcome], offset: int,
            positions: list[int]) -> bool:
    """Add one chunk's outcomes to the status and move the slice past it; commits.

    `offset` is where the chunk starts in the slice, `size` the slice's length. The status row is
    locked first, so the records of all slices of a request are made one after the other. Returns
    False (recording nothing) when the chunk was recorded meanwhile, or the request is finished.
    """
    status = db.session.get(TaxiiStatus, status_id, with_for_update=True, populate_existing=True)
    piece = db.session.get(TaxiiPendingSlice, (status_id, slice_no), populate_existing=True)
    if status is None or piece is None or piece.done_count != offset:
        db.session.commit()
        return False
    details = orjson.loads(status.details)
    for outcome in outcomes:
        details.setdefault("successes" if outcome.stored else "failures", []).append(
            _detail(outcome, positions[offset + outcome.index]))
    stored = sum(1 for outcome in outcomes if outcome.stored)
    status.success_count += stored
    status.failure_count += len(outcomes) - stored
    status.pending_count -= len(outcomes)
    status.details = orjson.dumps(details).decode()
    piece.done_count = offset + len(outcomes)
    if piece.done_count >= size:
        db.session.delete(piece)
    else:
        piece.lease_until = utcnow() + _lease()
    if status.pending_count == 0:
        status.status = "complete"
        db.session.flush()
        db.session.execute(delete(TaxiiPendingSlice).where(TaxiiPendingSlice.status_id == status_id))
        db.session.execute(delete(TaxiiPendingAdd).where(TaxiiPendingAdd.id == status_id))
    db.session.commit()
    return True


def _refused(objects: list, offset: int, reason: str) -> list[ShareOutcome]:
    outcomes = []
    for index, raw in enumerate(objects):
        stix_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else ""
        version = (raw.get("modified") or raw.get("created") or "") if isinstance(raw, dict) else ""
        outcomes.append(ShareOutcome(index, stix_id, version if isinstance(version, str) else "", False, reason))
    return outcomes


def complete_pending_add(status_id: str) -> int:
    """Share the slices of a queued request that no worker holds; returns how many objects this
    call recorded.

    Claims one free slice at a time and shares it to its end, then looks for another; does
    nothing when other workers hold every slice left or the request is finished. The sharer's
    rights are read for each slice: a user deactivated, or an organisation that left the
    collection's group, since the request was made gets the remaining objects refused.
    """
    recorded = 0
    request: list[_StoredRequest] = []  # read once, however many slices this call takes
    while (slice_no := _claim(status_id)) is not None:
        recorded += _complete_slice(status_id, slice_no, request)
    return recorded


class _StoredRequest:
    """The objects of a pending add, parsed and cut into slices once.

    The request is as large as the envelope (3.5 MB for ATT&CK ICS): reading and parsing it again
    for each slice a task takes cost an eighth of a whole-bundle add's time in the worker.
    """

    def __init__(self, text: str, slice_count: int):
        self.objects = orjson.loads(text)
        self.positions = positions_by_slice(self.objects, slice_count)
        self._claimed: StixIdMap | None = None

    def claimed_tlps(self, principal: Principal) -> StixIdMap:
        """What the request's own marking definitions say their TLP is (hub.intel.markings), read
        over the whole request: a definition and the objects it marks may fall in other slices."""
        if self._claimed is None:
            self._claimed = markings.claimed_tlps(principal, self.objects)
        return self._claimed


def _complete_slice(status_id: str, slice_no: int, request: list[_StoredRequest]) -> int:
    pending = db.session.get(TaxiiPendingAdd, status_id, options=[defer(TaxiiPendingAdd.objects)])
    piece = db.session.get(TaxiiPendingSlice, (status_id, slice_no))
    if pending is None or piece is None:
        return 0
    status = db.session.get(TaxiiStatus, status_id)
    if not request:
        request.append(_StoredRequest(pending.objects, pending.slice_count))
    positions = request[0].positions.get(slice_no, [])
    objects = [request[0].objects[position] for position in positions]
    collection_id, user_id = pending.collection_id, status.user_id
    offset = piece.done_count
    user = db.session.get(User, user_id)
    try:
        if user is None or not user.is_active:  # the person, or their organisation, deactivated since
            raise HubError("the account that posted this request is no longer active")
        principal = Principal.of(user)
        collection = collection_for(principal, collection_id, with_default=True)
        if not collection.can_write:
            raise HubError("this collection is read-only for you")
    except HubError as refusal:
        remaining = objects[offset:]
        if _record(status_id, slice_no, len(objects), _refused(remaining, offset, refusal.message), offset, positions):
            return len(remaining)
        return 0
    recorded, reach = 0, copies_reach(objects)
    while offset < len(objects):
        chunk = objects[offset:chunk_end(offset, len(objects), reach)]
        continue_act(status_id.replace("-", ""))  # the whole add is one sharing act: one alert each
        try:
            outcomes = share_each(principal, chunk, audience=collection.audience, default_tlp=collection.default_tlp,
                                  claimed=request[0].claimed_tlps(principal))
        except HubError as refusal:  # e.g. the user became a viewer meanwhile
            db.session.rollback()
            outcomes = _refused(chunk, offset, refusal.message)
        if not _record(status_id, slice_no, len(objects), outcomes, offset, positions):
            # Another worker recorded this chunk (this one's lease ran out): leave the slice to it.
            log.info("TAXII add %s slice %s: chunk at %s recorded by another worker", status_id, slice_no, offset)
            break
        offset += len(outcomes)
        recorded += len(outcomes)
    return recorded


def sweep_pending_adds() -> int:
    """Queue every slice no worker holds (lost task, dead worker); returns how many."""
    grace = timedelta(seconds=current_app.config["HUB_TAXII_SWEEP_SECONDS"])
    now = utcnow()
    ids = db.session.scalars(
        select(TaxiiPendingSlice.status_id)
        .join(TaxiiPendingAdd, TaxiiPendingAdd.id == TaxiiPendingSlice.status_id)
        .where(or_(
            TaxiiPendingSlice.lease_until < now,
            TaxiiPendingSlice.lease_until.is_(None) & (TaxiiPendingAdd.created < now - grace),
        ))
    ).all()
    for status_id in ids:
        dispatch.enqueue(TASK_COMPLETE_ADD, [status_id])
    return len(ids)
