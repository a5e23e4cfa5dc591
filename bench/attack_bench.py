"""Real bundles over TAXII 2.1: the hub and medallion 3.0.0 side by side, on this machine, in one run.

    .venv/bin/python bench/attack_bench.py              # Mobile + ICS, then the synthetic ingest
    .venv/bin/python bench/attack_bench.py --no-synthetic

The bundles are MITRE ATT&CK Mobile 17.1 and ICS 18.1 from ../shared/data/attack/ (BENCH_ATTACK_DIR
to change it; MITRE's licence is in that folder). Each is pushed in envelopes of 500 objects, and
ICS also as one whole-bundle add. The figure is objects/s from the first POST until every object
is readable back through TAXII:

- the hub answers an add of HUB_TAXII_ASYNC_OBJECTS (200) objects or more with 202 `pending` and a
  Celery worker shares it (hub/taxii/pending.py). "Readable" is: every envelope's status resource
  says `complete` with every object a success, and a GET of each envelope's last object by id
  answers. The worker's time is inside the figure. Afterwards (not timed) the whole collection is
  paged back and every posted id must be there.
- medallion stores before answering (memory backend, validating nothing): "readable" is the last
  POST answered and each envelope's last object answering a GET by id.

The hub runs as the production stack runs it (docker-compose.yml): gunicorn with 3 workers on
`hub:create_app('production')`, a real Celery worker (`celery -A workers.worker worker`, prefork,
one process per CPU) on a private redis-server (free port), PostgreSQL in a database of its own
(`bench_attack`, dropped and created; BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432).
Medallion 3.0.0 (memory backend) runs from bench/.medallion-venv (taxii_bench.py makes it).
Every scenario posts as its own organisation (to its own organisation's collection, default TLP
GREEN since ATT&CK objects carry no TLP), so no scenario finds the objects already shared.

Each scenario is pushed --rounds times (default 3) to each server in turn, hub then medallion,
with objects new to both each time; the figure is the median round, with the range beside it. One
push takes about a second, and at that scale a figure moves by a third between runs minutes apart
on a shared machine, for medallion as much as for the hub. Medallion is started afresh, empty,
for each of its rounds (it slows as it fills; --medallion-kept keeps one for the whole run); the
hub keeps everything stored before.

Then the synthetic ingest of bench/taxii_bench.py (10,000 indicators in bundles of 1,000, one
client, until readable), called from that script against the same two servers.

Prints a table; writes bench/results/attack.json. BENCH_KEEP=1 keeps the work folder (logs).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
import taxii_bench  # noqa: E402  (the medallion set-up and the synthetic ingest)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
TAXII = "application/taxii+json;version=2.1"
ATTACK_DIR = Path(os.environ.get("BENCH_ATTACK_DIR", ROOT.parent / "shared" / "data" / "attack"))
BUNDLES = {"mobile": "mobile-attack-17.1.json", "ics": "ics-attack-18.1.json"}
ENVELOPE = 500
# (scenario, bundle, envelope size or None for the whole bundle in one POST)
SCENARIOS = [("mobile/500", "mobile", ENVELOPE), ("ics/500", "ics", ENVELOPE), ("ics/whole", "ics", None)]
DATABASE = "bench_attack"
WEB_WORKERS = 3  # docker-compose.yml's gunicorn command

BOOTSTRAP = r"""
import json, sys
from flask_migrate import upgrade
from hub import create_app
from hub.accounts import services as accounts
from hub.taxii.collections import set_default_tlp
from hub.tlp import TLP
app = create_app("production")
with app.app_context():
    upgrade()
    users = {}
    for slug in sys.argv[1:]:
        accounts.create_org(slug, slug, "hospital", "CZ")
        email = f"bench@{slug}.test"
        user, _ = accounts.create_user(email, slug, "analyst", "correct-horse-battery")
        set_default_tlp(slug, f"org-{slug}", TLP.green)
        users[slug] = {"email": email, "token": accounts.create_token(user, "bench")}
    print(json.dumps(users))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001  not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


