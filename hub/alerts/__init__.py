"""Alerts: subscriptions, the fan-out of outbox entries to recipients, and their deliveries.

`init_app` wires the feature's non-HTTP parts into the application: the after-commit queueing
of outbox entries and the `flask alerts` commands (its REST routes and pages are registered by
the shells like every feature's).
"""
from __future__ import annotations

from flask import Flask

from hub.alerts import dispatch
from hub.alerts.cli import alerts_cli


def init_app(app: Flask) -> None:
    dispatch.init_app(app)
    app.cli.add_command(alerts_cli)
