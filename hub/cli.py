"""Command-line administration: `flask --app hub orgs|users|groups|tokens|audit|warninglists|demo ...` (or `hub ...`)."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from hub.accounts import services as accounts
from hub.audit import verify_chain
from hub.demo import seed_demo
from hub.errors import HubError
from hub.intel.cli import warninglists_cli

orgs_cli = AppGroup("orgs", help="Member organisations.")
users_cli = AppGroup("users", help="Users of member organisations.")
groups_cli = AppGroup("groups", help="Sharing groups.")
tokens_cli = AppGroup("tokens", help="API tokens.")
audit_cli = AppGroup("audit", help="The hash-chained audit log.")


def _fail(error: HubError):
    details = "; ".join(
        f"{d.get('field', '')}: {d.get('error', '')}".strip(": ") for d in error.details
    )
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


@orgs_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--kind", required=True,
              type=click.Choice(["hospital", "national_cert", "law_enforcement", "vendor", "peer_hub"]))
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. CZ")
@click.option("--timezone", "timezone_name", default=None,
              help="IANA zone for NIS2 deadlines and local times (default: the country's main zone)")
def create_org(slug, name, kind, country, timezone_name):
    """Create organisation SLUG."""
    try:
        org = accounts.create_org(slug, name, kind, country, timezone_name=timezone_name)
    except HubError as error:
        _fail(error)
    click.echo(f"created organisation {org.slug} ({org.kind.value}, {org.country}, {org.timezone})")


@users_cli.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "viewer"]))
@click.option("--password", default=None, help="Generated and printed when omitted.")
@click.option("--operator", is_flag=True, help="Hub operator: manages members, reads nothing extra.")
def create_user(email, org_slug, role, password, operator):
    """Create user EMAIL in an organisation."""
    try:
        user, password_used = accounts.create_user(email, org_slug, role, password, is_operator=operator)
    except HubError as error:
        _fail(error)
    click.echo(f"created user {user.email} ({user.role.value} at {org_slug})")
    if password is None:
        click.echo(f"password: {password_used}")


@groups_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--orgs", "org_slugs", required=True, help="Comma-separated organisation slugs.")
def create_group(slug, name, org_slugs):
    """Create sharing group SLUG."""
    try:
        group = accounts.create_group(slug, name, org_slugs.split(","))
    except HubError as error:
        _fail(error)
    click.echo(f"created sharing group {group.slug}: {', '.join(o.slug for o in group.orgs)}")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--label", default="cli")
def create_token(email, label):
    """Print a new API token for EMAIL (alone on stdout; only its hash is stored)."""
    try:
        user = accounts.user_by_email(email)
    except HubError as error:
        _fail(error)
    click.echo(accounts.create_token(user, label))


@click.command("demo")
def demo():
    """Seed demo organisations, users and a sharing group (idempotent); print the logins."""
    for line in seed_demo():
        click.echo(line)


@audit_cli.command("verify")
def verify_audit():
    """Recompute the audit log's hash chain; exit non-zero naming the first broken entry."""
    check = verify_chain()
    if check.broken_at is not None:
        raise click.ClickException(
            f"audit log BROKEN at entry id {check.broken_at}: {check.reason} "
            f"({check.count} entries before it verified)"
        )
    click.echo(f"audit log OK: {check.count} entries verified")


def register(app: Flask) -> None:
    for command in (orgs_cli, users_cli, groups_cli, tokens_cli, audit_cli, warninglists_cli, demo):
        app.cli.add_command(command)
