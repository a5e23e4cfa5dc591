"""OpenAPI 3.1 paths of the alert endpoints, and the webhook the hub sends.

Self-contained apart from the shared `Error` schema (#/components/schemas/Error), so that
hub/api/openapi.py can merge them: `paths.update(alerts_openapi_paths())`,
`document["webhooks"] = alerts_openapi_webhooks()`.
"""
from __future__ import annotations

from hub.principal import OrgKind
from hub.alerts.filters import OBSERVABLE_KINDS
from hub.alerts.models import CHANNELS, DELIVERY_STATUSES, MODES, SCOPES
from hub.outbox import CASE_EVENTS, INCIDENT_EVENTS, ITEM_EVENTS, REMINDER_EVENTS, names
from hub.alerts.defaults import RULE_KEYS
from hub.alerts.services import DEFAULT_PAGE, MAX_PAGE
from hub.tlp import TLP

# NIS2 deadline reminders ride the alert system too (hub/incidents/reminders.py).
# Case activity rings the hospital's and the liaison's bells (hub/incidents/notify.py); in-app only.

_ERROR = {"$ref": "#/components/schemas/Error"}
_TLPS = [t.value for t in TLP]

_ERROR_TEXT = {
    400: "Malformed request: JSON syntax, or an invalid query parameter (limit, cursor, status, unread).",
    401: "No bearer token, or one that is unknown, revoked or belongs to a deactivated user.",
    403: "Only an organisation admin sets organisation-wide subscriptions; only the subscription's "
         "owner or an organisation admin deletes it or replays its dead letters.",
    404: "No such subscription, notification or delivery, or one the caller may not see.",
    409: "Only dead letters can be replayed; or the caller already has the maximum number of subscriptions.",
    413: "The body is larger than the hub accepts (MAX_CONTENT_LENGTH).",
    415: "The body is not sent as Content-Type: application/json.",
    422: "The subscription cannot be accepted; `details` names each wrong field (e.g. filters.min_tlp, "
         "target). A webhook target that resolves to a private, loopback, link-local or reserved "
         "address is refused unless the operator's HUB_WEBHOOK_ALLOW lists it.",
}


def _errors(*statuses: int) -> dict:
    return {
        str(status): {"description": _ERROR_TEXT[status], "content": {"application/json": {"schema": _ERROR}}}
        for status in statuses
    }


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _strings(enum=None) -> dict:
    items = {"type": "string"} if enum is None else {"type": "string", "enum": list(enum)}
    return {"type": "array", "items": items, "maxItems": 100}


FILTERS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "What to be told about. Keys combine with AND, the values of a list with OR; an "
                   "empty object means everything the subscriber may read. Visibility is always "
                   "decided by the sharing policy, whatever the filters say. Whoever was already "
                   "alerted about an item is told when it is updated, revoked or expires.",
    "properties": {
        "events": {**_strings(names(ITEM_EVENTS + INCIDENT_EVENTS)), "description": "Events to be told about (default: all)."},
        "types": {**_strings(), "description": "STIX object types, e.g. indicator, report."},
        "observable_types": {**_strings(OBSERVABLE_KINDS),
                             "description": "Items naming an observable of these kinds."},
        "advisories": {"type": "boolean", "description": "Only vulnerability objects and reports whose "
                       "report_types or labels say advisory, vulnerability or csaf."},
        "min_tlp": {"type": "string", "enum": _TLPS, "description": "TLP at or above this level."},
        "labels": {**_strings(), "description": "Items carrying any of these labels (case-insensitive)."},
        "owner_kind": {**_strings([k.value for k in OrgKind]),
                       "description": "Kinds of the sharing organisation; anonymous items never match "
                                      "(except for their own organisation)."},
        "owner_country": {**_strings(), "description": "ISO 3166-1 alpha-2 codes of the sharing "
                          "organisation's country; anonymous items never match."},
        "correlates_with_own": {"type": "boolean", "description": "Only items naming an observable that "
                                "the subscriber's organisation shared in another item."},
        "keywords": {**_strings(), "description": "Words found in the name, description, labels, "
                     "external ids or observable values (case-insensitive)."},
    },
}

