"""Fixtures: an app per test session, a clean database per test, story-like helpers.

The database is PostgreSQL when TEST_DATABASE_URL names one (`make test` does, when a server
answers on 127.0.0.1:5432), else in-memory SQLite.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from hub import create_app
from hub.accounts import services as accounts
from hub.extensions import db
from tests import factories


@pytest.fixture(scope="session")
def app():
    app = create_app("testing")
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app


@pytest.fixture(autouse=True)
def _clean_database(app):
    """Every test starts from empty tables, inside an app context."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        tables = [table.name for table in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            db.session.execute(text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        db.session.remove()


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


@pytest.fixture
def api(client):
    """api(user) -> an ApiClient acting as that user."""
    return lambda user: ApiClient(client, user)


@pytest.fixture
def make():
    return factories
