"""TLP claimed by marking definitions other than the published ones.

STIX 2.1 expresses TLP with the published marking definitions (hub.tlp), and the hub recognises
those. Some producers define their own: OpenCTI's connectors write TLP:CLEAR and AMBER+STRICT as
statement markings with `x_opencti_definition: "TLP:…"`, STIX 2.0-era tools a `definition_type:
"tlp"` under a fresh id, others only a name "TLP:RED". A consumer reads an object marked with
such a definition as that TLP. The hub did not: it gave the object the request's or the
collection's TLP (say GREEN) and shared it as such. Each share now reads what the sender's own
definitions claim (those sent with the objects, and those its organisation shared before) and
holds the objects they mark to the strictest TLP claimed.

Only the sender's: a definition another organisation stored under the same id (a copyright
statement's id, say, "claiming" TLP:CLEAR) must never decide the TLP of this organisation's
objects. A definition that STIX forbids (definition_type "tlp" under an id other than the
published ones) is refused and not stored: it counts for the objects sent with it only.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from hub import policy
from hub.db import StixIdMap, canonical_stix_id, id_in
from hub.extensions import db
from hub.intel.models import SharedItem, StixVersion
from hub.intel.store import load_json
from hub.principal import Principal
from hub.tlp import TLP, TLP2_EXTENSION_ID, TLP_BY_MARKING_ID


def tlp_claimed_by(definition) -> TLP | None:
    """The strictest TLP a marking-definition object says it is, or None."""
    if not isinstance(definition, dict) or definition.get("type") != "marking-definition":
        return None
    said = []
    kind, body = definition.get("definition_type"), definition.get("definition")
    if isinstance(kind, str) and kind.lower() == "tlp" and isinstance(body, dict):
        said.append(body.get("tlp"))
    extensions = definition.get("extensions")
    if isinstance(extensions, dict):
        for key, extension in extensions.items():  # an extension-definition id, in either case of hex
            if isinstance(key, str) and key.lower() == TLP2_EXTENSION_ID and isinstance(extension, dict):
                said.append(extension.get("tlp_2_0"))
    opencti_kind = definition.get("x_opencti_definition_type")
    if isinstance(opencti_kind, str) and opencti_kind.lower() == "tlp":
        said.append(definition.get("x_opencti_definition"))
    name = definition.get("name")
    if isinstance(name, str) and name.strip().lower().startswith("tlp:"):
        said.append(name)
    levels = []
    for value in said:
        try:
            levels.append(TLP.parse(value))
        except ValueError:  # not a TLP level (e.g. "TLP:PURPLE"): claims nothing
            continue
    return max(levels, key=lambda tlp: tlp.rank) if levels else None


# A marking reference worth looking up: anything else (a NUL, a wrong type) is refused with its
# object by the object's own checks, and must not reach the database before them.
_MARKING_ID = re.compile(r"\Amarking-definition--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def _marking_refs(raw) -> list[str]:
    refs = raw.get("object_marking_refs") if isinstance(raw, dict) else None
    return [ref for ref in refs if isinstance(ref, str) and _MARKING_ID.match(ref)] if isinstance(refs, list) else []


def _granular_refs(raw) -> list[str]:
    granulars = raw.get("granular_markings") if isinstance(raw, dict) else None
    if not isinstance(granulars, list):
        return []
    return [g["marking_ref"] for g in granulars
            if isinstance(g, dict) and isinstance(g.get("marking_ref"), str) and _MARKING_ID.match(g["marking_ref"])]


def claimed_tlps(principal: Principal, objects: list) -> StixIdMap:
    """Marking-definition id → TLP, for the definitions other than the published TLP ones that
    claim a TLP: those among `objects`, and those the objects reference (as object or granular
    markings) that the sharer's organisation holds and the sharer may read, in any version (one
    query: a definition the sharer may not read answers nothing, not even that it exists)."""
    claims = StixIdMap()
    for raw in objects:
        if isinstance(raw, dict) and raw.get("type") == "marking-definition" and isinstance(raw.get("id"), str):
            tlp = tlp_claimed_by(raw)
            if tlp is not None and raw["id"] not in TLP_BY_MARKING_ID:
                _stricter(claims, raw["id"], tlp)
    # Also for the definitions sent here: a copy sent again without its claim does not lower the
    # stored one (the hub keeps the version it holds; the strictest claim of any version counts).
    unknown = {canonical_stix_id(ref) for raw in objects for ref in _marking_refs(raw) + _granular_refs(raw)
               if ref not in TLP_BY_MARKING_ID}
    if unknown:
        bodies = db.session.execute(
            select(SharedItem.stix_id, StixVersion.body)
            .join(StixVersion, StixVersion.item_id == SharedItem.id)
            .where(id_in(SharedItem.stix_id, sorted(unknown)), SharedItem.stix_type == "marking-definition",
                   policy.owned_by_org_of(principal, SharedItem.owner_org_id), policy.readable_items(principal))
        ).all()
        for stix_id, body in bodies:
            tlp = tlp_claimed_by(load_json(body))
            if tlp is not None:
                _stricter(claims, stix_id, tlp)
    return claims


def _stricter(claims: StixIdMap, marking_id: str, tlp: TLP) -> None:
    held = claims.get(marking_id)
    if held is None or tlp.rank > held.rank:
        claims[marking_id] = tlp
