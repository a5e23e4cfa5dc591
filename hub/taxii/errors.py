"""One error type for the TAXII boundary, answered as a TAXII error message (spec 3.6.1)."""
from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from hub.errors import HubError

MEDIA_TYPE_TAXII = "application/taxii+json;version=2.1"
# Basic is what TAXII clients speak (spec 1.6.9); Bearer is the hub's API token scheme.
WWW_AUTHENTICATE = 'Basic realm="HealthCERT Hub TAXII", charset="UTF-8", Bearer realm="HealthCERT Hub TAXII"'

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
}


class TaxiiError(Exception):
    """A TAXII request that cannot be answered as asked; `status` is the HTTP status."""

    def __init__(self, status: int, description: str, details: dict | None = None, *, title: str | None = None):
        super().__init__(description)
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.description = description
        self.details = details


def taxii_json(payload, status: int = 200, headers: dict | None = None) -> Response:
    return raw_json(orjson.dumps(payload), status, headers)


def raw_json(body: bytes, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(body, status=status, headers=headers)
    response.headers["Content-Type"] = MEDIA_TYPE_TAXII
    return response


def error_response(error: TaxiiError) -> Response:
    body = {"title": error.title, "description": error.description, "http_status": str(error.status)}
    if error.details:
        body["details"] = error.details
    response = taxii_json(body, error.status)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def is_taxii_request() -> bool:
    return request.path == "/taxii2" or request.path.startswith("/taxii2/")


def http_error_response(error: HTTPException):
    """An HTTP error (404, 405, 413, ...) under /taxii2/, in the TAXII error format; also for
    errors raised before routing reaches the blueprint (a method the resource does not allow)."""
    status = error.code or 500
    description = error.description or error.name
    if status == 413:
        description = f"the request body exceeds max_content_length ({current_app.config['MAX_CONTENT_LENGTH']} bytes)"
    response = error_response(TaxiiError(status, description))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def register(bp: Blueprint) -> None:
    """Every error raised under /taxii2/ answers in the TAXII error format."""

    @bp.errorhandler(TaxiiError)
    def _taxii_error(error: TaxiiError):
        return error_response(error)

    @bp.errorhandler(HubError)
    def _hub_error(error: HubError):
        details = {"problems": error.details} if error.details else None
        return error_response(TaxiiError(error.status, error.message, details))

    bp.register_error_handler(HTTPException, http_error_response)

    @bp.errorhandler(Exception)
    def _unexpected(error: Exception):
        current_app.logger.exception("TAXII request failed")
        return error_response(TaxiiError(500, "the server could not answer this request"))
