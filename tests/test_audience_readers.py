"""Who will see this (issue 15.1): the sharer is told, in words, which organisations and how many
people may read an item, and the words match exactly whom the policy lets read."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub import policy
from hub.extensions import db
from hub.incidents import cases, filing
from hub.intel import readers
from hub.intel.audience import Audience, resolve_audience
from hub.intel.models import SharedItem
from hub.principal import Principal
from hub.tlp import TLP
from tests.factories import indicator, make_group, make_org, make_user, share
from tests.incidents_support import build_world, report


@pytest.fixture
def cz():
    """CERT-CZ and four CZ hospitals in a sharing group, a vendor and a Slovak hospital outside it."""
    cert = make_org("national_cert", "CZ", slug="cert-cz")
    cert.name = "CERT-CZ"
    hospitals = [make_org("hospital", "CZ", slug=f"cz-hospital-{n}") for n in range(4)]
    hospitals[0].name, hospitals[1].name = "FN Brno", "FN Ostrava"
    hospitals[2].name, hospitals[3].name = "FN Motol", "FN Plzen"
    vendor = make_org("vendor", "DE", slug="med-vendor")
    slovak = make_org("hospital", "SK", slug="sk-hospital")
    db.session.commit()
    people = {
        "cert": [make_user(cert), make_user(cert, "viewer")],
        "brno": [make_user(hospitals[0]), make_user(hospitals[0], "viewer"), make_user(hospitals[0], "admin")],
        "ostrava": [make_user(hospitals[1])],
        "motol": [make_user(hospitals[2]), make_user(hospitals[2])],
        "plzen": [make_user(hospitals[3])],
        "vendor": [make_user(vendor)],
        "slovak": [make_user(slovak)],
    }
    make_group("cz-health", cert, *hospitals)
    return {"cert": cert, "hospitals": hospitals, "vendor": vendor, "slovak": slovak, "people": people,
            "sharer": Principal.of(people["brno"][0])}


def readable_by_policy(item: SharedItem, users) -> set[int]:
    """Who the policy's per-item check lets read the item: the oracle the words must match."""
    return {user.id for user in users if policy.can_read(Principal.of(user), item)}


def everyone(cz) -> list:
    return [user for users in cz["people"].values() for user in users]


def test_a_group_share_names_the_cert_and_counts_the_other_hospitals(cz):
    audience = resolve_audience(cz["sharer"], {"groups": ["cz-health"]})
    who = readers.preview(cz["sharer"], TLP.amber, audience)
    assert who.text == "Your organisation, CERT-CZ, FN Motol, FN Ostrava and FN Plzen — 5 organisations, 9 people"
    assert (who.organisations, who.people) == (5, 9)


def test_more_organisations_than_the_cap_are_counted_by_kind_and_country(cz):
    extra = make_org("hospital", "CZ", slug="cz-hospital-extra")
    extra.name = "FN Hradec"
    make_user(extra)
    make_group("cz-more", cz["cert"], *cz["hospitals"], extra)
    audience = resolve_audience(cz["sharer"], {"groups": ["cz-more"]})
    who = readers.preview(cz["sharer"], TLP.green, audience)
    assert who.text == ("Your organisation, CERT-CZ, FN Hradec, FN Motol and 2 other hospitals in CZ"
                        " — 6 organisations, 10 people")
    assert who.names == ("CERT-CZ", "FN Hradec", "FN Motol")


def test_clear_reaches_every_member_whatever_the_audience(cz):
    who = readers.preview(cz["sharer"], TLP.clear, Audience())
    assert who.text == f"Every member organisation — 7 organisations, {len(everyone(cz))} people"


def test_own_and_red_audiences_say_how_few_read(cz):
    assert readers.preview(cz["sharer"], TLP.amber, Audience()).text == \
        "Only your organisation — 1 organisation, 3 people"
    named = cz["people"]["cert"][1]
    red = readers.preview(cz["sharer"], TLP.red, Audience(user_ids=frozenset({named.id})))
    assert red.text == "Your organisation and CERT-CZ — 2 organisations, 2 people", "the author and the named person"


def test_an_incident_never_reaches_a_vendor_of_the_community_nor_law_enforcement_without_consent(cz):
    police = make_org("law_enforcement", "CZ", slug="policie")
    make_user(police)
    incident = readers.preview(cz["sharer"], TLP.green, Audience(community=True), stix_type="incident")
    indicator_ = readers.preview(cz["sharer"], TLP.green, Audience(community=True))
    assert indicator_.organisations == 8 and indicator_.text.startswith("Every member organisation")
    assert incident.organisations == 6, "neither the vendor nor the police read an incident report"
    assert "vendor" not in incident.text and "law-enforcement" not in incident.text


def test_a_preview_writes_nothing(cz):
    before = db.session.scalar(select(func.count(SharedItem.id)))
    readers.preview(cz["sharer"], TLP.amber, resolve_audience(cz["sharer"], {"groups": ["cz-health"]}))
    assert db.session.scalar(select(func.count(SharedItem.id))) == before


