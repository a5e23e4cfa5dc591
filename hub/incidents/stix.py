"""An incident report as STIX 2.1: the `incident` SDO with the OASIS Incident Core extension and
the hub's healthcare extension, an optional threat actor, and relationships.

Choices, from reading the OASIS definitions in oasis-open/cti-stix-common-objects:
- Incident Core (extension-definition--ef765651-…) carries determination, investigation status,
  incident types and the impact arrays it defines (`confidentiality_impacts` for exposed records,
  `monetary_impacts` for a ransom demand).
- The separate Impact SDO (extension-definition--7cc33dd6-…) names its category extensions
  `availability`, `monetary`, …: keys that STIX 2.1 forbids (an extension key must end in `-ext`
  or be an extension-definition id), so stix2-validator rejects every such object. The hub serves
  only valid STIX, so it carries impacts in the Incident Core arrays instead, and the human impact
  that neither definition has a home for in the hub's own extension below.
- Links to indicators, and the hospital's sightings of them, are not stored as objects: a
  relationship or sighting is visible only if both ends are (policy rule 7), so they are built
  per reader when a bundle is exported.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from hub import policy
from hub.tlp import TLP, TLP2_MARKING_IDS, marking_definition

INCIDENT_CORE_EXTENSION = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
HUB_HEALTHCARE_EXTENSION = "extension-definition--5f0c1c8e-3a57-4d5e-9b0a-6c1f2d4e8a91"
HUB_IDENTITY_ID = "identity--8e2b7c4a-1f3d-4c6b-9a5e-2d7f0b3c6e14"
_PUBLISHED = "2026-11-23T00:00:00.000Z"
# Deterministic ids for the objects filed with an incident, so that revisions version them.
_ID_NAMESPACE = uuid.UUID("3b0f4f1e-7d2a-4e8b-a6c5-9d1e2f3a4b5c")

INCIDENT_TYPES = {
    "ransomware": "ransomware",
    "data_theft": "data-theft-extortion",
    "ddos": "denial-of-service",
    "phishing": "phishing",
    "supply_chain": "supply-chain-compromise",
    "insider": "insider",
    "medical_device": "medical-device-compromise",
    "other": "other",
}


def stamp(value: datetime) -> str:
    """A STIX timestamp with millisecond precision, in UTC."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def hub_identity() -> dict:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": HUB_IDENTITY_ID,
        "created": _PUBLISHED,
        "modified": _PUBLISHED,
        "name": "HealthCERT Hub",
        "identity_class": "system",
    }


def incident_core_extension_definition() -> dict:
    """The OASIS object as published in oasis-open/cti-stix-common-objects (version 1.1.0)."""
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": INCIDENT_CORE_EXTENSION,
        "name": "Incident Core Extension",
        "description": "A core extension of the Incident object to allow core details of the Incident to be "
                       "shared while tracking major details tied to the incident's timeline.",
        "created": "2020-10-19T20:51:00.000Z",
        "modified": "2022-10-27T15:09:00.000Z",
        "created_by_ref": "identity--8ce3f695-d5a4-4dc8-9e93-a65af453a31a",
        "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/main/"
                  "extension-definition-specifications/incident-core",
        "version": "1.1.0",
        "extension_types": ["property-extension"],
    }


def hub_extension_definition(schema_url: str) -> dict:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": HUB_HEALTHCARE_EXTENSION,
        "created_by_ref": HUB_IDENTITY_ID,
        "created": _PUBLISHED,
        "modified": _PUBLISHED,
        "name": "HealthCERT Hub healthcare incident impact",
        "description": "Human impact of an incident on a healthcare provider: patient care, emergency "
                       "diversions, cancelled care, transfers, downtime, affected clinical services.",
        "schema": schema_url,
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


def hub_extension_schema() -> dict:
    count = {"type": "integer", "minimum": 0}
    hours = {"type": "number", "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "HealthCERT Hub healthcare incident impact",
        "type": "object",
        "required": ["extension_type"],
        "additionalProperties": False,
        "properties": {
            "extension_type": {"const": "property-extension"},
            "attack_type": {"type": "string"},
            "affected_services": {"type": "array", "items": {"type": "string"}},
            "started": {"type": "string", "format": "date-time"},
            "detected": {"type": "string", "format": "date-time"},
            "contained": {"type": "string", "format": "date-time"},
            "patient_care_disrupted": {"enum": ["yes", "no", "unknown"]},
            "emergency_diversions": {"type": "object", "additionalProperties": False,
                                     "properties": {"count": count, "hours": hours}},
            "appointments_postponed": count,
            "procedures_cancelled": count,
            "patients_transferred": count,
            "records_exposed": count,
            "downtime_hours": hours,
            "significant_nis2": {"type": "boolean"},
        },
    }


def derived_id(object_type: str, incident_id: str, *parts: str) -> str:
    """Stable across revisions; shaped as a UUIDv4, which STIX recommends for SDOs and SROs."""
    digest = uuid.uuid5(_ID_NAMESPACE, "|".join((incident_id, *parts))).bytes
    return f"{object_type}--{uuid.UUID(bytes=digest, version=4)}"


