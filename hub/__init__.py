"""HealthCERT Hub: threat sharing for healthcare, STIX 2.1 and TLP 2.0, one sharing policy."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask.cli import FlaskGroup
from werkzeug.exceptions import HTTPException

# Every model module, imported here so that metadata (and Alembic autogenerate) sees every table.
import hub.accounts.models  # noqa: F401
import hub.alerts.models  # noqa: F401
import hub.feeds.changes  # noqa: F401  (the feed change counter: tables and triggers)
import hub.feeds.models  # noqa: F401
import hub.incidents.models  # noqa: F401
import hub.intel.models  # noqa: F401
import hub.taxii.models  # noqa: F401
from hub import alerts, api, cli, web
from hub.accounts.admin_views import bp as admin_pages
from hub.accounts.views import bp as accounts_pages
from hub.alerts.views import bp as alerts_pages
from hub.bounds import Int64Converter, refuse_nul_characters
from hub.celery import celery_init_app
from hub.db import without_jit
from hub.errors import HubError
from hub.extensions import csrf, db, limiter, login_manager, migrate
from hub.feeds.views import bp as feeds_pages
from hub.incidents.evidence import allow_evidence_uploads
from hub.incidents.views import bp as incidents_pages
from hub.intel.views import bp as intel_pages
from hub.taxii import bp as taxii_bp
from hub.taxii import errors as taxii_errors

PROJECT_DIR = Path(__file__).resolve().parent.parent


def create_app(config: str | object | None = None) -> Flask:
    """Build the application. Assembles only: no migrations, no network calls."""
    from config import CONFIGS  # the project root's config.py, beside hub/, not a package module

    if config is None:
        config = os.environ.get("HUB_CONFIG", "development")
    config_class = CONFIGS[config] if isinstance(config, str) else config
    app = Flask(__name__, instance_path=str(config_class.INSTANCE_DIR))
    app.config.from_object(config_class)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: the production configuration refuses to start without one")
    os.makedirs(app.instance_path, exist_ok=True)
    # Before any rule is added: every <int:...> in every URL is a 64-bit id or no match (404).
    app.url_map.converters["int"] = Int64Converter

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            without_jit(engine)
    migrate.init_app(app, db, directory=str(PROJECT_DIR / "migrations"))
    login_manager.init_app(app)
    # Before CSRF protection, which reads the form and so fixes the body limit for the request.
    app.before_request(allow_evidence_uploads)
    csrf.init_app(app)
    limiter.init_app(app)
    app.before_request(refuse_nul_characters)

    web.init_app(app)
    for pages in (accounts_pages, admin_pages, intel_pages, alerts_pages, incidents_pages, feeds_pages):
        app.register_blueprint(pages)
    api.init_app(app)
    app.register_blueprint(taxii_bp)
    csrf.exempt(taxii_bp)  # Basic/Bearer API tokens, not cookies, as for the API
    _register_error_handlers(app)
    alerts.init_app(app)  # after-commit queueing of alerts, `flask alerts`
    cli.register(app)
    celery_init_app(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    """One answer per boundary: JSON under /api/, the styled page elsewhere (TAXII has its own)."""

    @app.errorhandler(HubError)
    def handle_hub_error(error: HubError):
        return api.json_for_hub_error(error) if api.is_api_request() else web.page_for_hub_error(error)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        if taxii_errors.is_taxii_request():  # raised before the TAXII blueprint was matched (405)
            return taxii_errors.http_error_response(error)
        return api.json_for_http_error(error) if api.is_api_request() else web.page_for_http_error(error)


def main() -> None:
    """The `hub` console script: `flask --app hub` with fewer keystrokes."""
    FlaskGroup(create_app=lambda: create_app())(prog_name="hub")
