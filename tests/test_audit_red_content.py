"""For a RED item the admin's audit log shows that it exists and who did what when, never its content."""
from __future__ import annotations

from hub.extensions import db
from hub.intel.manage import revoke
from hub.principal import Principal
from tests import factories as f
from tests.factories import indicator

TITLE = "Nightingale ransomware C2"
ADDRESS = "203.0.113.99"


def test_the_audit_log_shows_who_did_what_to_a_red_item_but_not_what_it_says(web, api):
    hospital, cert = f.make_org("hospital", "CZ"), f.make_org("national_cert", "CZ")
    admin, author = f.make_user(hospital, "admin"), f.make_user(hospital, "analyst")
    named = f.make_user(cert, "analyst")
    item = f.share(author, [indicator(ADDRESS, name=TITLE, description=f"beacons to {ADDRESS}")],
                   tlp="red", audience={"users": [author.email, named.email]})
    read = api(named).get(f"/objects/{item.stix_id}")
    assert read.status_code == 200 and TITLE in read.get_data(as_text=True)
    revoke(Principal.of(author), item.stix_id, reason=f"{TITLE}: {ADDRESS} moved to another host")
    db.session.commit()

    page = web(admin).get("/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert item.stix_id in html
    for action in ("share", "read", "revoke"):
        assert f"action-{action}" in html
    assert author.email in html and named.email in html
    assert TITLE not in html and ADDRESS not in html
    assert "withheld (TLP:RED)" in html  # the revocation reason
    assert web(admin).get(f"/items/{item.stix_id}").status_code == 404


def test_the_reason_for_revoking_an_amber_item_stays_readable_to_the_admin(web):
    hospital = f.make_org("hospital", "CZ")
    admin, author = f.make_user(hospital, "admin"), f.make_user(hospital, "analyst")
    item = f.share(author, [indicator(ADDRESS)], tlp="amber")
    revoke(Principal.of(author), item.stix_id, reason="false positive: a shared CDN address")
    db.session.commit()
    html = web(admin).get("/audit").get_data(as_text=True)
    assert "false positive: a shared CDN address" in html and "withheld" not in html
