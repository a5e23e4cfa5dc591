"""The vocabularies of an incident report, shared by the form, the API and the STIX mapping."""
from __future__ import annotations

ATTACK_TYPES = {
    "ransomware": "Ransomware",
    "data_theft": "Data theft / extortion",
    "ddos": "DDoS",
    "phishing": "Phishing / business e-mail compromise",
    "supply_chain": "Supply-chain compromise",
    "insider": "Insider",
    "medical_device": "Medical-device compromise",
    "other": "Other",
}

SERVICES = {
    "ehr": "Electronic health record (EHR)",
    "imaging": "Imaging / PACS",
    "laboratory": "Laboratory",
    "pharmacy": "Pharmacy",
    "emergency": "Emergency department",
    "scheduling": "Scheduling",
    "telephony": "Telephony",
    "medical_devices": "Medical devices",
    "email": "E-mail",
    "network": "Network / internet access",
    "billing": "Billing / administration",
    "other": "Other",
}

PATIENT_CARE_DISRUPTED = ("yes", "no", "unknown")

# Human-impact figures: key -> (label, integer?)
IMPACT_FIGURES = {
    "diversions_count": ("Emergency diversions", True),
    "diversions_hours": ("Hours on diversion", False),
    "appointments_postponed": ("Appointments cancelled or postponed", True),
    "procedures_cancelled": ("Procedures cancelled or postponed", True),
    "patients_transferred": ("Patients transferred", True),
    "records_exposed": ("Records exposed", True),
    "downtime_hours": ("Hours of downtime", False),
}
