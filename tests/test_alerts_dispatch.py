"""Queueing after commit, by task name; a broker outage delays alerts and never loses them.

The broker here is kombu's in-memory transport, read back with a real consumer; the Redis and
filesystem brokers with real workers are in test_alerts_worker.py.
"""
from __future__ import annotations

import threading
import time

import pytest
from celery import Celery
from sqlalchemy import func, select

from hub.accounts.models import User
from hub.alerts import dispatch, fanout, jobs, services
from hub.alerts.models import Subscription
from hub.db import on_postgresql
from hub.outbox import OutboxEntry
from hub.errors import ValidationFailed
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import cheap_password_hashing, free_port, subscribe


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


def _someone_subscribed():
    """A subscriber in another organisation: without one, a bulk act may alert nobody and is
    recorded as told (see the tests at the end)."""
    subscriber = f.make_user(f.make_org())
    subscribe(subscriber)
    return subscriber


def test_a_share_queues_its_fan_out_by_name_after_commit(broker):
    _someone_subscribed()
    broker.drain()
    item = f.share(f.make_user(f.make_org()), tlp="green")
    assert dispatch.flush()
    entry_id = db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.item_id == item.id))
    assert broker.drain() == [(dispatch.TASK_FAN_OUT, [[entry_id]])]


def test_a_bulk_share_is_one_fan_out_task_for_its_whole_act(broker):
    """Its entries are one sharing act, which one fan-out handles whole: one task, not one per 20
    entries of which all but the first would only find their entries done."""
    item_count = 120
    _someone_subscribed()
    broker.drain()
    f.share(f.make_user(f.make_org()), [f.indicator(f"198.51.100.{n}") for n in range(item_count)], tlp="green")
    assert dispatch.flush()
    messages = broker.drain()
    assert [name for name, _ in messages] == [dispatch.TASK_FAN_OUT]
    entry_ids = messages[0][1][0]
    assert len(entry_ids) == item_count
    assert jobs.fan_out_entries(entry_ids) == 1  # one alert for the whole act
    assert db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.dispatched_at.is_(None))) is None


def test_a_share_that_fails_queues_nothing(broker):
    sharer = f.make_user(f.make_org())
    with pytest.raises(ValidationFailed):
        f.share(sharer, [f.indicator(), {"type": "indicator", "id": "indicator--nope"}], tlp="green")
    assert dispatch.flush()
    assert broker.drain() == []


def test_a_share_succeeds_while_the_broker_is_down_and_the_sweeper_queues_it_later(app, broker, monkeypatch):
    _someone_subscribed()
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


# --- Acts nobody can hear (PostgreSQL) --------------------------------------------------------
# With no subscription and no built-in alert for them, a bulk act's entries are written as told:
# no fan-out rewrites them afterwards. A subscription created meanwhile must still hear of every
# act committed after it.

def _pending_entries() -> int:
    return db.session.scalar(select(func.count(OutboxEntry.id)).where(OutboxEntry.dispatched_at.is_(None)))


def _postgresql_only():
    if not on_postgresql():
        pytest.skip("SQLite writes one transaction at a time; every act is fanned out after commit there")


def test_an_act_nobody_can_hear_is_recorded_as_told_and_queues_no_fan_out(broker):
    _postgresql_only()
    f.share(f.make_user(f.make_org()), [f.indicator(f"198.51.100.{n}") for n in range(20)], tlp="green")
    assert dispatch.flush()
    assert broker.drain() == []
    assert _pending_entries() == 0
    assert db.session.scalar(select(func.count(OutboxEntry.id))) == 20


def test_an_advisory_is_fanned_out_without_subscriptions_for_the_built_in_alert(broker):
    """Hospitals hear of new advisories without subscribing (hub.alerts.defaults)."""
    _postgresql_only()
    f.make_user(f.make_org())  # a hospital analyst
    vendor = f.make_user(f.make_org(kind="vendor"))
    vulnerability = {"type": "vulnerability", "spec_version": "2.1", "id": "vulnerability--0b1ac4bd-8a2f-4a36-9e37-8e1ffa7a4c11",
                     "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
                     "name": "CVE-2026-0001", "external_references": [{"source_name": "cve", "external_id": "CVE-2026-0001"}]}
    f.share(vendor, [vulnerability], tlp="green")
    assert dispatch.flush()
    assert [name for name, _ in broker.drain()] == [dispatch.TASK_FAN_OUT]
    assert _pending_entries() == 1


def _subscribing_in_another_thread(app, monkeypatch, subscriber_id: int):
    """Start creating a subscription in a thread of its own, paused inside its transaction once
    it holds its lock; returns (paused, resume, thread)."""
    paused, resume = threading.Event(), threading.Event()
    check_quota = services._check_quota

    def pausing(principal, scope):
        paused.set()
        assert resume.wait(30)
        return check_quota(principal, scope)

    monkeypatch.setattr(services, "_check_quota", pausing)

    def create():
        with app.app_context():
            subscribe(db.session.get(User, subscriber_id))
            db.session.remove()

    thread = threading.Thread(target=create)
    thread.start()
    assert paused.wait(30)
    return resume, thread


def test_a_subscription_created_while_an_act_is_written_hears_of_the_act(app, broker, monkeypatch):
    _postgresql_only()
    subscriber_id = f.make_user(f.make_org()).id
    sharer = f.make_user(f.make_org())
    db.session.commit()
    resume, thread = _subscribing_in_another_thread(app, monkeypatch, subscriber_id)
    try:
        # The share neither waits for the subscription nor takes the act as unheard.
        f.share(sharer, [f.indicator(f"198.51.100.{n}") for n in range(5)], tlp="green")
    finally:
        resume.set()
        thread.join(30)
    assert db.session.scalar(select(func.count(Subscription.id))) == 1
    assert dispatch.flush()
    [(name, [entry_ids])] = broker.drain()
    assert name == dispatch.TASK_FAN_OUT and len(entry_ids) == 5
    assert jobs.fan_out_entries(entry_ids) == 1
    assert _pending_entries() == 0


def test_a_subscription_waits_for_an_act_being_written_as_unheard(app, broker):
    """The act commits first, so the subscription is owed nothing of it; had it been created in
    the middle of the act, the act would have been recorded as told to nobody."""
    _postgresql_only()
    subscriber_id = f.make_user(f.make_org()).id
    db.session.commit()
    assert fanout.nobody_to_alert("shared", {"indicator"})  # this transaction now holds the lock shared
    created = threading.Event()

    def create():
        with app.app_context():
            subscribe(db.session.get(User, subscriber_id))
            created.set()
            db.session.remove()

    thread = threading.Thread(target=create)
    thread.start()
    assert not created.wait(1.0), "the subscription was created in the middle of an act written as unheard"
    db.session.commit()
    thread.join(30)
    assert created.is_set()
    assert not fanout.nobody_to_alert("shared", {"indicator"})  # someone subscribes now
    db.session.rollback()
