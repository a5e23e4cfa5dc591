"""Real workers: `celery -A workers.worker worker --beat` processes against a private Redis and a
PostgreSQL database shared with this test, delivering to real HTTP receivers on loopback.

Outages are real too: the Redis server is shut down and started again, a worker is killed with
SIGKILL in the middle of a delivery. Timings are shortened through the environment (backoff,
lease, sweep interval), never by mocking.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from config import Config, TestingConfig, _normalise_database_url
from hub import create_app
from hub.accounts import services as accounts
from hub.alerts import dispatch
from hub.alerts.models import Delivery, Notification
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import (
    WebhookReceiver,
    cheap_password_hashing,
    free_port,
    subscribe,
    valid_signature,
    wait_until,
)

PROJECT = Path(__file__).resolve().parent.parent
SECRET = "integration-secret"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# Short clocks for the tests; production defaults are in config.py.
WORKER_SETTINGS = {
    "HUB_WEBHOOK_ALLOW": "127.0.0.1/32",
    "HUB_WEBHOOK_TIMEOUT": "2",
    "HUB_ALERTS_MAX_ATTEMPTS": "4",
    "HUB_ALERTS_BACKOFF_BASE": "0.2",
    "HUB_ALERTS_BACKOFF_MAX": "1",
    "HUB_ALERTS_SWEEP_SECONDS": "0.5",
    "HUB_ALERTS_SWEEP_GRACE": "1",
    # Longer than an attempt can take on a busy machine (timeout 2 s), or a slow worker's
    # delivery would be handed on while it is still sending.
    "HUB_ALERTS_LEASE_SECONDS": "6",
    "HUB_BASE_URL": "http://hub.test",
}


class RedisServer:
    """A private redis-server on its own port (the machine's shared one is never touched)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: _pings(client), timeout=10, message="redis-server to answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


def empty_tables_beside_the_worker(attempts: int = 10) -> None:
    """TRUNCATE every table while the worker runs: a task or sweep of the previous test may still
    hold row locks, and PostgreSQL then picks one side of the deadlock to fail. Ours retries."""
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    for attempt in range(attempts):
        try:
            db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
            db.session.commit()
            return
        except OperationalError as error:
            db.session.rollback()
            if not isinstance(error.orig, psycopg.errors.DeadlockDetected) or attempt == attempts - 1:
                raise
            time.sleep(0.5)


class WorkerProcess:
    """`celery -A workers.worker worker --beat` as its own process group."""

    def __init__(self, env: dict, workdir: Path, name: str, concurrency: int = 2):
        self.env, self.workdir, self.name, self.concurrency = env, workdir, name, concurrency
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.log = self.workdir / f"{self.name}-{self.starts}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workers.worker", "worker", "--beat",
                 "--concurrency", str(self.concurrency), "--loglevel", "INFO",
                 "--hostname", f"{self.name}-{os.getpid()}-{self.starts}@%h",
                 "--schedule", str(self.workdir / f"{self.name}-beat-schedule"),
                 "--without-mingle", "--without-gossip"],
                cwd=PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(lambda: b" ready." in self.log.read_bytes() or self.process.poll() is not None,
                   timeout=60, message="the worker to be ready")
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL to the whole group: main process, pool children and beat, no goodbyes."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # A warm shutdown, briefly: whatever it leaves unfinished the database still knows.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()


def _admin_url() -> str:
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    if test_url.startswith("postgres"):
        server = make_url(_normalise_database_url(test_url)).set(database="postgres")
        return server.render_as_string(hide_password=False)
    return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("alerts-it")


