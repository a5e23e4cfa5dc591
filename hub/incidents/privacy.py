"""Flag what looks like patient data in free text before it leaves the hospital.

The check runs server-side on every incident narrative, case message and summary text, for the
web form and the API alike. It looks for: person names beside dates of birth, medical record
numbers, national identity numbers (validated with python-stdnum, so random digit runs are not
flagged), phone numbers (Google's libphonenumber, validated for the hospital's country) and
e-mail addresses of individuals (role mailboxes like soc@ or abuse@ are not personal).
It favours recall over silence: the author confirms or redacts, and nothing is sent unseen.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from stdnum.br import cpf
from stdnum.cz import rc as cz_rc
from stdnum.sk import rc as sk_rc
from stdnum.us import ssn

PERSONAL_DATA_KINDS = {
    "name_with_birth_date": "a person's name beside a date of birth",
    "medical_record_number": "a medical record or patient number",
    "national_id": "a national identity number",
    "phone_number": "a phone number",
    "personal_email": "a personal e-mail address",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    excerpt: str


def mask(value: str) -> str:
    """Enough to find the spot again, never the value itself."""
    value = value.strip()
    if len(value) <= 2:
        return "•" * len(value)
    return value[0] + "•" * (len(value) - 2) + value[-1]


_DATE = r"(?:\d{1,2}\.\s?\d{1,2}\.\s?(?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/(?:19|20)\d{2})"
_BIRTH_CUE = r"(?:born|b\.|DOB|d\.o\.b\.|date of birth|nar\.|narozen[aá]?|datum narození|nascid[oa]|data de nascimento|dt\.? nasc\.?)"
_NAME = r"[A-ZÁČĎÉĚÍŇÓŘŠŤÚŮÝŽÃÂÊÔÕÇ][a-záčďéěíňóřšťúůýžãâêôõç]+(?:\s+[A-ZÁČĎÉĚÍŇÓŘŠŤÚŮÝŽÃÂÊÔÕÇ][a-záčďéěíňóřšťúůýžãâêôõç]+){1,2}"
_NAME_WITH_BIRTH = re.compile(
    rf"(?P<name>{_NAME})[\s,(]{{1,4}}(?:{_BIRTH_CUE})[\s:]*{_DATE}"
    rf"|(?P<name2>{_NAME})[\s,(]{{1,4}}\*\s?{_DATE}",  # "Jan Novák, * 12. 3. 1957"
)
_MRN = re.compile(
    r"(?:\bMRN\b|medical record(?: number| no\.?)?|patient (?:ID|number|no\.?)|č(?:íslo|\.)\s?pojištěnce"
    r"|prontuário|n[º°o]\.? do prontuário)\s*[:#]?\s*(?P<id>[A-Z0-9][A-Z0-9/-]{3,})",
    re.IGNORECASE,
)
_ID_CANDIDATE = re.compile(r"\b\d{6}/?\d{3,4}\b|\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b|\b\d{3}-\d{2}-\d{4}\b")
_EMAIL = re.compile(r"\b(?P<local>[A-Za-z0-9._%+-]+)@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_ROLE_MAILBOXES = {
    "abuse", "admin", "administrator", "cert", "csirt", "helpdesk", "hostmaster", "incident",
    "incidents", "info", "it", "mail", "noc", "noreply", "no-reply", "postmaster", "privacy",
    "security", "servicedesk", "soc", "support", "webmaster", "dpo", "office", "podatelna",
}
_PERSONAL_LOCAL = re.compile(r"^[a-z]+[._-][a-z]+\d*$|^[a-z]\.?[a-z]{2,}\d*$", re.IGNORECASE)


def _national_id(candidate: str) -> bool:
    return any(
        validator.is_valid(candidate) for validator in (cz_rc, sk_rc, cpf, ssn)
    )


def find_personal_data(text: str | None, country: str | None = None) -> list[Finding]:
    """Every span of `text` that looks like patient data, in order of position."""
    if not text:
        return []
    found: list[Finding] = []

    def add(kind: str, start: int, end: int) -> None:
        if not any(f.start < end and start < f.end for f in found):
            found.append(Finding(kind, start, end, mask(text[start:end])))

    for match in _NAME_WITH_BIRTH.finditer(text):
        add("name_with_birth_date", match.start(), match.end())
    for match in _MRN.finditer(text):
        add("medical_record_number", match.start("id"), match.end("id"))
    for match in _ID_CANDIDATE.finditer(text):
        if _national_id(match.group()):
            add("national_id", match.start(), match.end())
    region = (country or "").upper() or None
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        add("phone_number", match.start, match.end)
    for match in _EMAIL.finditer(text):
        local = match.group("local").lower()
        if local not in _ROLE_MAILBOXES and _PERSONAL_LOCAL.match(local):
            add("personal_email", match.start(), match.end())
    return sorted(found, key=lambda f: f.start)


def check_free_text(fields: dict[str, str | None], country: str | None = None) -> list[dict]:
    """API-ready problem details for every flagged span, field by field (empty: nothing flagged)."""
    return [
        {
            "field": field,
            "kind": finding.kind,
            "start": finding.start,
            "end": finding.end,
            "excerpt": finding.excerpt,
            "error": f"looks like {PERSONAL_DATA_KINDS[finding.kind]}; redact it, or confirm "
                     "that it may be shared (confirm_personal_data)",
        }
        for field, text in fields.items()
        for finding in find_personal_data(text, country)
    ]
