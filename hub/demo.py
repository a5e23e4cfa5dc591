"""Demo data: the organisations of the product story, their users, a sharing group, a few shares,
and the default warning lists.

Idempotent: what exists is left alone, and demo objects have fixed STIX ids.
"""
from __future__ import annotations

import uuid

from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.models import Organisation, SharingGroup, User
from hub.extensions import db
from hub.intel import warninglist_sources
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.tlp import TLP
from hub.principal import Principal
from hub.incidents import cases, summaries
from hub.incidents.filing import file_incident
from hub.incidents.models import Incident

DEMO_PASSWORD = "healthcert-demo"
_DEMO_NS = uuid.UUID("0b0a7c1e-5f0e-4c55-8d4b-6f1f7f6c2d10")

DEMO_ORGS = [
    ("fn-brno", "University Hospital Brno", "hospital", "CZ"),
    ("fn-ostrava", "University Hospital Ostrava", "hospital", "CZ"),
    ("cert-cz", "CERT-CZ (national CSIRT)", "national_cert", "CZ"),
    ("hc-sao-paulo", "Hospital das Clinicas Sao Paulo", "hospital", "BR"),
    ("cert-br", "CERT.br", "national_cert", "BR"),
    ("policie-cz", "Police CZ - Cybercrime Unit", "law_enforcement", "CZ"),
    ("medidevice", "MediDevice Systems (vendor)", "vendor", "DE"),
]
DEMO_USERS = [
    ("admin@fn-brno.demo", "fn-brno", "admin"),
    ("analyst@fn-brno.demo", "fn-brno", "analyst"),
    ("viewer@fn-brno.demo", "fn-brno", "viewer"),
    ("admin@fn-ostrava.demo", "fn-ostrava", "admin"),
    ("analyst@fn-ostrava.demo", "fn-ostrava", "analyst"),
    ("admin@cert-cz.demo", "cert-cz", "admin"),
    ("analyst@cert-cz.demo", "cert-cz", "analyst"),
    ("analyst@hc-sao-paulo.demo", "hc-sao-paulo", "analyst"),
    ("analyst@cert-br.demo", "cert-br", "analyst"),
    ("liaison@policie-cz.demo", "policie-cz", "analyst"),
    ("psirt@medidevice.demo", "medidevice", "analyst"),
]
DEMO_GROUP = ("cz-health", "CZ hospitals + CERT-CZ", ["fn-brno", "fn-ostrava", "cert-cz"])


def _demo_id(object_type: str, name: str) -> str:
    return f"{object_type}--{uuid.uuid5(_DEMO_NS, name)}"


def _indicator(name: str, pattern: str, description: str) -> dict:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _demo_id("indicator", name),
        "created": "2026-11-02T08:00:00.000Z",
        "modified": "2026-11-02T08:00:00.000Z",
        "name": name,
        "description": description,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-02T08:00:00.000Z",
    }


def seed_demo() -> list[str]:
    """Create what is missing; return the lines to print (the logins)."""
    for slug, name, kind, country in DEMO_ORGS:
        if not db.session.scalar(select(Organisation).where(Organisation.slug == slug)):
            accounts.create_org(slug, name, kind, country)
    for email, org, role in DEMO_USERS:
        if not db.session.scalar(select(User).where(User.email == email)):
            accounts.create_user(email, org, role, DEMO_PASSWORD)
    slug, name, members = DEMO_GROUP
    if not db.session.scalar(select(SharingGroup).where(SharingGroup.slug == slug)):
        accounts.create_group(slug, name, members)

    brno = Principal.of(accounts.user_by_email("analyst@fn-brno.demo"))
    share_objects(
        brno,
        [_indicator("Ransomware C2 seen at FN Brno", "[ipv4-addr:value = '203.0.113.66']",
                    "Cobalt Strike beacon traffic from the imaging network.")],
        audience=resolve_audience(brno, "community"), tlp=TLP.green,
    )
    share_objects(
        brno,
        [_indicator("Phishing domain targeting CZ hospitals", "[domain-name:value = 'nemocnice-portal.example']",
                    "Credential phishing against EHR logins.")],
        audience=resolve_audience(brno, {"groups": ["cz-health"]}), tlp=TLP.amber,
    )
    _seed_incidents()
    # The default warning lists (public resolvers, reserved ranges, CDNs, top domains): the demo's
    # indicators use documentation addresses (RFC 5737), so the item pages show the flag.
    held = {record.name for record in warninglist_sources.loaded()}
    missing = [name for name in warninglist_sources.DEFAULT_LISTS if name not in held]
    if missing:
        warninglist_sources.load(missing)
    lines = ["Demo organisations and users (password for all: %s):" % DEMO_PASSWORD]
    for email, org, role in DEMO_USERS:
        lines.append(f"  {email:<28} {role:<8} {org}")
    return lines


DEMO_INCIDENT_TITLE = "Ransomware stopped imaging and the EHR"


def _seed_incidents() -> None:
    """A significant ransomware incident at FN Brno, shared with law enforcement, and an
    anonymised summary from Sao Paulo: enough to see the NIS2 queue, a case and the dashboard."""
    if db.session.scalar(select(Incident).where(Incident.title == DEMO_INCIDENT_TITLE)):
        return
    brno = Principal.of(accounts.user_by_email("analyst@fn-brno.demo"))
    incident = file_incident(brno, {
        "title": DEMO_INCIDENT_TITLE,
        "started_at": "2026-11-20T01:40:00+01:00",
        "detected_at": "2026-11-20T03:05:00+01:00",
        "attack_type": "ransomware",
        "services": ["imaging", "ehr", "emergency"],
        "impact": {"patient_care_disrupted": "yes", "diversions_count": 3, "diversions_hours": 14,
                   "procedures_cancelled": 58, "appointments_postponed": 410, "patients_transferred": 4,
                   "downtime_hours": 36},
        "narrative": "PACS servers were encrypted overnight; the EHR was taken offline as a precaution. "
                     "Ambulances were diverted to neighbouring hospitals for 14 hours.",
        "threat_actor": "Akira",
        "indicators": [_demo_id("indicator", "Ransomware C2 seen at FN Brno")],
        "significant": True,
    })
    cases.grant_consent(Principal.of(accounts.user_by_email("admin@fn-brno.demo")), incident.stix_id, "policie-cz")
    sao_paulo = Principal.of(accounts.user_by_email("analyst@hc-sao-paulo.demo"))
    elsewhere = file_incident(sao_paulo, {
        "title": "Phishing led to e-mail account takeover",
        "detected_at": "2026-10-14T10:20:00-03:00",
        "attack_type": "phishing",
        "services": ["email", "scheduling"],
        "impact": {"patient_care_disrupted": "no", "appointments_postponed": 35, "downtime_hours": 6},
        "narrative": "Staff credentials were phished; scheduling e-mails were abused for fraud.",
    })
    summaries.publish_summary(sao_paulo, elsewhere.stix_id)
