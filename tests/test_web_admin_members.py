"""Operators admit, edit and deactivate member organisations and manage sharing groups in the UI."""
from __future__ import annotations

import orjson
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.models import Organisation, User
from hub.audit import AuditEvent
from hub.extensions import db
from hub.principal import Principal
from hub.intel.reads import read_item
from hub.errors import NotFound
from tests.factories import PASSWORD, indicator, share


def operator_of(make):
    user = make.make_user(make.make_org("national_cert"), "admin")
    user.is_operator = True
    db.session.commit()
    return user


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_only_operators_manage_organisations_and_groups(make, web):
    admin = web(make.make_user(make.make_org(), "admin"))
    for path in ("/admin/organisations", "/admin/groups"):
        assert admin.get(path).status_code == 403
    assert "/admin/organisations" not in admin.get("/account").text
    assert "/admin/organisations" in web(operator_of(make)).get("/account").text


def test_an_operator_admits_and_edits_an_organisation_with_errors_next_to_fields(make, web):
    browser = web(operator_of(make))

    bad = browser.submit("/admin/organisations", {"slug": "fn-brno", "name": "FN Brno", "kind": "hospital", "country": "C1"})
    assert bad.status_code == 422
    assert '<p class="error" id="country-error">C1: an ISO 3166-1 alpha-2 code, e.g. CZ</p>' in bad.text
    assert 'value="FN Brno"' in bad.text, "the input is kept"
    created = browser.submit("/admin/organisations", {"slug": "fn-brno", "name": "FN Brno", "kind": "hospital", "country": "cz"})
    assert created.status_code == 303 and created.location == "/admin/organisations/fn-brno"
    taken = browser.submit("/admin/organisations", {"slug": "fn-brno", "name": "Other", "kind": "vendor", "country": "CZ"})
    assert taken.status_code == 422 and "already exists" in taken.text

    edited = browser.submit("/admin/organisations/fn-brno",
                            {"name": "Fakultní nemocnice Brno", "kind": "hospital", "country": "CZ"})
    assert edited.status_code == 303
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "fn-brno"))
    db.session.refresh(org)
    assert (org.name, org.kind.value, org.country) == ("Fakultní nemocnice Brno", "hospital", "CZ")
    assert "Fakultní nemocnice Brno" in browser.get("/admin/organisations").text
    edit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "org_edited"))
    assert orjson.loads(edit.detail)["name"] == "FN Brno → Fakultní nemocnice Brno"
    assert edit.subject_org_id == org.id, "the organisation's own admins see what was changed about it"


def test_a_deactivated_organisation_cannot_sign_in_until_reactivated(make, web):
    browser = web(operator_of(make))
    org = make.make_org()
    nurse = make.make_user(org)
    nurse_browser = web(nurse)

    confirm = browser.get(f"/admin/organisations/{org.slug}/deactivate")
    assert "signed out at once" in confirm.text
    browser.submit(f"/admin/organisations/{org.slug}/deactivate")

    assert nurse_browser.get("/items").location.startswith("/login")
    assert web().submit("/login", {"email": nurse.email, "password": PASSWORD}).status_code == 200
    browser.submit(f"/admin/organisations/{org.slug}/reactivate")
    assert web().submit("/login", {"email": nurse.email, "password": PASSWORD}).location == "/"
    assert [a for a in actions() if a.startswith("org_")] == ["org_deactivated", "org_reactivated"]


def test_group_membership_managed_in_the_ui_decides_who_reads_group_items(make, web):
    operator = operator_of(make)
    browser = web(operator)
    author_org, joiner = make.make_org(), make.make_org()
    author, reader = make.make_user(author_org), make.make_user(joiner)

    assert browser.submit("/admin/groups", {"slug": "cz-hospitals", "name": "Czech hospitals"}).location \
        == "/admin/groups/cz-hospitals"
    browser.submit("/admin/groups/cz-hospitals", {"org": author_org.slug})
    browser.submit("/admin/groups/cz-hospitals", {"org": joiner.slug})
    page = browser.get("/admin/groups/cz-hospitals").text
    assert joiner.name in page and author_org.name in page

    item = share(author, [indicator("198.51.100.77")], tlp="amber", audience={"groups": ["cz-hospitals"]})
    assert read_item(Principal.of(reader), item.stix_id, "web").stix_id == item.stix_id

    confirm = browser.get(f"/admin/groups/cz-hospitals/members/{joiner.slug}/remove")
    assert "no longer receives" in confirm.text
    browser.submit(f"/admin/groups/cz-hospitals/members/{joiner.slug}/remove")
    db.session.expire_all()
    try:
        read_item(Principal.of(db.session.get(User, reader.id)), item.stix_id, "web")
    except NotFound:
        pass
    else:
        raise AssertionError("a removed member still reads the group's item")
    assert [g.slug for g in accounts.groups_of_org(joiner.id)] == []
    assert [a for a in actions() if a.startswith("group_")] == [
        "group_created", "group_member_added", "group_member_added", "group_member_removed"]
