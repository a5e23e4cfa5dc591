"""The Celery app, built from the Flask factory (Flask docs, "Background Tasks with Celery").

It imports no task module: the hub queues work by task name (hub/alerts/dispatch.py), and the
worker entry point, workers/worker.py, imports the tasks. The beat schedule names tasks the same
way.
"""
from __future__ import annotations

import os

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask

from hub.alerts import dispatch
from hub.incidents.reminders import TASK_NIS2_REMINDERS
from hub.taxii.pending import TASK_SWEEP_ADDS


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    if not app.config.get("REDIS_URL"):
        # The embedded broker keeps its messages in folders under instance/.
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            folder = app.config["CELERY"]["broker_transport_options"].get(key)
            if folder:
                os.makedirs(folder, exist_ok=True)
    celery.set_default()
    celery.conf.beat_schedule = {**(celery.conf.beat_schedule or {}), **beat_schedule(app.config)}
    app.extensions["celery"] = celery
    return celery


def beat_schedule(config) -> dict:
    """Periodic work for `celery beat` (or `worker --beat`)."""
    sweep_every = float(config["HUB_ALERTS_SWEEP_SECONDS"])
    expiries_every = float(config["HUB_ALERTS_EXPIRY_SECONDS"])
    taxii_sweep_every = float(config["HUB_TAXII_SWEEP_SECONDS"])
    # A periodic task that waited past its next run is dropped: the next one does the same work.
    return {
        "alerts-sweep": {"task": dispatch.TASK_SWEEP, "schedule": sweep_every,
                         "options": {"expires": sweep_every}},
        "alerts-expiries": {"task": dispatch.TASK_EMIT_EXPIRIES, "schedule": expiries_every,
                            "options": {"expires": expiries_every}},
        "alerts-digest-hourly": {"task": dispatch.TASK_SEND_DIGESTS, "schedule": crontab(minute=0),
                                 "args": ("hourly",)},
        "incidents-nis2-reminders": {"task": TASK_NIS2_REMINDERS, "schedule": 300.0,
                                     "options": {"expires": 300.0}},
        "taxii-sweep-adds": {"task": TASK_SWEEP_ADDS, "schedule": taxii_sweep_every,
                             "options": {"expires": taxii_sweep_every}},
        "alerts-digest-daily": {"task": dispatch.TASK_SEND_DIGESTS, "schedule": crontab(minute=0, hour=6),
                                "args": ("daily",)},
    }
