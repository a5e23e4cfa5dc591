"""Sharing many objects at once, each on its own merits (TAXII add-objects, feeds).

`share_each` checks every object on its own (the same checks as `ingest.share_objects`), stores
the valid ones together in one transaction and reports the others with the reason. A bad object
never fails its neighbours and never leaves a row behind: nothing is written before every object
of the batch has been checked, and if the database refuses the batch (a concurrent writer of the
same id), it is rolled back and retried one object per transaction.

Objects are written through the one write path (hub.intel.writing): new items one statement
per table for the whole batch (COPY on PostgreSQL, a multi-row INSERT elsewhere), new versions
item by item, with the same rows a single share writes. Objects the fast path (hub.intel.fastpath) cannot take are validated by
the full stix2 parser, in a pool of processes when there are many, so that a large bundle uses
every core.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub import policy
from hub.db import StixIdMap, canonical_stix_id
from hub.errors import Forbidden, HubError
from hub.extensions import db
from hub.intel import fastpath, markings, writing
from hub.intel.audience import Audience
from hub.intel.ingest import NO_TLP_GIVEN, ObjectRejected, PreparedObject, prepare_object, superseded_copies
from hub.intel.models import SharedItem, StixVersion
from hub.intel.store import stix_timestamp
from hub.intel.writing import DatabaseRefused
from hub.principal import Principal
from hub.tlp import TLP, TLP_BY_MARKING_ID

log = logging.getLogger(__name__)

# Below this many objects for the full parser, work in other processes costs more than it
# saves: in-process parsing takes about a millisecond an object, while a web worker's first use of
# the pool starts fresh interpreters that import hub and stix2 (seconds under load). At 256, a
# TAXII add answered in the request (fewer than HUB_TAXII_ASYNC_OBJECTS, 200) never waits for that.
POOL_THRESHOLD = 256
POOL_CHUNK = 32
# What an object is told when the hub itself failed on it (logged with its traceback): its own
# failure in the status, while its neighbours are checked and stored as usual.
UNCHECKED = "the hub could not check this object (an internal error, logged); nothing was stored"
UNSTORED = "the hub could not store this object (an internal error, logged); nothing was stored"
SUPERSEDED = "a later copy of this observable in the same request, with other content, was kept in its place"


@dataclass
class ShareOutcome:
    """What became of one posted object: stored (or already there), or rejected and why."""

    index: int
    stix_id: str
    version: str
    stored: bool
    message: str = ""


def _label(raw) -> tuple[str, str]:
    if not isinstance(raw, dict):
        return "", ""
    stix_id = raw.get("id") if isinstance(raw.get("id"), str) else ""
    version = raw.get("modified") or raw.get("created") or ""
    return stix_id, version if isinstance(version, str) else ""


def _is_unmarked(raw, claimed: StixIdMap) -> bool:
    refs = raw.get("object_marking_refs") if isinstance(raw, dict) else None
    if not isinstance(refs, list):
        return True
    for ref in refs:
        if isinstance(ref, str) and (ref in TLP_BY_MARKING_ID or (claimed and ref in claimed)):
            return False
    return True


def _prepare_one(raw, default_tlp: TLP | None, anonymous: bool, claimed: StixIdMap) -> PreparedObject | str | None:
    """A PreparedObject, None for a well-known TLP marking definition, or the rejection reason.

    The default TLP is for unmarked objects only: an object's own marking (a published TLP one,
    or one `claimed` by another definition, hub.intel.markings) is never overridden.
    """
    try:
        return prepare_object(raw, default_tlp if _is_unmarked(raw, claimed) else None, anonymous, claimed)
    except ObjectRejected as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - a fault of the hub's on one object must not cost its neighbours
        log.exception("checking an object failed")
        return UNCHECKED


def _prepare_chunk(chunk: list[tuple[int, dict]], default_tlp: str | None, anonymous: bool, claimed: dict[str, str]):
    tlp = TLP(default_tlp) if default_tlp else None
    claims = StixIdMap({marking_id: TLP(value) for marking_id, value in claimed.items()})
    return [(index, _prepare_one(raw, tlp, anonymous, claims)) for index, raw in chunk]


_pool: ProcessPoolExecutor | None = None
_pool_pid: int | None = None


def _parser_pool() -> ProcessPoolExecutor | None:
    """One pool per process (a forked web worker must not share its parent's)."""
    global _pool, _pool_pid
    workers = int(os.environ.get("HUB_INGEST_PROCESSES", os.cpu_count() or 1))
    # A Celery prefork process is daemonic and may not start children: parse in-process there
    # (its siblings already use the other cores) instead of failing and logging on every chunk.
    if workers < 2 or multiprocessing.current_process().daemon:
        return None
    if _pool is None or _pool_pid != os.getpid():
        # forkserver: children start clean, without this process's database connections.
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))
        _pool_pid = os.getpid()
    return _pool


