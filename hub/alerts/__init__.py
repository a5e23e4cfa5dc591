"""Alerts: the transactional outbox written with every sharing act, and its fan-out.

`init_app` wires the feature into the application: the after-commit queueing of outbox
entries, the REST routes, the pages and the `flask alerts` commands.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hub.alerts import dispatch
    from hub.alerts.cli import alerts_cli
    from hub.alerts.views import bp as api_bp
    from hub.alerts.web import bp as web_bp
    from hub.extensions import csrf

    dispatch.init_app(app)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies
    app.register_blueprint(web_bp)
    app.cli.add_command(alerts_cli)
