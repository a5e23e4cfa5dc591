"""`hub warninglists …`: the operator loads, lists and drops warning lists of known-benign values."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from hub.errors import HubError
from hub.intel import warninglist_sources as sources

warninglists_cli = AppGroup("warninglists", help="Lists of known-benign values (MISP warninglists).")


def _fail(error: HubError):
    details = "; ".join(f"{d.get('value', '')}: {d.get('error', '')}" for d in error.details)
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


@warninglists_cli.command("available")
def available():
    """Every list pymispwarninglists ships: name, MISP type, entries, title."""
    for found in sources.available():
        note = "" if found.supported else "  (not loadable: regex)"
        click.echo(f"{found.name}\t{found.misp_type}\t{found.entries}\t{found.title}{note}")


@warninglists_cli.command("load")
@click.argument("names", nargs=-1)
def load(names):
    """Load (or reload) lists NAMES; without names, the default set."""
    try:
        records = sources.load(list(names) or list(sources.DEFAULT_LISTS))
    except HubError as error:
        _fail(error)
    for record in records:
        click.echo(f"loaded {record.name}: {record.entry_count} entries ({record.misp_type})")


@warninglists_cli.command("list")
def list_loaded():
    """The loaded (enabled) lists."""
    records = sources.loaded()
    if not records:
        click.echo("no warning lists loaded; `hub warninglists load` loads the default set")
    for record in records:
        click.echo(f"{record.name}\t{record.misp_type}\t{record.entry_count}\t"
                   f"MISP v{record.misp_version}\t{record.title}")


@warninglists_cli.command("drop")
@click.argument("name")
def drop(name):
    """Remove loaded list NAME."""
    try:
        sources.drop(name)
    except HubError as error:
        _fail(error)
    click.echo(f"dropped {name}")
