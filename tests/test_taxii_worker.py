"""Large TAXII adds with a real `celery -A workers.worker worker --beat`, PostgreSQL and Redis.

The ATT&CK for ICS bundle (1,826 objects, 3.5 MB) once killed the web worker at its 30 s
timeout; now the request is answered at once and the worker shares it. The worker is killed
in the middle too, and a second one finishes the request from the database.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import Config, TestingConfig
from hub import create_app
from hub.accounts import services as accounts
from hub.extensions import db
from hub.intel.models import SharedItem
from hub.tlp import TLP
from hub.taxii.collections import set_default_tlp
from hub.taxii.models import TaxiiPendingAdd, TaxiiStatus
from tests import factories as f
from tests.alerts_support import cheap_password_hashing, wait_until
from tests.test_alerts_worker import RedisServer, WorkerProcess, _admin_url, _plain, empty_tables_beside_the_worker  # noqa: F401,E501

ICS_BUNDLE = Path("/work/shared/data/attack/ics-attack-18.1.json")
MEDIA_TYPE = "application/taxii+json;version=2.1"

pytestmark = pytest.mark.skipif(not ICS_BUNDLE.exists(), reason="the ATT&CK ICS bundle is not on this machine")

WORKER_SETTINGS = {
    "HUB_TAXII_LEASE_SECONDS": "4",
    "HUB_TAXII_SWEEP_SECONDS": "1",
    # Celery's pool processes may not start processes of their own: validate in the worker.
    "HUB_INGEST_PROCESSES": "1",
    # Progress in steps of 50 objects: the ICS bundle takes 37 of them, so a look at the status
    # (and the kill below) lands mid-way, however fast the machine shares it.
    "HUB_TAXII_CHUNK": "50",
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("taxii-it")


@pytest.fixture(scope="module")
def it_database():
    import psycopg
    from sqlalchemy.engine import make_url

    admin = _admin_url()
    name = f"hub_taxii_it_{os.getpid()}"
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_server(workdir):
    server = RedisServer(workdir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def it_app(it_database, redis_server):
    class IntegrationConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = it_database
        REDIS_URL = redis_server.url
        HUB_ALERTS_ENQUEUE = True
        HUB_TAXII_ASYNC_OBJECTS = 200
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
    env = {**os.environ, **WORKER_SETTINGS, "HUB_CONFIG": "development", "SECRET_KEY": TestingConfig.SECRET_KEY,
           "DATABASE_URL": it_database, "REDIS_URL": redis_server.url, "HUB_INSTANCE_DIR": str(workdir / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    process = WorkerProcess(env, workdir, "taxii-it", concurrency=1)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def sharer(it_app, worker, monkeypatch):
    cheap_password_hashing(monkeypatch)
    with it_app.app_context():
        empty_tables_beside_the_worker()
        org = f.make_org("hospital", "CZ", slug="ostrava-hospital")
        user = f.make_user(org)
        # ATT&CK objects carry MITRE's copyright marking, no TLP: the collection's default applies.
        set_default_tlp(org.slug, "community", TLP.clear)
        token = accounts.create_token(user, "it")
        yield {"client": it_app.test_client(), "headers": {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE}}
        db.session.remove()


def ics_objects_with_one_invalid() -> tuple[list, dict]:
    objects = json.loads(ICS_BUNDLE.read_text())["objects"]
    bad = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
           "pattern": "[ipv4-addr:value = ", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}
    objects.insert(len(objects) // 2, bad)
    return objects, bad


def post(sharer, objects) -> dict:
    response = sharer["client"].post(
        "/taxii2/api/collections/community/objects/", data=json.dumps({"objects": objects}),
        headers={**sharer["headers"], "Content-Type": MEDIA_TYPE})
    assert response.status_code == 202, response.get_data()[:500]
    return response.json


def status(sharer, status_id) -> dict:
    db.session.rollback()
    response = sharer["client"].get(f"/taxii2/api/status/{status_id}/", headers=sharer["headers"])
    assert response.status_code == 200
    body = response.json
    assert body["success_count"] + body["failure_count"] + body["pending_count"] == body["total_count"]
    assert len(body.get("successes", [])) == body["success_count"]
    assert len(body.get("failures", [])) == body["failure_count"]
    return body


def assert_finished(sharer, status_id, objects, bad) -> dict:
    done = status(sharer, status_id)
    assert done["status"] == "complete" and done["pending_count"] == 0
    assert bad["id"] in {failure["id"] for failure in done["failures"]}
    successes = [s["id"] for s in done["successes"]]
    assert len(successes) == len(set(successes))  # nothing counted twice
    assert set(successes) | {x["id"] for x in done["failures"]} == {o["id"] for o in objects}
    assert db.session.scalar(select(func.count(SharedItem.id))) == len(successes)
    assert db.session.get(TaxiiPendingAdd, status_id) is None
    return done


def test_the_ics_bundle_is_answered_at_once_and_shared_by_the_worker(sharer):
    objects, bad = ics_objects_with_one_invalid()
    assert len(objects) == 1827
    accepted = post(sharer, objects)
    assert accepted["status"] == "pending"  # answered before the objects are shared
    assert (accepted["total_count"], accepted["pending_count"], accepted["success_count"]) == (1827, 1827, 0)
    seen_pending = set()

    def finished():
        current = status(sharer, accepted["id"])  # the counts add up at every look
        seen_pending.add(current["pending_count"])
        return current["status"] == "complete"

    wait_until(finished, timeout=300, interval=0.05, message="the worker to share the ICS bundle")
    done = assert_finished(sharer, accepted["id"], objects, bad)
    assert done["failure_count"] < 20, done["failures"][:5]
    assert len(seen_pending) > 2  # progress was visible while the worker ran


def test_a_worker_killed_mid_bundle_is_replaced_and_the_request_finished(sharer, worker):
    objects, bad = ics_objects_with_one_invalid()
    accepted = post(sharer, objects)
    wait_until(lambda: 0 < status(sharer, accepted["id"])["pending_count"] < 1827 - 200, timeout=300, interval=0.05,
               message="the worker to record a few chunks")
    worker.kill()
    midway = status(sharer, accepted["id"])
    assert midway["status"] == "pending"
    worker.start()  # the lease runs out, the sweeper queues the request, this worker finishes it
    wait_until(lambda: status(sharer, accepted["id"])["status"] == "complete", timeout=300, interval=0.5,
               message="the request finished after the restart")
    assert_finished(sharer, accepted["id"], objects, bad)
    assert db.session.scalar(select(func.count(TaxiiStatus.id))) == 1
