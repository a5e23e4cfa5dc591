"""OpenAPI 3.1 paths of the intelligence and directory endpoints, and the shared components.

Written out by hand so that it says what the API promises, not what a generator guessed; a test
checks that every /api/v1 route is documented with exactly its methods, and that real answers
match the response schemas. hub/api/openapi.py merges this with the other features' parts.
"""
from __future__ import annotations

from hub.principal import OrgKind
from hub.intel.reads import DEFAULT_PAGE, MAX_PAGE
from hub.tlp import TLP

STIX_ID_PATTERN = (
    r"^[a-z0-9][a-z0-9-]*[a-z0-9]--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(status): {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"} for status in statuses}


ERROR_RESPONSES = {
    400: ("BadRequest", "Malformed request: JSON syntax, a body that is not an object, or an invalid "
                        "query parameter (limit, cursor, tlp, status, added_after, kind, country). "
                        "`details` names the field or the line and column."),
    401: ("Unauthorized", "No bearer token, or one that is unknown, revoked or belongs to a deactivated user."),
    403: ("Forbidden", "The caller may read the item (or it is their organisation's) but its role or "
                       "organisation may not do this: viewers cannot share; only the owner "
                       "organisation's analysts and admins revoke or widen."),
    404: ("NotFound", "No such object, or one the caller may not read: the two answers are identical."),
    413: ("PayloadTooLarge", "The request body is larger than the hub's limit (MAX_CONTENT_LENGTH)."),
    415: ("UnsupportedMediaType", "The body is not sent as Content-Type: application/json."),
    422: ("Unprocessable", "Well-formed JSON that cannot be accepted: invalid STIX (each rejected object "
                           "listed with its index and id), invalid indicator pattern, STIX 2.0, unknown "
                           "TLP, contradicting TLP markings, unknown audience members, a TLP:RED item "
                           "with an audience other than named users, an invalid CVSS vector or CWE id "
                           "(`field` names the property). Nothing was written."),
}

_LIMIT = {
    "name": "limit", "in": "query", "required": False,
    "description": f"Page size (default {DEFAULT_PAGE}).",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
}

