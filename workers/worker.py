"""Entry point for Celery processes: `celery -A workers.worker worker` (and `beat`)."""
from hub import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
