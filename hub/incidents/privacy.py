"""Flag what looks like patient data in free text before it leaves the hospital.

The check runs server-side on every incident narrative, case message and summary text, for the
web form and the API alike; the author then redacts or confirms. Detected:

- a person's name beside a date of birth: two or more capitalised name-like words near a birth cue
  ("born", "DOB", "nar.", "nascida em", "*") and a date, or right beside a date that is at least a
  few years old ("Jan Novák (12. 3. 1957)"); recent dates beside names are event times, not births;
- medical record numbers: an id containing a digit right after a cue (MRN, patient ID, č. pojištěnce,
  prontuário, cartão SUS ...);
- national identity numbers, validated with python-stdnum so that random digit runs are not flagged;
  bare digit runs (no separators) are only tried for the hospital's own country, or all if unknown;
- phone numbers: libphonenumber, valid for the hospital's country (or written with +country code);
  toll-free and shared-cost service numbers are not personal;
- e-mail addresses whose local part looks like a person (jan.novak@, m_silva80@), not a mailbox role
  (soc@, security.team@, lockbit.support@).

Known limits: single-word or initial-only names ("J. Novák", "jnovak@") and a date of birth without
a name are missed; names are recognised by capitals, so a two-word place or product beside an old
date can be flagged; every valid phone number is flagged, the hospital's switchboard too; bare
10/11-digit numbers of the hospital's country can pass a checksum by chance.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import phonenumbers
from stdnum.at import vnr as at_vnr
from stdnum.br import cpf
from stdnum.cz import rc as cz_rc
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni, nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.it import codicefiscale as it_cf
from stdnum.pl import pesel as pl_pesel
from stdnum.pt import cc as pt_cc
from stdnum.se import personnummer as se_pnr
from stdnum.sk import rc as sk_rc
from stdnum.us import ssn as us_ssn

PERSONAL_DATA_KINDS = {
    "name_with_birth_date": "a person's name beside a date of birth",
    "medical_record_number": "a medical record or patient number",
    "national_id": "a national identity number",
    "phone_number": "a phone number",
    "personal_email": "a personal e-mail address",
}


@dataclass(frozen=True)
class Finding:
    """One flagged span: text[start:end] is the value; excerpt shows it masked, safe to echo back."""

    kind: str
    start: int
    end: int
    excerpt: str


def mask(value: str) -> str:
    """Enough to find the spot again, never the value itself."""
    value = value.strip()
    if len(value) <= 4:
        return "•" * len(value)
    return value[0] + "•" * (len(value) - 2) + value[-1]


# --- names beside dates of birth -------------------------------------------------------------

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
    r"|ledna|února|března|dubna|května|července|června|srpna|září|října|listopadu|prosince"
    r"|janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro"
)
_DATE = (
    r"(?:\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})(?!\d)"       # 12.3.1957, 3. 4. 1965, 12.3.57
    r"|\d{1,2}[/-]\d{1,2}[/-](?:\d{4}|\d{2})(?!\d)"          # 03/02/1980
    r"|\d{4}-\d{2}-\d{2}(?!\d)"                              # 1980-02-03
    rf"|\d{{1,2}}\.?\s(?:de\s)?(?:{_MONTHS})\.?\s(?:de\s)?\d{{4}}"  # 12 March 1957, 3 de abril de 1965
    rf"|(?:{_MONTHS})\.?\s\d{{1,2}},?\s\d{{4}})"             # March 12, 1957
)
_BIRTH_CUE = (
    r"(?:born(?:\son|\sin)?|b\.|DOB|d\.\s?o\.\s?b\.?|date\sof\sbirth|birth\s?date"
    r"|nar\.|narozen[aáý]?(?:\sdne)?|datum\snarození|dat\.\snar\."
    r"|nascid[oa](?:\sem)?|nasc\.|data\sde\snascimento|dt\.?\snasc\.?|(?-i:DN)|\*)"
)
_BIRTH_YEAR = r"(?:19|20)\d{2}\b"
# name ... born <date>: a short gap inside the same sentence, then the cue and the date (or just a year)
_CUE_AFTER = re.compile(
    rf"[^.;!?\n]{{0,30}}?(?<![^\W\d_]){_BIRTH_CUE}[\s:,]*(?:{_DATE}|{_BIRTH_YEAR})", re.IGNORECASE)
_DATE_AFTER = re.compile(rf"[ ,(\[]{{1,3}}(?P<date>{_DATE})", re.IGNORECASE)
_DATE_BEFORE = re.compile(
    rf"(?:(?<![^\W\d_])(?P<cue>{_BIRTH_CUE})[\s:]*)?(?P<date>{_DATE})[ ,:)\]–-]{{1,3}}$", re.IGNORECASE)
# Without a birth cue, a date this recent beside a name is when something happened, not a birthday.
_RECENT_YEARS = 3

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PARTICLES = frozenset("da das de del della der di do dos du la le van von y".split())
# Capitalised words that start sentences or name units, products and malware in incident prose.
_NOT_NAMES = frozenset("""
    a after all also an and at before but by during for from he her his in it its of on or our she since
    so that the their then they this to we when while with yesterday today tomorrow
    ve na od do po při v z se je jsme byl byla bylo dne dnes včera ten ta to tento tato naše náš
    o os as em no na nos nas ao um uma de do da dos das ontem hoje nosso nossa foi
    patient patients pacient pacientka pacienta paciente pacientes mr mrs ms dr mudr pan paní sr sra
    nurse doctor sestra lékař médico enfermeira
    hospital nemocnice hospitalar clinic klinika clínica emergency department ward unit intensive care
    urgent urgency radiology laboratory pharmacy oncology cardiology surgery pediatrics icu
    oddělení urgentní příjem ambulance jip pronto socorro uti setor são sao santa santo
    microsoft exchange windows server office outlook azure teams active directory cisco fortinet
    fortigate citrix netscaler vmware esxi vcenter linux oracle sap epic cerner philips siemens
    pacs ehr his lis ris vpn rdp soc cert csirt nis nukib anpd
    ryuk lockbit conti blackcat alphv akira rhysida qilin medusa royal play hive emotet trickbot
    qakbot cobalt strike mimikatz black basta
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
""".split())


def _name_like(word: str) -> bool:
    return (word[0].isupper() and len(word) >= 2 and word.lower() not in _NOT_NAMES
            and (not word.isupper() or len(word) >= 3))


def _names(text: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, titlecase) of each run of two or more adjacent name-like words."""
    run: list[re.Match] = []

    def close():
        while run and run[-1].group().lower() in _PARTICLES:
            run.pop()
        names = [w for w in run if w.group().lower() not in _PARTICLES]
        if len(names) >= 2:
            yield run[0].start(), run[-1].end(), not any(w.group().isupper() for w in names)
        run.clear()

    for word in _WORD.finditer(text):
        if run and text[run[-1].end():word.start()] not in (" ", "\u00a0"):
            yield from close()
        value = word.group()
        if _name_like(value) or (run and value.lower() in _PARTICLES):
            run.append(word)
        else:
            yield from close()
    yield from close()


