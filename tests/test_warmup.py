"""A fresh worker process pays the share path's one-time costs at start-up, not in a client's request."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.intel.warmup import freeze_start_up_objects, warm_up
from hub.taxii.warmup import warm_up_database

ROOT = Path(__file__).resolve().parent.parent


def test_warm_up_validates_the_samples_without_storing_anything(app):
    from hub.intel.models import SharedItem
    from hub.extensions import db

    assert warm_up() >= 0
    assert db.session.query(SharedItem).count() == 0


def test_the_celery_worker_freezes_what_start_up_left_alive_before_the_pool_forks(tmp_path):
    """Frozen, the ~335,000 start-up objects are never walked by a full collection again (one
    walk cost 0.2 s in the middle of a worker's first large TAXII add)."""
    env = {**os.environ, "HUB_INSTANCE_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/w.db"}
    out = subprocess.run([sys.executable, "-c", "import gc, workers.worker; print(gc.get_freeze_count())"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) > 100_000


def test_freezing_leaves_later_objects_to_the_collector():
    frozen = freeze_start_up_objects()
    try:
        assert frozen == gc.get_freeze_count() > 0
        cycle = []
        cycle.append(cycle)
        assert gc.is_tracked(cycle)
        del cycle
        assert gc.collect() >= 1  # the new cycle is still collected
    finally:
        gc.unfreeze()


def test_the_database_warm_up_leaves_nothing_behind(app):
    """It shares and reads as a throwaway organisation inside a transaction that is rolled back:
    no organisation, user, item, audit entry, outbox entry or feed change is left, nothing is queued."""
    from sqlalchemy import func, select

    from hub.accounts.models import Organisation, User
    from hub.alerts import dispatch
    from hub.audit import AuditEvent
    from hub.extensions import db
    from hub.feeds.changes import FeedChange
    from hub.intel.models import SharedItem, StixVersion
    from hub.outbox import OutboxEntry

    def counts():
        return [db.session.scalar(select(func.count()).select_from(model))
                for model in (Organisation, User, SharedItem, StixVersion, AuditEvent, OutboxEntry)] + [
            db.session.scalar(select(FeedChange.version))]

    before = counts()
    took = warm_up_database()
    if db.engine.dialect.name == "postgresql":
        assert took is not None and took > 0  # it ran (and did not fail into the warning)
    else:
        assert took is None  # SQLite: not worth a write lock at start-up
    assert counts() == before
    assert dispatch.flush()


def test_the_database_warm_up_on_a_hub_not_migrated_yet_lets_the_process_start(tmp_path):
    """A worker may start before `flask db upgrade`: the warm-up logs and gives up, it never fails."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("the database warm-up runs on PostgreSQL only")
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"hub_warmup_empty_{os.getpid()}"
    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        empty = make_url(url).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "HUB_INSTANCE_DIR": str(tmp_path), "DATABASE_URL": empty}
        env.pop("TEST_DATABASE_URL")
        out = subprocess.run([sys.executable, "-c", (
            "from hub import create_app; from hub.taxii.warmup import warm_up_database\n"
            "app = create_app()\n"
            "with app.app_context(): print(warm_up_database())")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == "None"
        assert "database warm-up skipped" in out.stderr
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
