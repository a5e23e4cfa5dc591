"""Response headers for every page of the web UI and the sign-in pages."""
from __future__ import annotations

from flask import Response

# No inline scripts or styles anywhere: the pages work without JavaScript, and a payload that
# slips past escaping still cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        # Pages show restricted intelligence and one-time secrets: keep them out of caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
