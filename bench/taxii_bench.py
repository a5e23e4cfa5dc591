"""TAXII 2.1 benchmark: the hub and medallion 3.0.0 side by side, on this machine, in one run.

    .venv/bin/python bench/taxii_bench.py            # paging at 1,000 / 100,000 / 1,000,000
    .venv/bin/python bench/taxii_bench.py --quick    # paging at 1,000 / 10,000 only

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; BENCH_POSTGRES_URL to change it).
The hub runs under gunicorn (two workers) on a fresh database, migrated with Flask-Migrate, with a
Celery worker on a private redis-server for the adds it answers `pending` (200 objects or more);
medallion 3.0.0 (memory backend) runs from its own virtual environment, bench/.medallion-venv,
made here on first use. Both listen on loopback only and are stopped at the end.

1. ingest: POST of 10,000 indicators in bundles of 1,000 until all are readable (objects/s),
   one client, then two clients at once.
2. paging: a page of 100 with added_after at the middle of the collection: p50/p95 for the hub
   with 1,000, 100,000 and 1,000,000 objects stored, and for medallion with 1,000.
3. completeness: 1,000 objects posted in one request, paged back 100 at a time with
   added_after = the previous page's X-TAXII-Date-Added-Last: objects lost and repeated.

Prints a table and writes bench/results/taxii.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
MEDALLION_VENV = ROOT / "bench" / ".medallion-venv"
HUB_PORT, MEDALLION_PORT = 5161, 5162
TAXII = "application/taxii+json;version=2.1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"

BOOTSTRAP = r"""
import json
from flask_migrate import upgrade
from hub import create_app
from hub.accounts import services as accounts
app = create_app()
with app.app_context():
    upgrade()
    users = {}
    for org, email in (("bench-hospital", "bench@bench-hospital.test"), ("reader-hospital", "reader@reader-hospital.test"),
                       ("complete-hospital", "complete@complete-hospital.test")):
        accounts.create_org(org, org, "hospital", "CZ")
        user, _ = accounts.create_user(email, org, "analyst", "correct-horse-battery")
        users[org] = {"email": email, "token": accounts.create_token(user, "bench")}
    print(json.dumps(users))
