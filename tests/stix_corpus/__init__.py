"""A STIX 2.1 conformance corpus: every object type of the specification, valid and invalid.

`VALID` holds objects the specification allows, `INVALID` objects it forbids, each with a
fragment of the reason stix2-validator gives (and hub.intel.validation must give). `SPEC_ALLOWED`
holds what STIX 2.1 allows and the hub refused before issue 13; stix2-validator accepts them too,
so they are also part of the agreement test. `HUB_STRICTER` documents where the hub deliberately
refuses what stix2-validator accepts, with the hub's reason.
"""
from __future__ import annotations

from dataclasses import dataclass

T0 = "2026-01-10T08:00:00.000Z"
T1 = "2026-01-11T09:30:00.000Z"
IDENTITY = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
WIDGET_EXTENSION = "extension-definition--9c59fd79-4215-4ba2-920d-3e4f320e1e62"
DEVICE_EXTENSION = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"
PROPERTY_EXTENSION = "extension-definition--a932fcc6-e032-476c-826f-cb970a5a1ade"
TOPLEVEL_EXTENSION = "extension-definition--c4a5e1f7-2b0e-4f25-9d3f-1d9e7b6c0a11"


@dataclass(frozen=True)
class Case:
    name: str
    obj: dict
    reason: str = ""  # for INVALID and HUB_STRICTER: a fragment of the expected reason


def _id(object_type: str, n: int = 1) -> str:
    return f"{object_type}--{n:08x}-1111-4111-8111-{n:012x}"


def sdo(object_type: str, n: int = 1, **properties) -> dict:
    return {"type": object_type, "spec_version": "2.1", "id": _id(object_type, n), "created": T0,
            "modified": T1, "created_by_ref": IDENTITY, "object_marking_refs": [TLP_GREEN], **properties}


def sco(object_type: str, n: int = 1, **properties) -> dict:
    return {"type": object_type, "spec_version": "2.1", "id": _id(object_type, n), **properties}


INDICATOR = dict(name="C2 address", pattern="[ipv4-addr:value = '198.51.100.7']", pattern_type="stix",
                 valid_from="2026-01-10T08:00:00Z", indicator_types=["malicious-activity"])
MALWARE_ID = _id("malware")
IPV4_ID = _id("ipv4-addr")

SDOS = [
    sdo("attack-pattern", name="Spearphishing Attachment", aliases=["T1566.001"],
        kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}],
        external_references=[{"source_name": "mitre-attack", "external_id": "T1566.001",
                              "url": "https://attack.mitre.org/techniques/T1566/001"}]),
    sdo("campaign", name="Pump firmware wave", first_seen="2026-01-01T00:00:00Z", last_seen="2026-01-09T00:00:00Z",
        objective="ransom"),
    sdo("course-of-action", name="Segment infusion pumps", description="Put pumps on their own VLAN"),
    sdo("grouping", name="Triage", context="suspicious-activity", object_refs=[MALWARE_ID, IPV4_ID]),
    sdo("identity", name="Regional Hospital", identity_class="organization", sectors=["healthcare"],
        contact_information="soc@hospital.example"),
    sdo("incident", name="Ward 3 ransomware", description="Pumps locked"),
    sdo("indicator", **INDICATOR, confidence=80, valid_until="2026-06-01T00:00:00Z", lang="en"),
    sdo("infrastructure", name="C2 fleet", infrastructure_types=["command-and-control"],
        first_seen="2026-01-01T00:00:00Z"),
    sdo("intrusion-set", name="Syringe Spider", aliases=["SS"], resource_level="organization",
        primary_motivation="personal-gain"),
    sdo("location", name="Prague", latitude=50.08, longitude=14.43, region="eastern-europe", country="CZ"),
    sdo("malware", name="PumpLock", is_family=True, malware_types=["ransomware"], architecture_execution_envs=["x86"]),
    sdo("malware-analysis", product="sandbox", result="malicious", analysis_sco_refs=[IPV4_ID],
        sample_ref=_id("file")),
    sdo("note", abstract="seen twice", content="Also at the children's hospital", object_refs=[MALWARE_ID],
        authors=["soc"]),
    sdo("observed-data", first_observed="2026-01-10T08:00:00Z", last_observed="2026-01-10T09:00:00Z",
        number_observed=3, object_refs=[IPV4_ID]),
    sdo("observed-data", 2, first_observed="2026-01-10T08:00:00Z", last_observed="2026-01-10T09:00:00Z",
        number_observed=1, objects={"0": {"type": "ipv4-addr", "id": _id("ipv4-addr", 9), "value": "198.51.100.9"}}),
    sdo("opinion", opinion="strongly-agree", explanation="matches our logs", object_refs=[MALWARE_ID]),
    sdo("report", name="Pump advisory", published="2026-01-11T00:00:00Z", report_types=["threat-report"],
        object_refs=[MALWARE_ID, IPV4_ID]),
    sdo("threat-actor", name="Syringe Spider crew", threat_actor_types=["crime-syndicate"],
        roles=["agent"], sophistication="expert", first_seen="2025-12-01T00:00:00Z"),
    sdo("tool", name="Cobalt Strike", tool_types=["remote-access"], tool_version="4.9"),
    sdo("vulnerability", name="CVE-2026-50001",
        external_references=[{"source_name": "cve", "external_id": "CVE-2026-50001"}]),
]

