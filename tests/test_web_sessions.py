"""Signing out or changing the password ends sessions on the server, not only in one browser."""
from __future__ import annotations

from hub.accounts.models import UserSession
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import cheap_password_hashing

PASSWORD = f.PASSWORD


def _signed_in_browser(web, user, password=PASSWORD):
    browser = web()
    answer = browser.submit("/login", {"email": user.email, "password": password})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert _is_signed_in(browser)
    return browser


def _is_signed_in(browser) -> bool:
    return browser.get("/account").status_code == 200


def _session_cookie(browser) -> str:
    return browser.client.get_cookie("session").value


def _replay(web, cookie: str):
    thief = web()
    thief.client.set_cookie("session", cookie)
    return thief


def _user(monkeypatch):
    cheap_password_hashing(monkeypatch)
    return f.make_user(f.make_org(), "analyst")


def test_a_cookie_copied_before_sign_out_does_not_work_after_it(web, monkeypatch):
    """Does a stolen session cookie die when its owner signs out?"""
    browser = _signed_in_browser(web, _user(monkeypatch))
    copied = _session_cookie(browser)
    assert _is_signed_in(_replay(web, copied))  # the copy works while the session lives

    browser.submit("/logout", form_page="/account")
    assert not _is_signed_in(browser)
    replayed = _replay(web, copied).get("/account")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def test_signing_out_in_one_browser_leaves_the_users_other_browsers_signed_in(web, monkeypatch):
    user = _user(monkeypatch)
    laptop, phone = _signed_in_browser(web, user), _signed_in_browser(web, user)
    laptop.submit("/logout", form_page="/account")
    assert not _is_signed_in(laptop)
    assert _is_signed_in(phone)


def test_a_password_change_signs_out_the_users_other_sessions_but_not_this_one(web, monkeypatch):
    """Does changing the password throw out whoever else holds a session?"""
    user = _user(monkeypatch)
    mine, other = _signed_in_browser(web, user), _signed_in_browser(web, user)
    copied_of_mine = _session_cookie(mine)
    changed = mine.submit("/account/password", {
        "current_password": PASSWORD, "new_password": "another long passphrase 2",
        "confirm_password": "another long passphrase 2",
    }, form_page="/account")
    assert changed.status_code == 302, changed.get_data(as_text=True)
    assert _is_signed_in(mine)
    assert not _is_signed_in(other)
    assert not _is_signed_in(_replay(web, copied_of_mine))  # a cookie from before the change is dead
    assert _is_signed_in(_signed_in_browser(web, user, "another long passphrase 2"))


def test_sessions_are_recorded_without_their_tokens(web, monkeypatch):
    browser = _signed_in_browser(web, _user(monkeypatch))
    [row] = db.session.query(UserSession).all()
    assert row.ended is None and row.token_hash not in _session_cookie(browser)
    browser.submit("/logout", form_page="/account")
    db.session.expire_all()
    assert db.session.get(UserSession, row.id).ended is not None


def _remember_cookie_of(browser, app) -> str:
    """The remember-me cookie Flask-Login would issue for this browser's session."""
    from flask_login.utils import encode_cookie

    with browser.client.session_transaction() as session:
        session_id = session["_user_id"]
    with app.test_request_context():
        return encode_cookie(session_id)


def _with_only_remember_cookie(web, app, cookie: str):
    browser = web()
    browser.client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), cookie)
    return browser


def test_a_remember_me_cookie_dies_with_its_session(web, app, monkeypatch):
    """Does a remember-me cookie outlive sign-out? It must not."""
    browser = _signed_in_browser(web, _user(monkeypatch))
    remembered = _remember_cookie_of(browser, app)
    assert _is_signed_in(_with_only_remember_cookie(web, app, remembered))
    browser.submit("/logout", form_page="/account")
    assert not _is_signed_in(_with_only_remember_cookie(web, app, remembered))


def test_a_remember_me_cookie_dies_when_the_password_changes_elsewhere(web, app, monkeypatch):
    user = _user(monkeypatch)
    mine, other = _signed_in_browser(web, user), _signed_in_browser(web, user)
    remembered = _remember_cookie_of(other, app)
    mine.submit("/account/password", {
        "current_password": PASSWORD, "new_password": "another long passphrase 2",
        "confirm_password": "another long passphrase 2",
    }, form_page="/account")
    assert not _is_signed_in(_with_only_remember_cookie(web, app, remembered))
