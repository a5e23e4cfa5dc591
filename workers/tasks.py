"""Celery tasks: each calls the feature's service directly, inside the app context.

Names are fixed strings owned by the features (hub/alerts/dispatch.py, hub/incidents/reminders.py,
hub/taxii/pending.py), so the hub queues work by name and never imports this module. Every task
acknowledges late (config.py: task_acks_late) and is safe to run twice: the database, not the
broker, says what is left to do.
"""
from __future__ import annotations

from celery import shared_task

from hub.alerts import delivery, dispatch, jobs
from hub.incidents import reminders
from hub.taxii import pending


@shared_task(name=dispatch.TASK_FAN_OUT)
def fan_out(entry_ids: list[int]) -> int:
    return jobs.fan_out_entries(entry_ids)


@shared_task(name=dispatch.TASK_DELIVER)
def deliver(delivery_ids: list[int]) -> None:
    delivery.deliver(delivery_ids)


@shared_task(name=dispatch.TASK_SWEEP)
def sweep() -> tuple[int, int]:
    return jobs.sweep()


@shared_task(name=dispatch.TASK_EMIT_EXPIRIES)
def emit_expiries() -> int:
    return jobs.emit_expiries()


@shared_task(name=dispatch.TASK_SEND_DIGESTS)
def send_digests(mode: str) -> int:
    return jobs.send_digests(mode)


@shared_task(name=reminders.TASK_NIS2_REMINDERS)
def nis2_reminders() -> int:
    return reminders.send_and_queue_nis2_reminders()


@shared_task(name=pending.TASK_COMPLETE_ADD)
def complete_taxii_add(status_id: str) -> int:
    return pending.complete_pending_add(status_id)


@shared_task(name=pending.TASK_SWEEP_ADDS)
def sweep_taxii_adds() -> int:
    return pending.sweep_pending_adds()
