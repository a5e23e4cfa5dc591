"""OpenAPI 3.1 paths of the incident, NIS2 and case endpoints (merged by hub/api/openapi.py)."""
from __future__ import annotations

from hub.incidents.cases import MESSAGE_KINDS
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES, PATIENT_CARE_DISRUPTED, SERVICES
from hub.incidents.models import CaseStatus
from hub.incidents.nis2 import Stage
from hub.incidents.reading import DEFAULT_PAGE, MAX_PAGE

_ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_TEXT = {
    400: "Malformed JSON, or an invalid query parameter.",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The caller may read the incident or case but not do this (e.g. consent is for the "
         "hospital's admins, case status for the liaison, advice for the national CERT).",
    409: "The stored evidence file no longer matches its SHA-256 (recorded in the custody log).",
    404: "No such incident, case or submission, or one the caller may not read (the same answer).",
    413: "The body is larger than the hub accepts.",
    415: "The body is not sent as Content-Type: application/json.",
    422: "The request cannot be accepted; `details` names each wrong field. Free text that looks "
         "like patient data is refused with `kind` and a masked `excerpt` per finding until the "
         "author sends `confirm_personal_data: true`.",
}


_ANSWER = {"enum": ["yes", "no", "unknown"], "default": "unknown"}
NIS_SUBMISSION = {
    "type": "object",
    "description": "NIS2 Art. 23(4)(a), asked with the early warning and updated by later reports.",
    "properties": {
        "suspected_malicious": {**_ANSWER, "description": "Is the incident suspected of being caused by "
                                                          "unlawful or malicious acts?"},
        "cross_border_impact": {**_ANSWER, "description": "Could the incident have a cross-border impact?"},
        "cross_border_countries": {"type": "array", "maxItems": 30, "description": "ISO 3166-1 alpha-2 codes of "
                                   "the countries possibly affected; only with cross_border_impact yes.",
                                   "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"}},
        "request_key": {"type": "string", "minLength": 8, "maxLength": 64,
                        "description": "A key the client chooses per report: sending it again returns the "
                                       "same submission instead of a second one."},
    },
}


def _errors(*statuses: int) -> dict:
    return {str(s): {"description": _ERROR_TEXT[s], "content": {"application/json": {"schema": _ERROR}}}
            for s in statuses}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_WRITE_ERRORS = (400, 401, 403, 404, 413, 415, 422)
_OBJECT = {"type": "object"}
_NUMBER = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}
REPORT = {
    "type": "object",
    "required": ["title", "detected_at", "attack_type"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "maxLength": 300},
        "started_at": {"type": ["string", "null"]},
        "detected_at": {"type": "string",
                        "description": "When the hospital became aware; NIS2 clocks start here. ISO 8601; "
                                       "without an offset, the organisation's local time."},
        "contained_at": {"type": ["string", "null"]},
        "attack_type": {"type": "string", "description": "One of " + ", ".join(ATTACK_TYPES) + " (any case)."},
        "services": {"type": "array", "items": {"type": "string"},
                     "description": "Any of " + ", ".join(SERVICES) + " (any case)."},
        "impact": {"type": "object", "additionalProperties": False, "properties": {
            "patient_care_disrupted": {"enum": list(PATIENT_CARE_DISRUPTED)},
            **{key: _COUNT if integer else _NUMBER for key, (_label, integer) in IMPACT_FIGURES.items()},
            "ransom_demanded": {"type": ["object", "null"], "properties": {
                "amount": _NUMBER, "currency": {"type": "string", "minLength": 3, "maxLength": 3}}},
        }},
        "narrative": {"type": "string", "maxLength": 20000},
        "threat_actor": {"type": ["string", "null"]},
        "indicators": {"type": "array", "items": {"type": "string", "pattern": "^indicator--"},
                       "description": "Indicators already shared that this incident relates to."},
        "new_indicators": {"type": "array", "description": "Observables seen in this incident: shared as "
                           "indicators with the report's TLP and audience, and linked from it.",
                           "items": {"type": "object", "required": ["type", "value"], "properties": {
                               "type": {"enum": ["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr",
                                                 "md5", "sha1", "sha256"]},
                               "value": {"type": "string"}}}},
        "significant": {"type": "boolean", "description": "A significant incident under NIS2."},
        "tlp": {"enum": ["clear", "green", "amber", "amber+strict"], "default": "amber"},
        "audience": {"description": "As for /share; default: the national CERTs of the hospital's country."},
        "confirm_personal_data": {"type": "boolean"},
    },
}
CLOCK = {"type": "object", "required": ["stage", "due_at", "state"], "properties": {
    "stage": {"enum": [s.value for s in Stage]}, "due_at": {"type": "string", "format": "date-time"},
    "due_local": {"type": "string"}, "submitted_at": {"type": ["string", "null"]},
    "state": {"enum": ["submitted", "submitted_late", "due", "due_soon", "overdue"]}}}