def _old_enough(date_text: str) -> bool:
    year = re.search(r"(?:19|20)\d{2}", date_text)
    return bool(year) and int(year.group()) <= date.today().year - _RECENT_YEARS


def _names_with_birth_dates(text: str) -> Iterator[tuple[int, int]]:
    for start, end, titlecase in _names(text):
        if match := _CUE_AFTER.match(text, end):
            yield start, match.end()
        elif titlecase and (match := _DATE_AFTER.match(text, end)) and _old_enough(match.group("date")):
            yield start, match.end()
        elif match := _DATE_BEFORE.search(text[max(0, start - 60):start]):
            if match.group("cue") or (titlecase and _old_enough(match.group("date"))):
                yield start - len(match.group()), end


# --- medical record numbers --------------------------------------------------------------------

_MRN_CUE = (
    r"\b(?:MRNs?|medical\srecords?(?:\snumbers?|\snos?\.?|\s\#)?|patient\s(?:IDs?|numbers?|nos?\.|\#)"
    r"|hospital\snumbers?|chart\snumbers?"
    r"|č(?:íslo|\.)\s?pojištěnce|(?:číslo|č\.|ID)\s?pacienta"
    r"|prontuários?|registros?\sdo\spaciente|cartão\s(?:do\s)?SUS|(?-i:CNS))"
)
_MRN_ID = (r"(?:\d{3,4}(?:\s\d{3,4}){2,4}(?![\w/-])"                    # 898 0010 7412 3456
           r"|(?=[\w/.-]*\d)[A-Za-z0-9][A-Za-z0-9/.-]{2,}[A-Za-z0-9](?![\w/-]))")
_MRN = re.compile(
    rf"{_MRN_CUE}\s*(?:n[º°o]\.?|number|číslo|č\.)?\s*[:#-]?\s*"
    rf"(?P<ids>{_MRN_ID}(?:\s*(?:,|;|/|\band\b|\bor\b|\ba\b|\be\b|\bou\b)\s*{_MRN_ID})*)",
    re.IGNORECASE,
)
_MRN_ONE = re.compile(_MRN_ID)

# --- national identity numbers -----------------------------------------------------------------

