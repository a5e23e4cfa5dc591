"""Server time of every web page, per role, with the demo data ×100 (issue 15: < 300 ms a page).

    .venv/bin/python bench/page_speed.py                  # --copies 100 --rounds 3
    .venv/bin/python bench/page_speed.py --copies 10      # a smoke run
    .venv/bin/python bench/page_speed.py --database hub_bench_pages   # seeds once, reuses after

Needs PostgreSQL (BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a database
of its own is created and dropped, or with --database kept and reused). Seeds the demo (`make run`'s
organisations, users, shares and incidents), then `--copies` - 1 more rounds of what the demo's
members do: each round shares three indicators (community GREEN, group AMBER, organisation AMBER),
publishes an advisory, files two incidents and records a sighting. Then each demo user walks the web
UI as a browser would: from the home page, every same-site link, one page per route (the first
link found for it), fetched once to warm up and then `--rounds` times through the WSGI app (server time: routing,
policy queries, templates; no network). Prints the median per route and role, the slowest, and how
many are over 300 ms. Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_MS = 300
LINK = re.compile(r'href="(/[^"#]*)"')
# Links a walk must not follow: they end the session or download what is not a page.
SKIP = re.compile(r"^/(static/|logout|favicon|api/|taxii2/)|\.(json|csv|txt|rules)(\?|$)")


def seed(copies: int) -> None:
    from hub.accounts import services as accounts
    from hub.demo import seed_demo
    from hub.extensions import db
    from hub.incidents.filing import file_incident
    from hub.intel import advisories, sightings
    from hub.intel.audience import resolve_audience
    from hub.intel.ingest import share_objects
    from hub.principal import Principal
    from hub.tlp import TLP

    seed_demo()
    member = {email: Principal.of(accounts.user_by_email(email)) for email in (
        "analyst@fn-brno.demo", "analyst@fn-ostrava.demo", "analyst@hc-sao-paulo.demo", "psirt@medidevice.demo")}
    brno, ostrava = member["analyst@fn-brno.demo"], member["analyst@fn-ostrava.demo"]
    started = time.perf_counter()
    for n in range(1, copies):
        octet = f"{n // 250}.{n % 250 + 1}"
        shares = [
            (brno, f"[ipv4-addr:value = '198.51.{octet}']", "community", TLP.green),
            (brno, f"[domain-name:value = 'portal-{n}.nemocnice.example']", {"groups": ["cz-health"]}, TLP.amber),
            (ostrava, f"[url:value = 'https://login-{n}.example/ehr']", {"orgs": ["cert-cz"]}, TLP.amber),
        ]
        for sharer, pattern, audience, tlp in shares:
            share_objects(sharer, [{
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
                "name": f"Bench indicator {n}: {pattern[1:30]}", "pattern": pattern, "pattern_type": "stix",
                "valid_from": "2026-11-20T10:00:00Z", "indicator_types": ["malicious-activity"],
            }], audience=resolve_audience(sharer, audience), tlp=tlp)
        advisories.publish(member["psirt@medidevice.demo"], advisories.Advisory(
            title=f"InfuSafe gateway {n}: authentication bypass", summary="Remote attackers can log in.",
            cve_ids=[f"CVE-2026-{20000 + n}"],
            products=[advisories.AffectedProduct("MediDevice", "InfuSafe Gateway", "< 4.2.1", "4.2.1")],
            mitigation="Update the gateway; block TCP 8443 meanwhile."),
            tlp=TLP.green, audience=resolve_audience(member["psirt@medidevice.demo"], "community"),
            created_by_ref=None)
        file_incident(brno, {
            "title": f"Ransomware on ward {n}", "started_at": "2026-11-20T01:40:00+01:00",
            "detected_at": "2026-11-20T03:05:00+01:00", "attack_type": "ransomware",
            "services": ["imaging"], "impact": {"patient_care_disrupted": "no", "downtime_hours": 2},
            "narrative": "Workstations on one ward were encrypted.", "significant": n % 10 == 0,
        })
        file_incident(member["analyst@hc-sao-paulo.demo"], {
            "title": f"Phishing wave {n}", "detected_at": "2026-10-14T10:20:00-03:00", "attack_type": "phishing",
            "services": ["email"], "impact": {"patient_care_disrupted": "no"},
            "narrative": "Staff credentials were phished.",
        })
        sightings.record_bulk(ostrava, sightings.BulkSightingRequest(values=(f"198.51.{octet}",),
                                                                   sighting=sightings.SightingRequest()))
        if n % 20 == 0:
            print(f"  {n} of {copies - 1} rounds seeded ({time.perf_counter() - started:.0f} s)", flush=True)
    db.session.commit()


def signed_in_client(app, email: str):
    from hub.accounts import services as accounts
    from hub.accounts.sessions import start_session
    from hub.extensions import db

    client = app.test_client()
    with app.app_context():
        session_id = start_session(accounts.user_by_email(email))
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def walk(app, client, rounds: int) -> dict[str, tuple[str, float, int]]:
    """Route -> (the path timed, median ms, status), following links from the home page."""
    adapter = app.url_map.bind("hub.bench")
    timed: dict[str, tuple[str, float, int]] = {}
    queue, seen = ["/"], {"/"}
    while queue:
        path = queue.pop(0)
        try:
            endpoint, _ = adapter.match(urlsplit(path).path, method="GET")
        except Exception:  # not a GET route of the hub (or a 404 link): nothing to time
            continue
        if endpoint in timed or endpoint == "static":
            continue
        times, status, body = [], 0, ""
        client.get(path)  # warm-up, not timed: the first render compiles the page's templates
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.get(path)
            body = response.get_data(as_text=True)
            times.append((time.perf_counter() - started) * 1000)
            status = response.status_code
        timed[endpoint] = (path, statistics.median(times), status)
        if "text/html" not in response.content_type:
            continue
        for link in LINK.findall(body):
            link = link.replace("&amp;", "&")
            if link not in seen and not SKIP.search(link):
                seen.add(link)
                queue.append(link)
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", help="keep the seeded store in this database and reuse it on later runs")
    args = parser.parse_args()

    import psycopg

    admin_url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db_name = args.database or f"hub_page_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db_name}"')
    os.environ.pop("TEST_DATABASE_URL", None)
    os.environ.update({"DATABASE_URL": f"{admin_url.rsplit('/', 1)[0]}/{db_name}", "SECRET_KEY": "bench-only",
                       "HUB_ALERTS_ENQUEUE": "0", "HUB_SECURE_COOKIES": "0"})
    try:
        from sqlalchemy import func, select

        from hub import create_app
        from hub.demo import DEMO_USERS
        from hub.extensions import db
        from hub.intel.models import SharedItem

        app = create_app("development")
        with app.app_context():
            db.create_all()
            held = db.session.scalar(select(func.count()).select_from(SharedItem))
            if held:
                print(f"reusing the {held:,} items stored before")
            else:
                started = time.perf_counter()
                seed(args.copies)
                print(f"seeded the demo ×{args.copies} in {time.perf_counter() - started:.0f} s "
                      f"({db.session.scalar(select(func.count()).select_from(SharedItem)):,} items)")
        with psycopg.connect(f"{admin_url.rsplit('/', 1)[0]}/{db_name}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

        results = []
        for email, _org, role in DEMO_USERS:
            client = signed_in_client(app, email)
            for endpoint, (path, median, status) in walk(app, client, args.rounds).items():
                results.append((median, email, endpoint, path, status))
        print(f"\n{'ms (median)':>11}  {'status':>6}  {'user':28} {'route':34} path")
        for median, email, endpoint, path, status in sorted(results, reverse=True):
            print(f"{median:>11.0f}  {status:>6}  {email:28} {endpoint:34} {path[:70]}")
        over = [r for r in results if r[0] > GOAL_MS]
        print(f"\n{len(results)} pages timed ({len({r[2] for r in results})} routes, {len(DEMO_USERS)} users); "
              f"slowest {max(r[0] for r in results):.0f} ms; over {GOAL_MS} ms: {len(over)}")
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