SUBSCRIPTION_REQUEST = {
    "type": "object",
    "required": ["channel"],
    "additionalProperties": False,
    "properties": {
        "channel": {"type": "string", "enum": list(CHANNELS),
                    "description": "in_app: the bell only. email and webhook: in-app as well, and "
                                   "the message (RED and AMBER+STRICT: a link and the id only)."},
        "target": {"type": "string", "maxLength": 2048,
                   "description": "An e-mail address (email) or an http(s) URL (webhook); not for in_app."},
        "secret": {"type": "string", "minLength": 1, "maxLength": 256,
                   "description": "Webhook signing key. Omitted: the hub generates one and returns it once."},
        "filters": FILTERS_SCHEMA,
        "mode": {"type": "string", "enum": list(MODES), "default": "immediate",
                 "description": "hourly and daily digests are for e-mail; in-app and webhooks are immediate."},
        "scope": {"type": "string", "enum": list(SCOPES), "default": "user",
                  "description": "org (admins only): alerts about what the organisation as a whole may "
                                 "read; in_app rings every member's bell."},
    },
}

SUBSCRIPTION = {
    "type": "object",
    "required": ["id", "channel", "target", "filters", "mode", "scope", "owner", "created", "deliveries"],
    "properties": {
        "id": {"type": "integer"},
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "target": {"type": ["string", "null"]},
        "filters": FILTERS_SCHEMA,
        "mode": {"type": "string", "enum": list(MODES)},
        "scope": {"type": "string", "enum": list(SCOPES)},
        "owner": {"type": ["string", "null"], "description": "The subscribing user (user scope)."},
        "created": {"type": "string", "format": "date-time"},
        "deliveries": {"type": "object", "additionalProperties": {"type": "integer"},
                       "description": "Number of deliveries per status."},
    },
}

DELIVERY = {
    "type": "object",
    "required": ["id", "delivery_id", "event", "object_id", "channel", "status", "attempts", "last_error",
                 "created", "last_attempt", "next_attempt", "delivered"],
    "properties": {
        "id": {"type": "integer"},
        "delivery_id": {"type": "string", "description": "The webhook's delivery_id, the same on every retry."},
        "event": {"type": "string", "enum": list(names(ITEM_EVENTS + INCIDENT_EVENTS + REMINDER_EVENTS))},
        "object_id": {"type": "string"},
        "channel": {"type": "string", "enum": ["email", "webhook"]},
        "status": {"type": "string", "enum": list(DELIVERY_STATUSES),
                   "description": "dead: every attempt failed (a dead letter, replayable); cancelled: the "
                                  "recipient may no longer read the item; digest: waiting for the digest."},
        "attempts": {"type": "integer", "minimum": 0},
        "last_error": {"type": ["string", "null"]},
        "created": {"type": "string", "format": "date-time"},
        "last_attempt": {"type": ["string", "null"], "format": "date-time"},
        "next_attempt": {"type": ["string", "null"], "format": "date-time"},
        "delivered": {"type": ["string", "null"], "format": "date-time"},
    },
}

NOTIFICATION = {
    "type": "object",
    "required": ["id", "event", "title", "object_id", "related_objects", "created", "read"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "event": {"type": "string",
                  "enum": list(names(ITEM_EVENTS + INCIDENT_EVENTS + REMINDER_EVENTS + CASE_EVENTS)),
                  "description": "nis2_* events are NIS2 deadline reminders (in-app and e-mail only); "
                                 "case_* events are law-enforcement case activity (in-app only)."},
        "title": {"type": "string", "description": "The alert in words, e.g. \"Early warning submitted for "
                                                   "incident “X” by Hospital Y (and 3 related objects)\"."},
        "object_id": {"type": "string", "description": "The main object of the sharing act."},
        "related_objects": {"type": "integer", "minimum": 0,
                            "description": "Other objects of the same sharing act that the caller may read."},
        "created": {"type": "string", "format": "date-time"},
        "read": {"type": "boolean"},
    },
}

