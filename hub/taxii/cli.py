"""`flask taxii ...`: TAXII settings an operator sets for a member organisation."""
from __future__ import annotations

import click

from hub import policy
from hub.errors import HubError
from hub.tlp import TLP
from hub.taxii.collections import set_default_tlp
from hub.taxii.views import bp


@bp.cli.command("default-tlp")
@click.argument("org_slug")
@click.argument("collection")
@click.argument("tlp", type=click.Choice([t.value for t in TLP if not policy.named_users_only(t)] + ["none"]))
def default_tlp(org_slug: str, collection: str, tlp: str):
    """Objects ORG_SLUG posts unmarked to COLLECTION (alias: community, group-<slug>, org-<slug>)
    take TLP; "none" removes the default, so unmarked objects are rejected again."""
    try:
        collection_id = set_default_tlp(org_slug, collection, None if tlp == "none" else TLP(tlp))
    except HubError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{org_slug}: collection {collection} ({collection_id}) default TLP: {tlp}")
