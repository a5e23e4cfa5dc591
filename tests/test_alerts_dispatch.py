"""Queueing after commit, by task name; a broker outage delays alerts and never loses them.

The broker here is kombu's in-memory transport, read back with a real consumer; the Redis and
filesystem brokers with real workers are in test_alerts_worker.py.
"""
from __future__ import annotations

import time

import pytest
from celery import Celery
from sqlalchemy import select

from hub.alerts import dispatch, jobs
from hub.outbox import OutboxEntry
from hub.errors import ValidationFailed
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import cheap_password_hashing, free_port


def _celery(broker_url: str) -> Celery:
    celery = Celery("alerts-dispatch-test", set_as_current=False)
    celery.conf.update(broker_url=broker_url, broker_connection_timeout=1,
                       broker_transport_options={"socket_connect_timeout": 1})
    return celery


class MemoryBroker:
    """A real in-memory kombu broker, read back with a consumer."""

    def __init__(self):
        self.celery = _celery("memory://")

    def drain(self) -> list[tuple[str, list]]:
        messages = []
        with self.celery.connection_for_read() as connection:
            queue = connection.SimpleQueue("celery")
            while True:
                try:
                    message = queue.get(timeout=0.2)
                except queue.Empty:
                    break
                args, _kwargs, _embed = message.decode()
                messages.append((message.headers["task"], args))
                message.ack()
            queue.close()
        return messages


@pytest.fixture
def broker(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    memory = MemoryBroker()
    monkeypatch.setitem(app.extensions, "celery", memory.celery)
    monkeypatch.setitem(app.config, "HUB_ALERTS_ENQUEUE", True)
    memory.drain()
    return memory


def test_a_share_queues_its_fan_out_by_name_after_commit(broker):
    item = f.share(f.make_user(f.make_org()), tlp="green")
    assert dispatch.flush()
    entry_id = db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.item_id == item.id))
    assert broker.drain() == [(dispatch.TASK_FAN_OUT, [[entry_id]])]


def test_a_bulk_share_is_one_fan_out_task_for_its_whole_act(broker):
    """Its entries are one sharing act, which one fan-out handles whole: one task, not one per 20
    entries of which all but the first would only find their entries done."""
    item_count = 120
    f.share(f.make_user(f.make_org()), [f.indicator() for _ in range(item_count)], tlp="green")
    assert dispatch.flush()
    messages = broker.drain()
    assert [name for name, _ in messages] == [dispatch.TASK_FAN_OUT]
    entry_ids = messages[0][1][0]
    assert len(entry_ids) == item_count
    assert jobs.fan_out_entries(entry_ids) == 0  # nobody subscribes: marked dispatched, no alert
    assert db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.dispatched_at.is_(None))) is None


def test_a_share_that_fails_queues_nothing(broker):
    sharer = f.make_user(f.make_org())
    with pytest.raises(ValidationFailed):
        f.share(sharer, [f.indicator(), {"type": "indicator", "id": "indicator--nope"}], tlp="green")
    assert dispatch.flush()
    assert broker.drain() == []


def test_a_share_succeeds_while_the_broker_is_down_and_the_sweeper_queues_it_later(app, broker, monkeypatch):
    monkeypatch.setitem(app.extensions, "celery", _celery(f"redis://127.0.0.1:{free_port()}/0"))
    sharer = f.make_user(f.make_org())
    started = time.monotonic()
    item = f.share(sharer, tlp="green")
    # The share does not wait for the broker (a refused Redis connection is retried for seconds).
    assert time.monotonic() - started < 1.5
    assert dispatch.flush(30)
    entry = db.session.scalars(select(OutboxEntry).where(OutboxEntry.item_id == item.id)).one()
    assert entry.dispatched_at is None

    # The broker is back; beat runs the sweeper.
    monkeypatch.setitem(app.extensions, "celery", broker.celery)
    monkeypatch.setitem(app.config, "HUB_ALERTS_SWEEP_GRACE", 0)
    assert jobs.sweep() == (1, 0)
    assert broker.drain() == [(dispatch.TASK_FAN_OUT, [[entry.id]])]
    jobs.fan_out_entries([entry.id])
    assert jobs.sweep() == (0, 0)


def test_the_sweeper_leaves_fresh_entries_to_their_own_task(app, broker, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_ALERTS_SWEEP_GRACE", 3600)
    f.share(f.make_user(f.make_org()), tlp="green")
    assert dispatch.flush()
    broker.drain()
    assert jobs.sweep() == (0, 0)
    assert broker.drain() == []
