"""TAXII collections are audiences, seen from the caller's organisation.

- community: what was shared with every member organisation;
- one collection per sharing group of the caller's organisation;
- the caller's own organisation: what it shares and what is shared with it (or the caller) by name;
- everything: all the caller may read, read-only (what a SIEM connector points at).

Posting to a collection shares with its audience. Collection ids are UUIDs derived from the
audience (uuid5), so they stay the same across restarts, deployments and callers.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, exists, or_, select, true

from hub.accounts.models import Organisation, SharingGroup, group_members
from hub import audit, policy
from hub.errors import NotFound, ValidationFailed
from hub.extensions import db
from hub.intel.audience import Audience
from hub.intel.models import AudienceGrant, SharedItem
from hub.tlp import TLP
from hub.principal import Principal
from hub.taxii.models import TaxiiCollectionDefault

COLLECTION_NAMESPACE = uuid.UUID("3f5d2b7e-9c1a-4e8b-a6d4-0c2e7f9b1a55")
MEDIA_TYPES = ["application/stix+json;version=2.1"]


def collection_uuid(key: str) -> str:
    return str(uuid.uuid5(COLLECTION_NAMESPACE, key))


@dataclass(frozen=True)
class Collection:
    id: str
    alias: str
    title: str
    description: str
    can_read: bool
    can_write: bool
    # The audience posted objects are shared with; None for the read-only collection.
    audience: Audience | None
    # Which items it holds: `membership(kind, reader)`; a sharing group's id is a parameter.
    kind: str
    group_id: int | None = None
    default_tlp: TLP | None = None

    def parameters(self) -> dict:
        """The values `membership` leaves as parameters."""
        return {"collection_group_id": self.group_id} if self.kind == GROUP else {}

    def resource(self) -> dict:
        body = {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "alias": self.alias,
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": MEDIA_TYPES,
        }
        if self.default_tlp is not None:
            body["x_healthcert_default_tlp"] = self.default_tlp.value
        return body


def _granted(*conditions) -> ColumnElement[bool]:
    return exists(select(AudienceGrant.id).where(AudienceGrant.item_id == SharedItem.id, *conditions))


COMMUNITY, GROUP, OWN_ORGANISATION, EVERYTHING = "community", "group", "own_organisation", "everything"


def membership(kind: str, reader: policy.Reader) -> ColumnElement[bool]:
    """SQL on SharedItem: does a collection of this kind hold the item, for this reader?

    The reader's ids may be bind parameters (policy.statement_for_reader), and a sharing group's
    id is the parameter `collection_group_id` (`Collection.parameters`): one statement serves
    every reader of a kind and every collection of a kind.
    """
    if kind == COMMUNITY:
        return SharedItem.audience_community
    if kind == GROUP:
        return _granted(AudienceGrant.group_id == bindparam("collection_group_id"))
    if kind == OWN_ORGANISATION:
        named = [_granted(AudienceGrant.org_id == reader.org_id)]
        if reader.user_id is not None:
            named.append(_granted(AudienceGrant.user_id == reader.user_id))
        return or_(policy.owned_by_org_of(reader, SharedItem.owner_org_id), *named)
    if kind == EVERYTHING:
        return true()
    raise ValueError(f"no collection kind {kind}")


def _community(principal: Principal) -> Collection:
    return Collection(
        id=collection_uuid("community"),
        alias="community",
        title="Community",
        description="Shared with every member organisation. Posting here shares with the community.",
        can_read=True,
        can_write=principal.can_share,
        audience=Audience(community=True),
        kind=COMMUNITY,
    )


def _group(principal: Principal, group: SharingGroup) -> Collection:
    return Collection(
        id=collection_uuid(f"group:{group.slug}"),
        alias=f"group-{group.slug}",
        title=f"Sharing group: {group.name}",
        description=f"Shared with the sharing group {group.slug}. Posting here shares with that group.",
        can_read=True,
        can_write=principal.can_share,
        audience=Audience(group_ids=frozenset({group.id})),
        kind=GROUP,
        group_id=group.id,
    )


def _own_organisation(principal: Principal) -> Collection:
    return Collection(
        id=collection_uuid(f"org:{principal.org_slug}"),
        alias=f"org-{principal.org_slug}",
        title=f"Own organisation ({principal.org_slug})",
        description=(
            "What your organisation shares, and what others share with it or with you by name. "
            "Posting here shares with your organisation only."
        ),
        can_read=True,
        can_write=principal.can_share,
        audience=Audience(),
        kind=OWN_ORGANISATION,
    )


def _everything(principal: Principal) -> Collection:
    return Collection(
        id=collection_uuid("everything"),
        alias="everything",
        title="Everything you may read",
        description="Every object the sharing policy lets you read, from every audience. Read-only.",
        can_read=True,
        can_write=False,
        audience=None,
        kind=EVERYTHING,
    )


def _groups_of(principal: Principal) -> list[SharingGroup]:
    return db.session.scalars(
        select(SharingGroup)
        .join(group_members, group_members.c.group_id == SharingGroup.id)
        .where(group_members.c.org_id == principal.org_id)
        .order_by(SharingGroup.slug)
    ).all()


def _defaults_of(principal: Principal) -> dict[str, TLP]:
    return dict(db.session.execute(
        select(TaxiiCollectionDefault.collection_id, TaxiiCollectionDefault.tlp).where(
            TaxiiCollectionDefault.org_id == principal.org_id
        )
    ).all())


def _with_default(collection: Collection, defaults: dict[str, TLP]) -> Collection:
    if collection.id not in defaults or not collection.can_write:
        return collection
    return Collection(**{**collection.__dict__, "default_tlp": defaults[collection.id]})


def collections_for(principal: Principal) -> list[Collection]:
    """The caller's collections, in a stable order: community, groups, own organisation, everything."""
    found = [_community(principal), *(_group(principal, g) for g in _groups_of(principal)),
             _own_organisation(principal), _everything(principal)]
    defaults = _defaults_of(principal)
    return [_with_default(collection, defaults) for collection in found]


