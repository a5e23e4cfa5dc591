"""Entry point for Celery processes: `celery -A workers.worker worker` (and `beat`)."""
import logging

from celery.signals import worker_process_init

from hub import create_app
from hub.extensions import db
from hub.intel.warmup import freeze_start_up_objects, warm_up
from hub.taxii.warmup import warm_up_database

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

import workers.tasks  # noqa: E402,F401  registers the tasks on celery_app, built just above

# Before the prefork pool forks: its processes inherit compiled schemas and loaded grammars
# instead of each spending seconds on them during its first large TAXII add.
warm_up()
freeze_start_up_objects()


@worker_process_init.connect
def _warm_up_this_pool_process(**_kwargs):
    """In each pool process, after the fork: its own database connections (never the parent's
    pooled ones, which the parent may still use), then the database paths warmed."""
    with flask_app.app_context():
        db.engine.dispose(close=False)
        took = warm_up_database()
    if took is not None:
        logging.getLogger(__name__).info("database paths warmed up in %.2f s", took)