INCIDENT = {"type": "object", "required": ["id", "title", "owner", "tlp", "report", "revisions"], "properties": {
    "id": {"type": "string", "pattern": "^incident--"}, "title": {"type": "string"},
    "owner": {"type": "string"}, "owner_country": {"type": "string"}, "tlp": {"type": "string"},
    "attack_type": {"type": "string"}, "significant": {"type": "boolean"}, "revision": {"type": "integer"},
    "created": {"type": "string"}, "updated": {"type": "string"}, "report": _OBJECT,
    "revisions": {"type": "array", "items": _OBJECT}, "advice": {"type": "array", "items": _OBJECT},
    "nis2": {"type": "array", "items": CLOCK, "description": "Owner and national CERT of its country only."},
    "consents": {"type": "array", "items": _OBJECT, "description": "Owner only."},
    "case": {"type": ["string", "null"], "description": "Law enforcement only: its active case on this incident."}}}
CASE = {"type": "object", "required": ["id", "status", "incident"], "properties": {
    "id": {"type": "string"}, "status": {"enum": [s.value for s in CaseStatus]},
    "status_changed_at": {"type": "string"}, "granted_at": {"type": "string"},
    "consent_active": {"type": "boolean"}, "org": {"type": "string"}, "incident": INCIDENT,
    "allowed_next": {"type": "array", "items": {"type": "string"}}}}
MESSAGE = {"type": "object", "required": ["id", "kind", "body"], "properties": {
    "id": {"type": "integer"}, "kind": {"enum": list(MESSAGE_KINDS)}, "body": {"type": "string"},
    "author": {"type": "string"}, "org": {"type": "string"}, "created": {"type": "string"}}}

EVIDENCE = {"type": "object", "required": ["id", "filename", "size", "sha256"], "properties": {
    "id": {"type": "string"}, "filename": {"type": "string"}, "size": {"type": "integer"},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "content_type": {"type": "string"},
    "description": {"type": "string"}, "uploaded_by": {"type": "string"}, "uploaded_at": {"type": "string"}}}

