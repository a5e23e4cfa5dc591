"""Collective defence at scale (issue 14): correlation and bulk sightings against 1,000,000
stored observables, on PostgreSQL.

    .venv/bin/python bench/collective_bench.py                  # --observables 1000000 --lookups 300 --bulk 100000

Needs PostgreSQL (BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres); the
script creates a database of its own and drops it at the end (BENCH_KEEP=1 keeps it). With
`--database NAME` the store lives in that database and is kept: a first run creates and fills
it, later runs with the same `--observables` reuse it (filling 1,000,000 takes minutes).

The store is filled with COPY, in the rows the hub's write path writes (shared_item,
stix_version, observable; community TLP:GREEN indicators of four organisations): a mix of IPv4
addresses (40%), domains (30%), URLs (20%) and SHA-256 hashes (10%), and a few thousand /24
networks. Filling through the share path would measure ingest (bench/taxii_bench.py does).

Measured, with a fifth organisation's analyst as the reader (so the sharing policy runs in
every query):
1. Correlation of one new indicator: `correlations_for_values` for one value (same value, same
   file, CIDR both ways), half of them present in the store; and GET /objects/<id>/correlations
   over HTTP (the Flask app in-process, token auth, JSON) for stored indicators. p50 and p95.
2. A bulk sighting upload of `--bulk` values (1% present in the store: a firewall log against a
   blocklist) through
   POST /api/v1/sightings/bulk: values per second, from request to answer, sightings committed.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from hub import create_app  # noqa: E402
from hub.accounts import services as accounts  # noqa: E402
from hub.accounts.models import User  # noqa: E402
from hub.extensions import db  # noqa: E402
from hub.intel import correlation, observables  # noqa: E402
from hub.intel.models import Observable, SharedItem  # noqa: E402
from hub.intel.warmup import warm_up  # noqa: E402
from hub.principal import Principal  # noqa: E402
from hub.tlp import TLP  # noqa: E402

# What MISP documents: no figure for correlation latency or sighting throughput is published in
# its documentation (misp-book, the MISP project site); its correlation engine is described as
# the `correlations` table with one row per correlating pair, built on attribute save. We say so
# rather than invent a number.
MISP_NOTE = ("MISP: no documented figure for correlation latency or bulk sighting throughput "
             "(misp-book and misp-project.org were searched); not measured side by side here.")


def value_of(n: int) -> tuple[str, str]:
    """The n-th stored observable: deterministic, so a lookup can aim at present values."""
    bucket = n % 10
    if bucket < 4:
        return "ipv4-addr", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    if bucket < 7:
        return "domain-name", f"host{n}.bench-{n % 97}.example"
    if bucket < 9:
        return "url", f"http://bench-{n % 89}.example/path/{n}"
    return "sha256", f"{n:064x}"


def absent_value(n: int) -> tuple[str, str]:
    return "ipv4-addr", f"172.{16 + n % 16}.{n >> 8 & 255}.{n & 255}"


def pattern_of(kind: str, value: str) -> str:
    if kind == "sha256":
        return f"[file:hashes.'SHA-256' = '{value}']"
    return f"[{kind}:value = '{value}']"


def fill(database_url: str, total: int, org_ids: list[int], author_id: int, networks: int) -> None:
    """COPY `total` indicators (one observable each) plus `networks` /24 network indicators."""
    started = time.perf_counter()
    base_us = 1_764_000_000_000_000
    green = TLP.green.value
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM shared_item")
            first_id = cur.fetchone()[0] + 1
            rows = [(n, *value_of(n)) for n in range(total)]
            rows += [(total + k, "ipv4-addr", f"10.{k >> 8 & 255}.{k & 255}.0/24") for k in range(networks)]
            with cur.copy("COPY shared_item (id, stix_id, stix_type, owner_org_id, author_id, tlp, audience_community, "
                          "anonymous, revoked, name, search_text, first_added_us, last_added_us) FROM STDIN") as copy:
                for n, kind, value in rows:
                    copy.write_row((first_id + n, f"indicator--{uuid.UUID(int=n + 1, version=4)}", "indicator",
                                    org_ids[n % len(org_ids)], author_id, green, True, False, False,
                                    f"Bench {value}", value, base_us + n, base_us + n))
            with cur.copy("COPY stix_version (id, item_id, modified_us, date_added_us, spec_version, body) FROM STDIN") as copy:
                for n, kind, value in rows:
                    stix_id = f"indicator--{uuid.UUID(int=n + 1, version=4)}"
                    body = orjson.dumps({"type": "indicator", "spec_version": "2.1", "id": stix_id,
                                         "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
                                         "pattern": pattern_of(kind, value), "pattern_type": "stix",
                                         "valid_from": "2026-11-01T10:00:00Z", "name": f"Bench {value}",
                                         "object_marking_refs": [TLP.green.marking_id]}).decode()
                    copy.write_row((first_id + n, first_id + n, base_us, base_us + n, "2.1", body))
            with cur.copy("COPY observable (id, item_id, kind, value, ip_key) FROM STDIN") as copy:
                for n, kind, value in rows:
                    copy.write_row((first_id + n, first_id + n, kind, value, observables.ip_key(kind, value)))
            cur.execute("UPDATE shared_item SET latest_version_id = id WHERE latest_version_id IS NULL")
            for table in ("shared_item", "stix_version", "observable"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    print(f"filled {len(rows):,} observables in {time.perf_counter() - started:.1f} s")


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observables", type=int, default=1_000_000)
    parser.add_argument("--networks", type=int, default=5_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--database", help="keep the store in this database and reuse it on later runs")
    args = parser.parse_args()

    admin_url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db_name = args.database or f"hub_collective_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    database_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{db_name}"
    try:
        run(database_url, args)
    finally:
        if not args.database and os.environ.get("BENCH_KEEP") != "1":
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def run(database_url: str, args) -> None:
    from config import ProductionConfig

    class BenchConfig(ProductionConfig):
        SECRET_KEY = "bench-only"
        SQLALCHEMY_DATABASE_URI = database_url
        HUB_ALERTS_ENQUEUE = False  # the outbox rows are written; no worker is measured here
        RATELIMIT_ENABLED = False
        MAX_CONTENT_LENGTH = 20 * 1024 * 1024

    app = create_app(BenchConfig)
    with app.app_context():
        db.create_all()
        reader = db.session.scalar(select(User).where(User.email == "reader@bench.test"))
        stored = db.session.scalar(select(func.count()).select_from(Observable)) if reader else 0
        if reader is not None and stored == args.observables + args.networks:
            print(f"reusing the {stored:,} observables stored in {database_url.rsplit('/', 1)[-1]}")
        elif reader is not None:
            sys.exit(f"{database_url.rsplit('/', 1)[-1]} holds {stored:,} observables, not "
                     f"{args.observables + args.networks:,}: drop it or name another --database")
        else:
            sharers = [accounts.create_org(f"bench-sharer-{k}", f"Bench sharer {k}", "hospital", "CZ") for k in range(4)]
            author, _ = accounts.create_user("author@bench.test", sharers[0].slug, "analyst", "correct-horse-battery")
            reader_org = accounts.create_org("bench-reader", "Bench reader", "hospital", "CZ")
            reader, _ = accounts.create_user("reader@bench.test", reader_org.slug, "analyst", "correct-horse-battery")
            db.session.commit()
            fill(database_url, args.observables, [org.id for org in sharers], author.id, args.networks)
        token = accounts.create_token(reader, "bench")
        principal = Principal.of(reader)
        rng = random.Random(14)
        warm_up()  # what a worker or gunicorn does at start: compile the schemas once

        print(f"\n1. Correlation of one new indicator against {args.observables + args.networks:,} stored observables")
        samples = []
        for k in range(args.lookups):
            kind, value = value_of(rng.randrange(args.observables)) if k % 2 == 0 else absent_value(k)
            started = time.perf_counter()
            correlation.correlations_for_values(principal, {(kind, value)})
            samples.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        print(f"   service (same value, same file, CIDR both ways): {percentiles(samples)}")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        samples = []
        for _ in range(args.lookups):
            n = rng.randrange(args.observables)
            stix_id = f"indicator--{uuid.UUID(int=n + 1, version=4)}"
            started = time.perf_counter()
            response = client.get(f"/api/v1/objects/{stix_id}/correlations", headers=headers)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_json()
        print(f"   GET /api/v1/objects/<id>/correlations over the WSGI app: {percentiles(samples)}")

        print(f"\n2. Bulk sighting upload of {args.bulk:,} values (1% present) against the same store")
        values = []
        for k in range(args.bulk):
            kind, value = value_of(rng.randrange(args.observables)) if k % 100 == 0 else absent_value(k)
            values.append(value)
        body = orjson.dumps({"values": values, "tlp": "green", "audience": "community"})
        sightings_before = db.session.scalar(select(func.count()).where(SharedItem.stix_type == "sighting"))
        db.session.rollback()
        started = time.perf_counter()
        response = client.post("/api/v1/sightings/bulk", data=body, headers={**headers, "Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
        answer = response.get_json()
        assert response.status_code == 200, answer
        committed = db.session.scalar(select(func.count()).where(SharedItem.stix_type == "sighting")) - sightings_before
        print(f"   {args.bulk:,} values in {elapsed:.2f} s: {args.bulk / elapsed:,.0f} values/s "
              f"({len(answer['matched']):,} matched, {answer['unmatched']:,} unmatched, "
              f"{committed:,} sightings committed)")
        print(f"\n{MISP_NOTE}")


if __name__ == "__main__":
    main()
