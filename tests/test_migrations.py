"""`flask db upgrade` on an empty database builds exactly the models' schema (acceptance 4).

Each test migrates a database of its own, created empty for it: a fresh SQLite file, and, when
TEST_DATABASE_URL names PostgreSQL, a uniquely named database on that server, dropped afterwards.
Whatever the head revision is, the migrated schema must match db.metadata: a model changed
without its migration fails here.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from celery import current_app as current_celery_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from config import TestingConfig, _normalise_database_url
from hub import create_app
from hub.db import LZ4_COLUMNS, lz4_available
from hub.extensions import db

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _postgres_server_url() -> str | None:
    """The PostgreSQL server behind TEST_DATABASE_URL, or None when the suite runs on SQLite."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgresql", "postgres:")):
        return None
    return _normalise_database_url(url)


@contextmanager
def _fresh_postgres_database():
    server = make_url(_postgres_server_url())
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"hub_migrations_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # the suite was told to use this server: it must be there
        admin.dispose()
        pytest.fail(f"TEST_DATABASE_URL names PostgreSQL at {server.host}:{server.port}, "
                    f"but a database cannot be created there: {error}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _app_on(database_url: str):
    """An app whose database is `database_url`, inside its app context.

    create_app() makes its Celery app the process default; the suite's own app gets that
    role back afterwards, so tasks called by later tests run against the suite's database.
    """
    previous_celery = current_celery_app._get_current_object()

    class FreshDatabase(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(FreshDatabase)
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        previous_celery.set_default()


@pytest.fixture(scope="module")
def postgres_database():
    """One scratch database for this module (dropping a database costs a checkpoint)."""
    if _postgres_server_url() is None:
        pytest.skip("PostgreSQL: TEST_DATABASE_URL does not name a PostgreSQL server (make test sets it)")
    with _fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of an empty database of each kind the suite has."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    url = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # Empty again: tables, triggers, functions and the alembic_version of the last test.
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url


def _schema_drift() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, db.metadata)


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def _insert_audit_event(action: str) -> int:
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_event (at, action, detail, prev_hash, hash) "
                 "VALUES (CURRENT_TIMESTAMP, :a, '{}', :zero, :zero)"),
            {"a": action, "zero": "0" * 64},
        )
        return conn.execute(text("SELECT max(id) FROM audit_event")).scalar_one()


def test_migrations_have_a_single_head():
    """Two revisions branching from one parent leave `db upgrade` unsure where to go."""
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: merge them (flask db merge heads)"


def test_upgrade_from_empty_yields_exactly_the_models_schema(empty_database):
    with _app_on(empty_database):
        assert _tables() == set()
        upgrade()
        drift = _schema_drift()
        assert drift == [], "the migrations and the models disagree; add a migration:\n" + "\n".join(
            map(str, drift)
        )
        assert _tables() == set(db.metadata.tables)


def _lz4_columns() -> set[tuple[str, str]]:
    with db.engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND a.attnum > 0 AND a.attcompression = 'l'")).all())


def test_migrations_compress_the_columns_the_models_compress(empty_database):
    """Column compression is outside Alembic's comparison: a column the models have PostgreSQL
    compress with lz4 (hub.db.compress_with_lz4) needs a migration that does the same."""
    with _app_on(empty_database):
        if db.engine.dialect.name != "postgresql":
            pytest.skip("column compression is PostgreSQL's")
        with db.engine.connect() as conn:
            if not lz4_available(conn):
                pytest.skip("this PostgreSQL server was built without lz4")
        upgrade()
        assert LZ4_COLUMNS >= {("stix_version", "body"), ("taxii_pending_add", "objects")}
        assert _lz4_columns() == LZ4_COLUMNS
        downgrade(revision="13fa57000003")
        assert _lz4_columns() == LZ4_COLUMNS - {("stix_version", "body")}


def test_drift_check_notices_a_schema_that_differs_from_the_models(empty_database):
    """The comparison above is not vacuous: a missing index is reported."""
    with _app_on(empty_database):
        upgrade()
        index = next(index for table in db.metadata.sorted_tables for index in sorted(
            table.indexes, key=lambda i: i.name))
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX {index.name}"))
        drift = _schema_drift()
        assert [change[0] for change in drift] == ["add_index"]
        assert drift[0][1].name == index.name


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds_it(empty_database):
    with _app_on(empty_database):
        upgrade()
        downgrade(revision="base")
        assert _tables() == set()
        upgrade()
        assert _schema_drift() == []


