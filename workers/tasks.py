"""Celery tasks. Thin: each one calls a job in hub/alerts/jobs.py inside the app context.

Names are fixed strings (hub/alerts/dispatch.py), so the hub queues work by name and never
imports this module. Every task acknowledges late (config.py: task_acks_late) and is safe to run
twice: the database, not the broker, says what is left to do.
"""
from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from hub.alerts import dispatch, jobs


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


def beat_schedule(config) -> dict:
    """Periodic alert work for `celery beat` (or `worker --beat`)."""
    sweep_every = float(config["HUB_ALERTS_SWEEP_SECONDS"])
    expiries_every = float(config["HUB_ALERTS_EXPIRY_SECONDS"])
    # A periodic task that waited past its next run is dropped: the next one does the same work.
    return {
        "alerts-sweep": {"task": dispatch.TASK_SWEEP, "schedule": sweep_every,
                         "options": {"expires": sweep_every}},
        "alerts-expiries": {"task": dispatch.TASK_EMIT_EXPIRIES, "schedule": expiries_every,
                            "options": {"expires": expiries_every}},
        "alerts-digest-hourly": {"task": dispatch.TASK_SEND_DIGESTS, "schedule": crontab(minute=0),
                                 "args": ("hourly",)},
        "incidents-nis2-reminders": {"task": "incidents.nis2_reminders", "schedule": 300.0,
                                     "options": {"expires": 300.0}},
        "alerts-digest-daily": {"task": dispatch.TASK_SEND_DIGESTS, "schedule": crontab(minute=0, hour=6),
                                "args": ("daily",)},
    }
