"""The OpenAPI 3.1 document of REST API v1 (served at /api/v1/openapi.json)."""
from __future__ import annotations


def openapi_document(base_url: str) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "HealthCERT Hub API", "version": "1"},
            "servers": [{"url": base_url.rstrip("/") + "/api/v1"}], "paths": {}}
