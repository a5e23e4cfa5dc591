"""Alerts: subscriptions, the fan-out of outbox entries to recipients, and their deliveries.

`init_app` wires the feature's non-HTTP parts into the application: the after-commit queueing
of outbox entries, the answer to whether a bulk act can alert anyone, and the `flask alerts` commands (its REST routes and pages are registered by
the shells like every feature's).
"""
from __future__ import annotations

from flask import Flask

from hub import outbox
from hub.alerts import dispatch, fanout
from hub.alerts.cli import alerts_cli


def init_app(app: Flask) -> None:
    dispatch.init_app(app)
    outbox.decide_unheard_acts_with(fanout.nobody_to_alert)
    app.cli.add_command(alerts_cli)
