"""The /api/v1 shell: one parent blueprint over the features' REST blueprints.

Said once here for every REST route: bearer-token authentication (handlers marked `@public`
excepted), no CSRF (tokens, not cookies: nothing for a forged form to ride on), JSON errors,
no-sniff and no-store headers, and the one OpenAPI document.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from hub.accounts import api as accounts_api
from hub.accounts.services import principal_from_authorization
from hub.alerts import api as alerts_api
from hub.api.openapi import openapi_document
from hub.errors import HubError
from hub.extensions import csrf
from hub.feeds import api as feeds_api
from hub.incidents import api as incidents_api
from hub.intel import api as intel_api
from hub.rest import ApiError, error_response, public

PREFIX = "/api/v1"
FEATURE_BLUEPRINTS = (intel_api.bp, accounts_api.bp, alerts_api.bp, incidents_api.bp, feeds_api.bp)


def init_app(app: Flask) -> None:
    """Register /api/v1 with every feature's REST routes under it."""
    api = Blueprint("api", __name__, url_prefix=PREFIX)
    api.before_request(_authenticate)
    api.add_url_rule("/openapi.json", "openapi", public(_openapi))
    for feature in FEATURE_BLUEPRINTS:
        api.register_blueprint(feature)
    app.register_blueprint(api)
    for name, blueprint in app.blueprints.items():
        if name == "api" or name.startswith("api."):
            csrf.exempt(blueprint)
    app.after_request(_json_only)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _authenticate():
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "is_public", False):
        return None
    principal = principal_from_authorization(request.headers.get("Authorization", ""))
    if principal is None:
        raise ApiError(401, "authentication required: send Authorization: Bearer <token>")
    g.principal = principal
    return None


def _openapi():
    return jsonify(openapi_document(current_app.config["HUB_BASE_URL"]))


def _json_only(response):
    # Stored descriptions are returned verbatim: no browser may sniff an API answer as HTML,
    # and no cache may keep what one member was allowed to read. Errors included.
    if is_api_request():
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def json_for_hub_error(error: HubError):
    """A domain error raised under /api/, as the API's JSON error."""
    return error_response(error.status, error.message, error.details)


def json_for_http_error(error: HTTPException):
    """An HTTP error (404, 405, 413, ...) under /api/, as the API's JSON error."""
    message = {
        413: f"request body too large (limit {current_app.config['MAX_CONTENT_LENGTH']} bytes)",
    }.get(error.code, error.description or error.name)
    response = error_response(error.code or 500, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response