@pytest.fixture(scope="module")
def it_database():
    """A PostgreSQL database of its own, shared by this test process and the workers."""
    admin = _admin_url()
    name = f"hub_alerts_it_{os.getpid()}"
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_server(workdir):
    server = RedisServer(workdir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def it_app(it_database, redis_server):
    """The hub as the web process runs it in production: PostgreSQL, Redis, queueing after commit."""

    class IntegrationConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = it_database
        REDIS_URL = redis_server.url
        HUB_ALERTS_ENQUEUE = True
        HUB_WEBHOOK_ALLOW = "127.0.0.1/32"
        CELERY = {**Config.CELERY, "broker_url": redis_server.url, "result_backend": redis_server.url,
                  "broker_transport_options": {}}

    app = create_app(IntegrationConfig)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def worker(it_app, it_database, redis_server, workdir):
    env = {**os.environ, **WORKER_SETTINGS, "HUB_CONFIG": "development", "SECRET_KEY": TestingConfig.SECRET_KEY, "DATABASE_URL": it_database,
           "REDIS_URL": redis_server.url, "HUB_INSTANCE_DIR": str(workdir / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    process = WorkerProcess(env, workdir, "alerts-it")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def hub(it_app, worker, monkeypatch):
    """This test's world, in the integration database: empty tables, the app context pushed."""
    cheap_password_hashing(monkeypatch)
    with it_app.app_context():
        # Ids keep counting up: a task of an earlier test still queued finds nothing of this one.
        empty_tables_beside_the_worker()
        yield it_app
        dispatch.flush(10)
        db.session.remove()


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def webhook_subscriber(receiver: WebhookReceiver, **fields):
    user = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(user, channel="webhook", target=receiver.url(), secret=SECRET, **fields)
    return user


def delivery_rows() -> list[Delivery]:
    db.session.rollback()  # a fresh snapshot of what the workers wrote
    return list(db.session.scalars(select(Delivery).order_by(Delivery.id)))


def all_recorded(count: int) -> list[Delivery]:
    """Wait until the workers recorded `count` deliveries as delivered (the receiver answers
    before the worker writes down its answer)."""
    return wait_until(lambda: (rows := delivery_rows()) and len(rows) == count
                      and all(row.status == "delivered" for row in rows) and rows,
                      message=f"{count} deliveries recorded as delivered")


def test_a_worker_delivers_signed_webhooks_and_in_app_notifications(hub, receiver):
    subscriber = webhook_subscriber(receiver)
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    items = [f.share(sharer, [f.indicator(f"203.0.113.{n}")], tlp="green") for n in range(3)]
    wait_until(lambda: len(receiver.delivered()) == 3, message="three deliveries")
    assert sorted(r.json["object_id"] for r in receiver.requests) == sorted(i.stix_id for i in items)
    assert all(valid_signature(SECRET, r.headers, r.body) for r in receiver.requests)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == subscriber.id)) == 3
    assert {row.attempts for row in all_recorded(3)} == {1}


def test_redis_stopped_during_200_shares_still_delivers_every_alert_exactly_once(hub, receiver, redis_server):
    webhook_subscriber(receiver)
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    shared = []
    for n in range(200):
        if n == 60:
            redis_server.stop()
        if n == 140:
            redis_server.start()
        shared.append(f.share(sharer, [f.indicator(f"198.51.{n // 250}.{n % 250 + 1}")], tlp="green").stix_id)
    wait_until(lambda: len(receiver.delivered()) >= 200, timeout=60, message="200 deliveries after the outage")
    time.sleep(2)  # a duplicate, if any, would arrive now: sweeps run every half second
    per_delivery = Counter(r.headers["X-Hub-Delivery"] for r in receiver.requests)
    assert len(per_delivery) == 200 and set(per_delivery.values()) == {1}
    assert sorted(r.json["object_id"] for r in receiver.requests) == sorted(shared)
    all_recorded(200)


def test_a_worker_killed_mid_delivery_completes_it_on_restart_without_a_duplicate(hub, receiver, worker):
    receiver.behaviour = "stall_first"
    subscriber = webhook_subscriber(receiver)
    f.share(f.make_user(f.make_org("hospital", "CZ")), tlp="green")
    wait_until(receiver.stalled.is_set, message="the first attempt to reach the receiver")
    worker.kill()
    receiver.release.set()
    assert delivery_rows()[0].status == "sending"
    worker.start()
    wait_until(lambda: len(receiver.delivered()) == 1, timeout=30, message="the delivery after restart")
    [row] = all_recorded(1)
    time.sleep(1.5)  # a duplicate, if any, would arrive now: sweeps run every half second
    assert row.attempts == 2
    assert {r.headers["X-Hub-Delivery"] for r in receiver.requests} == {row.public_id}
    assert [r.answered for r in receiver.requests] == [0, 200]
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == subscriber.id)) == 1


