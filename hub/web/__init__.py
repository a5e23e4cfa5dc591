"""The HTML shell: layout, static assets, and what every page gets, registered once.

Every HTML response (whatever feature rendered it, error pages included) gets the security
headers; every HTTP or domain error outside /api/ and /taxii2/ answers with the styled page.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_timedelta
from babel.numbers import format_decimal
from flask import Blueprint, Flask, Response, render_template, send_from_directory
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hub.db import as_utc
from hub.errors import HubError
from hub.web import home

# No inline scripts or styles anywhere: the pages work without JavaScript (the one script file,
# /assets/hub.js, only disables buttons once pressed), and a payload that slips past escaping
# still cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
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


def reader_timezone() -> str:
    """The signed-in reader's organisation's time zone (UTC for anonymous pages)."""
    if current_user and current_user.is_authenticated:
        return current_user.org.timezone
    return "UTC"


def _instant(value) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return as_utc(value)


def _zone_label(local: datetime) -> str:
    # Abbreviations where the zone has one (CET, CEST, IST); else the offset ("UTC-03:00").
    name = local.tzname() or ""
    if name.isalpha():
        return name
    offset = local.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:5]}"


def format_local_time(value, tz: str | None = None, seconds: bool = False) -> str:
    """A timestamp (aware datetime or RFC 3339 text) on the reader's organisation's clock with its
    zone, e.g. "3 Dec 2026, 15:04 CET": the one way every page shows a time (exports stay ISO UTC)."""
    if value is None or value == "":
        return ""
    instant = _instant(value)
    if instant is None:
        return str(value)
    try:
        zone = ZoneInfo(tz or reader_timezone())
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    try:
        local = instant.astimezone(zone)
    except OverflowError:  # the edge of the calendar (STIX "never": 9999-12-31T23:59:59Z) east of UTC
        local = instant.astimezone(timezone.utc)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{local.day} {local:%b %Y}, {clock} {_zone_label(local)}"


def format_delay(value, now=None) -> str:
    """How long before `now` (default: this moment) an instant passed, in words ("2 days",
    "5 hours"): for "late by …"."""
    instant = _instant(value)
    reference = _instant(now) if now is not None else datetime.now(timezone.utc)
    if instant is None or reference is None:
        return ""
    late = max(reference - instant, timedelta(0))
    return format_timedelta(late, threshold=1.0, locale="en")


@bp.app_template_filter("due_phrase")
def format_due(value, now=None) -> str:
    """A deadline as a person reads it: "late by 2 days", "due in 5 hours"."""
    instant = _instant(value)
    reference = _instant(now) if now is not None else datetime.now(timezone.utc)
    if instant is None or reference is None:
        return ""
    if instant < reference:
        return "late by " + format_timedelta(reference - instant, threshold=1.0, locale="en")
    return "due in " + format_timedelta(instant - reference, threshold=1.0, locale="en")


def format_number(value) -> str:
    """A figure with thousands separators ("12,000", "18.5")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return format_decimal(value, locale="en")


def format_money(value) -> str:
    """An amount with its ISO 4217 code ({"amount": 2500000, "currency": "usd"} -> "2,500,000 USD")."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    return f"{format_number(value.get('amount'))} {str(value.get('currency') or '').upper()}".strip()


bp.add_app_template_filter(format_local_time, "localtime")
bp.add_app_template_filter(format_number, "number")
bp.add_app_template_filter(format_money, "money")
# The older name, used across feature templates: the same rule.
bp.add_app_template_filter(format_local_time, "when")
bp.add_app_template_filter(format_delay, "delay")


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