BUILT_IN_ALERT = {
    "type": "object",
    "required": ["key", "title", "on"],
    "additionalProperties": False,
    "properties": {"key": {"type": "string", "enum": list(RULE_KEYS)}, "title": {"type": "string"},
                   "on": {"type": "boolean"}},
}

WEBHOOK_BODY = {
    "type": "object",
    "required": ["event", "title", "object_id", "related_objects", "tlp", "link", "delivery_id"],
    "additionalProperties": False,
    "properties": {
        "event": {"type": "string", "enum": list(names(ITEM_EVENTS + INCIDENT_EVENTS + REMINDER_EVENTS))},
        "title": {"type": "string", "description": "The alert in words, for people (no names for RED "
                                                   "and AMBER+STRICT, no source for anonymous items)."},
        "object_id": {"type": "string", "description": "The main object of the sharing act."},
        "related_objects": {"type": "integer", "minimum": 0,
                            "description": "Other objects of the same sharing act the recipient may read."},
        "tlp": {"type": "string", "enum": _TLPS},
        "object": {"type": "object", "description": "The STIX 2.1 object; absent for RED and AMBER+STRICT."},
        "link": {"type": "string", "format": "uri"},
        "delivery_id": {"type": "string", "description": "The same on every retry: de-duplicate on it."},
    },
}

