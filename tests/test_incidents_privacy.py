"""The patient-data check that runs before free text leaves a hospital."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from hub.incidents.privacy import PERSONAL_DATA_KINDS, Finding, check_free_text, find_personal_data


def kinds(text: str, country: str | None = "CZ") -> list[str]:
    return [finding.kind for finding in find_personal_data(text, country)]


def flagged(text: str, country: str | None = "CZ") -> list[tuple[str, str]]:
    return [(finding.kind, text[finding.start:finding.end]) for finding in find_personal_data(text, country)]


NAME, MRN, NATIONAL_ID = "name_with_birth_date", "medical_record_number", "national_id"
PHONE, EMAIL = "phone_number", "personal_email"

# Realistic sentences from Czech, Brazilian and English reports, with the one value each should flag.
PATIENT_DATA = [
    # names beside dates of birth
    ("CZ", "Patient Jan Novák, born 12.3.1957, was moved to ICU.", NAME, "Jan Novák, born 12.3.1957"),
    ("CZ", "Pacientka Marie Dvořáková, nar. 3. 4. 1965, byla přeložena na JIP.",
     NAME, "Marie Dvořáková, nar. 3. 4. 1965"),
    ("CZ", "V uniklém souboru je Josef Svoboda, 67 let, narozen 12. března 1957.",
     NAME, "Josef Svoboda, 67 let, narozen 12. března 1957"),
    ("CZ", "Na snímku obrazovky: NOVÁK JAN, dat. nar. 01.02.1949.", NAME, "NOVÁK JAN, dat. nar. 01.02.1949"),
    ("CZ", "Výpis obsahoval řádek Jana Nováková * 1957 a další.", NAME, "Jana Nováková * 1957"),
    ("CZ", "Laboratorní nález pro Petr Černý (14. 7. 1962) byl zveřejněn.", NAME, "Petr Černý (14. 7. 1962"),
    ("BR", "Paciente Maria da Silva, nascida em 3 de abril de 1965, foi transferida.",
     NAME, "Maria da Silva, nascida em 3 de abril de 1965"),
    ("BR", "O print mostra João dos Santos (DN 05/11/1948) na fila da UTI.", NAME, "João dos Santos (DN 05/11/1948"),
    ("GB", "Maria Silva (DOB 1980-02-03) was transferred to another trust.", NAME, "Maria Silva (DOB 1980-02-03"),
    ("GB", "The leaked referral names John Smith, date of birth: March 12, 1957.",
     NAME, "John Smith, date of birth: March 12, 1957"),
    # medical record numbers
    ("GB", "Records of MRN: 44A55612 appeared on the leak site.", MRN, "44A55612"),
    ("GB", "The screenshot shows patient ID #PT-0048812 in the triage queue.", MRN, "PT-0048812"),
    ("CZ", "Útočník zveřejnil číslo pacienta 2026/004417 z urgentního příjmu.", MRN, "2026/004417"),
    ("CZ", "V e-mailu bylo č. pojištěnce 9401011234 a diagnóza.", MRN, "9401011234"),
    ("BR", "Nº do prontuário 778812-3 publicado no site do grupo.", MRN, "778812-3"),
    ("BR", "Vazou o cartão SUS 898 0010 7412 3456 de um paciente.", MRN, "898 0010 7412 3456"),
    # national identity numbers, validated by python-stdnum
    ("CZ", "rodné číslo 736028/5163 bylo v dumpu", NATIONAL_ID, "736028/5163"),
    ("CZ", "č. pojištěnce 7360285163 (rodné číslo) bylo v dumpu", NATIONAL_ID, "7360285163"),
    ("BR", "CPF 390.533.447-05 vazado junto com o laudo.", NATIONAL_ID, "390.533.447-05"),
    ("BR", "A planilha tinha o CPF 39053344705 na coluna B.", NATIONAL_ID, "39053344705"),
    ("US", "The billing export contained SSN 536-22-8726.", NATIONAL_ID, "536-22-8726"),
    ("IT", "Un referto con codice fiscale RSSMRA85T10A562S è stato pubblicato.", NATIONAL_ID, "RSSMRA85T10A562S"),
    ("PL", "W pliku był PESEL 44051401458.", NATIONAL_ID, "44051401458"),
    # phone numbers
    ("CZ", "Call the ward on +420 603 123 456.", PHONE, "+420 603 123 456"),
    ("CZ", "Syn pacienta volal z čísla 603 123 456.", PHONE, "603 123 456"),
    ("BR", "A família ligou do celular (11) 98765-4321 pedindo informações.", PHONE, "(11) 98765-4321"),
    ("GB", "The caller left 07911 123456 as a call-back number.", PHONE, "07911 123456"),
    # personal e-mail addresses
    ("CZ", "Contact jan.novak@fnbrno.cz for details.", EMAIL, "jan.novak@fnbrno.cz"),
    ("CZ", "Phishing přišel na j.novakova@nemocnice-x.cz ve 3:12.", EMAIL, "j.novakova@nemocnice-x.cz"),
    ("BR", "O atacante usou maria_silva80@gmail.com para o contato.", EMAIL, "maria_silva80@gmail.com"),
]


@pytest.mark.parametrize("country, text, kind, value", PATIENT_DATA)
def test_patient_data_is_flagged_with_its_kind_and_span(country, text, kind, value):
    assert flagged(text, country) == [(kind, value)]


@pytest.mark.parametrize("country, text", [
    ("GB", "On 12 March 2026 the EHR went down; Ryuk encrypted Microsoft Exchange."),
    ("GB", "The Emergency Department diverted ambulances for 18 hours starting 2026-03-28."),
    ("GB", "LockBit demanded 500000 EUR at 10:30; 1200 records were exfiltrated."),
    ("GB", "Beacon to 185.220.101.4:443, hash 44d88612fea8a8f36de82e1278abb02f, order 736028/5164."),
    ("GB", "Jane Smith from IT restored the backups on 14 March 2026 and FortiOS 7.2.4.1 was patched."),
    ("GB", "Windows Server 2012-03-04 builds were exposed; Microsoft Exchange (DOB field exported)."),
    ("GB", "The medical record system was encrypted; patient numbers rose to 40 on the ward."),
    ("GB", "Report to soc@fnbrno.cz, security.team@fnbrno.cz or abuse@example.net."),
    ("GB", "The ransom note asked victims to write to lockbit.support@onionmail.org or decrypt@tutanota.com."),
    ("CZ", "Dne 12. 3. 2026 v 6:40 zašifroval ransomware Akira servery Urgentního příjmu; NIS byl "
           "nedostupný do 14. 3. 2026. Útočníci požadovali 2 500 000 USD, ticket INC-2026-0042."),
    ("CZ", "Hlášení podal Ing. Petr Malý, 12.3.2026, kontakt podatelna@nemocnice-x.cz, linka 800 123 456."),
    ("CZ", "Časová razítka 1711651200 a 1735689600 odpovídají šifrování."),
    ("BR", "Em 28/03/2026 o prontuário eletrônico (PEP) ficou indisponível por 36 horas; o grupo Qilin "
           "publicou 2,3 GB em 02/04/2026; beacon para 185.220.101.4. Contato: cert@hsl.org.br, SAC 0800 123 4567."),
    ("BR", "Nemocnice Na Bulovce e Hospital São Lucas, 12.3.1957 foi o ano de fundação."),
])
def test_ordinary_incident_prose_is_not_flagged(country, text):
    assert flagged(text, country) == []


def test_a_recent_date_beside_a_name_is_an_event_but_an_old_one_a_birthday():
    this_year = date.today().year
    assert kinds(f"Updated by Petra Malá, 12.3.{this_year} 14:00") == []
    assert kinds(f"Jan Novák {this_year}-03-12 restored the backups.") == []
    assert kinds("Jan Novák (12. 3. 1957) byl přeložen.") == ["name_with_birth_date"]
    assert kinds(f"Jan Novák, born 12.3.{this_year}, in the neonatal unit.") == ["name_with_birth_date"]


def test_bare_digit_runs_are_only_tried_as_the_hospitals_own_national_ids():
    assert kinds("ID 39053344705", "BR") == ["national_id"]
    assert kinds("ID 39053344705", "CZ") == []
    assert kinds("ID 7360285163", "CZ") == ["national_id"]
    assert kinds("ID 7360285163", "BR") == []
    # formatted numbers are distinctive enough for everyone, and an unknown country tries all
    assert kinds("CPF 390.533.447-05", "CZ") == ["national_id"]
    assert kinds("ID 39053344705", None) == ["national_id"]


def test_an_invalid_checksum_is_not_a_national_id():
    assert kinds("rodné číslo 736028/5164", "CZ") == []
    assert kinds("CPF 390.533.447-06", "BR") == []


def test_phone_numbers_are_read_for_the_hospitals_country():
    assert kinds("volejte 603 123 456", "CZ") == ["phone_number"]
    assert kinds("volejte 603 123 456", "BR") == []
    assert kinds("volejte +420 603 123 456", "BR") == ["phone_number"]
    assert kinds("volejte +420 603 123 456", None) == ["phone_number"]
    assert kinds("volejte 603 123 456", "cz") == ["phone_number"]


def test_every_kind_in_one_text_is_reported_in_order():
    text = ("Pacient Jan Novák, nar. 12.3.1957, r. č. 570312/0010? Ne: 736028/5163, MRN 44A55612, "
            "tel. +420 603 123 456, e-mail jan.novak@seznam.cz.")
    assert kinds(text) == ["name_with_birth_date", "national_id", "medical_record_number",
                           "phone_number", "personal_email"]
    assert {finding.kind for finding in find_personal_data(text, "CZ")} == set(PERSONAL_DATA_KINDS)


@pytest.mark.parametrize("country, text, kind, value", PATIENT_DATA)
def test_excerpts_never_echo_the_flagged_value(country, text, kind, value):
    [finding] = find_personal_data(text, country)
    assert finding.excerpt != value and len(finding.excerpt) == len(value)
    assert finding.excerpt[0] == value[0] and finding.excerpt[-1] == value[-1]
    assert set(finding.excerpt[1:-1]) == {"•"}


def test_an_excerpt_hides_the_surname_and_the_digits():
    [name] = find_personal_data("Patient Jan Novák, born 12.3.1957, was moved.", "CZ")
    [cpf] = find_personal_data("CPF 390.533.447-05 vazado", "BR")
    assert "Novák" not in name.excerpt and "1957" not in name.excerpt
    assert "533" not in cpf.excerpt and "447" not in cpf.excerpt


def test_findings_are_immutable():
    [finding] = find_personal_data("Contact jan.novak@fnbrno.cz", "CZ")
    assert isinstance(finding, Finding)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.kind = "nothing"


def test_details_name_the_field_and_say_what_to_do():
    details = check_free_text({"title": "Outage", "narrative": "Ask jan.novak@fnbrno.cz", "body": None}, "CZ")
    assert details == [{
        "field": "narrative", "kind": "personal_email", "start": 4, "end": 23, "excerpt": "j•••••••••••••••••z",
        "error": "looks like a personal e-mail address; redact it or confirm it may be shared",
    }]


def test_details_cover_every_field_in_the_order_given():
    details = check_free_text({
        "title": "MRN 44A55612 leaked",
        "narrative": "Paciente Maria Silva (DN 05/11/1948), celular (11) 98765-4321.",
    }, "BR")
    assert [(d["field"], d["kind"]) for d in details] == [
        ("title", "medical_record_number"),
        ("narrative", "name_with_birth_date"),
        ("narrative", "phone_number"),
    ]
    assert all(d["error"].startswith("looks like " + PERSONAL_DATA_KINDS[d["kind"]]) for d in details)


def test_empty_text_is_clean():
    assert check_free_text({"narrative": None, "body": ""}) == []
    assert check_free_text({}) == []
    assert find_personal_data("", "CZ") == []