"""


def indicator(n: int) -> dict:
    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
        "name": f"Bench indicator {n}", "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
        "pattern_type": "stix", "valid_from": "2026-11-01T10:00:00Z", "object_marking_refs": [GREEN],
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Server:
    """One TAXII server under test: where its collections are and how to sign in."""

    def __init__(self, name: str, base: str, auth: tuple[str, str]):
        self.name, self.base, self.session = name, base, requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = TAXII

    def post(self, collection_url: str, objects: list) -> dict:
        response = self.session.post(collection_url + "objects/", data=json.dumps({"objects": objects}),
                                     headers={"Content-Type": TAXII}, timeout=600)
        response.raise_for_status()
        return response.json()

    def wait_complete(self, status: dict) -> dict:
        """Poll a status resource until it is complete (the hub's large adds finish in a worker)."""
        while status.get("status", "complete") != "complete":
            time.sleep(0.05)
            status = self.get(self.base + f"status/{status['id']}/").json()
        return status

    def get(self, url: str, **params) -> requests.Response:
        response = self.session.get(url, params=params, timeout=600)
        response.raise_for_status()
        return response


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start: {log.read_text()[-2000:]}")


def start_hub(workdir: Path, postgres: str) -> tuple[list[subprocess.Popen], dict, str]:
    """gunicorn, and what completes adds of HUB_TAXII_ASYNC_OBJECTS (200) objects or more, which the
    hub answers `pending`: a Celery worker on a private redis-server (a free port)."""
    database = "hub_bench_taxii"
    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    database_url = f"{postgres}/{database}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        redis_port = sock.getsockname()[1]
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(workdir)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "DATABASE_URL": database_url, "HUB_CONFIG": "production", "SECRET_KEY": uuid.uuid4().hex,
           "HUB_INSTANCE_DIR": str(workdir / "instance"), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    users = json.loads(subprocess.run([str(PYTHON), "-c", BOOTSTRAP], cwd=ROOT, env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
    worker_log = workdir / "worker.log"
    worker = subprocess.Popen([str(PYTHON.parent / "celery"), "-A", "workers.worker", "worker", "--loglevel=INFO"],
                              cwd=ROOT, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT)
    log = workdir / "hub.log"
    process = subprocess.Popen(
        [str(PYTHON.parent / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{HUB_PORT}", "--timeout", "600",
         "--no-control-socket", "--graceful-timeout", "5", "hub:create_app()"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_until_up(f"http://127.0.0.1:{HUB_PORT}/taxii2/", process, log)
    for _ in range(1200):
        if " ready." in worker_log.read_text(errors="replace"):
            break
        time.sleep(0.1)
    return [process, worker, redis], users, database_url


def start_medallion(workdir: Path) -> subprocess.Popen:
    if not (MEDALLION_VENV / "bin" / "medallion").exists():
        subprocess.run([sys.executable, "-m", "venv", str(MEDALLION_VENV)], check=True)
        subprocess.run([str(MEDALLION_VENV / "bin" / "pip"), "install", "-q", "medallion==3.0.0"], check=True)
    base = f"http://127.0.0.1:{MEDALLION_PORT}"

    def collection(cid: str, title: str) -> dict:
        return {"id": cid, "title": title, "can_read": True, "can_write": True,
                "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}

    data = {
        "/discovery": {"title": "medallion", "default": f"{base}/api1/", "api_roots": [f"{base}/api1/"]},
        "api1": {
            "information": {"title": "bench", "versions": [TAXII], "max_content_length": 100 * 1024 * 1024},
            "status": [],
            "collections": [collection(str(uuid.uuid4()), name) for name in ("ingest", "paging", "complete")],
        },
    }
    (workdir / "medallion-data.json").write_text(json.dumps(data))
    # The memory backend; its "module" key is what medallion 3.0.0 needs to load it under Flask 3.
    config = {"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                          "filename": str(workdir / "medallion-data.json")},
              "users": {"bench": "bench"}, "taxii": {"max_page_size": 1000}}
    (workdir / "medallion.json").write_text(json.dumps(config))
    log = workdir / "medallion.log"
    process = subprocess.Popen([str(MEDALLION_VENV / "bin" / "medallion"), "--port", str(MEDALLION_PORT),
                                str(workdir / "medallion.json")], stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_until_up(f"{base}/taxii2/", process, log)
    return process


def collections(server: Server, api_root: str) -> dict:
    found = server.get(api_root + "collections/").json()["collections"]
    return {c.get("alias") or c["title"]: api_root + f"collections/{c['id']}/" for c in found}


def measure_ingest(server: Server, collection_url: str, clients: int, start: int) -> dict:
    """objects/s for 10,000 indicators posted in bundles of 1,000: when the last POST has been
    answered (both servers store before answering), and once every bundle has been read back."""
    bundles = [[indicator(start + b * 1000 + i) for i in range(1000)] for b in range(10)]
    failures = []

    def post_all(share: list[list[dict]]):
        for bundle in share:
            status = server.post(collection_url, bundle)
            if status.get("success_count", 0) + status.get("pending_count", 0) != 1000:
                failures.append(status)

    started = time.perf_counter()
    threads = [threading.Thread(target=post_all, args=(bundles[k::clients],)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = time.perf_counter() - started
    for bundle in bundles:  # readable: every bundle's last object answers by id
        last = bundle[-1]["id"]
        while not server.session.get(collection_url + f"objects/{last}/", timeout=600).ok:
            time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{server.name}: objects refused: {failures[0]}")
    return {"posted_per_s": 10_000 / posted, "readable_per_s": 10_000 / elapsed}


def measure_page(server: Server, collection_url: str, added_after: str, requests_count: int) -> dict:
    samples = []
    for _ in range(requests_count):
        started = time.perf_counter()
        response = server.get(collection_url + "objects/", added_after=added_after, limit=100)
        samples.append((time.perf_counter() - started) * 1000)
        assert len(response.json().get("objects", [])) == 100, response.text[:300]
    return {"p50_ms": statistics.median(samples), "p95_ms": percentile(samples, 0.95), "requests": requests_count}


def middle_added_after(database_url: str) -> str:
    with psycopg.connect(database_url) as connection:
        count = connection.execute("SELECT count(*) FROM stix_version").fetchone()[0]
        (stamp,) = connection.execute(
            "SELECT date_added_us FROM stix_version ORDER BY date_added_us OFFSET %s LIMIT 1", (count // 2,)).fetchone()
    seconds, micros = divmod(stamp, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def grow_hub(server: Server, database_url: str, collection_url: str, total: int) -> None:
    """Reach `total` stored objects: HTTP posts up to 10,000, generated rows beyond (reads only)."""
    with psycopg.connect(database_url) as connection:
        have = connection.execute("SELECT count(*) FROM shared_item").fetchone()[0]
    while have < min(total, 10_000):
        size = min(1000, min(total, 10_000) - have)
        server.wait_complete(server.post(collection_url, [indicator(500_000 + have + i) for i in range(size)]))
        have += size
    if have < total:
        env = {**os.environ, "DATABASE_URL": database_url, "HUB_CONFIG": "production", "SECRET_KEY": "bench"}
        subprocess.run([str(PYTHON), str(ROOT / "bench" / "taxii_seed.py"), "--email", "bench@bench-hospital.test",
                        "--total", str(total), "--sql"], cwd=ROOT, env=env, check=True)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("ANALYZE")


def completeness(server: Server, collection_url: str) -> dict:
    posted = [indicator(900_000 + i) for i in range(1000)]
    server.wait_complete(server.post(collection_url, posted))
    seen, added_after = [], None
    for _ in range(100):
        params = {"limit": 100, **({"added_after": added_after} if added_after else {})}
        response = server.get(collection_url + "objects/", **params)
        objects = response.json().get("objects", [])
        seen += [o["id"] for o in objects]
        if not objects or not response.json().get("more"):
            break
        added_after = response.headers["X-TAXII-Date-Added-Last"]
    wanted = {o["id"] for o in posted}
    return {"received": len(seen), "lost": len(wanted - set(seen)), "repeated": len(seen) - len(set(seen))}


def main() -> None:
    # A terminated run still stops the servers it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="paging at 1,000 and 10,000 objects only")
    args = parser.parse_args()
    postgres = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
    sizes = [1_000, 10_000] if args.quick else [1_000, 100_000, 1_000_000]
    results: dict = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}}
    workdir = Path(tempfile.mkdtemp(prefix="taxii-bench-"))
    processes = []
    try:
        hub_processes, users, database_url = start_hub(workdir, postgres)
        processes += hub_processes
        processes.append(start_medallion(workdir))
        bench, reader, complete = (users[o] for o in ("bench-hospital", "reader-hospital", "complete-hospital"))
        hub_api = f"http://127.0.0.1:{HUB_PORT}/taxii2/api/"
        hub = Server("hub", hub_api, (bench["email"], bench["token"]))
        hub_reader = Server("hub", hub_api, (reader["email"], reader["token"]))
        hub_complete = Server("hub", hub_api, (complete["email"], complete["token"]))
        medallion_api = f"http://127.0.0.1:{MEDALLION_PORT}/api1/"
        medallion = Server("medallion", medallion_api, ("bench", "bench"))
        med = collections(medallion, medallion_api)
        hub_community = collections(hub, hub_api)["community"]

        print("1. ingest: 10,000 indicators in bundles of 1,000", flush=True)
        results["ingest"] = {
            "hub_1_client": measure_ingest(hub, hub_community, 1, 0),
            "medallion_1_client": measure_ingest(medallion, med["ingest"], 1, 0),
            "hub_2_clients": measure_ingest(hub, hub_community, 2, 100_000),
            "medallion_2_clients": measure_ingest(medallion, med["ingest"], 2, 100_000),
        }
        print(json.dumps(results["ingest"], indent=1), flush=True)

        print("2. paging: 100 objects after the middle of the collection", flush=True)
        results["paging"] = {}
        # Medallion at 1,000 objects, posted in ten requests (one date_added per request).
        for b in range(10):
            medallion.post(med["paging"], [indicator(200_000 + b * 100 + i) for i in range(100)])
        manifest = medallion.get(med["paging"] + "manifest/").json()["objects"]
        stamps = sorted({m["date_added"] for m in manifest})
        results["paging"]["medallion_1000"] = measure_page(medallion, med["paging"], stamps[len(stamps) // 2 - 1], 5)
        print("  medallion 1,000:", results["paging"]["medallion_1000"], flush=True)
        # The hub: the community collection, read by another organisation.
        with psycopg.connect(database_url, autocommit=True) as connection:  # start from an empty store
            connection.execute("TRUNCATE shared_item, stix_version, observable, audience_grant, outbox_entry, "
                               "audit_event RESTART IDENTITY CASCADE")
        for size in sizes:
            grow_hub(hub, database_url, hub_community, size)
            after = middle_added_after(database_url)
            measure_page(hub_reader, hub_community, after, 20)  # warm up both workers
            results["paging"][f"hub_{size}"] = measure_page(hub_reader, hub_community, after, 200)
            print(f"  hub {size:,}:", results["paging"][f"hub_{size}"], flush=True)

        print("3. completeness: 1,000 objects in one request, paged back by added_after", flush=True)
        results["completeness"] = {
            "hub": completeness(hub_complete, collections(hub_complete, hub_api)["org-complete-hospital"]),
            "medallion": completeness(medallion, med["complete"]),
        }
        print(json.dumps(results["completeness"], indent=1), flush=True)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "taxii.json").write_text(json.dumps(results, indent=1))
    report(results)


def report(results: dict) -> None:
    ingest, paging = results["ingest"], results["paging"]
    print("\nTAXII benchmark (objects/s; milliseconds)")
    for clients in ("1_client", "2_clients"):
        hub, med = ingest[f"hub_{clients}"], ingest[f"medallion_{clients}"]
        print(f"  ingest, {clients.replace('_', ' '):9}: posted: hub {hub['posted_per_s']:7,.0f}  medallion "
              f"{med['posted_per_s']:7,.0f} | read back: hub {hub['readable_per_s']:7,.0f}  medallion "
              f"{med['readable_per_s']:7,.0f}")
    for key, value in paging.items():
        print(f"  page of 100, {key:>16}: p50 {value['p50_ms']:9.1f}   p95 {value['p95_ms']:9.1f}")
    for name, value in results["completeness"].items():
        print(f"  completeness, {name:>9}: received {value['received']}, lost {value['lost']}, repeated {value['repeated']}")


if __name__ == "__main__":
    main()
