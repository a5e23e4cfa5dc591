"""What every REST handler shares: the API error, the JSON body, paging parameters, public routes.

Authentication is not here: the /api/v1 shell (hub/api) authenticates every request before a
feature's handler runs, except handlers marked `@public`.
"""
from __future__ import annotations

from datetime import datetime

import orjson
from flask import jsonify, request

from hub import bounds
from hub.errors import HubError


class ApiError(HubError):
    """An API-level problem (authentication, content type, query parameters)."""

    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(message, details)
        self.status = status


def error_response(status: int, message: str, details: list | None = None):
    """The one error shape of the API: {"error": "...", "details": [...]}."""
    response = jsonify({"error": message, "details": details or []})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="healthcert-hub"'
    return response


def public(view):
    """Mark a REST handler as answering without a token (the shell skips authentication)."""
    view.is_public = True
    return view


def json_body() -> dict:
    """The request body as a JSON object; 415 for another content type, 400 when it is not one."""
    if not request.is_json:
        raise ApiError(415, "expected Content-Type: application/json",
                       [{"field": "Content-Type", "value": request.mimetype or None,
                         "error": "send application/json"}])
    # Read here, not via request.get_json, so that the client learns where its JSON broke; parsed
    # once, within the hub's bounds (depth, 64-bit integers), so no handler sees anything deeper.
    try:
        body = bounds.parse_json(request.get_data(cache=True))
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed JSON body", [{"field": "(body)", "line": exc.lineno,
                                                     "column": exc.colno, "error": exc.msg}]) from None
    except bounds.OutOfBounds as exc:
        raise ApiError(400, "JSON body out of bounds", [{"field": exc.field or "(body)", "error": str(exc)}]) from None
    if not isinstance(body, dict):
        raise ApiError(400, "the JSON body must be an object",
                       [{"field": "(body)", "error": f"expected {{...}}, got {type(body).__name__}"}])
    return body


def query_error(field: str, value, error: str) -> ApiError:
    return ApiError(400, f"invalid query parameter {field}", [{"field": field, "value": value, "error": error}])


def page_limit(default: int, maximum: int) -> int:
    """The `limit` query parameter of a paged list; 400 naming it when it is not 1..maximum."""
    value = request.args.get("limit")
    if value is None:
        return default
    try:
        return bounds.parse_count(value, 1, maximum)
    except bounds.OutOfBounds:
        raise query_error("limit", value[:100], f"an integer from 1 to {maximum}") from None


def query_time(value: str, field: str) -> datetime:
    """An RFC 3339 query parameter with a zone, within the hub's years; 400 naming it otherwise."""
    try:
        return bounds.parse_instant(value)
    except bounds.OutOfBounds as exc:
        raise query_error(field, value, str(exc)) from None
    except ValueError:
        raise query_error(field, value, "expected RFC 3339, e.g. 2026-11-01T00:00:00Z") from None
