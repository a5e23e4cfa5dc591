"""Handing alert work to the workers: by task name, after commit, never by importing workers/.

Outbox entries flushed in a transaction are remembered on the session and queued once the
transaction commits, so a worker never looks for a row that is not there yet. A background
thread does the publishing: a share never waits for the broker (a Redis client retries a refused
connection for seconds). Queueing is best effort by design: when the broker is down the share
still succeeds, and the beat sweeper fans the entry out later (an outage delays alerts, never
loses them).
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.outbox import NEW_ENTRIES_KEY, OutboxEntry, remember_new_entries

log = logging.getLogger(__name__)

TASK_FAN_OUT = "alerts.fan_out"
TASK_DELIVER = "alerts.deliver"
TASK_SWEEP = "alerts.sweep"
TASK_EMIT_EXPIRIES = "alerts.emit_expiries"
TASK_SEND_DIGESTS = "alerts.send_digests"

# Deliveries handed to one task: large enough to amortise the task, small enough to spread a
# thousand-recipient fan-out over every worker process.
DELIVERY_BATCH = 50
# Outbox entries per fan-out task. A commit's entries are one sharing act, which one fan-out
# handles whole (the act's oldest entry leads, fanout._lock_act): a bulk share's chunk of 500 is
# one task, not 25 of which 24 only found their entries done (at 20 a task, pushing ATT&CK queued
# some 600 such tasks, seconds of the workers' time beside the adds).
FAN_OUT_BATCH = 500


# After a failed publish, this process stops trying for a while: a Redis client retries a refused
# connection for seconds, and a fan-out with many deliveries to queue would stall for minutes.
BROKER_PAUSE_SECONDS = 5.0
_broker_down_until: dict[int, float] = {}


def enqueue(task_name: str, args: list, *, countdown: float | None = None) -> bool:
    """Send a task by name; False (logged) when the broker cannot take it right now."""
    celery = current_app.extensions.get("celery")
    if celery is None or not current_app.config.get("HUB_ALERTS_ENQUEUE", True):
        return False
    if time.monotonic() < _broker_down_until.get(id(celery), 0.0):
        return False  # the broker failed moments ago; the sweeper queues this later
    try:
        # No result is ever read: without ignore_result a Redis result backend would subscribe
        # to every task's result channel and keep each pending result in memory.
        celery.send_task(task_name, args=args, countdown=countdown, retry=False, ignore_result=True)
    except Exception as exc:  # any broker failure: the sweeper will pick the work up
        _broker_down_until[id(celery)] = time.monotonic() + BROKER_PAUSE_SECONDS
        log.warning("could not queue %s (%s); not trying again for %.0f s, the sweeper will retry",
                    task_name, exc, BROKER_PAUSE_SECONDS)
        return False
    _broker_down_until.pop(id(celery), None)
    return True


def enqueue_fan_outs(entry_ids: list[int]) -> None:
    for start in range(0, len(entry_ids), FAN_OUT_BATCH):
        enqueue(TASK_FAN_OUT, [entry_ids[start:start + FAN_OUT_BATCH]])


def enqueue_deliveries(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    for start in range(0, len(delivery_ids), DELIVERY_BATCH):
        enqueue(TASK_DELIVER, [delivery_ids[start:start + DELIVERY_BATCH]], countdown=countdown)


class _Publisher:
    """A daemon thread per process that publishes fan-out requests queued after commits."""

    def __init__(self):
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def submit(self, app: Flask, entry_ids: list[int]) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: threads do not survive fork
                self._queue = queue.Queue()
                threading.Thread(target=self._run, name="alerts-publisher", daemon=True).start()
                self._pid = os.getpid()
        self._queue.put((app, entry_ids))

    def _run(self) -> None:
        work = self._queue
        while True:
            taken = [work.get()]
            # Coalesce what piled up meanwhile (a slow broker): one message per app.
            while not work.empty():
                taken.append(work.get_nowait())
            try:
                batches: dict[int, tuple[Flask, list[int]]] = {}
                for app, entry_ids in taken:
                    batches.setdefault(id(app), (app, []))[1].extend(entry_ids)
                for app, ids in batches.values():
                    with app.app_context():
                        enqueue_fan_outs(sorted(set(ids)))
            except Exception:  # never let the thread die; the sweeper covers what was lost
                log.exception("publishing fan-out requests failed")
            finally:
                for _ in taken:
                    work.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (up to `timeout` seconds) until everything submitted was handed to the broker."""
        done = threading.Event()
        work = self._queue
        threading.Thread(target=lambda: (work.join(), done.set()), daemon=True).start()
        return done.wait(timeout)


_publisher = _Publisher()


def flush(timeout: float = 5.0) -> bool:
    """Hand every fan-out request of this process to the broker before going on (tests, exit)."""
    return _publisher.flush(timeout)


# A short CLI command (a demo seed, an import) exits right after its commit.
atexit.register(flush, 2.0)


def _remember_outbox_entries(session: Session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxEntry)]
    if ids:
        remember_new_entries(session, ids)


def _queue_after_commit(session: Session) -> None:
    ids = session.info.pop(NEW_ENTRIES_KEY, None)
    if ids and has_app_context() and current_app.config.get("HUB_ALERTS_ENQUEUE", True):
        _publisher.submit(current_app._get_current_object(), ids)


def _forget(session: Session, *_args) -> None:
    session.info.pop(NEW_ENTRIES_KEY, None)


def init_app(app: Flask) -> None:
    """Listen on every SQLAlchemy session (registered once per process)."""
    if not event.contains(Session, "after_flush", _remember_outbox_entries):
        event.listen(Session, "after_flush", _remember_outbox_entries)
        event.listen(Session, "after_commit", _queue_after_commit)
        event.listen(Session, "after_rollback", _forget)
