"""Queued and periodic alert work: fan-out batches, the sweeper, expiries and digests.

Each job re-reads the database and is safe to run twice; the broker only says "look now".
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, not_, select

from hub.db import datetime_to_us, utcnow
from hub.alerts import delivery, dispatch, fanout
from hub.outbox import Event, OutboxEntry, announce_once_each
from hub.extensions import db
from hub.intel.models import SharedItem

log = logging.getLogger(__name__)

EXPIRY_BATCH = 500


def fan_out_entries(entry_ids: list[int]) -> int:
    """Fan out each entry and queue its immediate deliveries; returns notifications written."""
    if fanout.dispatch_unheard(entry_ids):
        return 0
    written, done = 0, set()
    for entry_id in entry_ids:
        if entry_id in done:  # fanned out with an earlier entry of its act
            continue
        result = fanout.fan_out(entry_id)
        done |= result.dispatched_ids
        written += result.notifications
        dispatch.enqueue_deliveries(result.ready_delivery_ids)
    return written


def sweep() -> tuple[int, int]:
    """Queue what an outage left behind: entries never fanned out, deliveries whose task was lost
    or whose worker died. Returns (entries, deliveries) queued."""
    older_than = utcnow() - timedelta(seconds=current_app.config["HUB_ALERTS_SWEEP_GRACE"])
    entry_ids = fanout.pending_entry_ids(older_than)
    stalled = delivery.stalled_delivery_ids(older_than)
    db.session.rollback()  # end the read transaction before talking to the broker
    dispatch.enqueue_fan_outs(entry_ids)
    dispatch.enqueue_deliveries(stalled)
    if entry_ids or stalled:
        log.info("sweeper queued %d outbox entries and %d deliveries", len(entry_ids), len(stalled))
    return len(entry_ids), len(stalled)


def emit_expiries() -> int:
    """Write one "expired" outbox entry for each item whose valid_until has passed.

    Once per item and valid_until: the entry's once_key is unique, so racing sweeps write one
    row, and an item whose validity is extended and passes again is announced again. Revoked
    items were already announced as such; items that had expired before they were shared say
    so in their own "shared" alert.
    """
    now = utcnow()
    announced = exists(select(OutboxEntry.id).where(
        OutboxEntry.item_id == SharedItem.id,
        OutboxEntry.event == "expired",
        OutboxEntry.created >= SharedItem.valid_until,
    ))
    rows = db.session.execute(
        select(SharedItem.id, SharedItem.valid_until, SharedItem.latest_version_id, SharedItem.first_added_us)
        .where(
            SharedItem.valid_until.is_not(None),
            SharedItem.valid_until <= now,
            not_(SharedItem.revoked),
            not_(announced),
        )
        .order_by(SharedItem.valid_until)
        .limit(EXPIRY_BATCH)
    ).all()
    if not rows:
        db.session.rollback()
        return 0
    values = []
    for row in rows:
        valid_until_us = datetime_to_us(row.valid_until)
        values.append({
            "item_id": row.id,
            "version_id": row.latest_version_id,
            "created": now,
            "once_key": f"expired:{row.id}:{valid_until_us}",
            # Expired before it was shared: recorded as announced, nobody is alerted.
            "dispatched_at": now if valid_until_us <= row.first_added_us else None,
        })
    inserted = announce_once_each(Event.expired, values)
    db.session.commit()
    to_fan_out = sorted(entry_id for entry_id, dispatched_at in inserted if dispatched_at is None)
    dispatch.enqueue_fan_outs(to_fan_out)
    return len(to_fan_out)


def send_digests(mode: str) -> int:
    return delivery.send_digests(mode)

