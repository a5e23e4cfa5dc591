"""Fixtures: an app per test session, a clean database per test, story-like helpers.

The database is PostgreSQL when TEST_DATABASE_URL names one (`make test` does, when a server
answers on 127.0.0.1:5432), else in-memory SQLite.
"""
from __future__ import annotations

import itertools
import os
import re
from pathlib import Path


def _give_this_xdist_worker_its_own_database_and_instance() -> None:
    """Under pytest-xdist (`-n`), each worker process empties tables between tests: it must own them.

    Runs before the hub is imported, since config.py reads TEST_DATABASE_URL and HUB_INSTANCE_DIR
    at import time. Worker gw0 of the suite's database hub_test gets a fresh hub_test_gw0.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    instance = os.environ.get("HUB_INSTANCE_DIR")
    if instance:
        (Path(instance) / worker).mkdir(parents=True, exist_ok=True)
        os.environ["HUB_INSTANCE_DIR"] = str(Path(instance) / worker)
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith(("postgresql", "postgres")):
        import psycopg
        from sqlalchemy.engine import make_url

        suite = make_url(url)
        name = f"{suite.database}_{worker}"
        admin = suite.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as connection:
            # FORCE ends sessions an interrupted earlier run may have left behind.
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        os.environ["TEST_DATABASE_URL"] = suite.set(database=name).render_as_string(hide_password=False)


_give_this_xdist_worker_its_own_database_and_instance()

import pytest  # noqa: E402  (after the worker's database is chosen)
from sqlalchemy import text  # noqa: E402

from hub import create_app  # noqa: E402
from hub.accounts import services as accounts
from hub.accounts.sessions import start_session
from hub.extensions import db
from tests import factories


@pytest.fixture(scope="session")
def app():
    app = create_app("testing")
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app


def _unlink_cycles() -> list[str]:
    """Foreign keys that close a cycle (use_alter, e.g. an item's latest version), cut first so
    that children-first DELETEs never trip on them."""
    return [
        f"UPDATE {constraint.table.name} SET {column.name} = NULL WHERE {column.name} IS NOT NULL"
        for table in db.metadata.sorted_tables
        for constraint in table.foreign_key_constraints if constraint.use_alter
        for column in constraint.columns
    ]


@pytest.fixture(autouse=True)
def _clean_database(app):
    """Every test starts from empty tables, inside an app context."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        tables = [table.name for table in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            # DELETE, children first, not TRUNCATE: TRUNCATE of every table makes new files for each
            # (~0.5 s a test, the largest cost of the suite); DELETE of a few rows costs microseconds.
            # Ids restart at 1 as TRUNCATE ... RESTART IDENTITY did.
            db.session.execute(text("; ".join(_unlink_cycles() + [f"DELETE FROM {table}" for table in tables])))
            db.session.execute(text(
                "SELECT setval(sequence.oid, 1, false) FROM pg_class sequence "
                "WHERE sequence.relkind = 'S' AND sequence.relnamespace = 'public'::regnamespace"))
        else:
            db.session.execute(text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server (aiosmtpd) on loopback, and the hub configured to send through it."""
    from tests.alerts_support import SmtpServer

    server = SmtpServer()
    monkeypatch.setitem(app.config, "HUB_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "HUB_SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "HUB_SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "HUB_SMTP_USER", None)
    monkeypatch.setitem(app.config, "HUB_MAIL_FROM", "HealthCERT Hub <alerts@hub.test>")
    yield server
    server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class ApiClient:
    """Calls /api/v1 as one user, with that user's bearer token."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self.token = accounts.create_token(user, "test")

    def _headers(self, extra=None):
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path, **kwargs):
        return self.client.get("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.client.put("/api/v1" + path, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@pytest.fixture
def api(client):
    """api(user) -> an ApiClient acting as that user."""
    return lambda user: ApiClient(client, user)


@pytest.fixture
def make():
    return factories


class WebSession:
    """A browser on the web UI: keeps its cookies, sends each form's CSRF token like a browser.

    Every request runs in a fresh app context, as under a real server, so that `g` (the signed-in
    user, the CSRF token) and the database session never carry over from another request or
    from the test itself. Every session comes from its own client address, so that the sign-in
    rate limit (kept for the whole test session) counts one test's attempts only.
    """

    _addresses = itertools.count(1)
    CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

    def __init__(self, app, user=None):
        self.app = app
        self.client = app.test_client()
        n = next(self._addresses)
        self.client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        if user is not None:
            self.sign_in_as(user)

    def sign_in_as(self, user):
        """Signed in without the login form (tests of the login form use `submit`)."""
        session_id = start_session(user)
        db.session.commit()
        with self.client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
        return self

    def _request(self, method: str, path: str, **kwargs):
        with self.app.app_context():
            return self.client.open(path, method=method, buffered=True, **kwargs)

    def get(self, path, **kwargs):
        return self._request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        """A bare POST, without a CSRF token (what a forged cross-site form sends)."""
        return self._request("POST", path, **kwargs)

    def csrf_token(self, form_page: str) -> str:
        page = self.get(form_page)
        match = self.CSRF_FIELD.search(page.get_data(as_text=True))
        assert match, f"no CSRF token in the form on {form_page} (status {page.status_code})"
        return match.group(1)

    def submit(self, path, data=None, *, form_page=None, **kwargs):
        """POST `data` to `path` with the CSRF token of the form shown on `form_page` (default: path)."""
        token = self.csrf_token(form_page or path)
        return self.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def web(app):
    """web(user=None) -> a WebSession, signed in as `user` when given."""
    return lambda user=None: WebSession(app, user)


class TaxiiClient:
    """Calls /taxii2/ as one user: HTTP Basic with the user's e-mail and an API token."""

    MEDIA_TYPE = "application/taxii+json;version=2.1"

    def __init__(self, client, user):
        import base64

        self.client = client
        self.user = user
        token = accounts.create_token(user, "taxii test")
        self.auth = "Basic " + base64.b64encode(f"{user.email}:{token}".encode()).decode()

    def _headers(self, extra=None):
        return {"Authorization": self.auth, "Accept": self.MEDIA_TYPE, **(extra or {})}

    def get(self, path, **kwargs):
        return self.client.get("/taxii2" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path, envelope, **kwargs):
        import orjson

        headers = self._headers({"Content-Type": self.MEDIA_TYPE, **kwargs.pop("headers", {})})
        body = envelope if isinstance(envelope, bytes) else orjson.dumps(envelope)
        return self.client.post("/taxii2" + path, data=body, headers=headers, **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete("/taxii2" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def collections(self) -> dict:
        """The caller's collections by alias."""
        response = self.get("/api/collections/")
        assert response.status_code == 200, response.json
        return {collection["alias"]: collection for collection in response.json.get("collections", [])}

    def objects_path(self, alias: str) -> str:
        return f"/api/collections/{self.collections()[alias]['id']}/objects/"


@pytest.fixture
def taxii(client):
    """taxii(user) -> a TaxiiClient acting as that user."""
    return lambda user: TaxiiClient(client, user)


_member_password_hash: list[str] = []


@pytest.fixture
def member_of():
    """member_of(org, role="analyst") -> a user, without paying an Argon2 hash per user.

    For tests of what users read and write, not of signing in: the password is
    factories.PASSWORD, hashed once per test session.
    """
    from hub.accounts.models import User
    from hub.principal import Role
    from hub.extensions import db

    if not _member_password_hash:
        _member_password_hash.append(accounts.hash_password(factories.PASSWORD))

    def make_member(org, role: str = "analyst"):
        user = User(email=f"{role}{next(factories._counter)}@{org.slug}.test", org=org, role=Role(role),
                    password_hash=_member_password_hash[0])
        db.session.add(user)
        db.session.commit()
        return user

    return make_member