def test_a_receiver_failing_half_its_requests_gets_everything_within_the_retry_budget(hub, receiver):
    receiver.behaviour = "fail_first"  # the first attempt of every delivery fails: half of all requests
    webhook_subscriber(receiver)
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    for n in range(10):
        f.share(sharer, [f.indicator(f"192.0.2.{n + 1}")], tlp="green")
    wait_until(lambda: len(receiver.delivered()) == 10, timeout=30, message="ten deliveries")
    statuses = Counter(r.answered for r in receiver.requests)
    assert statuses == {500: 10, 200: 10}
    assert all(valid_signature(SECRET, r.headers, r.body) for r in receiver.requests)
    assert {row.attempts for row in all_recorded(10)} == {2}


def test_a_receiver_that_always_fails_gets_a_dead_letter_that_replays_once_fixed(hub, receiver):
    receiver.behaviour = "always_fail"
    org = f.make_org("national_cert", "CZ")
    admin = f.make_user(org, "admin")
    subscribe(admin, channel="webhook", target=receiver.url(), secret=SECRET, scope="org")
    f.share(f.make_user(f.make_org("hospital", "CZ")), tlp="green")
    wait_until(lambda: [r.status for r in delivery_rows()] == ["dead"], timeout=30, message="a dead letter")
    [row] = delivery_rows()
    assert row.attempts == 4 and len(receiver.requests) == 4
    assert row.last_error == "the receiver answered HTTP 503"

    receiver.behaviour = "ok"
    token = accounts.create_token(admin, "it")
    answer = hub.test_client().post(f"/api/v1/deliveries/{row.id}/replay", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.json
    wait_until(lambda: len(receiver.delivered()) == 1, timeout=20, message="the replayed delivery")
    [row] = all_recorded(1)
    assert {r.headers["X-Hub-Delivery"] for r in receiver.requests} == {row.public_id}


def test_the_embedded_default_runs_a_worker_without_redis(tmp_path, monkeypatch):
    """No REDIS_URL: SQLite under the instance folder and the filesystem broker."""
    cheap_password_hashing(monkeypatch)
    instance = tmp_path / "instance"
    database = f"sqlite:///{instance / 'hub.sqlite'}"
    folders = {"data_folder_in": str(instance / "broker" / "out"), "data_folder_out": str(instance / "broker" / "out"),
               "processed_folder": str(instance / "broker" / "processed"),
               "control_folder": str(instance / "broker" / "control"), "store_processed": False}

    class EmbeddedConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database
        REDIS_URL = None
        HUB_ALERTS_ENQUEUE = True
        CELERY = {**Config.CELERY, "broker_url": "filesystem://", "broker_transport_options": folders,
                  "result_backend": f"db+sqlite:///{instance / 'celery-results.sqlite'}"}

    instance.mkdir()
    app = create_app(EmbeddedConfig)
    env = {**os.environ, **WORKER_SETTINGS, "HUB_CONFIG": "development", "SECRET_KEY": TestingConfig.SECRET_KEY, "HUB_INSTANCE_DIR": str(instance),
           "DATABASE_URL": database}
    for name in ("REDIS_URL", "TEST_DATABASE_URL"):
        env.pop(name, None)
    embedded = WorkerProcess(env, tmp_path, "alerts-embedded", concurrency=1)
    with app.app_context():
        db.create_all()
        reader = f.make_user(f.make_org("national_cert", "CZ"))
        subscribe(reader)
        embedded.start()
        try:
            item = f.share(f.make_user(f.make_org("hospital", "CZ")), tlp="green")

            def notified():
                db.session.rollback()
                return db.session.scalars(select(Notification).where(Notification.user_id == reader.id)).all()

            [notification] = wait_until(notified, timeout=30, message="the in-app notification")
            assert (notification.item_id, notification.event) == (item.id, "shared")
        finally:
            embedded.stop()
            dispatch.flush(10)
            db.session.remove()
            db.engine.dispose()


def test_a_redis_outage_with_a_delivery_in_flight_does_not_stop_the_worker(hub, receiver, redis_server, worker):
    receiver.behaviour = "stall_first"
    webhook_subscriber(receiver)
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    first = f.share(sharer, tlp="green")
    wait_until(receiver.stalled.is_set, message="the first attempt to reach the receiver")
    redis_server.stop()  # the delivery task is running, its message not yet acknowledged
    time.sleep(1)
    receiver.release.set()
    redis_server.start()
    second = f.share(sharer, tlp="green")
    rows = all_recorded(2)
    assert {row.item_id for row in rows} == {first.id, second.id}
    assert {r.json["object_id"] for r in receiver.requests} == {first.stix_id, second.stix_id}
    assert worker.process.poll() is None, worker.log.read_text()[-2000:]
