"""The one OpenAPI document of /api/v1: each feature documents its endpoints beside its code,
this module merges them (shared components: the Error schema and the common error responses)."""
from __future__ import annotations

from hub.alerts.openapi import alerts_openapi_paths, alerts_openapi_webhooks
from hub.feeds.openapi import feeds_openapi_paths
from hub.incidents.openapi import incidents_openapi_paths
from hub.intel.openapi import ERROR_RESPONSES, SCHEMAS, intel_openapi_paths


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(base_url: str) -> dict:
    """The OpenAPI 3.1 document of /api/v1, merged from the features' parts."""
    paths = intel_openapi_paths()
    paths.update(alerts_openapi_paths())
    paths.update(incidents_openapi_paths())
    paths.update(feeds_openapi_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "HealthCERT Hub API",
            "version": "1",
            "description": "Share and read STIX 2.1 threat intelligence under TLP 2.0 and the hub's "
                           "sharing policy. Every read answers only with what the caller may read; "
                           "an unreadable object is indistinguishable from an absent one (404).",
        },
        "servers": [{"url": base_url.rstrip("/") + "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "webhooks": alerts_openapi_webhooks(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token from `flask --app hub tokens create EMAIL`; it acts "
                                   "as that user, with that user's role.",
                },
                "feedToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A blocklist feed's own token, answered once when the feed is created "
                                   "or its token rotated; it reads that one feed and nothing else.",
                },
            },
            "schemas": SCHEMAS,
            "responses": {
                name: _json({"$ref": "#/components/schemas/Error"}, description) for name, description in ERROR_RESPONSES.values()
            },
        },
    }