def test_audit_log_refuses_update_and_delete_in_the_database_itself(empty_database):
    with _app_on(empty_database):
        upgrade()
        event_id = _insert_audit_event("share")
        for statement in (
            "UPDATE audit_event SET action = 'forged' WHERE id = :id",
            "DELETE FROM audit_event WHERE id = :id",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(statement), {"id": event_id})
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT action FROM audit_event")).scalars().all()
        assert rows == ["share"]
        # Appending is what the log is for.
        _insert_audit_event("read")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 2


def test_the_chain_of_custody_refuses_update_and_delete_in_the_database_itself(empty_database):
    import io

    from hub.incidents import cases, evidence, filing
    from tests import factories
    from tests.incidents_support import report

    with _app_on(empty_database):
        upgrade()
        hospital = factories.make_org("hospital", "CZ")
        police = factories.make_org("law_enforcement", "CZ")
        analyst = factories.principal(factories.make_user(hospital, "analyst"))
        admin = factories.principal(factories.make_user(hospital, "admin"))
        incident = filing.file_incident(analyst, report())
        case = cases.grant_consent(admin, incident.stix_id, police.slug)
        evidence.add_evidence(analyst, case.public_id, "note.txt", io.BytesIO(b"pay us"), "text/plain")
        for statement in ("UPDATE custody_event SET action = 'forged'", "DELETE FROM custody_event"):
            with pytest.raises(DBAPIError, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM custody_event")).scalars().all() == ["upload"]


def test_existing_organisations_keep_their_stix_identity_ids_new_ones_get_uuid4(empty_database):
    """c0ffee1d0001 stores each organisation's identity id: the UUIDv5 of its slug that every
    earlier export named stays its id; organisations created afterwards draw a UUIDv4."""
    from hub.accounts.models import IDENTITY_NAMESPACE, Organisation

    with _app_on(empty_database):
        upgrade(revision="a1f0c0de0004")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organisation (slug, name, kind, country, timezone, created) "
                              "VALUES ('old-hospital', 'Old hospital', 'hospital', 'CZ', 'UTC', CURRENT_TIMESTAMP)"))
        upgrade()
        old = db.session.scalar(select(Organisation).where(Organisation.slug == "old-hospital"))
        assert old.identity_id == f"identity--{uuid.uuid5(IDENTITY_NAMESPACE, 'old-hospital')}"
        new = Organisation(slug="new-hospital", name="New hospital", kind="hospital", country="CZ")
        db.session.add(new)
        db.session.commit()
        assert uuid.UUID(new.identity_id.removeprefix("identity--")).version == 4
        assert db.session.get(Organisation, new.id).identity_id == new.identity_id


def test_stix_ids_stored_in_upper_case_hex_are_made_canonical(empty_database):
    """13fa57000006: the hub compares ids whatever the case of their hex (hub.db.StixId); ids
    stored before in upper case are written in lower case, but for one the organisation also
    holds in lower case (the unique key keeps both rows)."""
    from hub.intel import reads
    from tests import factories

    upper = "indicator--0A1B2C3D-1111-4111-8111-00000000000A"
    twin = "indicator--0A1B2C3D-2222-4222-8222-00000000000B"
    with _app_on(empty_database):
        upgrade(revision="13fa57000005")
        org = factories.make_org()
        author = factories.make_user(org)
        with db.engine.begin() as conn:
            for stix_id in (upper, twin, twin.lower()):
                conn.execute(text(
                    "INSERT INTO shared_item (stix_id, stix_type, owner_org_id, author_id, tlp, audience_community,"
                    " anonymous, revoked, name, search_text, first_added_us, last_added_us)"
                    " VALUES (:id, 'indicator', :org, :author, 'green', true, false, false, '', '', 1, 1)"),
                    {"id": stix_id, "org": org.id, "author": author.id})
        upgrade()
        with db.engine.connect() as conn:
            stored = set(conn.execute(text("SELECT stix_id FROM shared_item")).scalars())
        assert stored == {upper.lower(), twin, twin.lower()}
        assert reads.get_item(factories.principal(author), upper).stix_id == upper.lower()
