"""OpenAPI 3.1 paths of the blocklist feeds: the URLs firewalls poll, and managing them.

Self-contained apart from the shared `Error` schema; hub/api/openapi.py merges them and declares
the `feedToken` security scheme."""
from __future__ import annotations

from hub.feeds.export import CSV_COLUMNS, SID_BASE
from hub.feeds.services import DEFAULT_KINDS, FEED_KINDS, FEED_TLPS, MAX_NAME_LENGTH

_ERROR = {"$ref": "#/components/schemas/Error"}
_FEED_ID = {"name": "feed_id", "in": "path", "required": True,
            "description": "The feed's public id, as in its URLs.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}}

_ERROR_TEXT = {
    400: "Malformed JSON, or a body that is not an object.",
    401: "No bearer token, or an unknown or revoked one. On a feed URL: anything but that feed's own "
         "live token (another feed's, a user's API token, a rotated one), or a feed that does not exist "
         "or was deleted; the answers are identical.",
    403: "Viewers list their organisation's feeds; only analysts and admins create, rotate and delete.",
    404: "No such feed in the caller's organisation.",
    413: "The body is larger than the hub accepts (MAX_CONTENT_LENGTH).",
    415: "The body is not sent as Content-Type: application/json.",
    422: "Invalid feed settings; `details` names each wrong field (e.g. tlps[0]: TLP:RED is never "
         "exported to a feed; kinds[1]: unknown kind; min_confidence out of 0..100), or an unknown field.",
}


def _errors(*statuses: int) -> dict:
    return {str(status): {"description": _ERROR_TEXT[status], "content": {"application/json": {"schema": _ERROR}}}
            for status in statuses}


_TLP_VALUES = [tlp.value for tlp in FEED_TLPS]

FEED_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "kinds", "tlps", "min_confidence", "urls", "token_prefix", "created_at",
                 "created_by", "last_polled_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kinds": {"type": "array", "items": {"type": "string", "enum": list(FEED_KINDS)}},
        "tlps": {"type": "array", "items": {"type": "string", "enum": _TLP_VALUES}},
        "min_confidence": {"type": "integer", "minimum": 0, "maximum": 100},
        "urls": {"type": "object", "required": ["txt", "csv", "rules"],
                 "properties": {fmt: {"type": "string", "format": "uri"} for fmt in ("txt", "csv", "rules")}},
        "token_prefix": {"type": "string", "description": "The first characters of the token, to tell tokens apart."},
        "created_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": ["string", "null"], "description": "E-mail of the member who created it."},
        "last_polled_at": {"type": ["string", "null"], "format": "date-time"},
        "token": {"type": "string", "description": "Only in the answer to create and rotate: the one time "
                                                   "the token is shown. The hub keeps its hash only."},
    },
}

FEED_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
        "kinds": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(FEED_KINDS)},
                  "description": "Observable kinds to carry; default " + ", ".join(DEFAULT_KINDS) + "."},
        "tlps": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": _TLP_VALUES},
                 "description": "TLPs to carry; default all but RED, which a feed never carries."},
        "min_confidence": {"type": "integer", "minimum": 0, "maximum": 100, "default": 0,
                           "description": "Minimum STIX confidence; above 0, items without one are left out."},
    },
}

_FEED_DESCRIPTION = (
    "What every member of the feed's organisation may read under the sharing policy (never TLP:RED, "
    "never items granted to one named user, never a derived object naming an unreadable item), of "
    "the feed's kinds and TLPs and at its minimum confidence, neither revoked nor expired. One line "
    "per distinct value, ordered by value; streamed. Authenticated by the feed's own token only "
    "(`Authorization: Bearer <token>` or `Token <token>`). Send the ETag back in If-None-Match (or "
    "Last-Modified in If-Modified-Since) and an unchanged feed answers 304 with no body. Every poll "
    "is audited once for the organisation's admin."
)


def _feed_get(fmt: str, media_type: str, summary: str, body: str) -> dict:
    return {
        "get": {
            "operationId": f"pollFeed{fmt.capitalize()}",
            "summary": summary,
            "description": _FEED_DESCRIPTION + " " + body,
            "security": [{"feedToken": []}],
            "parameters": [_FEED_ID],
            "responses": {
                "200": {"description": "The feed.", "headers": {
                    "ETag": {"schema": {"type": "string"}}, "Last-Modified": {"schema": {"type": "string"}}},
                    "content": {media_type: {"schema": {"type": "string"}}}},
                "304": {"description": "Not modified since the ETag or date the client sent."},
                **_errors(401),
            },
        }
    }


def feeds_openapi_paths() -> dict:
    return {
        "/feeds": {
            "get": {
                "operationId": "listFeeds",
                "summary": "The caller's organisation's feeds (every member may list them; tokens are never shown)",
                "responses": {
                    "200": {"description": "The feeds, oldest first.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["feeds"],
                        "properties": {"feeds": {"type": "array", "items": FEED_SCHEMA}}}}}},
                    **_errors(401),
                },
            },
            "post": {
                "operationId": "createFeed",
                "summary": "Create a blocklist feed of the caller's organisation (analysts and admins)",
                "description": "Answers the feed's token once; the hub stores only its hash.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": FEED_REQUEST_SCHEMA}}},
                "responses": {
                    "201": {"description": "Created; `token` is shown this once.",
                            "content": {"application/json": {"schema": FEED_SCHEMA}}},
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/feeds/{feed_id}": {
            "delete": {
                "operationId": "deleteFeed",
                "summary": "Delete a feed: its URLs answer 401 from now on (analysts and admins)",
                "parameters": [_FEED_ID],
                "responses": {"204": {"description": "Deleted."}, **_errors(401, 403, 404)},
            }
        },
        "/feeds/{feed_id}/token": {
            "post": {
                "operationId": "rotateFeedToken",
                "summary": "A new token for the feed; the old one stops working at once (analysts and admins)",
                "parameters": [_FEED_ID],
                "responses": {
                    "200": {"description": "Rotated; `token` is shown this once.",
                            "content": {"application/json": {"schema": FEED_SCHEMA}}},
                    **_errors(401, 403, 404),
                },
            }
        },
        "/feeds/{feed_id}.txt": _feed_get(
            "txt", "text/plain", "The feed as an external dynamic list: one value per line",
            "Values as the hub normalises them: IPv4/IPv6 addresses and CIDR blocks, domain names, URLs, "
            "and hashes or e-mail addresses if the feed's kinds ask for them. Nothing else on any line."),
        "/feeds/{feed_id}.csv": _feed_get(
            "csv", "text/csv", "The feed as CSV",
            "A header line, then `" + ",".join(CSV_COLUMNS) + "`: the value, its observable kind, the "
            "STIX id of the earliest shared item naming it, that item's TLP label, its STIX confidence "
            "(empty if none), its valid_until and when the hub first received it (RFC 3339, UTC). "
            "Never the item's source."),
        "/feeds/{feed_id}.rules": _feed_get(
            "rules", "text/plain", "The feed as Suricata rules",
            "IP addresses: `alert ip [addr] any -> $HOME_NET any`; domains: a dns.query rule matching "
            "the domain and its subdomains; URLs: an http rule on host and URI. "
            f"sid from {SID_BASE} up, derived from the value (stable between polls), rev 1, msg naming the "
            "hub and the item's STIX id. Hashes and e-mail addresses have no inline rule."),
    }
