"""GET /api/v1/orgs and /api/v1/groups: what a sharer needs to name an audience."""
from __future__ import annotations

from tests.factories import indicator


def test_member_directory_lists_every_organisation_with_kind_and_country(make, api):
    brno = make.make_org("hospital", "CZ", slug="fn-brno")
    cert = make.make_org("national_cert", "CZ", slug="cert-cz")
    vendor = make.make_org("vendor", "DE", slug="pumpco")
    caller = api(make.make_user(make.make_org("hospital", "BR", slug="hc-sao-paulo"), role="viewer"))
    response = caller.get("/orgs")
    assert response.status_code == 200
    orgs = response.json["orgs"]
    assert [org["slug"] for org in orgs] == ["cert-cz", "fn-brno", "hc-sao-paulo", "pumpco"]
    assert orgs[0] == {"slug": "cert-cz", "name": cert.name, "kind": "national_cert", "country": "CZ"}
    assert {"slug": "pumpco", "name": vendor.name, "kind": "vendor", "country": "DE"} in orgs
    assert brno.name in {org["name"] for org in orgs}


def test_member_directory_filters_by_kind_and_country(make, api):
    make.make_org("hospital", "CZ", slug="fn-brno")
    make.make_org("national_cert", "CZ", slug="cert-cz")
    make.make_org("national_cert", "BR", slug="cert-br")
    caller = api(make.make_user(make.make_org("hospital", "BR", slug="hc-rio")))
    assert [o["slug"] for o in caller.get("/orgs?kind=national_cert").json["orgs"]] == ["cert-br", "cert-cz"]
    assert [o["slug"] for o in caller.get("/orgs?country=cz").json["orgs"]] == ["cert-cz", "fn-brno"]
    assert [o["slug"] for o in caller.get("/orgs?kind=national_cert&country=BR").json["orgs"]] == ["cert-br"]
    assert caller.get("/orgs?kind=vendor").json == {"orgs": []}


def test_directory_slugs_are_what_an_audience_accepts(make, api):
    cert = make.make_org("national_cert", "CZ")
    sharer = api(make.make_user(make.make_org("hospital", "CZ")))
    named = [org["slug"] for org in sharer.get("/orgs?kind=national_cert").json["orgs"]]
    response = sharer.post("/share", json={"objects": [indicator()], "tlp": "amber", "audience": {"orgs": named}})
    assert response.status_code == 201
    assert named == [cert.slug]


def test_groups_lists_only_the_callers_groups_with_member_slugs(make, api):
    brno = make.make_org("hospital", "CZ", slug="fn-brno")
    olomouc = make.make_org("hospital", "CZ", slug="fn-olomouc")
    cert = make.make_org("national_cert", "CZ", slug="cert-cz")
    rio = make.make_org("hospital", "BR", slug="hc-rio")
    make.make_group("cz-hospitals", brno, olomouc, cert)
    make.make_group("cz-certs", cert)
    make.make_group("br-hospitals", rio)
    make.make_group("moravia", olomouc, brno)

    response = api(make.make_user(brno, role="viewer")).get("/groups")
    assert response.status_code == 200
    assert response.json == {"groups": [
        {"slug": "cz-hospitals", "name": "cz-hospitals", "orgs": ["cert-cz", "fn-brno", "fn-olomouc"]},
        {"slug": "moravia", "name": "moravia", "orgs": ["fn-brno", "fn-olomouc"]},
    ]}
    assert api(make.make_user(rio)).get("/groups").json["groups"][0]["orgs"] == ["hc-rio"]
    assert api(make.make_user(make.make_org("vendor", "DE"))).get("/groups").json == {"groups": []}


def test_me_names_the_tokens_user(make, api):
    org = make.make_org("hospital", "CZ", slug="fn-brno")
    make.make_group("cz-hospitals", org)
    user = make.make_user(org, role="viewer", email="viewer@fn-brno.test")
    assert api(user).get("/me").json == {"email": "viewer@fn-brno.test", "org": "fn-brno", "org_kind": "hospital",
                                         "country": "CZ", "role": "viewer", "groups": ["cz-hospitals"]}