def prepare_each(objects: list, default_tlp: TLP | None, anonymous: bool,
                 claimed: StixIdMap | None = None) -> list[PreparedObject | str | None]:
    """Check every object; the fast path inline, the rest in the parser pool when there are many.
    `claimed`: the TLP other marking definitions of the share claim (hub.intel.markings)."""
    claimed = claimed if claimed is not None else StixIdMap()
    results: list[PreparedObject | str | None] = [None] * len(objects)
    slow: list[tuple[int, dict]] = []
    for index, raw in enumerate(objects):
        if fastpath.is_candidate(raw):
            results[index] = _prepare_one(raw, default_tlp, anonymous, claimed)
        else:
            slow.append((index, raw))
    pool = _parser_pool() if len(slow) >= POOL_THRESHOLD else None
    if pool is None:
        for index, raw in slow:
            results[index] = _prepare_one(raw, default_tlp, anonymous, claimed)
        return results
    chunks = [slow[start:start + POOL_CHUNK] for start in range(0, len(slow), POOL_CHUNK)]
    tlp_value = default_tlp.value if default_tlp else None
    claims = {marking_id: tlp.value for marking_id, tlp in claimed.items()}
    try:
        for chunk_results in pool.map(_prepare_chunk, chunks, [tlp_value] * len(chunks), [anonymous] * len(chunks),
                                      [claims] * len(chunks)):
            for index, result in chunk_results:
                results[index] = result
    except Exception:  # a broken pool must not refuse a share: parse here instead
        log.exception("the parser pool failed; validating in-process")
        for index, raw in slow:
            results[index] = _prepare_one(raw, default_tlp, anonymous, claimed)
    return results


def share_each(
    principal: Principal,
    objects: list,
    *,
    audience: Audience,
    default_tlp: TLP | None = None,
    anonymous: bool = False,
    claimed: StixIdMap | None = None,
) -> list[ShareOutcome]:
    """Share each object with `audience` on behalf of the principal's organisation.

    Returns one outcome per object, in order. Unmarked objects take `default_tlp` when given (the
    sharer's explicit choice) and are rejected otherwise; TLP:RED is rejected unless the audience
    is named users only (policy rule 1). `claimed`: what other marking definitions of the request
    say their TLP is (hub.intel.markings), when `objects` are part of a larger request; read from
    `objects` otherwise.
    """
    if not principal.can_share:
        raise Forbidden("viewers cannot share")
    if claimed is None:
        claimed = markings.claimed_tlps(principal, objects)
    outcomes: dict[int, ShareOutcome] = {}
    accepted: list[tuple[int, PreparedObject]] = []
    for index, result in enumerate(prepare_each(objects, default_tlp, anonymous, claimed)):
        stix_id, version = _label(objects[index])
        if isinstance(result, PreparedObject):
            problem = policy.check_audience_for_tlp(
                result.tlp, audience.community, audience.group_ids, audience.org_ids, audience.user_ids
            )
            if problem:
                outcomes[index] = ShareOutcome(index, stix_id, version, False, problem)
            else:
                accepted.append((index, result))
        elif result is None:
            outcomes[index] = ShareOutcome(index, stix_id, version, True, "a TLP marking definition the hub knows")
        else:
            if result == NO_TLP_GIVEN:  # the request's TLP is the collection's default
                result = "the object carries no TLP marking (object_marking_refs) and this collection has no default TLP"
            outcomes[index] = ShareOutcome(index, stix_id, version, False, result)
    later_kept = superseded_copies(accepted)
    waiting = [(index, candidate) for index, candidate in accepted if index in later_kept]
    accepted = [(index, candidate) for index, candidate in accepted if index not in later_kept]
    outcomes.update(_store_all(principal, accepted, audience, anonymous))
    # The copy kept in place of each group of copies (superseded_copies: one id, one TLP).
    kept = {(candidate.stix_id, candidate.tlp): index for index, candidate in accepted}
    while waiting:
        # A copy kept in place of earlier ones but refused (a rule of the write path): the latest
        # earlier copy is shared in its place, as if the refused one had been sent after it.
        latest = {(candidate.stix_id, candidate.tlp): (index, candidate) for index, candidate in waiting
                  if not outcomes[kept[(candidate.stix_id, candidate.tlp)]].stored}
        if not latest:
            break
        instead = list(latest.values())
        outcomes.update(_store_all(principal, instead, audience, anonymous))
        kept.update({(candidate.stix_id, candidate.tlp): index for index, candidate in instead})
        retried = {index for index, _candidate in instead}
        waiting = [(index, candidate) for index, candidate in waiting if index not in retried]
    for index, candidate in waiting:  # told what became of the copy kept in its place
        outcomes[index] = replace(outcomes[kept[(candidate.stix_id, candidate.tlp)]], index=index, message=SUPERSEDED)
    return [_named_as_sent(outcomes[index], objects[index]) for index in range(len(objects))]


