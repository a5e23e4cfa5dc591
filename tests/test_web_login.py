"""Signing in and out of the web UI: password, TOTP, rate limit, CSRF, safe redirects."""
from __future__ import annotations

import orjson
import pyotp
import pytest
from limits import parse_many
from sqlalchemy import select

from hub.audit import AuditEvent
from hub.extensions import db
from tests.factories import PASSWORD


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def sign_in(session, email: str, password: str = PASSWORD, next_path: str | None = None):
    form_page = "/login" + (f"?next={next_path}" if next_path else "")
    data = {"email": email, "password": password}
    if next_path:
        data["next"] = next_path
    return session.submit("/login", data, form_page=form_page)


def test_analyst_signs_in_and_lands_on_the_items_page(make, web):
    org = make.make_org("hospital")
    analyst = make.make_user(org, "analyst")
    browser = web()

    response = sign_in(browser, analyst.email)

    assert response.status_code == 302
    assert response.location == "/"
    page = browser.get("/items")
    assert page.status_code == 200
    assert analyst.email in page.text
    [login] = audit_events("login")
    assert login.actor_user_id == analyst.id
    assert login.subject_org_id == org.id


def test_root_sends_visitors_to_sign_in_and_shows_members_their_day(make, web):
    assert web().get("/").location == "/login"
    member = make.make_user(make.make_org())
    home = web(member).get("/")
    assert home.status_code == 200 and "Unread alerts" in home.text


def test_wrong_password_is_refused_and_audited_in_the_users_organisation(make, web):
    org = make.make_org("hospital")
    analyst = make.make_user(org)
    browser = web()

    response = sign_in(browser, analyst.email, "not-the-password")

    assert response.status_code == 200
    assert "Wrong e-mail address or password" in response.text
    assert browser.get("/items").status_code == 302  # still signed out
    [failed] = audit_events("login_failed")
    assert failed.subject_org_id == org.id
    assert orjson.loads(failed.detail)["email"] == analyst.email
    assert audit_events("login") == []


def test_unknown_email_is_refused_and_the_audit_names_nobody(make, web):
    make.make_org("hospital")
    browser = web()

    response = sign_in(browser, "nobody@nowhere.example", "whatever-password")

    assert "Wrong e-mail address or password" in response.text
    [failed] = audit_events("login_failed")
    assert failed.subject_org_id is None and failed.actor_user_id is None
    assert "nobody" not in failed.detail


def test_user_with_totp_is_signed_in_only_after_the_right_code(make, web):
    org = make.make_org("hospital")
    analyst = make.make_user(org)
    secret = pyotp.random_base32()
    analyst.totp_secret = secret
    db.session.commit()
    browser = web()

    after_password = sign_in(browser, analyst.email)
    assert after_password.location == "/login/totp"
    assert browser.get("/items").status_code == 302, "the password alone must not sign in"
    assert audit_events("login") == []

    wrong = browser.submit("/login/totp", {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert "That code is not right" in wrong.text
    assert browser.get("/items").status_code == 302
    assert orjson.loads(audit_events("login_failed")[0].detail)["reason"] == "second factor"

    right = browser.submit("/login/totp", {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302 and right.location == "/"
    assert browser.get("/items").status_code == 200
    [login] = audit_events("login")
    assert orjson.loads(login.detail)["second_factor"] is True


def test_a_totp_code_that_signed_in_once_cannot_sign_in_again(make, web):
    analyst = make.make_user(make.make_org("hospital"))
    secret = pyotp.random_base32()
    analyst.totp_secret = secret
    db.session.commit()
    code = pyotp.TOTP(secret).now()

    first = web()
    sign_in(first, analyst.email)
    assert first.submit("/login/totp", {"code": code}).location == "/"

    eavesdropper = web()
    sign_in(eavesdropper, analyst.email)
    replayed = eavesdropper.submit("/login/totp", {"code": code})
    assert "That code is not right" in replayed.text
    assert eavesdropper.get("/items").status_code == 302


def test_code_page_without_a_password_first_sends_back_to_sign_in(web):
    response = web().get("/login/totp")
    assert response.status_code == 302 and response.location == "/login"


def test_sign_in_attempts_beyond_the_configured_limit_get_a_429_page(app, make, web):
    analyst = make.make_user(make.make_org())
    allowed = min(limit.amount for limit in parse_many(app.config["LOGIN_RATE_LIMIT"]))
    browser = web()

    for _ in range(allowed):
        assert sign_in(browser, analyst.email, "guess-guess-guess").status_code == 200
    refused = sign_in(browser, analyst.email, PASSWORD)

    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert browser.get("/items").status_code == 302, "the right password after the limit does not sign in"
    # Another address is not affected.
    assert sign_in(web(), analyst.email).status_code == 302


def test_sign_in_without_the_csrf_token_is_rejected(make, web):
    analyst = make.make_user(make.make_org())
    browser = web()

    response = browser.post("/login", data={"email": analyst.email, "password": PASSWORD})

    assert response.status_code == 400
    assert "not sent from this site" in response.text
    assert browser.get("/items").status_code == 302
    assert audit_events("login") == []


@pytest.mark.parametrize(
    ("requested", "lands_on"),
    [
        ("/search?q=ransomware", "/search?q=ransomware"),
        ("/items/indicator--00000000-0000-4000-8000-000000000000", "/items/indicator--00000000-0000-4000-8000-000000000000"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_after_sign_in_only_same_site_paths_are_followed(make, web, requested, lands_on):
    analyst = make.make_user(make.make_org())
    response = sign_in(web(), analyst.email, next_path=requested)
    assert response.status_code == 302
    assert response.location == lands_on


def test_a_page_asked_for_while_signed_out_is_shown_after_sign_in(make, web):
    analyst = make.make_user(make.make_org())
    browser = web()

    bounced = browser.get("/search?q=ransomware")
    assert bounced.status_code == 302 and bounced.location.startswith("/login?next=")
    form_page = bounced.location
    response = browser.submit("/login", {"email": analyst.email, "password": PASSWORD,
                                         "next": "/search?q=ransomware"}, form_page=form_page)
    assert response.location == "/search?q=ransomware"


def test_sign_out_is_a_post_and_ends_the_session(make, web):
    analyst = make.make_user(make.make_org())
    browser = web(analyst)

    assert browser.get("/logout").status_code == 405
    response = browser.submit("/logout", form_page="/items")

    assert response.status_code == 302 and response.location == "/login"
    assert browser.get("/items").status_code == 302


def test_sign_out_without_csrf_token_keeps_the_session(make, web):
    browser = web(make.make_user(make.make_org()))
    assert browser.post("/logout").status_code == 400
    assert browser.get("/items").status_code == 200
