"""Celery workers. They import hub/; hub/ never imports a task module directly."""
