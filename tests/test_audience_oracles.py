"""What a sharer is told about the readers of its own items never tells it about another
organisation's item (rule 7: a sighting is read only by readers of the sighted item) nor who the
anonymous source of a sighted item is — not by names, counts, omissions, nor by when names vanish.

Each test asks the questions a curious member would ask, one candidate organisation at a time,
and requires the same kind of answer for every candidate."""
from __future__ import annotations

from hub.extensions import db
from hub.intel import readers, sightings
from tests.factories import indicator, make_org, make_user, principal, share


def _world():
    cert = make_org("national_cert", "CZ", slug="cert-cz")
    brno = make_org("hospital", "CZ", slug="fn-brno")
    ostrava = make_org("hospital", "CZ", slug="fn-ostrava")
    plzen = make_org("hospital", "CZ", slug="fn-plzen")
    cert.name, brno.name, ostrava.name, plzen.name = "CERT-CZ", "FN Brno", "FN Ostrava", "FN Plzen"
    db.session.commit()
    return {"sighter": make_user(brno), "source": make_user(ostrava), "plzen": make_user(plzen),
            "cert": make_user(cert)}


def _gain_asker(browser, item_id: str, kind: str = "orgs"):
    def ask(name: str) -> str:
        response = browser.get(f"/audience/preview?item={item_id}&audience={kind}&{kind}={name}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["text"]
    return ask


def test_widening_a_sighting_of_an_anonymous_item_answers_alike_for_every_organisation(web):
    w = _world()
    anon = share(w["source"], [indicator("203.0.113.200")], tlp="green", audience="community", anonymous=True)
    # The default audience reaches the source; a chosen one may not: neither may tell it.
    for request in (sightings.SightingRequest(), sightings.SightingRequest(audience={"orgs": ["cert-cz"]})):
        sighting = sightings.record_sighting(principal(w["sighter"]), anon.stix_id, request)
        ask = _gain_asker(web(w["sighter"]), sighting.stix_id)
        answers = {slug: ask(slug) for slug in ("fn-plzen", "fn-ostrava", "cert-cz")}
        assert set(answers.values()) == {readers.SOURCE_AMONG_RECIPIENTS}, answers


def test_the_audience_of_a_sighting_of_an_anonymous_item_names_no_organisation(web, api):
    w = _world()
    anon = share(w["source"], [indicator("203.0.113.207")], tlp="green", audience="community", anonymous=True)
    sighting = sightings.record_sighting(principal(w["sighter"]), anon.stix_id,
                                         sightings.SightingRequest(audience={"orgs": ["fn-plzen"]}))
    # Plzen was chosen and is not the source: still unnamed, as it would be if it were.
    assert api(w["sighter"]).get(f"/objects/{sighting.stix_id}").json["hub"]["audience"] == {
        "orgs": ["(not named: the item it refers to has an anonymous source)"]}
    page = web(w["sighter"]).get(f"/items/{sighting.stix_id}").get_data(as_text=True)
    shared_with = page.split('<dd class="shared-with">')[1].split("</dd>")[0]
    assert "FN Plzen" not in shared_with and "anonymous source" in shared_with


def test_a_sighting_tells_its_sharer_the_audience_it_chose_not_the_sighted_items(web):
    w = _world()
    # FN Ostrava shares AMBER with FN Brno and FN Plzen only: whom it reaches is Ostrava's business.
    item = share(w["source"], [indicator("203.0.113.201")], tlp="amber", audience={"orgs": ["fn-brno", "fn-plzen"]})
    sighting = sightings.record_sighting(principal(w["sighter"]), item.stix_id,
                                         sightings.SightingRequest(audience="community"))
    told = readers.of_item(principal(w["sighter"]), db.session.merge(sighting))
    assert told.text.startswith("Every member organisation")
    assert told.text.endswith(readers.ONLY_READERS_OF_REFERENCED)
    ask = _gain_asker(web(w["sighter"]), sighting.stix_id)
    assert ask("cert-cz") == ask("fn-plzen") == "Nobody else"  # the community holds both already

    own_only = sightings.record_sighting(principal(w["sighter"]), item.stix_id,
                                         sightings.SightingRequest(audience="own"))
    ask = _gain_asker(web(w["sighter"]), own_only.stix_id)
    # CERT-CZ may not read Ostrava's item, FN Plzen may: the sharer is told the same of both.
    assert ask("cert-cz") == f"CERT-CZ — 1 organisation, 1 person, {readers.ONLY_READERS_OF_REFERENCED}"
    assert ask("fn-plzen") == f"FN Plzen — 1 organisation, 1 person, {readers.ONLY_READERS_OF_REFERENCED}"


def test_a_red_sighting_never_tells_who_else_was_named_on_the_red_item(web):
    w = _world()
    item = share(w["source"], [indicator("203.0.113.205")], tlp="red",
                 audience={"users": [w["sighter"].email, w["plzen"].email]})
    sighting = sightings.record_sighting(principal(w["sighter"]), item.stix_id, sightings.SightingRequest(
        tlp=None, audience={"users": [w["sighter"].email]}))
    ask = _gain_asker(web(w["sighter"]), sighting.stix_id, kind="users")
    assert ask(w["plzen"].email).startswith("FN Plzen — 1 organisation, 1 person")
    assert ask(w["cert"].email).startswith("CERT-CZ — 1 organisation, 1 person")


def test_the_audit_log_filters_never_match_an_unnamed_actor(web):
    w = _world()
    brno_admin = make_user(w["sighter"].org, "admin")
    anon = share(w["source"], [indicator("203.0.113.202")], tlp="amber", audience="community", anonymous=True)
    sighting = sightings.record_sighting(principal(w["sighter"]), anon.stix_id, sightings.SightingRequest())
    # The source opens the sighting it was alerted about: a read audited in Brno's log.
    assert web(w["source"]).get(f"/items/{sighting.stix_id}").status_code == 200
    admin = web(brno_admin)
    whole = admin.get("/audit.csv").get_data(as_text=True)
    assert "an anonymous source" in whole and "fn-ostrava" not in whole and w["source"].email not in whole
    for query in ("org=fn-ostrava", "org=fn-plzen", f"actor={w['source'].email}"):
        assert "an anonymous source" not in admin.get(f"/audit.csv?{query}").get_data(as_text=True), query
