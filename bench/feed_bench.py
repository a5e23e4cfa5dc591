"""Blocklist feed of 100,000 values: time to first byte and total time, per format.

    .venv/bin/python bench/feed_bench.py                 # --values 100000 --rounds 3
    .venv/bin/python bench/feed_bench.py --values 2000   # a smoke run
    .venv/bin/python bench/feed_bench.py --database hub_bench_feed   # seeds once, reuses after

Needs PostgreSQL (BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a
database of its own is created and dropped, or with --database kept and reused). Seeds `--values` indicators through the hub's bulk
insert helper (hub.db.insert_rows): one observable each (80 % IPv4, 10 % domains, 10 % URLs), shared
by one hospital as GREEN with the community (70 %), AMBER to the polling hospital (10 %), AMBER to
a sharing group it belongs to (10 %), and AMBER to another organisation (10 %: never in the feed),
with a STIX confidence. The polling hospital's feed carries every kind and TLP; each format is
fetched through the WSGI app with its token, as a firewall does, then again with If-None-Match.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# What MISP documents about its exports (searched 2026-12-03): no time or throughput figure for
# restSearch. Its training deck "MISP restSearch module development" (a.9) describes the export as
# chunks converted and concatenated into a temporary file that is sent "once no more elements are
# left", i.e. MISP's first byte comes when its last one is ready; its performance-tuning guide
# (misp-project.org/misp-performance-tuning) gives hardware and settings advice, no export figures.
MISP_NOTE = ("MISP: no documented figure for restSearch exports (time or rate). Its restSearch builds the "
             "whole export in a temporary file before sending it (training deck a.9), so its time to first "
             "byte is its total time.")


def seed(values: int) -> tuple[str, str]:
    """Organisations, users, `values` shared indicators; returns the feed's id and token."""
    from sqlalchemy import text

    from hub.accounts import services as accounts
    from hub.db import insert_rows, now_us, reserve_ids
    from hub.extensions import db
    from hub.intel.models import AudienceGrant, Observable, SharedItem, StixVersion
    from hub.tlp import TLP

    poller = accounts.create_org("bench-reader", "Reading hospital", "hospital", "CZ")
    sharer = accounts.create_org("bench-sharer", "Sharing hospital", "hospital", "CZ")
    other = accounts.create_org("bench-other", "Other hospital", "hospital", "SK")
    group = accounts.create_group("bench-group", "Bench group", ["bench-reader", "bench-sharer"])
    author, _ = accounts.create_user("analyst@bench-sharer.test", "bench-sharer", "analyst", "bench-password-1")
    reader, _ = accounts.create_user("analyst@bench-reader.test", "bench-reader", "analyst", "bench-password-1")

    started = time.perf_counter()
    base_us = now_us()
    for start in range(0, values, 10_000):
        numbers = range(start, min(start + 10_000, values))
        ids = reserve_ids(SharedItem.__table__, len(numbers))
        version_ids = reserve_ids(StixVersion.__table__, len(numbers))
        items, versions, observables, grants = {}, [], [], []
        for item_id, version_id, n in zip(ids, version_ids, numbers):
            audience = ("community", "community", "community", "community", "community", "community",
                        "community", "reader", "group", "other")[n % 10]
            stix_id = f"indicator--{uuid.uuid4()}"
            if n % 10 == 3:
                kind, value = "domain-name", f"host{n}.bench.example"
            elif n % 10 == 4:
                kind, value = "url", f"http://host{n}.bench.example/login?n={n}"
            else:
                kind, value = "ipv4-addr", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            stamp = base_us + n
            tlp = TLP.green if audience == "community" else TLP.amber
            items.setdefault((tlp, audience == "community"), []).append({
                "id": item_id, "stix_id": stix_id, "name": f"Bench {n}", "search_text": value,
                "first_added_us": stamp, "last_added_us": stamp})
            versions.append({"id": version_id, "item_id": item_id, "modified_us": stamp, "date_added_us": stamp,
                             "body": f'{{"type":"indicator","id":"{stix_id}","confidence":{50 + n % 50},'
                                     f'"pattern":"[{kind}:value = \'{value}\']"}}'})
            observables.append({"item_id": item_id, "kind": kind, "value": value})
            if audience == "reader":
                grants.append({"item_id": item_id, "org_id": poller.id, "group_id": None})
            elif audience == "group":
                grants.append({"item_id": item_id, "org_id": None, "group_id": group.id})
            elif audience == "other":
                grants.append({"item_id": item_id, "org_id": other.id, "group_id": None})
        for (tlp, community), rows in items.items():
            insert_rows(SharedItem, rows, {"stix_type": "indicator", "owner_org_id": sharer.id, "author_id": author.id,
                                           "tlp": tlp, "audience_community": community, "anonymous": False,
                                           "revoked": False})
        insert_rows(StixVersion, versions, {"spec_version": "2.1"})
        insert_rows(Observable, observables, {})
        insert_rows(AudienceGrant, [{"item_id": g["item_id"], "org_id": g["org_id"]} for g in grants if g["org_id"]], {})
        insert_rows(AudienceGrant, [{"item_id": g["item_id"], "group_id": g["group_id"]} for g in grants
                                    if g["group_id"]], {})
    db.session.execute(text("UPDATE shared_item SET latest_version_id = stix_version.id FROM stix_version "
                            "WHERE stix_version.item_id = shared_item.id AND shared_item.latest_version_id IS NULL"))
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    print(f"seeded {values:,} indicators in {time.perf_counter() - started:.1f} s", flush=True)
    return new_feed(reader.id)


