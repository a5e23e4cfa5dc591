"""An organisation's admin manages its users in the web UI, and never another organisation's."""
from __future__ import annotations

import re

import orjson
import pyotp
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.models import User
from hub.audit import AuditEvent
from hub.extensions import db
from tests.factories import PASSWORD


def reloaded(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def sign_in(browser, email: str, password: str = PASSWORD):
    return browser.submit("/login", {"email": email, "password": password})


def test_an_admin_invites_a_colleague_whose_initial_password_is_shown_once(make, web):
    org = make.make_org()
    admin = make.make_user(org, "admin")
    browser = web(admin)

    created = browser.submit("/admin/users", {"email": "New.Nurse@Hospital.example", "role": "analyst"})

    assert created.status_code == 303
    page = browser.get(created.location).text
    password = re.search(r'id="initial-password">([^<]+)<', page).group(1)
    assert "new.nurse@hospital.example" in page and "analyst" in page
    assert password not in browser.get(created.location).text, "shown once only"
    assert "new.nurse@hospital.example" in browser.get("/admin/users").text
    nurse = web()
    assert sign_in(nurse, "new.nurse@hospital.example", password).location == "/"
    # The admin has seen that password: until the nurse chooses their own, only that is offered.
    for page in ("/", "/items", "/share/indicator", "/admin/users"):
        assert nurse.get(page).location == "/account", page
    assert "Choose a password of your own" in nurse.get("/account").text
    changed = nurse.submit("/account/password", {"current_password": password, "new_password": "a quite long own phrase 7",
                                                 "confirm_password": "a quite long own phrase 7"}, form_page="/account")
    assert changed.status_code == 302 and changed.location == "/account", changed.text
    assert nurse.get("/items").status_code == 200
    [event] = audit_events("user_created")
    assert event.actor_user_id == admin.id and event.subject_org_id == org.id
    assert orjson.loads(event.detail) == {"user": "new.nurse@hospital.example", "role": "analyst", "channel": "web"}


def test_a_taken_address_is_refused_next_to_the_field_with_the_input_kept(make, web):
    org = make.make_org()
    admin = make.make_user(org, "admin")
    browser = web(admin)

    refused = browser.submit("/admin/users", {"email": admin.email, "role": "viewer"})
    assert refused.status_code == 422
    assert re.search(r'<p class="error" id="email-error">(.+: )?an account with this e-mail address already exists</p>', refused.text)
    assert f'value="{admin.email}"' in refused.text
    bad = browser.submit("/admin/users", {"email": "not-an-address", "role": "viewer"})
    assert bad.status_code == 422 and "not an e-mail address" in bad.text
    assert len(db.session.scalars(select(User)).all()) == 1


def test_an_admin_of_another_organisation_cannot_see_or_touch_these_users(make, web, client):
    hospital_a, hospital_b = make.make_org(), make.make_org()
    make.make_user(hospital_a, "admin")
    nurse = make.make_user(hospital_a, "analyst")
    nurse.totp_secret = pyotp.random_base32()
    db.session.commit()
    outsider = web(make.make_user(hospital_b, "admin"))

    assert nurse.email not in outsider.get("/admin/users").text
    assert outsider.get(f"/admin/users/{nurse.id}").status_code == 404
    token = outsider.csrf_token("/admin/users")
    for path, data in ((f"/admin/users/{nurse.id}/role", {"role": "admin"}),
                       (f"/admin/users/{nurse.id}/deactivate", {}),
                       (f"/admin/users/{nurse.id}/reset-2fa", {}),
                       (f"/admin/users/{nurse.id}/deactivate", None)):
        response = outsider.post(path, data={**data, "csrf_token": token}) if data is not None else outsider.get(path)
        assert response.status_code == 404, path
        assert nurse.email not in response.text
    nurse = reloaded(nurse)
    assert nurse.role.value == "analyst" and nurse.active and nurse.totp_secret
    assert audit_events("user_role_changed") == audit_events("user_deactivated") == audit_events("totp_reset") == []


def test_analysts_and_viewers_have_no_user_administration(make, web):
    org = make.make_org()
    for role in ("analyst", "viewer"):
        browser = web(make.make_user(org, role))
        assert browser.get("/admin/users").status_code == 403
        assert "/admin/users" not in browser.get("/account").text


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(make, web):
    org = make.make_org()
    first, second = make.make_user(org, "admin"), make.make_user(org, "admin")
    browser = web(first)

    demoted = browser.submit(f"/admin/users/{second.id}/role", {"role": "viewer"}, form_page=f"/admin/users/{second.id}")
    assert demoted.status_code == 303 and reloaded(second).role.value == "viewer"

    refused = browser.submit(f"/admin/users/{first.id}/role", {"role": "analyst"}, form_page=f"/admin/users/{first.id}")
    assert refused.status_code == 422
    assert "last active admin" in refused.text
    assert reloaded(first).role.value == "admin"

    # Promoted back, then deactivated: the remaining admin is again the last one.
    browser.submit(f"/admin/users/{second.id}/role", {"role": "admin"}, form_page=f"/admin/users/{second.id}")
    web(second).submit(f"/admin/users/{first.id}/deactivate")
    assert not reloaded(first).active
    last = web(second)
    last.submit(f"/admin/users/{second.id}/role", {"role": "viewer"}, form_page=f"/admin/users/{second.id}")
    assert reloaded(second).role.value == "admin"
    assert "cannot deactivate your own account" in last.submit(
        f"/admin/users/{second.id}/deactivate", follow_redirects=True).text
    assert reloaded(second).active
    [change, promote] = audit_events("user_role_changed")
    assert orjson.loads(change.detail)["after"] == "viewer" and orjson.loads(promote.detail)["after"] == "admin"


def test_deactivation_is_confirmed_signs_out_and_refuses_sign_in_and_tokens(make, web, client):
    org = make.make_org()
    admin, nurse = make.make_user(org, "admin"), make.make_user(org, "analyst")
    nurse_browser = web(nurse)
    token = accounts.create_token(nurse, "siem")
    browser = web(admin)

    confirm = browser.get(f"/admin/users/{nurse.id}/deactivate")
    assert confirm.status_code == 200 and "signed out everywhere" in confirm.text
    assert reloaded(nurse).active, "the confirmation page changes nothing"
    done = browser.submit(f"/admin/users/{nurse.id}/deactivate")
    assert done.status_code == 303 and done.location == f"/admin/users/{nurse.id}"

    assert nurse_browser.get("/account").location.startswith("/login")
    db.session.expire_all()  # the API client below runs in this test's database session
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert sign_in(web(), nurse.email).status_code == 200, "the sign-in form again"
    assert [e.actor_user_id for e in audit_events("user_deactivated")] == [admin.id]

    browser.submit(f"/admin/users/{nurse.id}/reactivate")
    assert sign_in(web(), nurse.email).location == "/"
    db.session.expire_all()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_2fa_reset_clears_codes_and_forces_enrolment_at_next_sign_in(make, web):
    org = make.make_org()
    admin, nurse = make.make_user(org, "admin"), make.make_user(org, "analyst")
    secret = pyotp.random_base32()
    recovery = accounts.enable_totp(nurse, secret, pyotp.TOTP(secret).now())
    nurse_browser = web(nurse)

    confirm = web(admin).get(f"/admin/users/{nurse.id}/reset-2fa")
    assert "must set up two-factor sign-in again" in confirm.text
    web(admin).submit(f"/admin/users/{nurse.id}/reset-2fa")

    nurse = reloaded(nurse)
    assert nurse.totp_secret is None and accounts.unused_recovery_codes(nurse) == 0
    assert nurse_browser.get("/account").location.startswith("/login"), "signed out everywhere"
    fresh = web()
    assert sign_in(fresh, nurse.email).location == "/", "the password alone signs in, once"
    for page in ("/", "/items", "/account"):
        assert fresh.get(page).location == "/account/totp", page
    new_secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', fresh.get("/account/totp").text).group(1)
    fresh.submit("/account/totp", {"code": pyotp.TOTP(new_secret).now()})
    assert fresh.get("/items").status_code == 200
    assert not accounts.accept_recovery_code(reloaded(nurse), recovery[0]), "old recovery codes are gone"
    [reset] = audit_events("totp_reset")
    assert reset.actor_user_id == admin.id and orjson.loads(reset.detail)["user"] == nurse.email