@pytest.mark.parametrize("tlp,audience", [
    ("amber", {"groups": ["cz-health"]}),
    ("green", "community"),
    ("amber+strict", {"orgs": ["cert-cz", "med-vendor"]}),
    ("amber", "own"),
])
def test_the_words_count_exactly_the_people_the_policy_lets_read(cz, tlp, audience):
    sharer = cz["people"]["brno"][0]
    previewed = readers.preview(cz["sharer"], TLP.parse(tlp), resolve_audience(cz["sharer"], audience))
    item = share(sharer, [indicator("198.51.100.90")], tlp=tlp, audience=audience)

    allowed = readable_by_policy(item, everyone(cz))
    described = readers.of_item(cz["sharer"], item)
    assert described == previewed, "the preview before sharing is what the item page says after"
    assert described.people == len(allowed)
    assert described.organisations == len({user.org_id for user in everyone(cz) if user.id in allowed})
    assert policy.readers_of(item.id).user_ids == frozenset(allowed)


def test_a_deactivated_organisation_or_person_is_neither_named_nor_counted(cz):
    audience = resolve_audience(cz["sharer"], {"groups": ["cz-health"]})
    cz["hospitals"][3].active = False  # FN Plzen left the hub: its people cannot sign in
    cz["people"]["motol"][1].active = False
    db.session.commit()
    who = readers.preview(cz["sharer"], TLP.amber, audience)
    assert who.text == "Your organisation, CERT-CZ, FN Motol and FN Ostrava — 4 organisations, 7 people"


def test_only_the_owner_organisation_is_told_whom_an_item_reaches(cz):
    item = share(cz["people"]["brno"][0], [indicator("198.51.100.91")], tlp="amber", audience={"groups": ["cz-health"]})
    assert readers.of_item(Principal.of(cz["people"]["cert"][0]), item) is None
    assert readers.of_item(Principal.of(cz["people"]["brno"][1]), item) is not None


def test_widening_names_only_who_gains_access(cz):
    sharer = cz["people"]["brno"][0]
    item = share(sharer, [indicator("198.51.100.92")], tlp="amber", audience={"orgs": ["cert-cz"]})
    gained = readers.gained_by_widening(cz["sharer"], item, resolve_audience(cz["sharer"], {"groups": ["cz-health"]}))
    assert gained.text == "FN Motol, FN Ostrava and FN Plzen — 3 organisations, 4 people"
    nothing = readers.gained_by_widening(cz["sharer"], item, resolve_audience(cz["sharer"], {"orgs": ["cert-cz"]}))
    assert nothing.text == "Nobody else" and nothing.people == 0


def test_a_sighting_of_an_anonymous_item_never_names_or_counts_its_source(cz):
    source = cz["people"]["ostrava"][0]
    sighter = cz["people"]["brno"][0]
    item = share(source, [indicator("198.51.100.93")], tlp="green", audience="community", anonymous=True)
    sighting = {
        "type": "sighting", "spec_version": "2.1", "id": "sighting--6b0b7b7e-6f4e-4d9c-9b55-2b5a1c8f0a01",
        "created": "2026-11-02T10:00:00.000Z", "modified": "2026-11-02T10:00:00.000Z",
        "sighting_of_ref": item.stix_id,
    }
    shared = share(sighter, [sighting], tlp="green", audience={"orgs": [source.org.slug, "cert-cz"]})
    who = readers.of_item(cz["sharer"], shared)
    # Naming CERT-CZ alone would tell that FN Ostrava, also chosen, is the source: nobody is named.
    assert "FN Ostrava" not in who.text and "CERT-CZ" not in who.text and who.names == ()
    assert who.text == readers.SOURCE_AMONG_RECIPIENTS and (who.organisations, who.people) == (0, 0)
    chosen = readers.chosen_recipients(cz["sharer"], shared)
    assert not any("FN Ostrava" in name or "CERT-CZ" in name for name in chosen)


def test_an_incident_report_reaches_exactly_whom_the_policy_lets_read_before_and_after_consent():
    world = build_world()
    owner = Principal.of(world.hospital_admin)
    incident = filing.file_incident(Principal.of(world.hospital_analyst), report())
    people = [*world.everyone.values(), world.hospital_admin]
    gained = readers.gained_by_consent(owner, incident.item, world.police.org_id)
    assert gained.text == f"{world.police.org.name} — 1 organisation, 1 person"

    for step in ("filed", "consented"):
        who = readers.of_item(owner, incident.item)
        allowed = readable_by_policy(incident.item, people)
        assert who.people == len(allowed), step
        assert who.organisations == len({user.org_id for user in people if user.id in allowed}), step
        assert world.vendor.id not in allowed and world.foreign_cert.id not in allowed
        cases.grant_consent(owner, incident.stix_id, world.police.org.slug)
    assert world.police.id in readable_by_policy(incident.item, people)
    assert readers.gained_by_consent(owner, incident.item, world.police.org_id).text == "Nobody else"
