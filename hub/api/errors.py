"""One error shape for the whole API: {"error": "...", "details": [...]} with a 4xx status."""
from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from hub.errors import HubError


class ApiError(HubError):
    """An API-level problem (authentication, content type, query parameters)."""

    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(message, details)
        self.status = status


def error_response(status: int, message: str, details: list | None = None):
    response = jsonify({"error": message, "details": details or []})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="healthcert-hub"'
    return response


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    """Domain errors and HTTP errors under /api/ answer JSON; other paths keep their pages."""

    @app.errorhandler(HubError)
    def handle_hub_error(error: HubError):
        if _is_api_request():
            return error_response(error.status, error.message, error.details)
        from hub.web.errors import page_for_hub_error

        return page_for_hub_error(error)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        if _is_api_request():
            message = {
                413: f"request body too large (limit {app.config['MAX_CONTENT_LENGTH']} bytes)",
            }.get(error.code, error.description or error.name)
            response = error_response(error.code or 500, message)
            if isinstance(error, MethodNotAllowed) and error.valid_methods:
                response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
            return response
        return error
