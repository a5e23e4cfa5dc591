"""Alert fan-out benchmark: prints figures, asserts nothing.

1. One GREEN indicator shared with the community, 1,000 organisations each subscribed by webhook
   (organisation-wide), receivers on loopback (separate processes), a real Celery worker with
   its default settings on Redis and PostgreSQL: time from the share's commit to the last
   delivery, and deliveries per second.
2. Fan-out cost with 10,000 subscriptions (in-app, varied filters, 1,000 organisations):
   milliseconds per shared item, for the whole fan-out (match, policy, write) and for matching.

    .venv/bin/python bench/alerts_fanout.py [--orgs 1000] [--subscriptions 10000] [--rounds 3]

Needs PostgreSQL (BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a
database is created and dropped) and /usr/bin/redis-server (a private one on a free port).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))


# --- receivers (run as `alerts_fanout.py --receiver PORT` in their own processes) -----------

def run_receiver(port: int) -> None:
    lock = threading.Lock()
    stats = {"count": 0, "first": None, "last": None}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.time()
            with lock:
                stats["count"] += 1
                stats["first"] = stats["first"] or now
                stats["last"] = now
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # /stats, and /reset via ?reset=1
            with lock:
                body = json.dumps(stats).encode()
                if "reset" in self.path:
                    stats.update(count=0, first=None, last=None)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024  # the listen backlog: dozens of sender threads connect at once

    Server(("127.0.0.1", port), Handler).serve_forever(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def receiver_stats(ports: list[int], reset: bool = False) -> list[dict]:
    import urllib.request

    out = []
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats{'?reset=1' if reset else ''}") as answer:
            out.append(json.loads(answer.read()))
    return out


# --- environment: PostgreSQL database, Redis, worker ----------------------------------------

def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


class Environment:
    def __init__(self, workdir: Path, receivers: int):
        import psycopg

        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []
        self.admin_url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        self.db_name = f"hub_alerts_bench_{os.getpid()}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        base = self.admin_url.rsplit("/", 1)[0]
        self.database_url = f"{base}/{self.db_name}"
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self._spawn([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.redis_port),
                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)])
        import redis

        client = redis.Redis(port=self.redis_port)
        wait_for(lambda: _ping(client), 10, "redis-server")
        self.receiver_ports = [free_port() for _ in range(receivers)]
        for port in self.receiver_ports:
            self._spawn([sys.executable, __file__, "--receiver", str(port)])
        wait_for(lambda: _all_listen(self.receiver_ports), 20, "the receivers")

    def _spawn(self, command, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def worker_env(self) -> dict:
        env = {**os.environ, "HUB_CONFIG": "development", "SECRET_KEY": "bench-only", "DATABASE_URL": self.database_url,
               "REDIS_URL": self.redis_url, "HUB_INSTANCE_DIR": str(self.workdir / "instance"),
               "HUB_WEBHOOK_ALLOW": "127.0.0.1/32"}
        env.pop("TEST_DATABASE_URL", None)
        return env

    def start_worker(self) -> None:
        log = open(self.workdir / "worker.log", "wb")
        # Default worker settings: prefork, one process per CPU, beat as `make run` starts it.
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.worker", "worker", "--beat", "--loglevel", "INFO",
             "--schedule", str(self.workdir / "beat-schedule")],
            cwd=PROJECT, env=self.worker_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        wait_for(lambda: b" ready." in (self.workdir / "worker.log").read_bytes(), 120, "the worker")

    def close(self) -> None:
        import psycopg

        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def _all_listen(ports) -> bool:
    try:
        receiver_stats(ports)
        return True
    except OSError:
        return False


# --- the hub side ----------------------------------------------------------------------------

def make_app(env: Environment):
    from config import Config, ProductionConfig
    from hub import create_app

    class BenchConfig(ProductionConfig):
        SECRET_KEY = "bench-only"
        SQLALCHEMY_DATABASE_URI = env.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        REDIS_URL = env.redis_url
        HUB_WEBHOOK_ALLOW = "127.0.0.1/32"
        CELERY = {**Config.CELERY, "broker_url": env.redis_url, "result_backend": env.redis_url,
                  "broker_transport_options": {}}

    return create_app(BenchConfig)


def seed_members(orgs: int, users_per_org: int) -> tuple[list[int], list[tuple[int, int]], int]:
    """Organisations and users by bulk insert (one Argon2 hash for all: nobody signs in)."""
    from sqlalchemy import insert, select

    from hub.accounts.models import Organisation, User
    from hub.accounts.services import hash_password
    from hub.db import utcnow
    from hub.extensions import db
    from hub.principal import Role

    now = utcnow()
    countries = ["CZ", "SK", "DE", "BR", "AT", "PL"]
    kinds = ["hospital"] * 8 + ["national_cert", "vendor"]
    db.session.execute(insert(Organisation), [
        {"slug": f"bench-org-{n}", "name": f"Bench organisation {n}", "kind": kinds[n % len(kinds)],
         "country": countries[n % len(countries)], "created": now} for n in range(orgs + 1)
    ])
    org_ids = list(db.session.scalars(select(Organisation.id).order_by(Organisation.id)))
    password = hash_password("bench-password-not-used")
    rows = []
    for org_id in org_ids:
        for k in range(users_per_org):
            rows.append({"email": f"u{k}@org{org_id}.bench", "org_id": org_id,
                         "role": Role.admin if k == 0 else Role.analyst, "password_hash": password,
                         "session_epoch": 0, "is_operator": False, "active": True, "created": now})
    db.session.execute(insert(User), rows)
    users = [tuple(row) for row in db.session.execute(select(User.id, User.org_id).order_by(User.id))]
    db.session.commit()
    sharer_org = org_ids[-1]
    return org_ids[:-1], users, sharer_org


def reset_tables() -> None:
    from sqlalchemy import text

    from hub.extensions import db

    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


def share_one(sharer, n: int):
    from hub.intel.audience import Audience
    from hub.intel.ingest import share_objects
    from hub.tlp import TLP
    from tests.factories import indicator

    objects = [indicator(f"198.18.{n // 250}.{n % 250 + 1}", labels=["phishing"] if n % 3 == 0 else [])]
    return share_objects(sharer, objects, audience=Audience(community=True), tlp=TLP.green)[0]


def principal_of(user_id: int):
    from hub.accounts.models import User
    from hub.extensions import db
    from hub.principal import Principal

    return Principal.of(db.session.get(User, user_id))


def bench_webhooks(env: Environment, orgs: int, rounds: int) -> None:
    from sqlalchemy import insert

    from hub.db import utcnow
    from hub.alerts.models import Subscription
    from hub.extensions import db

    app = make_app(env)
    with app.app_context():
        db.create_all()
        org_ids, users, sharer_org = seed_members(orgs, 1)
        admin_of = {org_id: user_id for user_id, org_id in users}
        now = utcnow()
        ports = env.receiver_ports
        db.session.execute(insert(Subscription), [
            {"user_id": admin_of[org_id], "org_id": org_id, "scope": "org", "channel": "webhook",
             "target": f"http://127.0.0.1:{ports[n % len(ports)]}/hooks/org-{org_id}",
             "secret": f"secret-{org_id}", "filters": "{}", "mode": "immediate", "created": now}
            for n, org_id in enumerate(org_ids)
        ])
        db.session.commit()
        sharer = principal_of(admin_of[sharer_org])
        env.start_worker()
        print(f"\n[1] one community share -> {len(org_ids)} organisation webhooks "
              f"({len(ports)} receiver processes on loopback), worker defaults "
              f"(prefork, concurrency = {os.cpu_count()} CPUs), Redis broker, PostgreSQL")
        results = []
        for n in range(rounds + 1):
            receiver_stats(ports, reset=True)
            share_one(sharer, n)
            committed = time.time()
            wait_for(lambda: sum(s["count"] for s in receiver_stats(ports)) >= len(org_ids), 120, "the deliveries")
            stats = receiver_stats(ports)
            first = min(s["first"] for s in stats if s["first"])
            last = max(s["last"] for s in stats if s["last"])
            total = sum(s["count"] for s in stats)
            label = "warm-up" if n == 0 else f"round {n}"
            print(f"    {label:8}: {total} deliveries; commit -> first {first - committed:6.3f} s, "
                  f"commit -> last {last - committed:6.3f} s, {total / (last - committed):7.0f} deliveries/s")
            if n:
                results.append(last - committed)
        median = statistics.median(results)
        print(f"    median commit -> last delivery: {median:.3f} s ({len(org_ids) / median:.0f} deliveries/s); "
              f"goal < 3 s: {'met' if median < 3 else 'NOT met'}")
        db.session.remove()
        db.engine.dispose()


def bench_matching(env: Environment, orgs: int, subscriptions: int, items: int) -> None:
    from sqlalchemy import insert, select

    from hub.db import utcnow
    from hub.alerts import fanout
    from hub.alerts.filters import matches
    from hub.alerts.models import Subscription
    from hub.outbox import OutboxEntry
    from hub.extensions import db

    app = make_app(env)
    app.config["HUB_ALERTS_ENQUEUE"] = False  # measured in-process: nothing is queued
    rng = random.Random(7)
    with app.app_context():
        reset_tables()
        users_per_org = max(1, subscriptions // orgs)
        org_ids, users, sharer_org = seed_members(orgs, users_per_org)
        sharer = principal_of(next(u for u, o in users if o == sharer_org))
        filter_choices = [
            "{}", '{"types":["indicator"]}', '{"min_tlp":"amber"}', '{"owner_country":["CZ"]}',
            '{"keywords":["ransomware","pump"]}', '{"observable_types":["ipv4-addr"]}',
            '{"owner_kind":["hospital"],"owner_country":["CZ","SK"]}', '{"correlates_with_own":true}',
            '{"events":["revoked","expired"]}', '{"labels":["phishing"]}',
        ]
        now = utcnow()
        subscribers = [(u, o) for u, o in users if o != sharer_org][:subscriptions]
        db.session.execute(insert(Subscription), [
            {"user_id": user_id, "org_id": org_id, "scope": "user", "channel": "in_app", "target": None,
             "secret": None, "filters": rng.choice(filter_choices), "mode": "immediate", "created": now}
            for user_id, org_id in subscribers
        ])
        db.session.commit()
        full, matching, notified = [], [], []
        for n in range(items):
            share_one(sharer, 1000 + n)
            entry_id = db.session.scalar(select(OutboxEntry.id).order_by(OutboxEntry.id.desc()).limit(1))
            entry = db.session.get(OutboxEntry, entry_id)
            started = time.perf_counter()
            candidates = fanout._candidates()
            facts = fanout.item_facts(entry, entry.item, with_correlation=True)
            matched = [c for c in candidates if matches(c.filters, facts, c.org_id)]
            matching.append(time.perf_counter() - started)
            db.session.rollback()
            started = time.perf_counter()
            result = fanout.fan_out(entry_id)
            full.append(time.perf_counter() - started)
            notified.append((len(matched), result.notifications))
        print(f"\n[2] fan-out of one shared item against {len(subscribers)} subscriptions "
              f"({len(org_ids)} organisations, 10 kinds of filter), {items} items, in-process on PostgreSQL")
        print(f"    matching (load subscriptions, read the item, apply filters): "
              f"median {statistics.median(matching) * 1000:7.1f} ms per item")
        print(f"    whole fan-out (+ policy for every matched recipient in SQL, write notifications): "
              f"median {statistics.median(full) * 1000:7.1f} ms per item")
        print(f"    matched subscriptions per item: median {statistics.median(m for m, _ in notified):.0f}, "
              f"notifications written: median {statistics.median(w for _, w in notified):.0f}")
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--receivers", type=int, default=4, help="receiver processes")
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver)
        return
    workdir = Path(tempfile.mkdtemp(prefix="alerts-bench-"))
    os.environ["HUB_INSTANCE_DIR"] = str(workdir / "instance")
    print(f"alerts fan-out benchmark on {os.cpu_count()} CPUs (work files in {workdir})")
    env = Environment(workdir, args.receivers)
    try:
        bench_webhooks(env, args.orgs, args.rounds)
        bench_matching(env, args.orgs, args.subscriptions, args.items)
    finally:
        env.close()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
