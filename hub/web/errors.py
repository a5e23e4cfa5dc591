"""Error pages of the web UI: domain errors and HTTP errors, each with its own status."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hub.errors import HubError

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Cannot accept this",
    429: "Too many attempts",
}
EXPLANATIONS = {
    403: "Your role or organisation does not allow this.",
    # The same words whether the item does not exist or is not readable (policy rule 8).
    404: "There is nothing here, or nothing you may read.",
    429: "Too many attempts from your address. Wait a minute, then try again.",
}


def error_page(status: int, message: str, details: list | None = None):
    return (
        render_template(
            "error.html",
            status=status,
            title=TITLES.get(status, "Request refused"),
            explanation=EXPLANATIONS.get(status, ""),
            message=message,
            details=details or [],
        ),
        status,
    )


def page_for_hub_error(error: HubError):
    """The page for a domain error raised by a service (404, 403, 409, 422 with details)."""
    return error_page(error.status, error.message, error.details)


def _page_for_http_error(error: HTTPException):
    status = error.code or 500
    if isinstance(error, CSRFError):
        message = "The form was not sent from this site or has expired. Go back, reload the page and try again."
    elif status == 429:
        message = ""
    else:
        message = error.description or ""
    body, status = error_page(status, message)
    headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else {}
    return body, status, headers


def register_error_pages(bp: Blueprint) -> None:
    """HTTP errors raised inside this blueprint (403, 404, CSRF, rate limit…) answer a page."""
    bp.register_error_handler(HTTPException, _page_for_http_error)