class Stack:
    """The processes of one run; stopped (whole process groups) by close()."""

    def __init__(self, workdir: Path):
        self.workdir, self.processes = workdir, []

    def spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        self.processes.remove(process)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def close(self) -> None:
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start_hub(stack: Stack, postgres: str, slugs: list[str]) -> tuple[str, dict]:
    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    redis_port = free_port()
    stack.spawn("redis", [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
                          "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(stack.workdir)])
    import redis

    wait_for(lambda: redis.Redis(port=redis_port).ping(), 10, "redis-server")
    env = {**os.environ, "DATABASE_URL": f"{postgres}/{DATABASE}", "HUB_CONFIG": "production",
           "SECRET_KEY": uuid.uuid4().hex, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "HUB_INSTANCE_DIR": str(stack.workdir / "instance"), "HUB_SECURE_COOKIES": "false"}
    env.pop("TEST_DATABASE_URL", None)
    users = json.loads(subprocess.run([str(PYTHON), "-c", BOOTSTRAP, *slugs], cwd=ROOT, env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
    port = free_port()
    # The web command of docker-compose.yml, on loopback (and without the per-request access log).
    web = stack.spawn("hub", [str(PYTHON.parent / "gunicorn"), f"--bind=127.0.0.1:{port}", f"--workers={WEB_WORKERS}",
                              "--timeout=600", "--no-control-socket", "hub:create_app('production')"],
                      cwd=ROOT, env=env)
    # The worker command of docker-compose.yml: prefork, one process per CPU.
    stack.spawn("worker", [str(PYTHON.parent / "celery"), "-A", "workers.worker", "worker", "--loglevel=INFO",
                           "--hostname=bench@%h"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: web.poll() is None and requests.get(f"{base}/taxii2/", timeout=5).status_code in (200, 401),
             120, "gunicorn")
    # The first worker answering is not the server started: the others may still be importing and
    # warming up (gunicorn.conf.py), seconds of CPU that would land in the first scenario.
    wait_for(lambda: stack.log("hub").count("start-up objects frozen") >= WEB_WORKERS, 120, "every web worker")
    wait_for(lambda: b" ready." in (stack.workdir / "worker.log").read_bytes(), 120, "the Celery worker")
    return base, users


class Medallion:
    """Medallion started afresh, empty, for every round: its memory backend deep-copies every
    collection on each request and checks each added object against every object of its
    collection, so it slows as it fills (a round after others measured it 2-4x slower). The hub
    keeps what every earlier round stored: the comparison is at medallion's best.

    `kept`: one medallion process for the whole run, a collection per scenario and round, as the
    passes before the fifth measured it (each round then finds what the earlier ones stored)."""

    def __init__(self, stack: Stack, names: list[str], rounds: int, kept: bool):
        self.stack, self.names, self.rounds, self.kept = stack, names, rounds, kept
        self.process, self.server, self.api_root, self.urls = None, None, None, {}

    def collection(self, name: str, round_no: int) -> tuple[taxii_bench.Server, str, str]:
        """The medallion to push this round to: its server, API root and collection URL."""
        if self.kept:
            if self.server is None:
                self._start([f"{n}#{r}" for n in self.names for r in range(self.rounds)])
            return self.server, self.api_root, self.urls[f"{name}#{round_no}"]
        if self.process is not None:
            self.stack.stop(self.process)
        self._start(self.names)
        return self.server, self.api_root, self.urls[name]

    def _start(self, collections: list[str]) -> None:
        self.api_root = start_medallion(self.stack, collections)
        self.process = self.stack.processes[-1]
        self.server = taxii_bench.Server("medallion", self.api_root, ("bench", "bench"))
        self.urls = taxii_bench.collections(self.server, self.api_root)


def start_medallion(stack: Stack, collections: list[str]) -> str:
    venv = taxii_bench.MEDALLION_VENV
    if not (venv / "bin" / "medallion").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "medallion==3.0.0"], check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = {
        "/discovery": {"title": "medallion", "default": f"{base}/api1/", "api_roots": [f"{base}/api1/"]},
        "api1": {
            "information": {"title": "bench", "versions": [TAXII], "max_content_length": 100 * 1024 * 1024},
            "status": [],
            "collections": [{"id": str(uuid.uuid4()), "title": name, "can_read": True, "can_write": True,
                             "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}
                            for name in collections],
        },
    }
    (stack.workdir / "medallion-data.json").write_text(json.dumps(data))
    config = {"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                          "filename": str(stack.workdir / "medallion-data.json")},
              "users": {"bench": "bench"}, "taxii": {"max_page_size": 1000}}
    (stack.workdir / "medallion.json").write_text(json.dumps(config))
    process = stack.spawn("medallion", [str(venv / "bin" / "medallion"), "--port", str(port),
                                        str(stack.workdir / "medallion.json")])
    wait_for(lambda: process.poll() is None and requests.get(f"{base}/taxii2/", timeout=5).status_code < 500,
             60, "medallion")
    return f"{base}/api1/"


def envelopes(objects: list, size: int | None) -> list[list]:
    return [objects] if size is None else [objects[start:start + size] for start in range(0, len(objects), size)]


def push(server: taxii_bench.Server, api_root: str, collection_url: str, objects: list, size: int | None) -> dict:
    """Post the envelopes one after the other; objects/s until every object is readable."""
    parts = envelopes(objects, size)
    started = time.perf_counter()
    statuses = [server.post(collection_url, part) for part in parts]
    posted = time.perf_counter() - started
    for status, part in zip(statuses, parts):
        while status["status"] != "complete":
            time.sleep(0.05)
            status = server.get(f"{api_root}status/{status['id']}/").json()
        if status["success_count"] != len(part):
            failures = status.get("failures", [])[:3]
            raise RuntimeError(f"{server.name}: {status['failure_count']} of {len(part)} refused: {failures}")
    for part in parts:
        last = part[-1]["id"]
        while not server.session.get(collection_url + f"objects/{last}/", timeout=600).ok:
            time.sleep(0.05)
    readable = time.perf_counter() - started
    return {"objects": len(objects), "posts": len(parts), "posted_s": posted, "readable_s": readable,
            "posted_per_s": len(objects) / posted, "readable_per_s": len(objects) / readable}


def hub_ids(server: taxii_bench.Server, collection_url: str) -> set[str]:
    """Every object id the collection serves, paged with `next` (the completeness check)."""
    seen, params = set(), {"limit": 1000}
    while True:
        body = server.get(collection_url + "objects/", **params).json()
        seen |= {obj["id"] for obj in body.get("objects", [])}
        if not body.get("more"):
            return seen
        params = {"limit": 1000, "next": body["next"]}


_STIX_ID = re.compile(r"\b([a-z0-9][a-z0-9-]*[a-z0-9])--([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


def with_own_ids(objects: list, salt: str) -> list:
    """The bundle with every STIX id (and every reference to it) replaced by one of its own.

    Mobile and ICS share some objects (data sources, identities) in other versions, and every
    scenario posts as another organisation: the hub rightly refuses an id another organisation
    shared first (rule 11). Each scenario after the first posts the same objects under ids of its
    own, to both servers, so that any set of scenarios can run in one go. TLP markings keep theirs.
    """
    from hub.tlp import TLP_BY_MARKING_ID

    def own(match: re.Match) -> str:
        if match.group(0) in TLP_BY_MARKING_ID:
            return match.group(0)
        digest = bytearray(hashlib.sha256(f"{salt}:{match.group(0)}".encode()).digest()[:16])
        digest[6], digest[8] = (digest[6] & 0x0F) | 0x40, (digest[8] & 0x3F) | 0x80  # a version 4 UUID
        return f"{match.group(1)}--{uuid.UUID(bytes=bytes(digest))}"

    return json.loads(_STIX_ID.sub(own, json.dumps(objects)))


def load_bundles() -> dict[str, list]:
    loaded = {}
    for key, name in BUNDLES.items():
        loaded[key] = json.loads((ATTACK_DIR / name).read_text())["objects"]
    return loaded


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-synthetic", action="store_true", help="skip taxii_bench.py's synthetic ingest")
    parser.add_argument("--rounds", type=int, default=3,
                        help="pushes of each scenario to each server, new objects each time; the median is reported")
    parser.add_argument("--medallion-kept", action="store_true",
                        help="one medallion process for the whole run (it fills up), not a fresh one per round")
    parser.add_argument("--only", action="append", choices=[name for name, _, _ in SCENARIOS],
                        help="run only this scenario (repeatable); default all")
    args = parser.parse_args()
    postgres = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
    bundles = load_bundles()
    results: dict = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
                     "medallion": "one process for the run" if args.medallion_kept else "fresh for each round",
                     "attack": {}, "synthetic": {}}
    workdir = Path(tempfile.mkdtemp(prefix="attack-bench-"))
    stack = Stack(workdir)
    slugs = [f"bench-{n}" for n in range(len(SCENARIOS))] + ["bench-synthetic"]
    try:
        hub_base, users = start_hub(stack, postgres, slugs)
        medallions = Medallion(stack, [name for name, _, _ in SCENARIOS] + ["synthetic"], args.rounds,
                               args.medallion_kept)
        hub_api = f"{hub_base}/taxii2/api/"
        print(f"work folder {workdir}; load average {os.getloadavg()}", flush=True)
        first_push = True
        for (name, bundle, size), slug in zip(SCENARIOS, slugs):
            if args.only is not None and name not in args.only:
                continue
            hub = taxii_bench.Server("hub", hub_api, (users[slug]["email"], users[slug]["token"]))
            hub_collection = taxii_bench.collections(hub, hub_api)[f"org-{slug}"]
            rounds = []
            for round_no in range(args.rounds):
                # Every round posts objects new to both servers: the bundle as published once, then
                # under ids of its own (with_own_ids).
                objects = bundles[bundle] if first_push else with_own_ids(bundles[bundle], f"{name}#{round_no}")
                first_push = False
                hub_result = push(hub, hub_api, hub_collection, objects, size)
                missing = {obj["id"] for obj in objects} - hub_ids(hub, hub_collection)
                hub_result["missing_after"] = len(missing)
                medallion, medallion_api, med_collection = medallions.collection(name, round_no)
                med_result = push(medallion, medallion_api, med_collection, objects, size)
                rounds.append({"hub": hub_result, "medallion": med_result, "load": os.getloadavg()[0]})
                print(f"{name} round {round_no + 1}: {len(objects)} objects, hub {hub_result['readable_per_s']:,.0f}/s"
                      f"  medallion {med_result['readable_per_s']:,.0f}/s  (load {os.getloadavg()[0]:.2f})", flush=True)
            results["attack"][name] = {"rounds": rounds, "hub": _median_round(rounds, "hub"),
                                       "medallion": _median_round(rounds, "medallion")}
        if not args.no_synthetic:
            slug = slugs[-1]
            hub = taxii_bench.Server("hub", hub_api, (users[slug]["email"], users[slug]["token"]))
            hub_collection = taxii_bench.collections(hub, hub_api)[f"org-{slug}"]
            rounds = []
            for round_no in range(args.rounds):
                start = round_no * 10_000  # each round's indicators are new values
                hub_result = taxii_bench.measure_ingest(hub, hub_collection, 1, start)
                medallion, _, med_collection = medallions.collection("synthetic", round_no)
                rounds.append({"hub": hub_result,
                               "medallion": taxii_bench.measure_ingest(medallion, med_collection, 1, start)})
                print(f"synthetic round {round_no + 1}: 10,000 indicators in bundles of 1,000, one client,"
                      f" hub {rounds[-1]['hub']['readable_per_s']:,.0f}/s"
                      f"  medallion {rounds[-1]['medallion']['readable_per_s']:,.0f}/s", flush=True)
            results["synthetic"] = {"rounds": rounds, "hub": _median_round(rounds, "hub"),
                                    "medallion": _median_round(rounds, "medallion")}
    finally:
        stack.close()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "attack.json").write_text(json.dumps(results, indent=1))
    report(results)


def _median_round(rounds: list[dict], server: str) -> dict:
    """The round whose objects/s until readable is the median for this server (the lower middle
    of an even count), with every round's figure beside it."""
    ordered = sorted((r[server] for r in rounds), key=lambda result: result["readable_per_s"])
    return {**ordered[(len(ordered) - 1) // 2], "every_round_per_s": [r[server]["readable_per_s"] for r in rounds]}


def _spread(result: dict) -> str:
    figures = result["every_round_per_s"]
    return f"{min(figures):,.0f}-{max(figures):,.0f}" if len(figures) > 1 else ""


def report(results: dict) -> None:
    machine = results["machine"]
    print(f"\nATT&CK over TAXII 2.1, objects/s from the first POST until every object is readable"
          f" ({machine['cpus']} CPUs; load average {machine['load_average_at_start'][0]:.2f} at start,"
          f" {machine['load_average_at_end'][0]:.2f} at end)")
    print(f"  median of the rounds (every round's range in brackets); medallion {results['medallion']}")
    print(f"  {'scenario':<12} {'objects':>7} {'posts':>5} | {'hub':>20} {'medallion':>20} {'hub/med':>8} | hub posted/s")
    for name, pair in results["attack"].items():
        hub, med = pair["hub"], pair["medallion"]
        missing = sum(r["hub"]["missing_after"] for r in pair["rounds"])
        print(f"  {name:<12} {hub['objects']:>7,} {hub['posts']:>5} | {hub['readable_per_s']:>7,.0f} ({_spread(hub):>11})"
              f" {med['readable_per_s']:>7,.0f} ({_spread(med):>11}) {hub['readable_per_s'] / med['readable_per_s']:>7.2f}x"
              f" | {hub['posted_per_s']:,.0f}  (missing after: {missing})")
    if results["synthetic"]:
        hub, med = results["synthetic"]["hub"], results["synthetic"]["medallion"]
        print(f"  synthetic indicators (taxii_bench ingest, 1 client, read back): hub {hub['readable_per_s']:,.0f}/s"
              f" ({_spread(hub)})  medallion {med['readable_per_s']:,.0f}/s ({_spread(med)})"
              f"  ({hub['readable_per_s'] / med['readable_per_s']:.2f}x)")


if __name__ == "__main__":
    main()
