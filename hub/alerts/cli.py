"""`flask --app hub alerts …`: the operator's view of the alert pipeline from a shell."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hub.alerts import delivery as deliveries
from hub.alerts import jobs
from hub.alerts.models import Delivery
from hub.extensions import db

alerts_cli = AppGroup("alerts", help="Alert fan-out, deliveries and dead letters.")


@alerts_cli.command("sweep")
def sweep():
    """Queue outbox entries and deliveries an outage left behind (what beat does every run)."""
    entries, stalled = jobs.sweep()
    click.echo(f"queued {entries} outbox entries and {stalled} deliveries")


@alerts_cli.command("dead-letters")
@click.option("--limit", default=50, show_default=True)
def dead_letters(limit):
    """List dead-lettered deliveries, newest first."""
    rows = db.session.scalars(
        select(Delivery).where(Delivery.status == "dead").order_by(Delivery.id.desc()).limit(limit)
    )
    for row in rows:
        click.echo(f"{row.id}\tsubscription {row.subscription_id}\t{row.channel}\t"
                   f"{row.attempts} attempts\t{row.last_error or ''}")


@alerts_cli.command("replay")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Replay every dead letter.")
def replay(delivery_ids, all_dead):
    """Give dead letters a fresh set of attempts."""
    query = select(Delivery).where(Delivery.status == "dead")
    if not all_dead:
        if not delivery_ids:
            raise click.UsageError("name delivery ids, or pass --all-dead")
        query = query.where(Delivery.id.in_(delivery_ids))
    replayed = 0
    for row in list(db.session.scalars(query)):
        deliveries.replay(row)
        replayed += 1
    click.echo(f"replayed {replayed} dead letter(s)")
