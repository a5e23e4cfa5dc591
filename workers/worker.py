"""Entry point for Celery processes: `celery -A workers.worker worker` (and `beat`)."""
from hub import create_app
from hub.intel.warmup import freeze_start_up_objects, warm_up

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

import workers.tasks  # noqa: E402,F401  registers the tasks on celery_app, built just above

# Before the prefork pool forks: its processes inherit compiled schemas and loaded grammars
# instead of each spending seconds on them during its first large TAXII add.
warm_up()
freeze_start_up_objects()
