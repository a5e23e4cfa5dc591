"""Real TAXII clients against a live hub: the unmodified taxii2-client and stix2's TAXII data store.

The hub runs as its own process (gunicorn, two workers) on loopback, on a database of its own,
migrated by Flask-Migrate's upgrade (what `flask db upgrade` runs). Three organisations read
and write through the clients, and what each one sees is compared with what the sharing policy
says it may read.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
import stix2
from sqlalchemy.engine import make_url
from stix2.datastore.taxii import TAXIICollectionSource, TAXIICollectionStore
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from hub.tlp import TLP

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(5160, 5170)

# Runs in the hub's own environment: the schema (`flask db upgrade`, in-process), then members,
# a sharing group and API tokens.
BOOTSTRAP = r"""
import json
from flask_migrate import upgrade
from hub import create_app
from hub.accounts import services as accounts
app = create_app()
with app.app_context():
    upgrade()
    for slug, kind, country in (("brno-hospital", "hospital", "CZ"), ("olomouc-hospital", "hospital", "CZ"),
                                ("cert-cz", "national_cert", "CZ")):
        accounts.create_org(slug, slug, kind, country)
    accounts.create_group("cz-hospitals", "CZ hospitals", ["brno-hospital", "olomouc-hospital"])
    users = {}
    for name, org, role in (("brno", "brno-hospital", "analyst"), ("olomouc", "olomouc-hospital", "analyst"),
                            ("cert", "cert-cz", "viewer"), ("brno2", "brno-hospital", "analyst")):
        user, _ = accounts.create_user(f"{name}@{org}.test", org, role, "correct-horse-battery")
        users[name] = {"email": user.email, "token": accounts.create_token(user, "taxii")}
    print(json.dumps(users))
