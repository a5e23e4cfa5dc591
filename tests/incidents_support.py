"""A small healthcare world for incident tests, and a report a hospital would file."""
from __future__ import annotations

from dataclasses import dataclass

from hub.accounts.models import Organisation, User
from tests import factories as f


def report(**overrides) -> dict:
    body = {
        "title": "Ransomware encrypted the EHR",
        "started_at": "2026-03-28T02:10:00+01:00",
        "detected_at": "2026-03-28T06:45:00+01:00",
        "contained_at": None,
        "attack_type": "ransomware",
        "services": ["ehr", "imaging", "emergency"],
        "impact": {
            "patient_care_disrupted": "yes",
            "diversions_count": 4, "diversions_hours": 18.5,
            "appointments_postponed": 320, "procedures_cancelled": 41,
            "patients_transferred": 6, "records_exposed": 12000, "downtime_hours": 72,
            "ransom_demanded": {"amount": 2500000, "currency": "usd"},
        },
        "narrative": "Workstations in radiology were encrypted first; the EHR followed an hour later.",
        "threat_actor": "LockBit",
    }
    body.update(overrides)
    return body


@dataclass
class World:
    hospital: Organisation
    hospital_admin: User
    hospital_analyst: User
    hospital_viewer: User
    other_hospital_analyst: User
    cert: User
    foreign_cert: User
    police: User
    other_police: User
    vendor: User

    @property
    def everyone(self) -> dict[str, User]:
        return {
            "hospital-analyst": self.hospital_analyst, "hospital-viewer": self.hospital_viewer,
            "other-hospital": self.other_hospital_analyst, "cert-cz": self.cert,
            "cert-br": self.foreign_cert, "police": self.police, "other-police": self.other_police,
            "vendor": self.vendor,
        }


def build_world() -> World:
    hospital = f.make_org("hospital", "CZ")
    return World(
        hospital=hospital,
        hospital_admin=f.make_user(hospital, "admin"),
        hospital_analyst=f.make_user(hospital, "analyst"),
        hospital_viewer=f.make_user(hospital, "viewer"),
        other_hospital_analyst=f.make_user(f.make_org("hospital", "CZ"), "analyst"),
        cert=f.make_user(f.make_org("national_cert", "CZ"), "analyst"),
        foreign_cert=f.make_user(f.make_org("national_cert", "BR"), "analyst"),
        police=f.make_user(f.make_org("law_enforcement", "CZ"), "analyst"),
        other_police=f.make_user(f.make_org("law_enforcement", "CZ"), "analyst"),
        vendor=f.make_user(f.make_org("vendor", "CZ"), "analyst"),
    )
