"""The operator's public view of TLP:CLEAR items (policy rule 4): off unless enabled, CLEAR only,
never incidents, anonymous sharers stay unnamed."""
from __future__ import annotations

from tests import factories as f
from tests.incidents_support import report


def test_the_public_view_is_off_unless_the_operator_enables_it(client, app, monkeypatch):
    item = f.share(f.make_user(f.make_org("hospital")), [f.indicator("198.51.100.90")], tlp="clear", audience="own")
    assert client.get("/api/v1/public/objects").status_code == 404
    assert client.get(f"/api/v1/public/objects/{item.stix_id}").status_code == 404
    monkeypatch.setitem(app.config, "HUB_PUBLIC_CLEAR", True)
    assert [o["id"] for o in client.get("/api/v1/public/objects").json["objects"]] == [item.stix_id]


def test_only_clear_non_incident_items_are_public_and_anonymity_holds(client, app, api, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_PUBLIC_CLEAR", True)
    analyst = f.make_user(f.make_org("hospital"))
    named = f.share(analyst, [f.indicator("198.51.100.91")], tlp="clear", audience="own")
    anonymous = f.share(analyst, [f.indicator("198.51.100.92")], tlp="clear", audience="community", anonymous=True)
    green = f.share(analyst, [f.indicator("198.51.100.93")], tlp="green", audience="community")
    incident_id = api(analyst).post("/incidents", json=report(tlp="clear", audience="community")).json["id"]

    listed = {o["id"] for o in client.get("/api/v1/public/objects").json["objects"]}
    assert listed == {named.stix_id, anonymous.stix_id}
    for hidden in (green.stix_id, incident_id):
        assert client.get(f"/api/v1/public/objects/{hidden}").status_code == 404
    assert client.get(f"/api/v1/public/objects/{named.stix_id}").json["hub"]["owner"] == analyst.org.slug
    shown = client.get(f"/api/v1/public/objects/{anonymous.stix_id}")
    assert shown.json["hub"]["owner"] is None and analyst.org.slug not in shown.get_data(as_text=True)
