"""The Celery app, built from the Flask factory (Flask docs, "Background Tasks with Celery").

The worker entry point is workers/worker.py: `celery -A workers.worker worker`.
"""
from __future__ import annotations

import os

from celery import Celery, Task
from flask import Flask


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
    celery.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    from workers.tasks import beat_schedule

    celery.conf.beat_schedule = {**(celery.conf.beat_schedule or {}), **beat_schedule(app.config)}
    app.extensions["celery"] = celery
    return celery