def _store_all(principal, accepted, audience, anonymous) -> dict[int, ShareOutcome]:
    """Store the accepted (index, PreparedObject) pairs in one transaction, or one at a time when
    the database refuses the batch; commits."""
    if not accepted:
        return {}
    try:
        outcomes = store_batch(principal, accepted, audience, anonymous)
        db.session.commit()
        return outcomes
    except HubError:
        raise
    except Exception:  # noqa: BLE001 - the database's refusal, or a fault of the hub's on one object
        db.session.rollback()
        log.warning("batch share failed; storing one object at a time", exc_info=True)
        outcomes = {}
        for index, candidate in accepted:
            outcomes.update(_store_alone(principal, index, candidate, audience, anonymous))
        return outcomes


def _named_as_sent(outcome: ShareOutcome, raw) -> ShareOutcome:
    """The outcome under the id as its sender wrote it (the hub keys ids in lower case, hub.db.StixId):
    a client matches a status's successes and failures against the ids it posted."""
    sent, _version = _label(raw)
    if sent and sent != outcome.stix_id and canonical_stix_id(sent) == outcome.stix_id:
        return replace(outcome, stix_id=sent)
    return outcome


def _store_alone(principal, index, candidate, audience, anonymous) -> dict[int, ShareOutcome]:
    try:
        result = store_batch(principal, [(index, candidate)], audience, anonymous)
        db.session.commit()
        return result
    except (SQLAlchemyError, DatabaseRefused) as exc:
        db.session.rollback()
        return {index: ShareOutcome(index, candidate.stix_id, _version_of(candidate), False,
                                    f"the database refused this object ({type(exc).__name__}); nothing was stored")}
    except HubError:
        raise
    except Exception:  # noqa: BLE001 - reported as this object's failure, never a request left pending
        db.session.rollback()
        log.exception("storing %s failed", candidate.stix_id)
        return {index: ShareOutcome(index, candidate.stix_id, _version_of(candidate), False, UNSTORED)}


def _version_of(candidate: PreparedObject) -> str:
    return candidate.version


def store_batch(principal, accepted, audience: Audience, anonymous: bool) -> dict[int, ShareOutcome]:
    """Sort out and write the accepted (index, PreparedObject) pairs through the one write path
    (hub.intel.writing), without committing."""
    outcomes: dict[int, ShareOutcome] = {}
    for batch in writing.rounds(accepted):
        result = writing.sort_out(principal, batch, anonymous)
        for index, candidate, reason in result.refused:
            outcomes[index] = ShareOutcome(index, candidate.stix_id, _version_of(candidate), False, reason)
        for index, candidate in result.unchanged + [(index, c) for index, _, c in result.again]:
            outcomes[index] = ShareOutcome(index, candidate.stix_id, _version_of(candidate), True, "already shared")
        writing.write_again(principal, [(item, c) for _, item, c in result.again], audience)
        writing.write_new_versions(principal, [(item, c) for _, item, c in result.versions], audience, anonymous)
        writing.write_new_items(principal, [c for _, c in result.new], audience, anonymous)
        for index, candidate in result.new + [(index, c) for index, _, c in result.versions]:
            outcomes[index] = ShareOutcome(index, candidate.stix_id, _version_of(candidate), True)
    return _with_observable_versions(principal, outcomes)


def _with_observable_versions(principal, outcomes: dict[int, ShareOutcome]) -> dict[int, ShareOutcome]:
    """An observable (SCO) has no modified: its TAXII version is when the hub added the
    organisation's copy (hub.taxii.filters.version_string), which a status names too."""
    unversioned = {o.stix_id for o in outcomes.values() if o.stored and not o.version}
    if not unversioned:
        return outcomes
    added = dict(db.session.execute(
        select(SharedItem.stix_id, StixVersion.date_added_us)
        .join(StixVersion, StixVersion.id == SharedItem.latest_version_id)
        .where(policy.owned_by_org_of(principal, SharedItem.owner_org_id), SharedItem.stix_id.in_(sorted(unversioned)))
    ).all())
    return {index: replace(o, version=stix_timestamp(added[o.stix_id]))
            if o.stored and not o.version and o.stix_id in added else o
            for index, o in outcomes.items()}