def collection_for(principal: Principal, collection_id: str, *, with_default: bool = False) -> Collection:
    """One of the caller's collections, by id or alias; NotFound for anything else.

    Reading a fixed collection costs no query; `with_default` adds the organisation's default
    TLP, which only posting needs.
    """
    found = None
    for fixed in (_community(principal), _own_organisation(principal), _everything(principal)):
        if collection_id in (fixed.id, fixed.alias):
            found = fixed
    if found is None:
        found = next((c for g in _groups_of(principal) for c in [_group(principal, g)]
                      if collection_id in (c.id, c.alias)), None)
    if found is None:
        raise NotFound(f"no collection {collection_id}")
    return _with_default(found, _defaults_of(principal)) if with_default else found


def set_default_tlp(org_slug: str, collection_alias: str, tlp: TLP | None, set_by_user_id: int | None = None) -> str:
    """Set (or clear, with None) an organisation's default TLP for one writable collection.

    Returns the collection id. Only audiences a member can post to take a default, and never
    TLP:RED, which only ever goes to named users.
    """
    if policy.named_users_only(tlp):
        raise ValidationFailed("TLP:RED cannot be a collection default",
                               [{"field": "tlp", "error": "RED is shared with named users only"}])
    org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    if org is None:
        raise NotFound(f"no organisation {org_slug}")
    if collection_alias == "community":
        collection_id = collection_uuid("community")
    elif collection_alias == f"org-{org.slug}":
        collection_id = collection_uuid(f"org:{org.slug}")
    elif collection_alias.startswith("group-"):
        slug = collection_alias.removeprefix("group-")
        member = db.session.scalar(
            select(SharingGroup.id)
            .join(group_members, group_members.c.group_id == SharingGroup.id)
            .where(SharingGroup.slug == slug, group_members.c.org_id == org.id)
        )
        if member is None:
            raise NotFound(f"{org_slug} is not a member of a sharing group {slug}")
        collection_id = collection_uuid(f"group:{slug}")
    else:
        raise NotFound(f"no writable collection {collection_alias} for {org_slug} "
                       f"(community, group-<slug> or org-{org.slug})")
    current = db.session.scalar(
        select(TaxiiCollectionDefault).where(
            TaxiiCollectionDefault.org_id == org.id, TaxiiCollectionDefault.collection_id == collection_id
        )
    )
    if tlp is None:
        if current is not None:
            db.session.delete(current)
    elif current is None:
        db.session.add(TaxiiCollectionDefault(org_id=org.id, collection_id=collection_id, tlp=tlp,
                                              set_by_user_id=set_by_user_id))
    else:
        current.tlp = tlp
        current.set_by_user_id = set_by_user_id
    audit.record("taxii_default_tlp", None, subject_org_id=org.id, collection=collection_alias,
                 tlp=tlp.value if tlp else None)
    db.session.commit()
    return collection_id