"""


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 5160-5169")


def _database(tmp_path: Path):
    """A database for the live hub: a new PostgreSQL one next to the suite's, else a SQLite file."""
    suite_url = os.environ.get("TEST_DATABASE_URL", "")
    if not suite_url.startswith(("postgresql", "postgres")):
        return f"sqlite:///{tmp_path / 'live.sqlite'}", lambda: None
    url = make_url(suite_url)
    name = f"{url.database}_taxii_live"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(drivername="postgresql", database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("taxii-live")
    database_url, drop_database = _database(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUB_CONFIG": "production",
        "SECRET_KEY": "taxii-interop-" + uuid.uuid4().hex,
        "HUB_INSTANCE_DIR": str(tmp_path / "instance"),
        "HUB_ALERTS_ENQUEUE": "false",
        # No worker runs here: every add stays synchronous (tests/test_taxii_worker.py has one).
        "HUB_TAXII_ASYNC_OBJECTS": "100000",
        "FLASK_APP": "hub",
    }
    bin_dir = Path(sys.executable).parent
    users = json.loads(subprocess.run([sys.executable, "-c", BOOTSTRAP], cwd=ROOT, env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "--graceful-timeout", "5", "hub:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(base + "/taxii2/", timeout=5).status_code == 401:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError("the hub did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
        yield {"url": base + "/taxii2/", "users": users}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        drop_database()


def connect(live_hub, name: str) -> ApiRoot:
    user = live_hub["users"][name]
    server = Server(live_hub["url"], user=user["email"], password=user["token"])
    [api_root] = server.api_roots
    assert server.default.url == api_root.url
    return api_root


def collection(api_root: ApiRoot, alias: str) -> Collection:
    return next(c for c in api_root.collections if c.alias == alias)


def indicator(value: str, tlp: TLP = TLP.green) -> stix2.Indicator:
    return stix2.Indicator(
        name=f"Indicator {value}", pattern=f"[ipv4-addr:value = '{value}']", pattern_type="stix",
        valid_from="2026-11-01T00:00:00Z", object_marking_refs=[tlp.marking_id],
    )


def ids(objects) -> set[str]:
    return {obj["id"] for obj in objects}


def all_objects(coll: Collection, per_request: int = 1000) -> list[dict]:
    found = []
    for envelope in as_pages(coll.get_objects, per_request=per_request):
        found += envelope.get("objects", [])
    return found


def test_three_organisations_read_and_write_through_real_clients(live_hub):
    brno, olomouc, cert = connect(live_hub, "brno"), connect(live_hub, "olomouc"), connect(live_hub, "cert")
    assert brno.title and brno.versions == ["application/taxii+json;version=2.1"] and brno.max_content_length > 0
    assert [c.alias for c in brno.collections] == ["community", "group-cz-hospitals", "org-brno-hospital", "everything"]
    assert [c.alias for c in cert.collections] == ["community", "org-cert-cz", "everything"]
    assert [(c.can_read, c.can_write) for c in cert.collections] == [(True, False)] * 3  # a viewer

    # Brno posts with taxii2-client: one envelope per audience, plus objects the hub must refuse.
    community = [indicator(f"198.51.100.{n}") for n in range(3)]
    group_only = [indicator("198.51.100.50", TLP.amber)]
    own_only = [indicator("198.51.100.60", TLP.amber_strict)]
    red = indicator("198.51.100.70", TLP.red)
    for alias, objects in (("community", community + [red]), ("group-cz-hospitals", group_only),
                           ("org-brno-hospital", own_only)):
        envelope = {"objects": [json.loads(o.serialize()) for o in objects]}
        status = collection(brno, alias).add_objects(envelope)
        assert status.status == "complete"
        assert status.total_count == len(objects)
        assert brno.get_status(status.id).success_count == status.success_count
    assert status.failure_count == 0
    refused = brno.get_status(collection(brno, "community").add_objects(
        {"objects": [json.loads(red.serialize())]}).id)
    assert refused.failure_count == 1 and "RED" in refused.failures[0]["message"]

    # Olomouc writes through stix2's TAXII data store, into the group collection.
    malware = stix2.Malware(name="Conti", is_family=True, object_marking_refs=[TLP.amber.marking_id])
    store = TAXIICollectionStore(collection(olomouc, "group-cz-hospitals"))
    store.add([malware])
    assert store.get(malware.id).name == "Conti"

    # The viewer cannot write: the client enforces can_write, the server agrees.
    with pytest.raises(AccessError):
        collection(cert, "community").add_objects({"objects": [json.loads(indicator("198.51.100.99").serialize())]})
    viewer = live_hub["users"]["cert"]
    refused_post = requests.post(collection(cert, "community").objects_url, auth=(viewer["email"], viewer["token"]),
                                 headers={"Accept": "application/taxii+json;version=2.1",
                                          "Content-Type": "application/taxii+json;version=2.1"},
                                 data=json.dumps({"objects": [json.loads(indicator("198.51.100.98").serialize())]}))
    assert refused_post.status_code == 403

    # What each organisation sees is what the policy lets it read, collection by collection.
    expected = {
        "brno": {"community": ids(community), "group-cz-hospitals": ids(group_only) | {malware.id},
                 "org-brno-hospital": ids(community + group_only + own_only),
                 "everything": ids(community + group_only + own_only) | {malware.id}},
        "olomouc": {"community": ids(community), "group-cz-hospitals": ids(group_only) | {malware.id},
                    "org-olomouc-hospital": {malware.id},
                    "everything": ids(community + group_only) | {malware.id}},
        "cert": {"community": ids(community), "org-cert-cz": set(), "everything": ids(community)},
    }
    for name, api_root in (("brno", brno), ("olomouc", olomouc), ("cert", cert)):
        for alias, wanted in expected[name].items():
            coll = collection(api_root, alias)
            assert ids(all_objects(coll)) == wanted, (name, alias)
            manifest = coll.get_manifest().get("objects", [])
            assert {entry["id"] for entry in manifest} == wanted, (name, alias)
    # Nobody ever receives the RED object, not even its author's colleagues through TAXII.
    brno2 = connect(live_hub, "brno2")
    assert red.id not in ids(all_objects(collection(brno2, "everything")))

    # Reading through stix2's TAXIICollectionSource, with a filter the server applies.
    source = TAXIICollectionSource(collection(cert, "everything"))
    assert {o.id for o in source.query([stix2.Filter("type", "=", "indicator")])} == ids(community)
    assert source.get(group_only[0].id) is None  # AMBER for the group: absent, not forbidden
    assert source.get(community[0].id).name == community[0].name


def test_paging_versions_and_revocation_through_taxii2_client(live_hub):
    brno = connect(live_hub, "brno")
    own = collection(brno, "org-brno-hospital")
    batch = [json.loads(indicator(f"203.0.113.{n % 250}").serialize()) for n in range(240)]
    status = own.add_objects({"objects": batch})
    assert status.success_count == 240

    new = [o for o in all_objects(own, per_request=50) if o["id"] in ids(batch)]
    assert [o["id"] for o in new] == [o["id"] for o in batch]  # all, once, in posting order
    pages = list(as_pages(own.get_objects, per_request=50, added_after=status.request_timestamp))
    assert [len(p.get("objects", [])) for p in pages] == [50, 50, 50, 50, 40]

    # A new version, then a revocation through DELETE: the client sees both as versions.
    first = stix2.parse(batch[0], allow_custom=True)
    updated = first.new_version(name="updated")
    assert own.add_objects({"objects": [json.loads(updated.serialize())]}).success_count == 1
    versions = own.object_versions(first.id)["versions"]
    assert versions == [batch[0]["modified"], json.loads(updated.serialize())["modified"]]
    assert own.get_object(first.id)["objects"][0]["name"] == "updated"
    assert own.get_object(first.id, version="first")["objects"][0]["name"] == first.name
    own.delete_object(first.id)
    revoked = own.get_object(first.id)["objects"][0]
    assert revoked["revoked"] is True and len(own.object_versions(first.id)["versions"]) == 3
    # stix2 sees the revocation too.
    assert TAXIICollectionSource(own).get(first.id).revoked is True


def test_bearer_tokens_and_content_type_on_the_wire(live_hub):
    user = live_hub["users"]["olomouc"]
    base = live_hub["url"]
    response = requests.get(base + "api/collections/", headers={
        "Authorization": f"Bearer {user['token']}", "Accept": "application/taxii+json;version=2.1"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/taxii+json;version=2.1"
    anonymous = requests.get(base + "api/collections/", headers={"Accept": "application/taxii+json;version=2.1"})
    assert anonymous.status_code == 401 and anonymous.headers["Content-Type"] == "application/taxii+json;version=2.1"
    assert "Basic" in anonymous.headers["WWW-Authenticate"]