def incident_objects(
    data: dict, *, stix_id: str, created: datetime, modified: datetime, tlp: TLP
) -> list[dict]:
    """The STIX objects filed for one revision of a report (validated later by the ingest)."""
    if policy.named_users_only(tlp):
        raise ValueError("incident reports are never TLP:RED")
    marking = [TLP2_MARKING_IDS[tlp]]
    common = {"spec_version": "2.1", "created": stamp(created), "modified": stamp(modified),
              "object_marking_refs": marking}
    impact = data.get("impact") or {}

    core = {
        "extension_type": "property-extension",
        "determination": "successful-attempt",
        "investigation_status": "contained" if data.get("contained_at") else "open",
        "incident_types": [INCIDENT_TYPES[data["attack_type"]]],
    }
    if impact.get("records_exposed"):
        core["confidentiality_impacts"] = [{
            "information_type": "patient-records",
            "loss_type": "confirmed-loss",
            "record_count": impact["records_exposed"],
        }]
    ransom = impact.get("ransom_demanded")
    if ransom:
        core["monetary_impacts"] = [{
            "variety": "ransom-demand",
            "currency": ransom["currency"].lower(),
            "min_amount": ransom["amount"],
            "max_amount": ransom["amount"],
        }]

    healthcare = {"extension_type": "property-extension", "attack_type": data["attack_type"],
                  "affected_services": list(data.get("services") or []),
                  "significant_nis2": bool(data.get("significant"))}
    for key, name in (("started_at", "started"), ("detected_at", "detected"), ("contained_at", "contained")):
        if data.get(key):
            healthcare[name] = stamp(datetime.fromisoformat(data[key]))
    if impact.get("patient_care_disrupted"):
        healthcare["patient_care_disrupted"] = impact["patient_care_disrupted"]
    diversions = {k: impact[f"diversions_{k}"] for k in ("count", "hours") if impact.get(f"diversions_{k}") is not None}
    if diversions:
        healthcare["emergency_diversions"] = diversions
    for key in ("appointments_postponed", "procedures_cancelled", "patients_transferred",
                "records_exposed", "downtime_hours"):
        if impact.get(key) is not None:
            healthcare[key] = impact[key]

    incident = {
        "type": "incident",
        "id": stix_id,
        **common,
        "name": data["title"],
        "extensions": {INCIDENT_CORE_EXTENSION: core, HUB_HEALTHCARE_EXTENSION: healthcare},
    }
    if data.get("narrative"):
        incident["description"] = data["narrative"]
    objects = [incident]

    actor_name = (data.get("threat_actor") or "").strip()
    if actor_name:
        actor_id = derived_id("threat-actor", stix_id, "threat-actor", actor_name.casefold())
        objects.append({"type": "threat-actor", "id": actor_id, **common, "name": actor_name})
        # STIX 2.1 suggests no relationship from an incident to a threat actor (attributed-to
        # runs from campaigns and intrusion sets): the common related-to, described. A new id,
        # so that no earlier export's attributed-to object gets a second, different form.
        objects.append({
            "type": "relationship",
            "id": derived_id("relationship", stix_id, "related-to", actor_id),
            **common,
            "relationship_type": "related-to",
            "description": f"The reporting organisation attributes this incident to {actor_name}.",
            "source_ref": stix_id,
            "target_ref": actor_id,
        })
    return objects


def indicator_relationships(stix_id: str, target_ids, *, created: datetime, tlp: TLP) -> list[dict]:
    """`related-to` links from the incident to indicators, built per reader at export time."""
    return [
        {
            "type": "relationship",
            "spec_version": "2.1",
            "id": derived_id("relationship", stix_id, "related-to", target_id),
            "created": stamp(created),
            "modified": stamp(created),
            "relationship_type": "related-to",
            "source_ref": stix_id,
            "target_ref": target_id,
            "object_marking_refs": [TLP2_MARKING_IDS[tlp]],
        }
        for target_id in target_ids
    ]


def organisation_identity(org) -> dict:
    """The hospital as a STIX identity (incident reports are never anonymous to their readers)."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": org.identity_id,
        "created": _PUBLISHED,
        "modified": _PUBLISHED,
        "name": org.name,
        "identity_class": "organization",
        "sectors": ["healthcare"],
    }


def indicator_sightings(stix_id: str, indicator_ids, *, where_sighted_ref: str, first_seen: datetime,
                        created: datetime, tlp: TLP) -> list[dict]:
    """"We saw this too": a sighting of each linked indicator at the hospital during the incident.
    STIX forbids relationships to sightings, so the sighting names the incident in its
    description. Built per reader at export, like the links (rule 7)."""
    objects = []
    for indicator_id in indicator_ids:
        sighting_id = derived_id("sighting", stix_id, "sighting", indicator_id)
        objects.append({
            "type": "sighting",
            "spec_version": "2.1",
            "id": sighting_id,
            "created": stamp(created),
            "modified": stamp(created),
            "first_seen": stamp(first_seen),
            "count": 1,
            "sighting_of_ref": indicator_id,
            "where_sighted_refs": [where_sighted_ref],
            "description": f"Seen during incident {stix_id}",
            "object_marking_refs": [TLP2_MARKING_IDS[tlp]],
        })
    return objects


def export_bundle(objects: list[dict], schema_url: str) -> dict:
    """A bundle carrying the objects plus the marking and extension definitions they use."""
    used_tlps = {tlp for tlp, marking_id in TLP2_MARKING_IDS.items()
                 for obj in objects if marking_id in obj.get("object_marking_refs", [])}
    definitions = [marking_definition(tlp) for tlp in sorted(used_tlps, key=lambda t: t.rank)]
    definitions += [hub_identity(), incident_core_extension_definition(), hub_extension_definition(schema_url)]
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": definitions + objects,
    }