SROS = [
    sdo("relationship", relationship_type="uses", source_ref=_id("intrusion-set"), target_ref=MALWARE_ID,
        start_time="2026-01-01T00:00:00Z", stop_time="2026-01-09T00:00:00Z"),
    sdo("sighting", sighting_of_ref=_id("indicator"), count=4, first_seen="2026-01-10T08:00:00Z",
        last_seen="2026-01-10T10:00:00Z", where_sighted_refs=[IDENTITY], observed_data_refs=[_id("observed-data")]),
]

SCOS = [
    sco("artifact", mime_type="application/zip", payload_bin="UEsDBBQAAAAIAA==",
        hashes={"SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}),
    sco("autonomous-system", number=64500, name="Example AS", rir="RIPE"),
    sco("directory", path="C:\\Windows\\Temp", path_enc="UTF-8", ctime="2026-01-10T08:00:00Z"),
    sco("domain-name", value="update-check.evil.example", resolves_to_refs=[IPV4_ID]),
    sco("email-addr", value="ceo@spoofed-hospital.example", display_name="The CEO"),
    sco("email-message", is_multipart=False, subject="Invoice", from_ref=_id("email-addr"),
        to_refs=[_id("email-addr", 2)], date="2026-01-10T08:00:00Z", body="pay now"),
    sco("file", name="invoice.pdf.exe", size=1024, mime_type="application/x-msdownload",
        hashes={"MD5": "d41d8cd98f00b204e9800998ecf8427e"}, parent_directory_ref=_id("directory")),
    sco("ipv4-addr", value="198.51.100.7"),
    sco("ipv6-addr", value="2001:db8::7"),
    sco("mac-addr", value="d2:fb:49:24:37:18"),
    sco("mutex", name="Global\\PumpLock"),
    sco("network-traffic", protocols=["ipv4", "tcp"], src_ref=IPV4_ID, dst_port=443, start="2026-01-10T08:00:00Z"),
    sco("process", pid=4242, command_line="pumplock.exe --all", created_time="2026-01-10T08:00:00Z"),
    sco("software", name="InfuseSafe firmware", vendor="PumpCo", version="4.1", languages=["en"],
        cpe="cpe:2.3:o:pumpco:infusesafe:4.1:*:*:*:*:*:*:*"),
    sco("url", value="https://evil.example/payload.bin"),
    sco("user-account", user_id="1001", account_login="nurse7", account_type="windows-local",
        is_privileged=False),
    sco("windows-registry-key", key="HKEY_LOCAL_MACHINE\\Software\\PumpLock",
        values=[{"name": "run", "data": "pumplock.exe", "data_type": "REG_SZ"}]),
    sco("x509-certificate", serial_number="36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06",
        issuer="CN=Evil CA", validity_not_before="2026-01-01T00:00:00Z", validity_not_after="2027-01-01T00:00:00Z"),
]

MARKINGS = [
    {"type": "marking-definition", "spec_version": "2.1", "id": _id("marking-definition"), "created": T0,
     "definition_type": "statement", "definition": {"statement": "Copyright 2026 Regional Hospital"}},
    {"type": "marking-definition", "spec_version": "2.1", "id": TLP_GREEN,
     "created": "2022-10-01T00:00:00.000Z", "name": "TLP:GREEN",
     "extensions": {TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "green"}}},
]

LANGUAGE_CONTENT = [
    {"type": "language-content", "spec_version": "2.1", "id": _id("language-content"), "created": T0,
     "modified": T1, "object_ref": MALWARE_ID, "object_modified": T1,
     "contents": {"de": {"name": "PumpSperre", "description": "Sperrt Pumpen"}}},
]


def extension_definition(extension_id: str, name: str, extension_types: list[str], **properties) -> dict:
    return {"type": "extension-definition", "spec_version": "2.1", "id": extension_id, "created": T0,
            "modified": T1, "created_by_ref": IDENTITY, "name": name,
            "schema": "https://hub.example/schemas/" + name + ".json", "version": "1.0",
            "extension_types": extension_types, **properties}


EXTENSION_DEFINITIONS = [
    extension_definition(WIDGET_EXTENSION, "medical-device-advisory", ["new-sdo"]),
    extension_definition(DEVICE_EXTENSION, "medical-device", ["new-sco"]),
    extension_definition(PROPERTY_EXTENSION, "ward", ["property-extension"]),
    extension_definition(TOPLEVEL_EXTENSION, "ward-toplevel", ["toplevel-property-extension"],
                         extension_properties=["x_ward", "x_bed"]),
]

EXTENDED = [
    {"type": "medical-device-advisory", "spec_version": "2.1", "id": _id("medical-device-advisory"),
     "created": T0, "modified": T1, "name": "Pump advisory", "risk": "high",
     "extensions": {WIDGET_EXTENSION: {"extension_type": "new-sdo"}}},
    {"type": "medical-device", "spec_version": "2.1", "id": _id("medical-device"), "serial": "PUMP-7",
     "extensions": {DEVICE_EXTENSION: {"extension_type": "new-sco"}}},
    sdo("malware", 2, name="PumpLock 2", is_family=False,
        extensions={PROPERTY_EXTENSION: {"extension_type": "property-extension", "ward": "ICU"}}),
    sdo("malware", 3, name="PumpLock 3", is_family=False, x_ward="ICU", x_bed=7,
        extensions={TOPLEVEL_EXTENSION: {"extension_type": "toplevel-property-extension"}}),
]

CUSTOM = [
    sdo("x-hub-ward-note", x_text="isolate ward 3 pumps"),
    sdo("indicator", 2, **INDICATOR, x_hub_ward="ICU", x_hub_devices=["pump-7"]),
    sco("x-hub-badge", value="badge-0042"),  # a custom observable: no created/modified
    sco("ipv4-addr", 2, value="198.51.100.8", x_hub_seen_by="ward-3"),
]

# Valid as sent, and written otherwise by the stix2 library (an integer where it wants a float and
# the reverse, a boolean at its default, a hash name outside its vocabulary, trailing zeros): the
# hub stores and serves each exactly as sent.
AS_SENT = [
    sdo("location", 2, latitude=48, longitude=2, revoked=False),
    sdo("indicator", 3, **{**INDICATOR, "valid_from": "2026-01-10T08:00:00.000Z"}, confidence=50.0, revoked=False),
    sdo("sighting", 2, sighting_of_ref=_id("indicator"), count=3.0, first_seen="2026-01-10T08:00:00.000Z"),
    sco("file", 2, name="setup.exe", size=1024.0, ctime="2016-01-20T12:31:12.500Z", defanged=False,
        hashes={"SHA256": "35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f"}),
    sco("network-traffic", 2, protocols=["ipv4", "tcp"], dst_ref=IPV4_ID, dst_port=443.0,
        start="2026-01-10T08:00:00.000Z"),
]

SPEC_ALLOWED = [
    Case("sco-without-spec-version", {"type": "ipv4-addr", "id": _id("ipv4-addr", 3), "value": "198.51.100.9"}),
    Case("new-sdo-type-from-extension-definition", EXTENDED[0]),
    Case("new-sco-type-from-extension-definition", EXTENDED[1]),
    Case("custom-observable-without-created-modified", {"type": "x-hub-badge", "id": _id("x-hub-badge", 2),
                                                         "value": "badge-0043"}),
    Case("upper-case-hex-id", sdo("attack-pattern", 2, name="Upper", id="attack-pattern--0000000A-1111-4111-8111-00000000000B")),
    # Years outside the hub's own (1970..2200) where they only describe.
    Case("valid-until-never", sdo("indicator", 4, **{**INDICATOR, "valid_until": "9999-12-31T23:59:59Z"})),
    Case("first-seen-before-1970", sdo("campaign", 2, name="Old wave", first_seen="1969-07-20T20:17:40Z")),
    Case("opencti-open-relationship", sdo("relationship", 3, relationship_type="uses", source_ref=_id("intrusion-set"),
                                          target_ref=MALWARE_ID, start_time="1970-01-01T00:00:00.000Z",
                                          stop_time="5138-11-16T09:46:40.000Z")),
    # Fractions finer than the microsecond (Go's RFC3339Nano writes nine digits).
    Case("nanosecond-timestamps", sdo("indicator", 5, **{**INDICATOR, "valid_from": "2026-01-10T08:00:00.000000001Z"},
                                      created="2026-01-10T08:00:00.123456789Z", modified="2026-01-11T09:30:00.1234567Z")),
    Case("nanosecond-relationship", sdo("relationship", 4, relationship_type="uses", source_ref=_id("intrusion-set"),
                                        target_ref=MALWARE_ID, created="2026-01-10T08:00:00.123456789Z",
                                        modified="2026-01-10T08:00:00.123456789Z", start_time="2026-01-01T00:00:00.999999999Z")),
    Case("nanosecond-custom-object", sdo("x-hub-ward-note", 2, x_text="ns", created="2026-01-10T08:00:00.123456789Z",
                                         modified="2026-01-10T08:00:00.123456790Z")),
]



def _named(objects: list[dict]) -> list[Case]:
    cases, seen = [], {}
    for obj in objects:
        seen[obj["type"]] = seen.get(obj["type"], 0) + 1
        cases.append(Case(obj["type"] if seen[obj["type"]] == 1 else f"{obj['type']}-{seen[obj['type']]}", obj))
    return cases


VALID = _named(SDOS + SROS + SCOS + MARKINGS + LANGUAGE_CONTENT + EXTENSION_DEFINITIONS + EXTENDED + CUSTOM
               + AS_SENT) + SPEC_ALLOWED

_BY_NAME = {case.name: case.obj for case in VALID}


def broken(base: str, name: str, reason: str, drop: tuple = (), **changes) -> Case:
    """An invalid counterpart of the valid object `base`: properties dropped or changed."""
    obj = {key: value for key, value in _BY_NAME[base].items() if key not in drop}
    obj.update(changes)
    return Case(name, obj, reason)


INVALID = [
    # Common properties, on any object.
    broken("attack-pattern", "modified-before-created", "must be later than or equal to 'created'",
           modified="2025-01-01T00:00:00.000Z"),
    broken("attack-pattern", "missing-name", "'name' is a required property", drop=("name",)),
    broken("attack-pattern", "id-of-another-type", "attack-pattern--", id=_id("campaign")),
    broken("attack-pattern", "id-not-a-uuid", "id", id="attack-pattern--not-a-uuid"),
    broken("attack-pattern", "created-not-a-timestamp", "created", created="yesterday"),
    broken("attack-pattern", "created-impossible-date", "is not a valid timestamp",
           created="2026-02-30T08:00:00.000Z"),
    broken("attack-pattern", "granular-marking-without-selectors", "selectors",
           granular_markings=[{"marking_ref": TLP_GREEN}]),
    broken("attack-pattern", "granular-selector-to-nothing", "is not a valid selector",
           granular_markings=[{"marking_ref": TLP_GREEN, "selectors": ["nickname"]}]),
    broken("attack-pattern", "external-reference-without-source", "source_name",
           external_references=[{"external_id": "T1566.001"}]),
    broken("attack-pattern", "labels-not-a-list", "labels", labels="phishing"),
    broken("attack-pattern", "lang-not-rfc5646", "is not a valid RFC 5646 language code", lang="english"),
    broken("attack-pattern", "confidence-over-100", "101 is greater than the maximum of 100", confidence=101),
    broken("attack-pattern", "revoked-not-boolean", "revoked", revoked="yes"),
    broken("attack-pattern", "reserved-property", "reserved property", severity="high"),
    broken("attack-pattern", "extension-key-malformed", "extensions", extensions={"my-extension": "x"}),
    # What the stix2 library would convert ("50" to 50, [1] to ["1"], "false" to False, a lower-case
    # timestamp to upper case, a null or empty list dropped): refused as sent, as the validator does.
    broken("attack-pattern", "labels-not-strings", "labels[0]: 1 is not of type 'string'", labels=[1, {}]),
    broken("attack-pattern", "confidence-a-boolean", "confidence: True is not of type 'integer'", confidence=True),
    broken("attack-pattern", "confidence-as-text", "confidence: '50' is not of type 'integer'", confidence="50"),
    broken("attack-pattern", "revoked-as-text", "revoked: 'false' is not of type 'boolean'", revoked="false"),
    broken("attack-pattern", "created-in-lower-case", "does not match the timestamp format",
           created="2026-01-10t08:00:00.000z"),
    broken("attack-pattern", "created-to-the-second", "must be precise to the millisecond", created="2026-01-10T08:00:00Z"),
    broken("attack-pattern", "description-null", "null properties are not allowed", description=None),
    broken("attack-pattern", "aliases-empty", "empty arrays are not allowed", aliases=[]),
    broken("malware", "is-family-as-text", "is_family", is_family="true"),
    # One or more type-specific rules for every SDO.
    broken("campaign", "campaign-last-seen-before-first", "'last_seen'", last_seen="2025-01-01T00:00:00Z"),
    broken("course-of-action", "course-of-action-missing-name", "'name' is a required property", drop=("name",)),
    broken("grouping", "grouping-missing-context", "'context' is a required property", drop=("context",)),
    broken("grouping", "grouping-empty-object-refs", "object_refs", object_refs=[]),
    broken("identity", "identity-missing-name", "'name' is a required property", drop=("name",)),
    broken("incident", "incident-missing-name", "'name' is a required property", drop=("name",)),
    broken("indicator", "indicator-bad-pattern", "Pattern failed to validate",
           pattern="[ipv4-addr:value = '198.51.100.7'"),
    broken("indicator", "indicator-unknown-property-in-pattern", "not a valid observable property name",
           pattern="[ipv4-addr:Value = '198.51.100.7']"),
    broken("indicator", "indicator-missing-pattern-type", "'pattern_type' is a required property",
           drop=("pattern_type",)),
    broken("indicator", "modified-before-created-below-the-microsecond", "must be later than or equal to 'created'",
           created="2026-01-10T08:00:00.123456789Z", modified="2026-01-10T08:00:00.123456788Z"),
    broken("indicator", "indicator-valid-until-before-from", "'valid_until'", valid_until="2025-01-01T00:00:00Z"),
    broken("infrastructure", "infrastructure-missing-name", "'name' is a required property", drop=("name",)),
    broken("intrusion-set", "intrusion-set-last-seen-before-first", "'last_seen'",
           first_seen="2026-01-05T00:00:00Z", last_seen="2026-01-01T00:00:00Z"),
    broken("location", "location-latitude-out-of-range", "latitude", latitude=91.0),
    broken("location", "location-latitude-without-longitude", "longitude", drop=("longitude",)),
    broken("location", "location-nothing-located", "is not valid under any of the given schemas",
           drop=("region", "country", "latitude", "longitude")),
    broken("malware", "malware-missing-is-family", "'is_family' is a required property", drop=("is_family",)),
    broken("malware", "malware-family-without-name", "name", drop=("name",)),
    broken("malware-analysis", "malware-analysis-missing-product", "'product' is a required property",
           drop=("product",)),
    broken("malware-analysis", "malware-analysis-neither-result-nor-refs",
           "is not valid under any of the given schemas",
           drop=("result", "analysis_sco_refs")),
    broken("note", "note-missing-content", "'content' is a required property", drop=("content",)),
    broken("observed-data", "observed-data-number-observed-zero", "number_observed", number_observed=0),
    broken("observed-data", "observed-data-last-before-first", "'last_observed'",
           last_observed="2026-01-01T00:00:00Z"),
    broken("observed-data-2", "observed-data-embedded-observable-without-value", "'value' is a required property",
           objects={"0": {"type": "ipv4-addr", "id": _id("ipv4-addr", 9)}}),
    broken("opinion", "opinion-not-in-vocabulary", "opinion", opinion="meh"),
    broken("report", "report-missing-published", "'published' is a required property", drop=("published",)),
    broken("threat-actor", "threat-actor-missing-name", "'name' is a required property", drop=("name",)),
    broken("tool", "tool-missing-name", "'name' is a required property", drop=("name",)),
    broken("vulnerability", "vulnerability-missing-name", "'name' is a required property", drop=("name",)),
    # SROs.
    broken("relationship", "relationship-missing-target", "'target_ref' is a required property",
           drop=("target_ref",)),
    broken("relationship", "relationship-stop-before-start", "'stop_time'", stop_time="2025-01-01T00:00:00Z"),
    broken("relationship", "relationship-type-with-capitals", "relationship_type", relationship_type="Uses"),
    broken("sighting", "sighting-of-a-relationship", "sighting_of_ref", sighting_of_ref=_id("relationship")),
    broken("sighting", "sighting-count-negative", "count", count=-1),
    # SCOs.
    broken("artifact", "artifact-payload-and-url", "payload_bin", url="https://evil.example/a.zip"),
    broken("artifact", "artifact-mime-type-unregistered", "must be an IANA registered MIME Type",
           mime_type="application/x-not-registered-zz"),
    broken("autonomous-system", "autonomous-system-missing-number", "'number' is a required property",
           drop=("number",)),
    broken("directory", "directory-path-enc-not-iana", "must be an IANA registered character set",
           path_enc="klingon"),
    broken("email-addr", "email-addr-not-an-address", "value", value="not an address"),
    broken("email-message", "email-message-missing-is-multipart", "'is_multipart' is a required property",
           drop=("is_multipart",)),
    broken("file", "file-hash-wrong-length", "MD5", hashes={"MD5": "d41d8cd98f00b204e9800998ecf8427"}),
    broken("file", "file-size-negative", "size", size=-1),
    broken("ipv4-addr", "ipv4-addr-missing-value", "'value' is a required property", drop=("value",)),
    broken("ipv6-addr", "ipv6-addr-value-not-a-string", "value", value=42),
    broken("mac-addr", "mac-addr-upper-case", "value", value="D2:FB:49:24:37:18"),
    broken("mutex", "mutex-missing-name", "'name' is a required property", drop=("name",)),
    broken("network-traffic", "network-traffic-port-out-of-range", "dst_port", dst_port=70000),
    broken("network-traffic", "network-traffic-no-endpoint", "must contain at least one of 'src_ref' or 'dst_ref'",
           drop=("src_ref",)),
    broken("network-traffic", "network-traffic-end-before-start", "'end'", end="2026-01-01T00:00:00Z"),
    broken("process", "process-pid-not-integer", "pid", pid="4242"),
    broken("process", "process-uuid-v5", "A process object must use UUIDv4",
           id="process--00000001-1111-5111-8111-000000000001"),
    broken("software", "software-cpe-not-2-3", "cpe", cpe="cpe:/o:pumpco:infusesafe:4.1"),
    broken("software", "software-language-invalid", "invalid language code", languages=["english"]),
    broken("url", "url-missing-value", "'value' is a required property", drop=("value",)),
    broken("user-account", "user-account-privileged-not-boolean", "is_privileged", is_privileged="no"),
    broken("windows-registry-key", "windows-registry-key-bad-data-type", "data_type",
           values=[{"name": "run", "data": "x", "data_type": "REG_STRING"}]),
    # Marking definitions, language content, extension definitions.
    broken("marking-definition", "marking-definition-marking-itself", "no circular references",
           object_marking_refs=[_id("marking-definition")]),
    broken("language-content", "language-content-key-not-a-language", "must be an RFC 5646 code",
           contents={"klingon": {"name": "x"}}),
    broken("language-content", "language-content-missing-object-ref", "'object_ref' is a required property",
           drop=("object_ref",)),
    broken("extension-definition", "extension-definition-unknown-extension-type", "extension_types",
           extension_types=["new-widget"]),
    broken("extension-definition", "extension-definition-missing-schema", "'schema' is a required property",
           drop=("schema",)),
    broken("medical-device", "new-sco-extension-bad-id", "id", id="medical-device--nope"),
    # Custom objects and properties.
    broken("x-hub-ward-note", "custom-object-without-modified", "'modified' is a required property",
           drop=("modified",)),
    broken("x-hub-ward-note", "custom-object-type-with-capitals", "type", type="x-Hub-Note",
           id="x-Hub-Note--00000001-1111-4111-8111-000000000001"),
    broken("indicator-2", "custom-property-name-too-short", "x_", x_="?"),
]

# Invalid STIX 2.1 that stix2-validator (default options: it checks objects as 2.1 whatever their
# spec_version, and does not resolve reference types) lets through. hub.intel.validation agrees
# with stix2-validator; the share path refuses these all the same, through the stix2 library or
# the hub's own checks. `reason` is the share path's.
BEYOND_THE_VALIDATOR = [
    broken("attack-pattern", "wrong-spec-version", "spec_version", spec_version="2.0"),
    broken("attack-pattern", "created-by-ref-not-identity", "created_by_ref", created_by_ref=MALWARE_ID),
    broken("attack-pattern", "marking-ref-not-a-marking", "object_marking_refs", object_marking_refs=[MALWARE_ID]),
    broken("domain-name", "domain-name-resolves-to-a-file", "resolves_to_refs", resolves_to_refs=[_id("file")]),
    broken("marking-definition", "marking-definition-unknown-definition-type", "definition",
           definition_type="secret-sauce"),
]

# STIX 2.1 allows a custom object type only with an 'x-' prefix (deprecated) or defined by an
# extension-definition; stix2-validator takes any well-formed type name, the hub does not.
HUB_STRICTER = [
    Case("unknown-type-without-extension-definition",
         {**_BY_NAME["x-hub-ward-note"], "type": "ward-note", "id": _id("ward-note")}, "unknown STIX object type"),
]
