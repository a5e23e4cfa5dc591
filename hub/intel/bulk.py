"""Sharing many objects at once, each on its own merits (TAXII add-objects, feeds).

`share_each` checks every object on its own (the same checks as `ingest.share_objects`), stores
the valid ones together in one transaction and reports the others with the reason. A bad object
never fails its neighbours and never leaves a row behind: nothing is written before every object
of the batch has been checked, and if the database refuses the batch (a concurrent writer of the
same id), it is rolled back and retried one object per transaction.

New items are written one statement per table for the whole batch (COPY on PostgreSQL, a
multi-row INSERT elsewhere); new versions of existing items go through `ingest.store_prepared`,
the single-share path. Objects the fast path (hub.intel.fastpath) cannot take are validated by
the full stix2 parser, in a pool of processes when there are many, so that a large bundle uses
every core.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import orjson
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from hub import policy
from hub.db import us_to_datetime, utcnow
from hub.outbox import Event, announce_many
from hub.audit import AuditEvent, chain_rows
from hub.errors import Forbidden
from hub.extensions import db
from hub.intel import fastpath
from hub.intel.audience import Audience
from hub.intel.ingest import ObjectRejected, PreparedObject, prepare_object, store_prepared
from hub.intel.references import record_references
from hub.intel.models import AudienceGrant, Observable, SharedItem, StixVersion
from hub.intel.store import allocate_date_added
from hub.tlp import TLP, TLP_BY_MARKING_ID
from hub.principal import Principal

log = logging.getLogger(__name__)

# Below this many objects for the full parser, work in other processes costs more than it
# saves: in-process parsing takes about a millisecond an object, while a web worker's first use of
# the pool starts fresh interpreters that import hub and stix2 (seconds under load). At 256, a
# TAXII add answered in the request (fewer than HUB_TAXII_ASYNC_OBJECTS, 200) never waits for that.
POOL_THRESHOLD = 256
POOL_CHUNK = 32


class DatabaseRefused(Exception):
    """The database refused a batch written outside SQLAlchemy (COPY)."""


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


def _is_tlp_marking_definition(raw) -> bool:
    return isinstance(raw, dict) and raw.get("type") == "marking-definition" and raw.get("id") in TLP_BY_MARKING_ID


def _is_unmarked(raw) -> bool:
    refs = raw.get("object_marking_refs") if isinstance(raw, dict) else None
    return not (isinstance(refs, list) and any(ref in TLP_BY_MARKING_ID for ref in refs if isinstance(ref, str)))


def _prepare_one(raw, default_tlp: TLP | None, anonymous: bool) -> PreparedObject | str | None:
    """A PreparedObject, None for a well-known TLP marking definition, or the rejection reason.

    The default TLP is for unmarked objects only: an object's own marking is never overridden.
    """
    try:
        return prepare_object(raw, default_tlp if _is_unmarked(raw) else None, anonymous)
    except ObjectRejected as exc:
        return str(exc)


def _prepare_chunk(chunk: list[tuple[int, dict]], default_tlp: str | None, anonymous: bool):
    tlp = TLP(default_tlp) if default_tlp else None
    return [(index, _prepare_one(raw, tlp, anonymous)) for index, raw in chunk]


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


def prepare_each(objects: list, default_tlp: TLP | None, anonymous: bool) -> list[PreparedObject | str | None]:
    """Check every object; the fast path inline, the rest in the parser pool when there are many."""
    results: list[PreparedObject | str | None] = [None] * len(objects)
    slow: list[tuple[int, dict]] = []
    for index, raw in enumerate(objects):
        if fastpath.is_candidate(raw):
            results[index] = _prepare_one(raw, default_tlp, anonymous)
        else:
            slow.append((index, raw))
    pool = _parser_pool() if len(slow) >= POOL_THRESHOLD else None
    if pool is None:
        for index, raw in slow:
            results[index] = _prepare_one(raw, default_tlp, anonymous)
        return results
    chunks = [slow[start:start + POOL_CHUNK] for start in range(0, len(slow), POOL_CHUNK)]
    tlp_value = default_tlp.value if default_tlp else None
    try:
        for chunk_results in pool.map(_prepare_chunk, chunks, [tlp_value] * len(chunks), [anonymous] * len(chunks)):
            for index, result in chunk_results:
                results[index] = result
    except Exception:  # a broken pool must not refuse a share: parse here instead
        log.exception("the parser pool failed; validating in-process")
        for index, raw in slow:
            results[index] = _prepare_one(raw, default_tlp, anonymous)
    return results


def share_each(
    principal: Principal,
    objects: list,
    *,
    audience: Audience,
    default_tlp: TLP | None = None,
    anonymous: bool = False,
) -> list[ShareOutcome]:
    """Share each object with `audience` on behalf of the principal's organisation.

    Returns one outcome per object, in order. Unmarked objects take `default_tlp` when given (the
    sharer's explicit choice) and are rejected otherwise; TLP:RED is rejected unless the audience
    is named users only (policy rule 1).
    """
    if not principal.can_share:
        raise Forbidden("viewers cannot share")
    outcomes: dict[int, ShareOutcome] = {}
    accepted: list[tuple[int, PreparedObject]] = []
    for index, result in enumerate(prepare_each(objects, default_tlp, anonymous)):
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
            if default_tlp is None and _is_unmarked(objects[index]) and not _is_tlp_marking_definition(objects[index]):
                result = "the object carries no TLP marking (object_marking_refs) and this collection has no default TLP"
            outcomes[index] = ShareOutcome(index, stix_id, version, False, result)
    if accepted:
        try:
            outcomes.update(_store_batch(principal, accepted, audience, anonymous))
            db.session.commit()
        except (SQLAlchemyError, DatabaseRefused):
            db.session.rollback()
            log.warning("batch share refused by the database; storing one object at a time", exc_info=True)
            for index, candidate in accepted:
                outcomes.update(_store_alone(principal, index, candidate, audience, anonymous))
    return [outcomes[index] for index in range(len(objects))]


def _store_alone(principal, index, candidate, audience, anonymous) -> dict[int, ShareOutcome]:
    try:
        result = _store_batch(principal, [(index, candidate)], audience, anonymous)
        db.session.commit()
        return result
    except (SQLAlchemyError, DatabaseRefused) as exc:
        db.session.rollback()
        return {index: ShareOutcome(index, candidate.stix_id, _version_of(candidate), False,
                                    f"the database refused this object ({type(exc).__name__}); nothing was stored")}


def _version_of(candidate: PreparedObject) -> str:
    obj = orjson.loads(candidate.body)
    return obj.get("modified") or obj.get("created") or ""


def _rounds(accepted):
    """Split the batch so that each round names a STIX id once (versions of one object in order)."""
    rounds: list[list[tuple[int, PreparedObject]]] = []
    seen: dict[str, int] = {}
    for index, candidate in accepted:
        position = seen.get(candidate.stix_id, 0)
        seen[candidate.stix_id] = position + 1
        if position == len(rounds):
            rounds.append([])
        rounds[position].append((index, candidate))
    return rounds


def _store_batch(principal, accepted, audience: Audience, anonymous: bool) -> dict[int, ShareOutcome]:
    outcomes: dict[int, ShareOutcome] = {}
    for batch in _rounds(accepted):
        existing = {
            item.stix_id: item
            for item in db.session.scalars(
                select(SharedItem).where(
                    SharedItem.owner_org_id == principal.org_id,
                    SharedItem.stix_id.in_({candidate.stix_id for _, candidate in batch}),
                )
            )
        }
        known = set(
            db.session.execute(
                select(StixVersion.item_id, StixVersion.modified_us).where(
                    StixVersion.item_id.in_([item.id for item in existing.values()])
                )
            ).all()
        ) if existing else set()
        new_items, new_versions = [], []
        for index, candidate in batch:
            version = _version_of(candidate)
            item = existing.get(candidate.stix_id)
            if item is None:
                new_items.append((index, candidate))
                continue
            problem = _version_conflict(item, candidate, anonymous)
            if problem:
                outcomes[index] = ShareOutcome(index, candidate.stix_id, version, False, problem)
            elif (item.id, candidate.modified_us) in known:
                outcomes[index] = ShareOutcome(index, candidate.stix_id, version, True, "already shared")
            else:
                new_versions.append((index, candidate))
        if new_versions:
            store_prepared(principal, [candidate for _, candidate in new_versions], audience, anonymous)
            db.session.flush()
        if new_items:
            insert_new_items(principal, [candidate for _, candidate in new_items], audience, anonymous)
        for index, candidate in new_versions + new_items:
            outcomes[index] = ShareOutcome(index, candidate.stix_id, _version_of(candidate), True)
    return outcomes


def _version_conflict(item: SharedItem, candidate: PreparedObject, anonymous: bool) -> str | None:
    if item.tlp != candidate.tlp:
        return f"this item was shared as {item.tlp.label}; a new version cannot change its TLP"
    if item.anonymous != anonymous:
        return "a new version cannot change whether the item is anonymous"
    if item.revoked:
        return "this item is revoked; a revoked object cannot get new versions"
    return None


def _audience_detail(audience: Audience):
    if audience.is_own:
        return "own"
    return {
        "community": audience.community,
        "org_ids": sorted(audience.org_ids),
        "group_ids": sorted(audience.group_ids),
        "user_ids": sorted(audience.user_ids),
    }


def insert_new_items(principal: Principal, prepared: list[PreparedObject], audience: Audience, anonymous: bool) -> list[int]:
    """Write objects that are new to the principal's organisation, one statement per table.

    Each STIX id must appear once and must not be held by the organisation yet (the caller
    checked). Writes what `ingest.store_prepared` writes for a new item: item, version,
    observables, audience grants, outbox entry and audit event. No commit. Returns item ids.
    """
    items_table, versions_table = SharedItem.__table__, StixVersion.__table__
    stamps = allocate_date_added(len(prepared))
    item_rows = [
        {
            "stix_id": candidate.stix_id,
            "stix_type": candidate.stix_type,
            "owner_org_id": principal.org_id,
            "author_id": principal.user_id,
            "tlp": candidate.tlp.value,
            "audience_community": audience.community,
            "anonymous": anonymous,
            "revoked": candidate.revoked,
            "valid_until": us_to_datetime(candidate.valid_until_us) if candidate.valid_until_us else None,
            "name": candidate.name,
            "search_text": candidate.search_text,
            "first_added_us": stamp,
            "last_added_us": stamp,
        }
        for candidate, stamp in zip(prepared, stamps)
    ]
    item_ids = _insert_with_ids(items_table, item_rows)
    version_ids = _insert_with_ids(versions_table, [
        {
            "item_id": item_id,
            "modified_us": candidate.modified_us,
            "date_added_us": stamp,
            "spec_version": candidate.spec_version,
            "body": candidate.body,
        }
        for candidate, item_id, stamp in zip(prepared, item_ids, stamps)
    ])
    db.session.execute(
        update(items_table)
        .where(items_table.c.id == bindparam("item"))
        .values(latest_version_id=bindparam("version")),
        [{"item": item_id, "version": version_id} for item_id, version_id in zip(item_ids, version_ids)],
    )
    _insert(Observable.__table__, [
        {"item_id": item_id, "kind": kind, "value": value}
        for candidate, item_id in zip(prepared, item_ids)
        for kind, value in sorted(candidate.observables)
    ])
    record_references(list(zip(item_ids, (candidate.references for candidate in prepared))))
    _insert(AudienceGrant.__table__, [
        {"item_id": item_id, "org_id": org_id, "group_id": group_id, "user_id": user_id}
        for item_id in item_ids
        for org_id, group_id, user_id in (
            [(org_id, None, None) for org_id in sorted(audience.org_ids)]
            + [(None, group_id, None) for group_id in sorted(audience.group_ids)]
            + [(None, None, user_id) for user_id in sorted(audience.user_ids)]
        )
    ])
    detail = _audience_detail(audience)
    now = utcnow()
    _insert(AuditEvent.__table__, chain_rows([
        {
            "at": now,
            "action": "share",
            "actor_user_id": principal.user_id,
            "actor_org_id": principal.org_id,
            "subject_org_id": principal.org_id,
            "item_id": item_id,
            "stix_id": candidate.stix_id,
            "detail": orjson.dumps({
                "tlp": candidate.tlp.value, "anonymous": anonymous, "audience": detail,
                "modified_us": candidate.modified_us,
            }).decode(),
        }
        for candidate, item_id in zip(prepared, item_ids)
    ]))
    # Through the ORM, so that whatever listens for new outbox entries (alert dispatch after
    # commit) sees these as it sees every other share; with their ids reserved beforehand the
    # flush needs no RETURNING and goes out as one batch.
    announce_many(Event.shared, list(zip(item_ids, version_ids)))
    db.session.flush()
    return item_ids


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _reserve_ids(table, count: int) -> list[int | None]:
    """On PostgreSQL, `count` primary keys from the table's own sequence; elsewhere Nones."""
    if not _on_postgresql():
        return [None] * count
    return list(db.session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.name, "n": count},
    ).scalars())


def _insert_with_ids(table, rows: list[dict]) -> list[int]:
    """Insert rows; their new primary keys, in order."""
    if not rows:
        return []
    if _on_postgresql():
        # Reserved ids, then the rows streamed in with COPY: a fraction of the time of a
        # multi-row INSERT ... RETURNING for a thousand rows.
        ids = _reserve_ids(table, len(rows))
        _copy(table, [{"id": row_id, **row} for row_id, row in zip(ids, rows)])
        return ids
    return list(db.session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    ).scalars())


def _insert(table, rows: list[dict]) -> None:
    if not rows:
        return
    if _on_postgresql():
        _copy(table, rows)
    else:
        db.session.execute(insert(table), rows)


def _copy(table, rows: list[dict]) -> None:
    import psycopg

    columns = list(rows[0])
    cursor = db.session.connection().connection.driver_connection.cursor()
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
    except psycopg.Error as exc:
        raise DatabaseRefused(str(exc)) from exc