_STIX_ID = {
    "name": "stix_id", "in": "path", "required": True,
    "description": "A STIX identifier, e.g. indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f.",
    "schema": {"type": "string", "pattern": STIX_ID_PATTERN},
}

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "required": ["error", "details"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong, for a human."},
            "details": {
                "type": "array",
                "description": "Where: one entry per problem, naming the field (or the object's "
                               "index and id) and the error.",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "index": {"type": "integer", "minimum": 0},
                        "id": {"type": ["string", "null"]},
                        "value": {},
                        "line": {"type": "integer"},
                        "column": {"type": "integer"},
                        "error": {"type": "string"},
                    },
                    "required": ["error"],
                },
            },
        },
        "additionalProperties": False,
    },
    "Tlp": {
        "type": "string",
        "enum": [tlp.value for tlp in TLP],
        "description": "TLP 2.0 label. Objects read back carry the matching OASIS TLP 2.0 marking "
                       "definition in object_marking_refs.",
    },
    "Audience": {
        "description": 'Who receives the item. "own": the sharer\'s organisation only. A TLP:RED '
                       'item must name users. Groups must be ones the sharer\'s organisation belongs to.',
        "oneOf": [
            {"type": "string", "enum": ["community", "own"]},
            *[
                {
                    "type": "object",
                    "required": [kind],
                    "properties": {kind: {"type": "array", "minItems": 1, "items": item}},
                    "additionalProperties": False,
                }
                for kind, item in (
                    ("groups", {"type": "string", "description": "sharing group slug"}),
                    ("orgs", {"type": "string", "description": "organisation slug"}),
                    ("users", {"type": "string", "format": "email"}),
                )
            ],
        ],
    },
    "StixObject": {
        "type": "object",
        "description": "A STIX 2.1 object (SDO, SRO, SCO or custom), as serialised by the stix2 library.",
        "required": ["type", "id"],
        "properties": {
            "type": {"type": "string"},
            "id": {"type": "string", "pattern": STIX_ID_PATTERN},
            "spec_version": {"type": "string", "const": "2.1"},
            "object_marking_refs": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": True,
    },
    "Bundle": {
        "type": "object",
        "required": ["type", "objects"],
        "properties": {
            "type": {"const": "bundle"},
            "id": {"type": "string"},
            "objects": {"type": "array", "items": _ref("StixObject")},
        },
    },
    "ShareRequest": {
        "type": "object",
        "description": "Exactly one of `objects` and `bundle`. The whole request is atomic: one bad "
                       "object and nothing is shared.",
        "properties": {
            "objects": {"type": "array", "minItems": 1, "items": _ref("StixObject")},
            "bundle": _ref("Bundle"),
            "tlp": {
                "allOf": [_ref("Tlp")],
                "description": "Applies to objects without a TLP marking. An object marked with "
                               "another TLP (2.0, or 1.0 where WHITE means CLEAR) is rejected.",
            },
            "audience": {"allOf": [_ref("Audience")], "default": "own"},
            "anonymous": {"type": "boolean", "default": False,
                          "description": "Recipients see the content, never the source."},
        },
        "oneOf": [{"required": ["objects"]}, {"required": ["bundle"]}],
        "additionalProperties": False,
    },
    "ShareResponse": {
        "type": "object",
        "required": ["ids"],
        "properties": {
            "ids": {"type": "array", "items": {"type": "string", "pattern": STIX_ID_PATTERN}},
            "warnings": {
                "type": "array",
                "description": "Observables of the shared objects found on the hub's warning lists of "
                               "known-benign values (public resolvers, CDN ranges, top domains, reserved "
                               "networks): probably not malicious; alerts ignore them. Present only "
                               "when there is something to warn about.",
                "items": {
                    "type": "object",
                    "required": ["object_id", "kind", "value", "lists"],
                    "properties": {
                        "object_id": {"type": "string", "pattern": STIX_ID_PATTERN},
                        "kind": {"type": "string"},
                        "value": {"type": "string"},
                        "lists": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Version": {
        "type": "object",
        "required": ["modified", "date_added"],
        "properties": {
            "modified": {"type": ["string", "null"], "format": "date-time",
                         "description": "null for objects that are not versioned (SCOs)"},
            "date_added": {"type": "string", "format": "date-time"},
        },
    },
    "HubMetadata": {
        "type": "object",
        "description": "The hub's own facts about an item, as the caller may see them.",
        "required": ["tlp", "owner", "anonymous", "revoked", "expired", "date_added"],
        "properties": {
            "tlp": _ref("Tlp"),
            "owner": {"type": ["string", "null"],
                      "description": "Owner organisation slug; null for anonymous items, except "
                                     "to the owner organisation itself."},
            "anonymous": {"type": "boolean"},
            "revoked": {"type": "boolean"},
            "expired": {"type": "boolean", "description": "valid_until is in the past"},
            "date_added": {"type": "string", "format": "date-time"},
            "author": {"type": "string", "format": "email", "description": "Owner organisation only."},
            "audience": {
                "description": "Owner organisation only: everyone the item reaches, after any widening.",
                "oneOf": [
                    {"type": "string", "enum": ["community", "own"]},
                    {
                        "type": "object",
                        "minProperties": 1,
                        "properties": {
                            kind: {"type": "array", "items": {"type": "string"}}
                            for kind in ("groups", "orgs", "users")
                        },
                        "additionalProperties": False,
                    },
                ],
            },
            "versions": {"type": "array", "items": _ref("Version"),
                         "description": "Every stored version, oldest first."},
            "seen_by": {"type": "integer", "minimum": 0,
                        "description": "One object (GET /objects/{stix_id}): how many organisations "
                                       "reported a sighting the caller may read. An organisation "
                                       "that reported both under its name and anonymously counts "
                                       "once for each."},
            "seen_by_organisations": {"type": "array", "items": {"type": "string"},
                                      "description": "Names of those whose sightings are not anonymous."},
            "sightings": {"type": "integer", "minimum": 0,
                          "description": "How many sighting objects of it the caller may read."},
            "decay_score": {"type": "integer", "minimum": 0, "maximum": 100,
                            "description": "One object: how much it still deserves attention (README, "
                                           "'Decay score'): confidence, halved every "
                                           "HUB_DECAY_HALF_LIFE_DAYS without activity, raised by "
                                           "readable sightings; 0 once revoked or expired."},
            "warning_lists": {
                "type": "array",
                "description": "The item's observables that are on warning lists of known-benign values.",
                "items": {
                    "type": "object",
                    "required": ["kind", "value", "lists"],
                    "properties": {"kind": {"type": "string"}, "value": {"type": "string"},
                                   "lists": {"type": "array", "items": {"type": "string"}}},
                },
            },
        },
    },
    "ObjectPage": {
        "type": "object",
        "required": ["objects", "next"],
        "properties": {
            "objects": {"type": "array", "items": _ref("StixObject")},
            "next": {"type": ["string", "null"],
                     "description": "Pass as `cursor` for the next page; null on the last page."},
        },
        "additionalProperties": False,
    },
    "ObjectDetail": {
        "type": "object",
        "required": ["object", "hub"],
        "properties": {"object": _ref("StixObject"), "hub": _ref("HubMetadata")},
        "additionalProperties": False,
    },
    "SearchResults": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "allOf": [
                        _ref("HubMetadata"),
                        {
                            "type": "object",
                            "required": ["id", "type", "name", "matched"],
                            "properties": {
                                "id": {"type": "string", "pattern": STIX_ID_PATTERN},
                                "type": {"type": "string"},
                                "name": {"type": "string"},
                                "matched": {"type": "string", "enum": ["observable", "text"]},
                            },
                        },
                    ]
                },
            }
        },
        "additionalProperties": False,
    },
    "RevokeRequest": {
        "type": "object",
        "properties": {"reason": {"type": "string", "maxLength": 500,
                                  "description": "Kept in the audit log."}},
    },
    "SightingRequest": {
        "type": "object",
        "description": "Every field is optional; an empty body reports one sighting now.",
        "properties": {
            "count": {"type": "integer", "minimum": 1, "maximum": 999_999_999, "default": 1,
                      "description": "How many times it was seen (STIX bounds the count)."},
            "first_seen": {"type": "string", "format": "date-time",
                           "description": "RFC 3339 with a time zone, within 1970..2200 (default: now)."},
            "last_seen": {"type": "string", "format": "date-time",
                          "description": "Not before first_seen (default: now, or first_seen if later)."},
            "note": {"type": "string", "maxLength": 5000, "description": "The sighting's description."},
            "tlp": {"allOf": [_ref("Tlp")],
                    "description": "Default: GREEN, or the item's TLP when it is AMBER, AMBER+STRICT or "
                                   "RED. A TLP:RED sighting needs an audience of named users."},
            "audience": {"allOf": [_ref("Audience")],
                         "description": "Default: the item's owner organisation, the caller's "
                                        "organisation and the national CERTs of its country."},
            "anonymous": {"type": "boolean", "default": False,
                          "description": "No where_sighted_refs and no created_by_ref: recipients "
                                         "never learn who saw it."},
        },
        "additionalProperties": False,
    },
    "Correlations": {
        "type": "object",
        "required": ["correlations"],
        "properties": {
            "correlations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object_id", "value", "kind"],
                    "properties": {
                        "object_id": {"type": "string", "pattern": STIX_ID_PATTERN},
                        "value": {"type": "string", "description": "The value the other object names."},
                        "kind": {"type": "string", "enum": ["same-value", "same-file", "cidr"]},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
    "BulkSightingRequest": {
        "type": "object",
        "required": ["values"],
        "properties": {
            "values": {"type": "array", "minItems": 1, "maxItems": 100000,
                       "items": {"type": "string", "maxLength": 2048},
                       "description": "Observed values: IP addresses or networks, domains, URLs, e-mail "
                                      "addresses, hashes; defanged spellings (hxxp, [.], (.)) accepted."},
            "tlp": _ref("Tlp"),
            "audience": _ref("Audience"),
            "anonymous": {"type": "boolean"},
            "note": {"type": "string", "maxLength": 5000},
            "first_seen": {"type": "string", "format": "date-time"},
            "last_seen": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "BulkSightingResult": {
        "type": "object",
        "required": ["matched", "unmatched"],
        "properties": {
            "matched": {"type": "array", "items": {
                "type": "object", "required": ["value", "object_ids"],
                "properties": {"value": {"type": "string"},
                               "object_ids": {"type": "array", "items": {"type": "string", "pattern": STIX_ID_PATTERN}}},
                "additionalProperties": False}},
            "unmatched": {"type": "integer", "minimum": 0,
                          "description": "Distinct non-empty values that matched nothing readable."},
        },
        "additionalProperties": False,
    },
    "SightingResponse": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string", "pattern": STIX_ID_PATTERN}},
        "additionalProperties": False,
    },
    "ExtendRequest": {
        "type": "object",
        "required": ["valid_until"],
        "properties": {"valid_until": {"type": "string", "format": "date-time"}},
        "additionalProperties": False,
    },
    "AudienceRequest": {
        "type": "object",
        "required": ["audience"],
        "properties": {"audience": _ref("Audience")},
    },
    "Organisation": {
        "type": "object",
        "required": ["slug", "name", "kind", "country"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": [kind.value for kind in OrgKind]},
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        },
        "additionalProperties": False,
    },
    "OrgDirectory": {
        "type": "object",
        "required": ["orgs"],
        "properties": {"orgs": {"type": "array", "items": _ref("Organisation")}},
        "additionalProperties": False,
    },
    "SharingGroup": {
        "type": "object",
        "required": ["slug", "name", "orgs"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "orgs": {"type": "array", "items": {"type": "string"}, "description": "member organisation slugs"},
        },
        "additionalProperties": False,
    },
    "SharingGroups": {
        "type": "object",
        "required": ["groups"],
        "properties": {"groups": {"type": "array", "items": _ref("SharingGroup")}},
        "additionalProperties": False,
    },
    "Me": {
        "type": "object",
        "required": ["email", "org", "org_kind", "country", "role", "groups"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "org": {"type": "string"},
            "org_kind": {"type": "string", "enum": [kind.value for kind in OrgKind]},
            "country": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "analyst", "viewer"]},
            "groups": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
}


def intel_openapi_paths() -> dict:
    json_body = lambda name, required=True: {  # noqa: E731
        "required": required, "content": {"application/json": {"schema": _ref(name)}}
    }
    return {
        "/share": {
            "post": {
                "operationId": "share",
                "summary": "Share STIX 2.1 objects on behalf of the caller's organisation",
                "description": "Validates every object with the stix2 library (properties, indicator "
                               "patterns), maps TLP 1.0 markings to TLP 2.0, and stores all objects "
                               "or none. Re-posting a stored version changes nothing; a later "
                               "`modified` adds a version. Advisories: an external reference with "
                               "source_name `cwe` must name CWE-NNN; CVSS scores in the hub's advisory "
                               "property extension (extension-definition--0b6a4f5e-9c1d-4e37-8f2a-"
                               "5d7c3b9e1a64: `cvss_v3` and `cvss_v4`, each with `vector_string`, "
                               "`base_score`, `base_severity`) must be valid vectors of that CVSS "
                               "version, with the score and severity the vector gives; a 422 names "
                               "the property, e.g. `objects[0].extensions.<id>.cvss_v3.vector_string`.",
                "requestBody": json_body("ShareRequest"),
                "responses": {
                    "201": _json(_ref("ShareResponse"), "Shared: the STIX ids, in request order."),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            }
        },
        "/objects": {
            "get": {
                "operationId": "listObjects",
                "summary": "List the objects the caller may read, oldest date_added first",
                "parameters": [
                    {"name": "type", "in": "query", "required": False, "explode": True,
                     "description": "STIX type; repeat or comma-separate for several.",
                     "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "tlp", "in": "query", "required": False, "explode": True,
                     "description": "TLP label; repeat or comma-separate for several.",
                     "schema": {"type": "array", "items": _ref("Tlp")}},
                    {"name": "owner", "in": "query", "required": False,
                     "description": "Owner organisation slug (never matches anonymous items of others).",
                     "schema": {"type": "string"}},
                    {"name": "added_after", "in": "query", "required": False,
                     "description": "Only items whose newest version was added after this instant "
                                    "(RFC 3339 with a time zone).",
                     "schema": {"type": "string", "format": "date-time"}},
                    {"name": "status", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["all", "current", "active", "revoked", "expired"],
                                "default": "all"}},
                    _LIMIT,
                    {"name": "cursor", "in": "query", "required": False,
                     "description": "The `next` value of the previous page.",
                     "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(_ref("ObjectPage"), "One page: the latest version of each object."),
                    **_errors(400, 401),
                },
            }
        },
        "/objects/{stix_id}": {
            "get": {
                "operationId": "getObject",
                "summary": "One object: its latest version and the hub's facts about it",
                "parameters": [_STIX_ID],
                "responses": {
                    "200": _json(_ref("ObjectDetail"), "The object."),
                    **_errors(401, 404),
                },
            }
        },
        "/objects/{stix_id}/revoke": {
            "post": {
                "operationId": "revokeObject",
                "summary": "Revoke an item of the caller's organisation (a new version with revoked: true)",
                "description": "Revoking an already revoked item changes nothing. Audited; recipients are told.",
                "parameters": [_STIX_ID],
                "requestBody": json_body("RevokeRequest", required=False),
                "responses": {
                    "200": _json(_ref("ObjectDetail"), "The revoked object."),
                    **_errors(400, 401, 403, 404, 413, 415, 422),
                },
            }
        },
        "/objects/{stix_id}/extend": {
            "post": {
                "operationId": "extendObject",
                "summary": "Give an indicator of the caller's organisation a later valid_until",
                "description": "A new STIX version with the new valid_until, announced as `updated`: "
                               "an expired indicator is current again (lists, matching, feeds).",
                "parameters": [_STIX_ID],
                "requestBody": json_body("ExtendRequest"),
                "responses": {
                    "200": _json(_ref("ObjectDetail"), "The extended object."),
                    **_errors(400, 401, 403, 404, 413, 415, 422),
                },
            }
        },
        "/objects/{stix_id}/audience": {
            "post": {
                "operationId": "widenAudience",
                "summary": "Widen the audience of an item of the caller's organisation",
                "description": "Adds recipients; nobody is ever removed. A TLP:RED item can only "
                               "gain named users. Audited and announced like a new share.",
                "parameters": [_STIX_ID],
                "requestBody": json_body("AudienceRequest"),
                "responses": {
                    "200": _json(_ref("ObjectDetail"), "The object, with its audience as the owner sees it."),
                    **_errors(400, 401, 403, 404, 413, 415, 422),
                },
            }
        },
        "/objects/{stix_id}/sightings": {
            "post": {
                "operationId": "sightObject",
                "summary": "Report a sighting of a readable object (\"we saw this too\")",
                "description": "Shares a STIX 2.1 sighting (sighting_of_ref = the object) with its own "
                               "TLP and audience, and tells those who follow the object's `sighted` "
                               "events. Only readers of the object ever read the sighting.",
                "parameters": [_STIX_ID],
                "requestBody": json_body("SightingRequest", required=False),
                "responses": {
                    "201": _json(_ref("SightingResponse"), "Recorded: the sighting's STIX id."),
                    **_errors(400, 401, 403, 404, 413, 415, 422),
                },
            }
        },
        "/objects/{stix_id}/correlations": {
            "get": {
                "operationId": "objectCorrelations",
                "summary": "What the caller may read that names the same thing as this object",
                "description": "same-value: the same normalised value; same-file: another hash of a "
                               "file that a readable object describes with several hashes; cidr: an "
                               "address inside a network, or a network holding an address. Newest "
                               "first, at most 500. Revoked objects never correlate.",
                "parameters": [_STIX_ID],
                "responses": {
                    "200": _json(_ref("Correlations"), "The correlations."),
                    **_errors(401, 404),
                },
            }
        },
        "/sightings/bulk": {
            "post": {
                "operationId": "sightInBulk",
                "summary": "Match observed values against what the caller may read; sight each matched indicator",
                "description": "Each value is normalised (defanged spellings accepted) and looked up; "
                               "one sighting per matched indicator records how many values matched "
                               "it, with the TLP and audience given (default: each indicator's "
                               "default sighting audience). Atomic.",
                "requestBody": json_body("BulkSightingRequest"),
                "responses": {
                    "200": _json(_ref("BulkSightingResult"), "What matched."),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            }
        },
        "/search": {
            "get": {
                "operationId": "search",
                "summary": "Find readable items by observable value (normalised, exact) or by text",
                "parameters": [
                    {"name": "q", "in": "query", "required": True,
                     "description": "An IP address, domain, URL, e-mail address or file hash in any "
                                    "usual spelling, or words from a name or description.",
                     "schema": {"type": "string", "minLength": 1, "maxLength": 2048}},
                    _LIMIT,
                ],
                "responses": {
                    "200": _json(_ref("SearchResults"), "Matching items, newest first."),
                    **_errors(400, 401, 422),
                },
            }
        },
        "/orgs": {
            "get": {
                "operationId": "listOrganisations",
                "summary": "The member directory: organisations a sharer can name in an audience",
                "parameters": [
                    {"name": "kind", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": [kind.value for kind in OrgKind]}},
                    {"name": "country", "in": "query", "required": False,
                     "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"}},
                ],
                "responses": {
                    "200": _json(_ref("OrgDirectory"), "Organisations, by slug."),
                    **_errors(400, 401),
                },
            }
        },
        "/groups": {
            "get": {
                "operationId": "listSharingGroups",
                "summary": "The sharing groups the caller's organisation belongs to, with their members",
                "responses": {
                    "200": _json(_ref("SharingGroups"), "Sharing groups, by slug."),
                    **_errors(401),
                },
            }
        },
        "/me": {
            "get": {
                "operationId": "whoAmI",
                "summary": "The token's user, organisation and role",
                "responses": {"200": _json(_ref("Me"), "The caller."), **_errors(401)},
            }
        },
        "/public/objects": {
            "get": {
                "operationId": "listPublicObjects",
                "summary": "TLP:CLEAR objects for anyone, without signing in (only when the operator "
                           "sets HUB_PUBLIC_CLEAR; otherwise 404). Never incident reports.",
                "security": [],
                "parameters": [
                    {"name": "type", "in": "query", "required": False, "explode": True,
                     "schema": {"type": "array", "items": {"type": "string"}}},
                    _LIMIT,
                    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(_ref("ObjectPage"), "One page, oldest date_added first."),
                    **_errors(400, 404),
                },
            }
        },
        "/public/objects/{stix_id}": {
            "get": {
                "operationId": "getPublicObject",
                "summary": "One TLP:CLEAR object for anyone (when enabled); anonymous sharers stay unnamed",
                "security": [],
                "parameters": [_STIX_ID],
                "responses": {
                    "200": _json(_ref("ObjectDetail"), "The object."),
                    **_errors(404),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
            }
        },
    }
