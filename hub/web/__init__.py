"""The HTML shell: layout, static assets, and what every page gets, registered once.

Every HTML response (whatever feature rendered it, error pages included) gets the security
headers; every HTTP or domain error outside /api/ and /taxii2/ answers with the styled page.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask, Response, render_template, send_from_directory
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hub.db import as_utc
from hub.errors import HubError
from hub.web import home

# No inline scripts or styles anywhere: the pages work without JavaScript, and a payload that
# slips past escaping still cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

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

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(home.bp)
    app.after_request(add_security_headers)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the same SVG as the <link rel="icon">."""
    return send_from_directory(bp.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


def add_security_headers(response: Response) -> Response:
    """Headers for every page; API and TAXII answers (JSON) set their own."""
    if response.mimetype != "text/html":
        return response
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages show restricted intelligence and one-time secrets: keep them out of caches.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_template_filter("when")
def format_when(value) -> str:
    """A timestamp (datetime or RFC 3339 text) as "2026-11-02 08:00", in UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return as_utc(value).strftime("%Y-%m-%d %H:%M")


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


def page_for_http_error(error: HTTPException):
    """The page for an HTTP error (404, 405, CSRF, rate limit, ...)."""
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
