"""The account page: password, two-factor sign-in, API tokens."""
from __future__ import annotations

import html
import re

import pyotp

from hub.accounts.models import User
from hub.extensions import db
from tests.factories import PASSWORD

NEW_PASSWORD = "a-much-longer-passphrase-2026"


def reloaded(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_a_new_api_token_is_shown_once_works_and_can_be_revoked(make, web, client):
    analyst = make.make_user(make.make_org())
    browser = web(analyst)

    created = browser.submit("/account/tokens", {"label": "Splunk forwarder"}, form_page="/account")

    # POST-redirect-GET: reloading the page that shows the token does not post the form again.
    assert created.status_code == 303 and created.headers["Location"] == "/account"
    with browser.client.session_transaction() as session:
        carried = repr(dict(session))
    shown = browser.get("/account")
    token = re.search(r'<code class="token" id="new-token">([^<]+)</code>', shown.get_data(as_text=True)).group(1)
    assert token not in carried, "the token crosses the redirect sealed, not in clear in the session cookie"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json["email"] == analyst.email
    listing = browser.get("/account").get_data(as_text=True)
    assert token not in listing, "the token is shown once only"
    assert token[:12] in listing and "Splunk forwarder" in listing
    assert re.search(r"Splunk forwarder</td>\s*<td[^>]*>[^<]+</td>\s*<td[^>]*>\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d CES?T</td>", listing), \
        "the last use is listed, on the organisation's clock with its zone"

    revoke_url = re.search(r'action="(/account/tokens/\d+/revoke)"', listing).group(1)
    assert browser.submit(revoke_url, form_page="/account").status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Splunk forwarder" not in browser.get("/account").get_data(as_text=True)


def test_nobody_revokes_someone_elses_token(make, web, client):
    org = make.make_org()
    owner, colleague = make.make_user(org), make.make_user(org, "admin")
    owner_browser = web(owner)
    assert owner_browser.submit("/account/tokens", {"label": "mine"}, form_page="/account").status_code == 303
    token = re.search(r'id="new-token">([^<]+)<', owner_browser.get("/account").get_data(as_text=True)).group(1)
    revoke_url = re.search(r'action="(/account/tokens/\d+/revoke)"', owner_browser.get("/account").get_data(as_text=True)).group(1)

    assert web(colleague).submit(revoke_url, form_page="/account").status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_enabling_totp_shows_a_qr_code_and_needs_a_right_code(make, web):
    analyst = make.make_user(make.make_org())
    browser = web(analyst)
    assert "Set up two-factor sign-in" in browser.get("/account").get_data(as_text=True)

    setup = browser.get("/account/totp").get_data(as_text=True)
    assert "<svg" in setup and 'class="qr"' in setup
    secret = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7]+)</code>', setup).group(1)
    assert secret in browser.get("/account/totp").get_data(as_text=True), "the same secret until confirmed"

    wrong_code = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    refused = browser.submit("/account/totp", {"code": wrong_code})
    assert refused.status_code == 422
    assert "the code does not match" in html.unescape(refused.get_data(as_text=True))
    assert reloaded(analyst).totp_secret is None

    enabled = browser.submit("/account/totp", {"code": pyotp.TOTP(secret).now()})
    assert enabled.status_code == 303 and enabled.location == "/account/recovery-codes", \
        "the recovery codes are shown next, once"
    assert reloaded(analyst).totp_secret == secret

    # From now on the password alone does not sign in.
    fresh = web()
    after_password = fresh.submit("/login", {"email": analyst.email, "password": PASSWORD})
    assert after_password.location == "/login/totp"


def test_turning_totp_off_needs_the_password(make, web):
    analyst = make.make_user(make.make_org())
    analyst.totp_secret = pyotp.random_base32()
    db.session.commit()
    browser = web(analyst)

    refused = browser.submit("/account/totp/disable", {"password": "not-my-password"}, form_page="/account")
    assert refused.status_code == 422
    assert reloaded(analyst).totp_secret is not None

    assert browser.submit("/account/totp/disable", {"password": PASSWORD}, form_page="/account").status_code == 302
    assert reloaded(analyst).totp_secret is None


def test_changing_the_password_keeps_this_session_and_ends_the_others(make, web):
    analyst = make.make_user(make.make_org())
    here, elsewhere = web(analyst), web(analyst)

    changed = here.submit("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                "confirm_password": NEW_PASSWORD}, form_page="/account")

    assert changed.status_code == 302
    assert here.get("/items").status_code == 200
    assert elsewhere.get("/items").status_code == 302
    fresh = web()
    assert fresh.submit("/login", {"email": analyst.email, "password": NEW_PASSWORD}).location == "/"


def test_a_wrong_current_password_or_a_short_new_one_is_explained(make, web):
    analyst = make.make_user(make.make_org())
    browser = web(analyst)

    wrong = browser.submit("/account/password", {"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD,
                                                 "confirm_password": NEW_PASSWORD}, form_page="/account")
    assert wrong.status_code == 422
    assert re.search(r'id="current_password-error">does not match<', wrong.get_data(as_text=True))

    short = browser.submit("/account/password", {"current_password": PASSWORD, "new_password": "short",
                                                 "confirm_password": "short"}, form_page="/account")
    assert re.search(r'id="new_password-error">at least 12 characters<', short.get_data(as_text=True))
    assert browser.get("/items").status_code == 200