# (format, validators, countries whose texts are searched for it; None: every text)
_NATIONAL_IDS = [(re.compile(pattern), validators, countries) for pattern, validators, countries in [
    (r"\b\d{6}\s?/\s?\d{3,4}\b", (cz_rc, sk_rc), None),                   # 736028/5163
    (r"\b\d{10}\b", (cz_rc, sk_rc), {"CZ", "SK"}),
    (r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b", (cpf,), None),                     # 390.533.447-05
    (r"\b\d{11}\b", (cpf,), {"BR"}),
    (r"\b\d{3}-\d{2}-\d{4}\b", (us_ssn,), None),                          # 536-22-8726
    (r"\b\d{11}\b", (pl_pesel,), {"PL"}),
    (r"\b\d{11}\b", (de_idnr,), {"DE"}),
    (r"\b\d{4}\s?\d{6}\b", (at_vnr,), {"AT"}),
    (r"\b[12]\s?\d{2}\s?\d{2}\s?(?:\d{2}|2A|2B)\s?\d{3}\s?\d{3}\s?\d{2}\b", (fr_nir,), None),
    (r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b", (it_cf,), None),
    (r"\b\d{8}-?[A-Z]\b", (es_dni,), None),
    (r"\b[XYZ]-?\d{7}-?[A-Z]\b", (es_nie,), None),
    (r"\b\d{8}\s?\d\s?[A-Z]{2}\d\b", (pt_cc,), None),
    (r"\b\d{6}[-+A]\d{3}[0-9A-Y]\b", (fi_hetu,), {"FI"}),
    (r"\b(?:\d{2})?\d{6}[-+]\d{4}\b", (se_pnr,), {"SE"}),
]]

# --- phone numbers and e-mail -----------------------------------------------------------------

_SERVICE_NUMBERS = {phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.SHARED_COST,
                    phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.UAN}
_REGIONS = {"UK": "GB", "EL": "GR"}  # EU spellings -> ISO 3166

_EMAIL = re.compile(r"(?<![\w.+-])(?P<local>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})\b")
# Words that make a mailbox a role, a team or an attacker's drop box rather than a person.
_ROLE_WORDS = frozenset("""
    abuse admin administrator alert alerts backup billing cert csirt contact contato desk dpo
    faturamento files help helpdesk hostmaster hr incident incidents info informace it kontakt mail
    marketing monitoring news newsletter no noc noreply donotreply reply office ops podatelna postmaster
    privacy recovery restore decrypt decryptor decryption unlock key keys payment sales secretaria
    security seguranca segurança service servicedesk soc suporte support sysadmin team ti webmaster
    root system test user ouvidoria sac atendimento recepce recepcao recepção rh lab pacs ehr
    hospital nemocnice clinic clinica clínica
""".split())


def _personal_local_part(local: str) -> bool:
    parts = re.split(r"[._-]", local.split("+")[0].lower())
    parts[-1] = parts[-1].rstrip("0123456789")
    return (2 <= len(parts) <= 3 and all(p.isalpha() for p in parts)
            and len(parts[-1]) >= 2 and max(map(len, parts)) >= 3
            and not any(p in _ROLE_WORDS for p in parts))


def _inside_dotted_number(text: str, start: int, end: int) -> bool:
    """IP addresses (185.220.101.4) and long version strings are not phone numbers."""
    while start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
        start -= 1
    while end < len(text) and (text[end].isdigit() or text[end] == "."):
        end += 1
    return text[start:end].strip(".").count(".") >= 3


def find_personal_data(text: str | None, country: str | None = None) -> list[Finding]:
    """Every span of `text` that looks like patient data, in order of position.

    Where two detectors claim overlapping text, the more specific one wins (a valid national id
    beats a record-number cue, which beats a phone-number guess)."""
    if not text:
        return []
    region = country.upper() if country else None
    region = _REGIONS.get(region, region)
    found: list[Finding] = []

    def add(kind: str, start: int, end: int) -> None:
        if not any(f.start < end and start < f.end for f in found):
            found.append(Finding(kind, start, end, mask(text[start:end])))

    for pattern, validators, countries in _NATIONAL_IDS:
        if countries is None or region is None or region in countries:
            for match in pattern.finditer(text):
                if any(validator.is_valid(match.group()) for validator in validators):
                    add("national_id", match.start(), match.end())
    for match in _MRN.finditer(text):
        for one in _MRN_ONE.finditer(text, match.start("ids"), match.end("ids")):
            add("medical_record_number", one.start(), one.end())
    for start, end in _names_with_birth_dates(text):
        add("name_with_birth_date", start, end)
    for match in _EMAIL.finditer(text):
        if _personal_local_part(match.group("local")):
            add("personal_email", match.start(), match.end())
    for match in phonenumbers.PhoneNumberMatcher(text, region or "ZZ", leniency=phonenumbers.Leniency.VALID):
        if not _inside_dotted_number(text, match.start, match.end) \
                and phonenumbers.number_type(match.number) not in _SERVICE_NUMBERS:
            add("phone_number", match.start, match.end)
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
            "error": f"looks like {PERSONAL_DATA_KINDS[finding.kind]}; redact it or confirm it may be shared",
        }
        for field, text in fields.items()
        for finding in find_personal_data(text, country)
    ]