def new_feed(reader_id: int) -> tuple[str, str]:
    """The polling hospital's feed of every kind and TLP: its id and token."""
    from hub.accounts.models import User
    from hub.extensions import db
    from hub.feeds import services as feeds
    from hub.principal import Principal

    feed, token = feeds.create_feed(Principal.of(db.session.get(User, reader_id)), "Bench firewall",
                                    kinds=list(feeds.FEED_KINDS))
    return feed.public_id, token


def stored_reader(values: int) -> int | None:
    """The polling analyst of a store seeded before with as many values, if this is one."""
    from sqlalchemy import func, select

    from hub.accounts.models import User
    from hub.extensions import db
    from hub.intel.models import SharedItem

    reader = db.session.scalar(select(User.id).where(User.email == "analyst@bench-reader.test"))
    if reader is None:
        return None
    stored = db.session.scalar(select(func.count()).select_from(SharedItem).where(SharedItem.name.like("Bench %")))
    if stored != values:
        sys.exit(f"the database holds {stored:,} bench values, not {values:,}: drop it or name another --database")
    print(f"reusing the {stored:,} values stored before")
    return reader


def fetch(client, url: str, token: str, etag: str | None = None) -> tuple[float, float, int, str, int]:
    """One poll: seconds to the first body byte, seconds in all, bytes, ETag, status."""
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-None-Match"] = etag
    started = time.perf_counter()
    response = client.get(url, headers=headers, buffered=False)
    first = None
    size = 0
    for chunk in response.response:
        if first is None and chunk:
            first = time.perf_counter() - started
        size += len(chunk)
    total = time.perf_counter() - started
    response.close()
    return (first if first is not None else total), total, size, response.headers.get("ETag", ""), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", help="keep the seeded store in this database and reuse it on later runs")
    args = parser.parse_args()

    import psycopg

    admin_url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db_name = args.database or f"hub_feed_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db_name}"')
    os.environ.pop("TEST_DATABASE_URL", None)
    os.environ.update({"DATABASE_URL": f"{admin_url.rsplit('/', 1)[0]}/{db_name}", "SECRET_KEY": "bench-only",
                       "HUB_ALERTS_ENQUEUE": "0"})
    try:
        from hub import create_app
        from hub.extensions import db

        app = create_app("development")
        with app.app_context():
            db.create_all()
            reader_id = stored_reader(args.values)
            feed_id, token = seed(args.values) if reader_id is None else new_feed(reader_id)
            db.session.remove()  # the store is VACUUMed next, outside any open transaction
        with psycopg.connect(f"{admin_url.rsplit('/', 1)[0]}/{db_name}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # what autovacuum does to a store after a bulk load
        client = app.test_client()
        print(f"\nfeed of {args.values:,} seeded values (the feed carries those its organisation may read)")
        print(f"{'format':7} {'lines':>8} {'bytes':>11} {'first byte (median)':>20} {'total (median)':>15} "
              f"{'304 poll (median)':>18}")
        for fmt in ("txt", "csv", "rules"):
            url = f"/api/v1/feeds/{feed_id}.{fmt}"
            fetch(client, url, token)  # warm-up: connection pool, plans
            runs = [fetch(client, url, token) for _ in range(args.rounds)]
            etag = runs[-1][3]
            unchanged = [fetch(client, url, token, etag) for _ in range(args.rounds)]
            assert all(run[4] == 304 for run in unchanged)
            with app.app_context():
                lines = client.get(url, headers={"Authorization": f"Bearer {token}"}).get_data().count(b"\n")
            print(f"{fmt:7} {lines:>8,} {runs[-1][2]:>11,} {statistics.median(r[0] for r in runs) * 1000:>17.0f} ms "
                  f"{statistics.median(r[1] for r in runs) * 1000:>12.0f} ms "
                  f"{statistics.median(r[1] for r in unchanged) * 1000:>15.0f} ms")
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        print("goal: < 1 s to first byte for 100,000 values, streamed")
        print(MISP_NOTE)
    finally:
        from hub.extensions import db as hub_db

        try:
            with app.app_context():
                hub_db.engine.dispose()
        except NameError:
            pass
        if not args.database:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