_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}}
_CURSOR = {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "The `next` value of the previous page."}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def alerts_openapi_paths() -> dict:
    """Paths relative to the /api/v1 server URL."""
    json_body = {"required": True, "content": {"application/json": {"schema": SUBSCRIPTION_REQUEST}}}
    page_of = lambda key, schema: {  # noqa: E731
        "type": "object", "required": [key, "next"],
        "properties": {key: {"type": "array", "items": schema}, "next": {"type": ["string", "null"]}},
    }
    return {
        "/subscriptions": {
            "post": {
                "operationId": "createSubscription",
                "summary": "Subscribe to alerts (user scope, or org scope for admins)",
                "requestBody": json_body,
                "responses": {
                    "201": _json({"type": "object", "required": ["id"], "properties": {
                        "id": {"type": "integer"},
                        "secret": {"type": "string", "description": "Only when the hub generated the webhook secret."},
                    }}, "Subscribed."),
                    **_errors(400, 401, 403, 409, 413, 415, 422),
                },
            },
            "get": {
                "operationId": "listSubscriptions",
                "summary": "The caller's subscriptions; for an admin, every subscription of the organisation",
                "responses": {
                    "200": _json({"type": "object", "required": ["subscriptions"], "properties": {
                        "subscriptions": {"type": "array", "items": SUBSCRIPTION}}}, "Subscriptions, oldest first."),
                    **_errors(401),
                },
            },
        },
        "/subscriptions/{subscription_id}": {
            "parameters": [_id("subscription_id")],
            "get": {
                "operationId": "getSubscription",
                "summary": "One subscription (the webhook secret is never shown again)",
                "responses": {"200": _json(SUBSCRIPTION, "The subscription."), **_errors(401, 404)},
            },
            "delete": {
                "operationId": "deleteSubscription",
                "summary": "Unsubscribe; deliveries still waiting are dropped",
                "responses": {"204": {"description": "Deleted."}, **_errors(401, 403, 404)},
            },
        },
        "/subscriptions/{subscription_id}/deliveries": {
            "parameters": [_id("subscription_id")],
            "get": {
                "operationId": "listDeliveries",
                "summary": "A subscription's e-mail or webhook deliveries, newest first: status, attempts, last error",
                "parameters": [{"name": "status", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": list(DELIVERY_STATUSES)}}, _LIMIT, _CURSOR],
                "responses": {"200": _json(page_of("deliveries", DELIVERY), "One page."), **_errors(400, 401, 404)},
            },
        },
        "/deliveries/{delivery_id}/replay": {
            "parameters": [_id("delivery_id")],
            "post": {
                "operationId": "replayDelivery",
                "summary": "Give a dead letter a fresh set of attempts (owner or organisation admin)",
                "responses": {"202": _json(DELIVERY, "Queued again."), **_errors(401, 403, 404, 409)},
            },
        },
        "/built-in-alerts": {
            "get": {
                "operationId": "listBuiltInAlerts",
                "summary": "The built-in alerts of the caller's kind of organisation, and whether each is on",
                "responses": {"200": _json({"type": "object", "required": ["built_in_alerts"], "properties": {
                    "built_in_alerts": {"type": "array", "items": BUILT_IN_ALERT}}}, "The list."),
                    **_errors(401)},
            }
        },
        "/built-in-alerts/{rule}": {
            "parameters": [{"name": "rule", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": list(RULE_KEYS)}}],
            "put": {
                "operationId": "setBuiltInAlert",
                "summary": "Turn a built-in alert on or off for the caller only",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["on"], "additionalProperties": False,
                    "properties": {"on": {"type": "boolean"}}}}}},
                "responses": {"200": _json(BUILT_IN_ALERT, "The alert as it is now."), **_errors(400, 401, 413, 415, 422)},
            }
        },
        "/notifications": {
            "get": {
                "operationId": "listNotifications",
                "summary": "The caller's in-app notifications, newest first (only items the caller may read)",
                "parameters": [{"name": "unread", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["1", "0", "true", "false"]}}, _LIMIT, _CURSOR],
                "responses": {"200": _json(page_of("notifications", NOTIFICATION), "One page."), **_errors(400, 401)},
            },
        },
        "/notifications/unread-count": {
            "get": {
                "operationId": "countUnreadNotifications",
                "summary": "What the bell shows",
                "responses": {"200": _json({"type": "object", "required": ["unread"], "properties": {
                    "unread": {"type": "integer", "minimum": 0}}}, "The count."), **_errors(401)},
            },
        },
        "/notifications/{notification_id}/read": {
            "parameters": [_id("notification_id")],
            "post": {
                "operationId": "markNotificationRead",
                "summary": "Mark one notification read",
                "responses": {"200": _json(NOTIFICATION, "The notification, read."), **_errors(401, 404)},
            },
        },
        "/notifications/read-all": {
            "post": {
                "operationId": "markAllNotificationsRead",
                "summary": "Mark every notification read",
                "responses": {"200": _json({"type": "object", "required": ["marked"], "properties": {
                    "marked": {"type": "integer", "minimum": 0}}}, "How many were unread."), **_errors(401)},
            },
        },
    }


def alerts_openapi_webhooks() -> dict:
    """The alert the hub POSTs to a subscriber's webhook (OpenAPI 3.1 `webhooks`)."""
    return {
        "alert": {
            "post": {
                "operationId": "alertWebhook",
                "summary": "An alert, signed with the subscription's secret",
                "description": "Verify before trusting: recompute HMAC-SHA256 with the secret over "
                               "\"<X-Hub-Timestamp>.<raw body>\", compare with X-Hub-Signature in "
                               "constant time, and reject old timestamps. Answer 2xx to acknowledge; "
                               "anything else is retried with exponential backoff, with the same "
                               "delivery_id. Redirects are not followed.",
                "security": [],
                "parameters": [
                    {"name": "X-Hub-Timestamp", "in": "header", "required": True,
                     "schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "Unix seconds."},
                    {"name": "X-Hub-Signature", "in": "header", "required": True,
                     "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}},
                    {"name": "X-Hub-Event", "in": "header", "required": True,
                     "schema": {"type": "string", "enum": list(names(ITEM_EVENTS + INCIDENT_EVENTS))}},
                    {"name": "X-Hub-Delivery", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": WEBHOOK_BODY}}},
                "responses": {"200": {"description": "Received (any 2xx)."}},
            }
        }
    }
