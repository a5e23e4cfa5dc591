"""The patient-data check that runs before free text leaves a hospital."""
from __future__ import annotations

import pytest

from hub.incidents.privacy import check_free_text, find_personal_data


def kinds(text: str, country: str = "CZ") -> list[str]:
    return [finding.kind for finding in find_personal_data(text, country)]


@pytest.mark.parametrize("text, expected", [
    ("Patient Jan Novák, born 12.3.1957, was moved to ICU.", ["name_with_birth_date"]),
    ("Pacientka Marie Dvořáková, nar. 3. 4. 1965, přeložena.", ["name_with_birth_date"]),
    ("Maria Silva (DOB 1980-02-03) was transferred.", ["name_with_birth_date"]),
    ("Records of MRN: 44A55612 appeared on the leak site.", ["medical_record_number"]),
    ("Nº do prontuário 778812-3 publicado.", ["medical_record_number"]),
    ("rodné číslo 736028/5163 bylo v dumpu", ["national_id"]),
    ("CPF 390.533.447-05 vazado", ["national_id"]),
    ("Call the ward on +420 603 123 456.", ["phone_number"]),
    ("Contact jan.novak@fnbrno.cz for details.", ["personal_email"]),
])
def test_patient_data_is_flagged(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize("text", [
    "On 12.3.2026 the EHR went down; Ryuk encrypted Microsoft Exchange.",
    "The Emergency Department diverted ambulances for 18 hours starting 2026-03-28.",
    "LockBit demanded 500000 EUR at 10:30; 1200 records were exfiltrated.",
    "Beacon to 185.220.101.4, hash 44d88612fea8a8f36de82e1278abb02f, order 736028/5164.",
    "Report to soc@fnbrno.cz or abuse@example.net.",
])
def test_ordinary_incident_prose_is_not_flagged(text):
    assert kinds(text) == []


def test_findings_never_echo_the_value_in_full():
    [finding] = find_personal_data("CPF 390.533.447-05 vazado", "BR")
    assert "533.447" not in finding.excerpt and finding.excerpt.startswith("3")


def test_details_name_the_field_and_say_what_to_do():
    details = check_free_text({"title": "Outage", "narrative": "Ask jan.novak@fnbrno.cz"}, "CZ")
    assert [(d["field"], d["kind"]) for d in details] == [("narrative", "personal_email")]
    assert "confirm" in details[0]["error"]
    assert check_free_text({"narrative": None, "body": ""}) == []
