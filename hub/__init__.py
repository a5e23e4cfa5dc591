"""HealthCERT Hub: threat sharing for healthcare, STIX 2.1 and TLP 2.0, one sharing policy."""
from __future__ import annotations

import os

from flask import Flask

from hub.extensions import csrf, db, limiter, login_manager, migrate


def create_app(config: str | object | None = None) -> Flask:
    """Build the application. Assembles only: no migrations, no network calls."""
    from config import CONFIGS

    app = Flask(__name__, instance_path=str(_instance_dir()))
    if config is None:
        config = os.environ.get("HUB_CONFIG", "development")
    app.config.from_object(CONFIGS[config] if isinstance(config, str) else config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: the production configuration refuses to start without one")
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_project_dir() / "migrations"))
    login_manager.init_app(app)
    from hub.incidents.evidence import allow_evidence_uploads

    # Before CSRF protection, which reads the form and so fixes the body limit for the request.
    app.before_request(allow_evidence_uploads)
    csrf.init_app(app)
    limiter.init_app(app)

    _import_models()
    from hub.accounts.views import bp as accounts_bp
    from hub.api import bp as api_bp
    from hub.web import bp as web_bp
    from hub import cli
    from hub.api.errors import register_error_handlers

    app.register_blueprint(accounts_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies: nothing for a forged form to ride on
    from hub.taxii import bp as taxii_bp

    app.register_blueprint(taxii_bp)
    csrf.exempt(taxii_bp)  # Basic/Bearer API tokens, not cookies, as for the API
    from hub import alerts

    alerts.init_app(app)  # its REST routes and pages, after-commit queueing, `flask alerts`
    from hub.incidents.api import bp as incidents_api_bp

    app.register_blueprint(incidents_api_bp)
    csrf.exempt(incidents_api_bp)  # bearer tokens, as for the rest of the API
    from hub.incidents.views import bp as incidents_web_bp

    app.register_blueprint(incidents_web_bp)
    cli.register(app)
    register_error_handlers(app)

    from workers.celery_app import celery_init_app

    celery_init_app(app)
    return app


def _import_models() -> None:
    """Every model module, so that metadata (and Alembic autogenerate) sees every table."""
    import hub.accounts.models  # noqa: F401
    import hub.alerts.models  # noqa: F401
    import hub.audit  # noqa: F401
    import hub.incidents.models  # noqa: F401
    import hub.intel.models  # noqa: F401
    import hub.taxii.models  # noqa: F401


def _project_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def _instance_dir():
    from config import INSTANCE_DIR

    return INSTANCE_DIR
