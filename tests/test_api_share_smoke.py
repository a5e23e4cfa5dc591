from tests.factories import indicator


def test_shared_indicator_is_visible_to_community_but_not_outside_audience(make, api):
    brno = make.make_org("hospital", "CZ")
    cert = make.make_org("national_cert", "CZ")
    sharer = make.make_user(brno)
    reader = make.make_user(cert)
    obj = indicator("203.0.113.9")
    response = api(sharer).post("/share", json={"objects": [obj], "tlp": "amber", "audience": {"orgs": [cert.slug]}})
    assert response.status_code == 201, response.json
    assert response.json == {"ids": [obj["id"]]}
    got = api(reader).get(f"/objects/{obj['id']}")
    assert got.status_code == 200
    assert got.json["hub"]["owner"] == brno.slug
    other = make.make_user(make.make_org("hospital", "BR"))
    assert api(other).get(f"/objects/{obj['id']}").status_code == 404
