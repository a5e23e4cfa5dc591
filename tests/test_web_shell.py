"""Does every HTML response, of every feature and every error, carry the shell's protections?"""
from __future__ import annotations

import re

import pytest

HTML_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
SKIPPED_PREFIXES = ("/api/", "/taxii2/", "/assets/")
PLACEHOLDER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _sample_path(rule) -> str:
    """The rule's path with every variable filled in (ints for int converters, else an id)."""
    def fill(match):
        converter, _name = match.group(1), match.group(2)
        return "1" if converter == "int" else "indicator--00000000-0000-4000-8000-000000000000"

    return PLACEHOLDER.sub(fill, rule.rule)


def html_get_paths(app) -> list[str]:
    return sorted({
        _sample_path(rule) for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.rule.startswith(SKIPPED_PREFIXES)
    })


def assert_protected(response, path):
    if response.mimetype != "text/html":
        return
    for header, value in HTML_HEADERS.items():
        assert response.headers.get(header) == value, f"{path}: {header} missing on a {response.status_code}"
    csp = response.headers.get("Content-Security-Policy", "")
    # Scripts only from the hub's own files (hub.js), never inline.
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp, path


def test_every_html_route_signed_in_sends_the_security_headers(app, make, web):
    admin = make.make_user(make.make_org(), role="admin")
    browser = web(admin)
    paths = html_get_paths(app)
    assert "/incidents/new" in paths and "/alerts/" in "".join(paths) and "/audit" in paths
    checked = 0
    for path in paths:
        response = browser.get(path)
        assert response.status_code < 500, path
        assert_protected(response, path)
        checked += response.mimetype == "text/html"
    assert checked >= 20


def test_every_html_route_signed_out_sends_the_security_headers(app, web):
    browser = web()
    for path in html_get_paths(app):
        response = browser.get(path)
        assert response.status_code < 500, path
        assert_protected(response, path)


@pytest.mark.parametrize("path", ["/no/such/page", "/items/not-an-id", "/incidents/indicator--x/edit"])
def test_unknown_pages_are_styled_error_pages_with_the_headers(make, web, path):
    browser = web(make.make_user(make.make_org()))
    response = browser.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert 'href="/assets/hub.css"' in response.get_data(as_text=True)
    assert_protected(response, path)


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_favicon_is_served_and_linked_from_every_page(make, web, signed_in):
    browser = web(make.make_user(make.make_org()) if signed_in else None)
    icon = browser.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml" and icon.get_data().startswith(b"<svg")
    page = browser.get("/login").get_data(as_text=True) if not signed_in else browser.get("/items").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/assets/favicon.svg">' in page
    assert browser.get("/assets/favicon.svg").status_code == 200
