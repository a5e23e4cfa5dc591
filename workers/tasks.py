"""Celery tasks. Thin: each one calls a job (hub/alerts/jobs.py, hub/taxii/pending.py) inside the
app context.

Names are fixed strings (hub/alerts/dispatch.py, hub/taxii/pending.py), so the hub queues work by
name and never imports this module. Every task acknowledges late (config.py: task_acks_late) and is safe to run
twice: the database, not the broker, says what is left to do.
"""
from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from hub.alerts import dispatch, jobs
from hub.taxii import pending


@shared_task(name=dispatch.TASK_FAN_OUT)
def fan_out(entry_ids: list[int]) -> int:
    return jobs.fan_out_entries(entry_ids)


@shared_task(name=dispatch.TASK_DELIVER)
def deliver(delivery_ids: list[int]) -> None:
    jobs.deliver(delivery_ids)


@shared_task(name=dispatch.TASK_SWEEP)
def sweep() -> tuple[int, int]:
    return jobs.sweep()


@shared_task(name=dispatch.TASK_EMIT_EXPIRIES)
def emit_expiries() -> int:
    return jobs.emit_expiries()


@shared_task(name=dispatch.TASK_SEND_DIGESTS)
def send_digests(mode: str) -> int:
    return jobs.send_digests(mode)


@shared_task(name="incidents.nis2_reminders")
def nis2_reminders() -> int:
    from hub.incidents.reminders import send_nis2_reminders

    delivery_ids = send_nis2_reminders()
    dispatch.enqueue_deliveries(delivery_ids)
    return len(delivery_ids)


@shared_task(name=pending.TASK_COMPLETE_ADD)
def complete_taxii_add(status_id: str) -> int:
    return pending.complete_pending_add(status_id)


@shared_task(name=pending.TASK_SWEEP_ADDS)
def sweep_taxii_adds() -> int:
    return pending.sweep_pending_adds()


def beat_schedule(config) -> dict:
    """Periodic alert work for `celery beat` (or `worker --beat`)."""
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
        "taxii-sweep-adds": {"task": pending.TASK_SWEEP_ADDS, "schedule": taxii_sweep_every,
                             "options": {"expires": taxii_sweep_every}},
        "incidents-nis2-reminders": {"task": "incidents.nis2_reminders", "schedule": 300.0,
                                     "options": {"expires": 300.0}},
        "alerts-digest-daily": {"task": dispatch.TASK_SEND_DIGESTS, "schedule": crontab(minute=0, hour=6),
                                "args": ("daily",)},
    }
