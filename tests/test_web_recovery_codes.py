"""Recovery codes: issued at TOTP enrolment, shown once, each good for one sign-in, regenerable."""
from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from hub.accounts.models import RecoveryCode
from hub.audit import AuditEvent
from hub.extensions import db
from tests.factories import PASSWORD

CODES = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def enrol(browser) -> list[str]:
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', browser.get("/account/totp").text).group(1)
    enabled = browser.submit("/account/totp", {"code": pyotp.TOTP(secret).now()})
    assert enabled.location == "/account/recovery-codes"
    return CODES.findall(browser.get(enabled.location).text)


def sign_in_with_code(browser, email: str, code: str):
    assert browser.submit("/login", {"email": email, "password": PASSWORD}).location == "/login/totp"
    return browser.submit("/login/totp", {"code": code})


def test_ten_codes_are_shown_once_and_stored_only_hashed(make, web):
    analyst = make.make_user(make.make_org())
    browser = web(analyst)
    codes = enrol(browser)

    assert len(codes) == len(set(codes)) == 10
    again = browser.get("/account/recovery-codes").text
    assert CODES.findall(again) == [] and "10 unused codes" in again
    stored = " ".join(db.session.scalars(select(RecoveryCode.code_hash)))
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)


def test_a_recovery_code_signs_in_once(make, web):
    analyst = make.make_user(make.make_org())
    codes = enrol(web(analyst))

    first = sign_in_with_code(web(), analyst.email, codes[3].upper().replace("-", " ")[:5] + codes[3][6:])
    assert first.location == "/", "typed without the dash, in capitals: still the code"
    replayed = sign_in_with_code(web(), analyst.email, codes[3])
    assert replayed.status_code == 200 and "That code is not right" in replayed.text
    assert sign_in_with_code(web(), analyst.email, codes[4]).location == "/"
    assert "8 unused codes" in web(analyst).get("/account/recovery-codes").text
    used = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "recovery_code_used")).all()
    assert [e.actor_user_id for e in used] == [analyst.id, analyst.id]


def test_new_codes_replace_the_old_ones_and_need_the_password(make, web):
    analyst = make.make_user(make.make_org())
    browser = web(analyst)
    old = enrol(browser)

    refused = browser.submit("/account/recovery-codes", {"password": "not-my-password"})
    assert refused.status_code == 422 and '<p class="error" id="password-error">does not match</p>' in refused.text
    issued = browser.submit("/account/recovery-codes", {"password": PASSWORD})
    assert issued.status_code == 303
    new = CODES.findall(browser.get("/account/recovery-codes").text)
    assert len(new) == 10 and not set(new) & set(old)

    assert sign_in_with_code(web(), analyst.email, old[0]).status_code == 200, "an old code no longer works"
    assert sign_in_with_code(web(), analyst.email, new[0]).location == "/"
