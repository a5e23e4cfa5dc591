"""Severity and weakness of a vulnerability: CVSS vectors parsed and scored, CWE ids checked and named.

CVSS v3.1 (v3.0 accepted) and v4.0 vectors are parsed and scored by the `cvss` library; CWE names
come from MITRE's catalogue as the `cwe2` package ships it, so nothing is fetched at run time.
The hub carries scores in its advisory property extension (ADVISORY_EXTENSION, see
hub.intel.advisories) and CWE ids as external references with source_name "cwe";
`problems_in` holds any shared object (web form, REST, TAXII) to both.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError
from cwe2.mappings import navigate_cwe

ADVISORY_EXTENSION = "extension-definition--0b6a4f5e-9c1d-4e37-8f2a-5d7c3b9e1a64"
CWE_ID = re.compile(r"^CWE-[1-9]\d{0,5}$")
# What NVD writes where no single CWE applies ("other") or it could not tell ("noinfo").
NVD_CWE_PLACEHOLDERS = frozenset({"NVD-CWE-Other", "NVD-CWE-noinfo"})
CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
CVSS_FAMILIES = {
    "v3": ("CVSS v3.1", ("CVSS:3.1/", "CVSS:3.0/"), CVSS3,
           "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
    "v4": ("CVSS v4.0", ("CVSS:4.0/",), CVSS4,
           "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
}


@dataclass(frozen=True)
class CvssScore:
    family: str  # "v3" or "v4"
    vector: str
    base_score: float
    severity: str  # as FIRST names it: None, Low, Medium, High, Critical

    @property
    def label(self) -> str:
        return CVSS_FAMILIES[self.family][0]

    def as_extension(self) -> dict:
        return {"vector_string": self.vector, "base_score": self.base_score,
                "base_severity": self.severity.upper()}


def score_cvss(family: str, vector: str) -> CvssScore:
    """Parse and score a CVSS vector of the family ("v3" or "v4"); ValueError says what is wrong."""
    label, prefixes, parser, example = CVSS_FAMILIES[family]
    vector = vector.strip()
    if not vector.startswith(prefixes):
        raise ValueError(f"a {label} vector starts with {prefixes[0]} (e.g. {example})")
    try:
        parsed = parser(vector)
    except CVSSError as exc:
        raise ValueError(f"not a valid {label} vector: {exc}") from None
    if family == "v3":
        return CvssScore(family, parsed.clean_vector(), float(parsed.scores()[0]), parsed.severities()[0])
    return CvssScore(family, parsed.clean_vector(), float(parsed.base_score), parsed.severity)


def parse_cwe_ids(text: str) -> list[str]:
    """CWE ids separated by spaces or commas ("CWE-787, CWE-79"), upper-cased, de-duplicated."""
    found: list[str] = []
    for token in re.split(r"[\s,;]+", text or ""):
        if not token:
            continue
        cwe = token.upper()
        if not CWE_ID.match(cwe):
            raise ValueError(f"{token!r} is not a CWE id (expected CWE-NNN, e.g. CWE-787)")
        if cwe not in found:
            found.append(cwe)
    return found


@cache
def _cwe_names() -> dict[str, str]:
    # The CWE catalogue as cwe2 ships it (MITRE's CSV views), read once into memory: no network,
    # and no shared open file handles (cwe2's own Database seeks files shared across threads).
    names: dict[str, str] = {}
    for view in navigate_cwe.values():
        with open(view["csv_file"], encoding="utf-8", newline="") as catalogue:
            for row in csv.DictReader(catalogue):
                if row.get("CWE-ID") and row.get("Name"):
                    names.setdefault(f"CWE-{row['CWE-ID']}", row["Name"])
    return names


def cwe_name(cwe_id: str) -> str | None:
    """The weakness's name in MITRE's catalogue (as shipped with cwe2), None when unknown."""
    return _cwe_names().get(cwe_id)


def problems_in(obj: dict) -> list[tuple[str, str]]:
    """(property path, reason) for every CWE id and CVSS score of a STIX object that is not valid:
    a CWE reference must name CWE-NNN; a score in the advisory extension must be a vector of its
    version, with the base score and severity that the vector gives."""
    problems: list[tuple[str, str]] = []
    references = obj.get("external_references")
    for index, ref in enumerate(references if isinstance(references, list) else []):
        # STIX asks a reference for a source name and any of description, url or external_id: a
        # CWE reference by url or description alone is valid, and so are NVD's own placeholders.
        if isinstance(ref, dict) and str(ref.get("source_name", "")).lower() == "cwe" and "external_id" in ref \
                and not CWE_ID.match(str(ref["external_id"])) and ref["external_id"] not in NVD_CWE_PLACEHOLDERS:
            problems.append((f"external_references[{index}].external_id",
                             f"{ref.get('external_id')!r} is not a CWE id (expected CWE-NNN, e.g. CWE-787)"))
    extension = (obj.get("extensions") or {}).get(ADVISORY_EXTENSION)
    if not isinstance(extension, dict):
        return problems
    where = f"extensions.{ADVISORY_EXTENSION}"
    cwe_ids = extension.get("cwe_ids", [])
    if not isinstance(cwe_ids, list):
        problems.append((f"{where}.cwe_ids", "expected a list of CWE ids"))
        cwe_ids = []
    for index, cwe in enumerate(cwe_ids):
        if not CWE_ID.match(str(cwe)):
            problems.append((f"{where}.cwe_ids[{index}]", f"{cwe!r} is not a CWE id (expected CWE-NNN, e.g. CWE-787)"))
    cve_ids = extension.get("cve_ids", [])
    for index, cve in enumerate(cve_ids if isinstance(cve_ids, list) else [cve_ids]):
        if not CVE_ID.match(str(cve)):
            problems.append((f"{where}.cve_ids[{index}]", f"{cve!r} is not a CVE id (expected CVE-YYYY-NNNN)"))
    for family in CVSS_FAMILIES:
        stated = extension.get(f"cvss_{family}")
        if stated is None:
            continue
        path = f"{where}.cvss_{family}"
        if not isinstance(stated, dict) or not isinstance(stated.get("vector_string"), str):
            problems.append((f"{path}.vector_string", "required: the CVSS vector"))
            continue
        try:
            score = score_cvss(family, stated["vector_string"])
        except ValueError as exc:
            problems.append((f"{path}.vector_string", str(exc)))
            continue
        if "base_score" in stated and stated["base_score"] != score.base_score:
            problems.append((f"{path}.base_score", f"{stated['base_score']!r} is not the vector's base score "
                                                   f"({score.base_score})"))
        if "base_severity" in stated and str(stated["base_severity"]).upper() != score.severity.upper():
            problems.append((f"{path}.base_severity", f"{stated['base_severity']!r} is not the vector's severity "
                                                      f"({score.severity.upper()})"))
    return problems


_DEFINED = "2026-12-03T00:00:00.000Z"


def advisory_extension_definition(schema_url: str) -> dict:
    """The STIX extension-definition of the hub's advisory properties (served by the REST API)."""
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": ADVISORY_EXTENSION,
        "created": _DEFINED,
        "modified": _DEFINED,
        "name": "HealthCERT Hub vulnerability advisory",
        "description": "CVSS v3.1 and v4.0 base scores with their vectors (on reports and vulnerabilities); "
                       "the CVE and CWE ids, affected and fixed versions of each product and the mitigation "
                       "of a vulnerability advisory (on its report).",
        "schema": schema_url,
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


def advisory_extension_schema() -> dict:
    score = {"type": "object", "required": ["vector_string"], "additionalProperties": False,
             "properties": {"vector_string": {"type": "string"}, "base_score": {"type": "number", "minimum": 0,
                                                                               "maximum": 10},
                            "base_severity": {"enum": ["NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"]}}}
    text = {"type": "string"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "HealthCERT Hub vulnerability advisory",
        "type": "object",
        "required": ["extension_type"],
        "additionalProperties": False,
        "properties": {
            "extension_type": {"const": "property-extension"},
            "cvss_v3": {**score, "description": "CVSS v3.1 (or v3.0): vector_string starts with CVSS:3.1/"},
            "cvss_v4": {**score, "description": "CVSS v4.0: vector_string starts with CVSS:4.0/"},
            "cve_ids": {"type": "array", "items": {"type": "string", "pattern": CVE_ID.pattern}},
            "cwe_ids": {"type": "array", "items": {"type": "string", "pattern": CWE_ID.pattern}},
            "affected_products": {"type": "array", "items": {
                "type": "object", "required": ["vendor", "product"], "additionalProperties": False,
                "properties": {"vendor": text, "product": text, "affected_versions": text, "fixed_version": text}}},
            "mitigation": text,
        },
    }