SUMMARY = {"type": "object", "required": ["id", "country", "month", "attack_type"], "additionalProperties": False,
           "properties": {"id": {"type": "string"},
                          "country": {"type": ["string", "null"],
                                      "description": "null (withheld) while fewer than 3 organisations publish "
                                                     "summaries from the country (rule 12)"},
                          "month": {"type": "string"},
                          "attack_type": {"type": "string"}, "services": {"type": "array"},
                          "figures": _OBJECT, "text": {"type": "string"}}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def incidents_openapi_paths() -> dict:
    incident = [_path("stix_id")]
    case = [_path("case_id")]
    return {
        "/incidents": {
            "post": {"operationId": "fileIncident", "summary": "File an incident report",
                     "requestBody": _body(REPORT),
                     "responses": {"201": _json({"type": "object", "required": ["id"], "properties": {
                         "id": {"type": "string"}}}, "Filed."), **_errors(400, 401, 403, 413, 415, 422)}},
            "get": {"operationId": "listIncidents", "summary": "Incidents the caller may read, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                    "maximum": MAX_PAGE, "default": DEFAULT_PAGE}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                        {"name": "attack_type", "in": "query", "schema": {"enum": list(ATTACK_TYPES)}},
                        {"name": "significant", "in": "query", "schema": {"enum": ["0", "1"]}},
                        {"name": "country", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": _json({"type": "object", "required": ["incidents", "next"], "properties": {
                        "incidents": {"type": "array", "items": INCIDENT},
                        "next": {"type": ["string", "null"]}}}, "One page."), **_errors(400, 401, 422)}},
        },
        "/incidents/{stix_id}": {
            "get": {"operationId": "getIncident", "summary": "One incident (404 when not readable)",
                    "parameters": incident,
                    "responses": {"200": _json(INCIDENT, "The incident."), **_errors(401, 404)}},
            "put": {"operationId": "updateIncident", "summary": "A new revision of the report (owner)",
                    "parameters": incident, "requestBody": _body(REPORT),
                    "responses": {"200": _json(_OBJECT, "Revised."), **_errors(*_WRITE_ERRORS)}},
        },
        "/incidents/{stix_id}/revisions/{number}": {
            "get": {"operationId": "getIncidentRevision", "summary": "One kept revision",
                    "parameters": [*incident, {"name": "number", "in": "path", "required": True,
                                               "schema": {"type": "integer", "minimum": 1}}],
                    "responses": {"200": _json(_OBJECT, "The revision."), **_errors(401, 404)}},
        },
        "/incidents/{stix_id}/stix": {
            "get": {"operationId": "exportIncidentStix", "summary": "The report as a STIX 2.1 bundle",
                    "parameters": incident,
                    "responses": {"200": _json(_OBJECT, "A STIX 2.1 bundle."), **_errors(401, 404)}},
        },
        "/incidents/{stix_id}/consents": {
            "post": {"operationId": "grantConsent", "summary": "Consent to a law-enforcement organisation (owner admin)",
                     "parameters": incident,
                     "requestBody": _body({"type": "object", "required": ["org"], "properties": {"org": {"type": "string"}}}),
                     "responses": {"201": _json(_OBJECT, "Consent active; the case is open."), **_errors(*_WRITE_ERRORS)}},
        },
        "/incidents/{stix_id}/consents/{slug}": {
            "delete": {"operationId": "revokeConsent", "summary": "Revoke consent (owner admin): hides the case at once",
                       "parameters": [*incident, _path("slug")],
                       "responses": {"204": {"description": "Revoked."}, **_errors(401, 403, 404)}},
        },
        "/incidents/{stix_id}/significant": {
            "post": {"operationId": "markSignificant", "summary": "Mark a significant incident (NIS2): clocks start",
                     "parameters": incident,
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "properties": {"aware_at": {"type": "string", "format": "date-time"}}}}}},
                     "responses": {"200": _json(_OBJECT, "Marked, with its clocks."), **_errors(*_WRITE_ERRORS)}},
        },
        "/incidents/{stix_id}/nis2/{stage}": {
            "post": {"operationId": "submitNisReport", "summary": "Submit a NIS2 report: a kept snapshot",
                     "parameters": [*incident, {"name": "stage", "in": "path", "required": True,
                                                "schema": {"enum": [s.value for s in Stage]}}],
                     "requestBody": {"required": False, "content": {"application/json": {"schema": NIS_SUBMISSION}}},
                     "responses": {"201": _json(_OBJECT, "Submitted (or, for a request_key already used for "
                                                         "this stage, the submission it made)."),
                                   **_errors(*_WRITE_ERRORS)}},
        },
        "/incidents/{stix_id}/nis2/submissions/{public_id}": {
            "get": {"operationId": "getNisSubmission", "summary": "A submitted report's snapshot (JSON)",
                    "parameters": [*incident, _path("public_id")],
                    "responses": {"200": _json(_OBJECT, "The snapshot."), **_errors(401, 404)}},
        },
        "/incidents/{stix_id}/nis2/intermediate-request": {
            "post": {"operationId": "requestIntermediateReport", "summary": "The national CERT requests an intermediate report",
                     "parameters": incident,
                     "requestBody": _body({"type": "object", "required": ["due_at"], "properties": {
                         "due_at": {"type": "string", "format": "date-time"}}}),
                     "responses": {"200": _json(_OBJECT, "Requested."), **_errors(*_WRITE_ERRORS)}},
        },
        "/nis2/queue": {
            "get": {"operationId": "nisQueue", "summary": "A national CERT's queue of significant incidents with clocks",
                    "responses": {"200": _json({"type": "object", "required": ["incidents"], "properties": {
                        "incidents": {"type": "array", "items": _OBJECT}}}, "By next deadline."), **_errors(401, 403)}},
        },
        "/incidents/{stix_id}/advice": {
            "post": {"operationId": "giveAdvice", "summary": "The national CERT advises the hospital (NIS2 Art. 23(5))",
                     "parameters": incident,
                     "requestBody": _body({"type": "object", "properties": {
                         "body": {"type": "string"}, "kind": {"enum": ["involve_law_enforcement", "general"]}}}),
                     "responses": {"201": _json(_OBJECT, "Advice recorded."), **_errors(*_WRITE_ERRORS)}},
        },
        "/cases": {
            "get": {"operationId": "caseQueue", "summary": "A law-enforcement organisation's case queue",
                    "parameters": [{"name": "status", "in": "query", "schema": {"enum": [s.value for s in CaseStatus]}}],
                    "responses": {"200": _json({"type": "object", "required": ["cases"], "properties": {
                        "cases": {"type": "array", "items": CASE}}}, "Active cases."), **_errors(401, 403, 422)}},
        },
        "/cases/{case_id}": {
            "get": {"operationId": "getCase", "summary": "A case (its liaison while consent is active, or the hospital)",
                    "parameters": case, "responses": {"200": _json(CASE, "The case."), **_errors(401, 404)}},
        },
        "/cases/{case_id}/status": {
            "post": {"operationId": "setCaseStatus", "summary": "Move the case on (liaison only)",
                     "parameters": case,
                     "requestBody": _body({"type": "object", "required": ["status"], "properties": {
                         "status": {"enum": [s.value for s in CaseStatus]}}}),
                     "responses": {"200": _json(_OBJECT, "Moved."), **_errors(*_WRITE_ERRORS)}},
        },
        "/cases/{case_id}/messages": {
            "post": {"operationId": "postCaseMessage", "summary": "Write on the case",
                     "parameters": case,
                     "requestBody": _body({"type": "object", "required": ["body"], "properties": {
                         "body": {"type": "string"}, "kind": {"enum": list(MESSAGE_KINDS)},
                         "confirm_personal_data": {"type": "boolean"}}}),
                     "responses": {"201": _json(MESSAGE, "Posted."), **_errors(*_WRITE_ERRORS)}},
            "get": {"operationId": "listCaseMessages", "summary": "The case's messages, oldest first",
                    "parameters": case,
                    "responses": {"200": _json({"type": "object", "required": ["messages"], "properties": {
                        "messages": {"type": "array", "items": MESSAGE}}}, "Messages."), **_errors(401, 404)}},
        },
        "/cases/{case_id}/evidence": {
            "post": {"operationId": "addEvidence", "summary": "Attach an evidence file (hashed on upload)",
                     "parameters": case,
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "required": ["file"], "properties": {
                             "file": {"type": "string", "format": "binary"}, "description": {"type": "string"}}}}}},
                     "responses": {"201": _json(EVIDENCE, "Stored."), **_errors(*_WRITE_ERRORS)}},
            "get": {"operationId": "listEvidence", "summary": "The case's evidence files",
                    "parameters": case,
                    "responses": {"200": _json({"type": "object", "required": ["evidence"], "properties": {
                        "evidence": {"type": "array", "items": EVIDENCE}}}, "Files."), **_errors(401, 404)}},
        },
        "/evidence/{evidence_id}": {
            "get": {"operationId": "downloadEvidence", "summary": "Download (case parties only; custody-logged)",
                    "parameters": [_path("evidence_id")],
                    "responses": {"200": {"description": "The file, as an attachment; `X-Evidence-SHA256` "
                                                         "carries its hash.",
                                          "content": {"application/octet-stream": {"schema": {
                                              "type": "string", "format": "binary"}}}},
                                  **_errors(401, 404, 409)}},
        },
        "/cases/{case_id}/custody": {
            "get": {"operationId": "custodyLog", "summary": "Chain of custody, seen by both parties",
                    "parameters": case,
                    "responses": {"200": _json({"type": "object", "required": ["custody"], "properties": {
                        "custody": {"type": "array", "items": _OBJECT}}}, "Events, oldest first."),
                                  **_errors(401, 404)}},
        },
        "/incidents/{stix_id}/summary": {
            "post": {"operationId": "publishSummary", "summary": "Publish an anonymised summary to the community",
                     "parameters": incident,
                     "requestBody": _body({"type": "object", "properties": {
                         "text": {"type": "string", "maxLength": 2000,
                                  "description": "Reviewed free text, checked for patient data."},
                         "confirm_personal_data": {"type": "boolean"}}}),
                     "responses": {"201": _json(SUMMARY, "Published."), **_errors(*_WRITE_ERRORS)}},
            "delete": {"operationId": "withdrawSummary", "summary": "Withdraw it",
                       "parameters": incident,
                       "responses": {"204": {"description": "Withdrawn."}, **_errors(401, 403, 404)}},
        },
        "/summaries": {
            "get": {"operationId": "listSummaries", "summary": "Anonymised summaries (no owner, ever)",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                                   {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                                   {"name": "country", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": _json({"type": "object", "required": ["summaries", "next"], "properties": {
                        "summaries": {"type": "array", "items": SUMMARY},
                        "next": {"type": ["string", "null"]}}}, "One page."), **_errors(400, 401, 422)}},
        },
        "/dashboard": {
            "get": {"operationId": "dashboard", "summary": "Incident figures over what the caller may read plus summaries",
                    "description": "Rule 12: other organisations' incidents and summaries count only in cells "
                                   "(month, attack type, country) built from at least 3 organisations; the "
                                   "caller's own incidents always count. Reads of others' incidents are audited.",
                    "responses": {"200": _json(_OBJECT, "Figures."), **_errors(401)}},
        },
        "/dashboard.csv": {
            "get": {"operationId": "dashboardCsv", "summary": "The same figures per month, attack type and country",
                    "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                                  **_errors(401)}},
        },
        "/extension-definitions/{definition_id}": {
            "get": {"operationId": "getExtensionDefinition", "summary": "One of the hub's STIX extension-definitions (healthcare incident impact, "
                                                                 "vulnerability advisory)",
                    "parameters": [_path("definition_id")],
                    "responses": {"200": _json(_OBJECT, "A STIX extension-definition."), **_errors(401, 404)}},
        },
        "/extension-definitions/{definition_id}/schema": {
            "get": {"operationId": "getExtensionSchema", "summary": "Its JSON schema",
                    "parameters": [_path("definition_id")],
                    "responses": {"200": _json(_OBJECT, "A JSON schema."), **_errors(401, 404)}},
        },
    }
