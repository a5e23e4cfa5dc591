"""The audit log is hash-chained: `flask audit verify` finds a removed or altered entry."""
from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from hub import audit
from hub.audit import AuditEvent
from hub.extensions import db
from hub.intel.manage import revoke
from hub.tlp import TLP
from hub.principal import Principal
from tests import factories as f
from tests.factories import indicator
from tests.test_migrations import _app_on, empty_database, postgres_database  # noqa: F401 (fixtures)


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _busy_day(taxii, api):
    """Shares through the service and through TAXII (bulk), reads, token use, a revocation."""
    hospital, cert = f.make_org("hospital", "CZ"), f.make_org("national_cert", "CZ")
    sharer, reader = f.make_user(hospital, "analyst"), f.make_user(cert, "analyst")
    item = f.share(sharer, [indicator("198.51.100.20")], tlp="amber")
    posted = taxii(sharer).post(taxii(sharer).objects_path("community"), {"objects": [
        indicator(f"198.51.100.{n}", object_marking_refs=[TLP.amber.marking_id]) for n in (21, 22, 23)
    ]})
    assert posted.status_code == 202, posted.json
    assert api(reader).get("/objects").status_code == 200  # token use, and reads of AMBER items
    revoke(Principal.of(sharer), item.stix_id, reason="superseded")
    db.session.commit()


def _ids() -> list[int]:
    return list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _without_append_only_guard(statement: str, **params) -> None:
    """What a database superuser can do: lift the triggers (if any), rewrite, put them back."""
    postgresql = db.engine.dialect.name == "postgresql"
    with db.engine.begin() as conn:
        if postgresql:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER ALL"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        conn.execute(text(statement), params)
        if postgresql:
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER ALL"))


def test_a_day_of_normal_activity_verifies(app, taxii, api):
    _busy_day(taxii, api)
    count = db.session.scalar(select(func.count(AuditEvent.id)))
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"share", "read", "token_use", "revoke"} <= actions
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert f"OK: {count} entries" in result.output


def test_an_empty_log_verifies(app):
    result = verify(app)
    assert result.exit_code == 0 and "OK: 0 entries" in result.output


def test_each_entry_links_to_the_one_before(taxii, api):
    _busy_day(taxii, api)
    rows = db.session.execute(select(AuditEvent.prev_hash, AuditEvent.hash).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:]))
    assert len({row.hash for row in rows}) == len(rows)


@pytest.mark.parametrize("column, value", [
    ("detail", '{"reason":"nothing to see"}'),
    ("action", "login"),
    ("actor_user_id", None),
    ("at", "2020-01-01 00:00:00+00:00"),
])
def test_an_altered_entry_is_named(app, taxii, api, column, value):
    _busy_day(taxii, api)
    ids = _ids()
    target = ids[len(ids) // 2]
    _without_append_only_guard(f"UPDATE audit_event SET {column} = :value WHERE id = :id", value=value, id=target)
    result = verify(app)
    assert result.exit_code != 0
    assert f"BROKEN at entry id {target}:" in result.output


def test_a_removed_entry_is_detected_at_the_next_one(app, taxii, api):
    _busy_day(taxii, api)
    ids = _ids()
    removed = ids[len(ids) // 2]
    _without_append_only_guard("DELETE FROM audit_event WHERE id = :id", id=removed)
    result = verify(app)
    assert result.exit_code != 0
    assert f"BROKEN at entry id {ids[ids.index(removed) + 1]}:" in result.output


def test_a_rehashed_forgery_still_breaks_the_link_of_the_next_entry(app, taxii, api):
    _busy_day(taxii, api)
    ids = _ids()
    target = ids[1]
    row = db.session.execute(select(AuditEvent).where(AuditEvent.id == target)).scalar_one()
    fields = {name: getattr(row, name) for name in audit.HASHED_FIELDS} | {"detail": '{"forged":true}'}
    forged = audit.entry_hash(fields, row.prev_hash)
    db.session.rollback()
    _without_append_only_guard("UPDATE audit_event SET detail = :d, hash = :h WHERE id = :id",
                               d='{"forged":true}', h=forged, id=target)
    result = verify(app)
    assert result.exit_code != 0 and f"BROKEN at entry id {ids[2]}:" in result.output


def test_concurrent_writers_keep_one_chain(app):
    """Do writers in parallel transactions (PostgreSQL) ever fork the chain?"""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; concurrency is PostgreSQL's")
    org = f.make_org()
    principal = Principal.of(f.make_user(org))
    db.session.commit()
    errors = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(15):
                    audit.record("token_use", principal, token=f"w{n}-{i}")
                    db.session.flush()
                    db.session.execute(text("SELECT pg_sleep(0.002)"))
                    db.session.commit()
                audit.record_reads(principal, [], "api")
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert "OK: 60 entries" in result.output


def test_the_migration_chains_existing_entries_and_keeps_the_log_append_only(empty_database):
    with _app_on(empty_database) as fresh:
        upgrade(revision="b5e55104a001")
        with db.engine.begin() as conn:
            for action in ("login", "share", "read"):
                conn.execute(text("INSERT INTO audit_event (at, action, detail) "
                                  "VALUES (CURRENT_TIMESTAMP, :a, '{}')"), {"a": action})
        upgrade()
        audit.record("login", None, channel="web")  # appended after the migrated entries
        db.session.commit()
        result = verify(fresh)
        assert result.exit_code == 0 and "OK: 4 entries" in result.output, result.output
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_event WHERE action = 'share'"))
