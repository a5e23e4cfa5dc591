"""Fan-out to in-app notifications: who is told, about what, and never twice.

The fan-out runs here as the worker runs it (jobs.fan_out_entries); the worker process itself
is exercised in test_alerts_worker.py.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select

from hub.accounts.models import group_members
from hub.alerts import jobs, services
from hub.alerts.models import Notification
from hub.outbox import OutboxEntry
from hub.extensions import db
from hub.intel.audience import resolve_audience
from hub.intel.manage import revoke, widen
from hub.intel.models import SharedItem
from hub.policy import can_read
from hub.principal import Principal
from tests import factories as f
from tests.alerts_support import cheap_password_hashing, run_fan_out, subscribe


@pytest.fixture(autouse=True)
def _fast_users(monkeypatch):
    cheap_password_hashing(monkeypatch)


def notified(item=None, event=None) -> set[int]:
    query = select(Notification.user_id)
    if item is not None:
        query = query.where(Notification.item_id == item.id)
    if event is not None:
        query = query.where(Notification.event == event)
    return set(db.session.scalars(query))


def incident(name: str = "Ransomware on the imaging ward") -> dict:
    return {
        "type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z", "name": name,
    }


def report(labels=None, report_types=None, name="Vendor advisory") -> dict:
    obj = {
        "type": "report", "spec_version": "2.1", "id": f"report--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
        "name": name, "published": "2026-11-01T10:00:00.000Z",
        "object_refs": [f"indicator--{uuid.uuid4()}"],
    }
    if labels:
        obj["labels"] = labels
    if report_types:
        obj["report_types"] = report_types
    return obj


@pytest.fixture
def world():
    """Two CZ hospitals, a national CERT, a vendor and law enforcement, each with one analyst
    subscribed to everything in-app."""
    orgs = {
        "brno": f.make_org("hospital", "CZ"),
        "ostrava": f.make_org("hospital", "CZ"),
        "cert": f.make_org("national_cert", "CZ"),
        "vendor": f.make_org("vendor", "DE"),
        "police": f.make_org("law_enforcement", "CZ"),
    }
    users = {name: f.make_user(org) for name, org in orgs.items()}
    for user in users.values():
        subscribe(user)
    return orgs, users


def test_a_share_notifies_each_subscriber_once_even_when_the_fan_out_runs_twice(world):
    orgs, users = world
    item = f.share(users["brno"], tlp="green", audience="community")
    others = {u.id for name, u in users.items() if name != "brno"}  # the sharer is never told
    assert run_fan_out() == len(others)
    entry_id = db.session.scalar(select(OutboxEntry.id))
    assert jobs.fan_out_entries([entry_id]) == 0
    assert db.session.scalar(select(func.count(Notification.id))) == len(others)
    assert notified(item, "shared") == others


def test_one_fan_out_task_over_two_bulk_acts_alerts_each_subscriber_once_per_act(world):
    """A task skips the entries its earlier fan-outs dispatched with their act, never another
    act's: both bundles are announced, each once."""
    orgs, users = world
    first = f.share(users["brno"], [f.indicator() for _ in range(30)], tlp="green", audience="community")
    second = f.share(users["ostrava"], [f.indicator() for _ in range(30)], tlp="green", audience="community")
    run_fan_out()
    lead = select(Notification.user_id, Notification.act).where(Notification.lead)
    told = db.session.execute(lead).all()
    assert len(told) == len(set(told))  # one alert per recipient and act
    assert {u for u, _ in told if _ == db.session.get(OutboxEntry, _entry_of(first)).act} == {
        u.id for name, u in users.items() if name != "brno"}
    assert {u for u, _ in told if _ == db.session.get(OutboxEntry, _entry_of(second)).act} == {
        u.id for name, u in users.items() if name != "ostrava"}
    assert db.session.scalar(select(func.count(OutboxEntry.id)).where(OutboxEntry.dispatched_at.is_(None))) == 0


def _entry_of(item) -> int:
    return db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.item_id == item.id))


def test_red_item_alerts_only_the_named_users_never_the_author_who_shared_it(world):
    orgs, users = world
    colleague = f.make_user(orgs["cert"])
    subscribe(colleague)
    item = f.share(users["brno"], tlp="red", audience={"users": [users["cert"].email]})
    run_fan_out()
    assert notified(item) == {users["cert"].id}


def test_amber_for_one_organisation_never_alerts_the_others(world):
    orgs, users = world
    colleague = f.make_user(orgs["brno"])
    subscribe(colleague)
    item = f.share(users["brno"], tlp="amber", audience={"orgs": [orgs["cert"].slug]})
    run_fan_out()
    assert notified(item) == {colleague.id, users["cert"].id}


def test_incidents_never_alert_vendors_or_law_enforcement_unless_named(world):
    orgs, users = world
    shared = f.share(users["brno"], [incident()], tlp="green", audience="community")
    run_fan_out()
    assert notified(shared) == {users["ostrava"].id, users["cert"].id}

    named = f.share(users["brno"], [incident("Infusion pump compromise")], tlp="amber",
                    audience={"orgs": [orgs["vendor"].slug]})
    run_fan_out()
    assert notified(named) == {users["vendor"].id}


def test_the_batched_policy_check_agrees_with_can_read_for_every_user_and_item():
    """The fan-out asks the policy about all recipients in one query: it must give exactly the
    answer of the per-item check for every user."""
    kinds = ["hospital", "hospital", "national_cert", "vendor", "law_enforcement", "peer_hub"]
    orgs = [f.make_org(kind, "CZ" if i % 2 else "BR") for i, kind in enumerate(kinds)]
    users = [f.make_user(org, role) for org in orgs for role in ("analyst", "viewer")]
    for user in users:
        subscribe(user)
    f.make_group("cz-pair", orgs[0], orgs[2])
    sharer, other_sharer = users[0], users[6]  # hospital analyst, vendor analyst
    items = [
        f.share(sharer, tlp="clear", audience="own"),
        f.share(sharer, tlp="green", audience="community"),
        f.share(sharer, tlp="amber", audience={"groups": ["cz-pair"]}),
        f.share(sharer, tlp="amber+strict", audience={"orgs": [orgs[3].slug]}),
        f.share(sharer, tlp="red", audience={"users": [users[4].email, users[9].email]}),
        f.share(sharer, tlp="green", audience={"users": [users[8].email]}),
        f.share(sharer, [incident()], tlp="green", audience="community"),
        f.share(sharer, [incident()], tlp="amber", audience={"orgs": [orgs[3].slug, orgs[4].slug]}),
        f.share(other_sharer, tlp="green", audience="own", anonymous=True),
    ]
    run_fan_out()
    for item in items:
        expected = {u.id for u in users if can_read(Principal.of(u), item) and u.id != item.author_id}
        assert notified(item) == expected, item.stix_id


def test_filters_on_type_tlp_and_observable_kind(world):
    orgs, users = world
    subscribe(users["cert"], filters={"types": ["indicator"], "min_tlp": "amber",
                                      "observable_types": ["domain-name"]})
    cert_filtered = users["cert"]
    # Replace the catch-all subscription: only the filtered one remains for the CERT analyst.
    catch_all = services.list_subscriptions(Principal.of(cert_filtered))[0]
    services.delete_subscription(Principal.of(cert_filtered), catch_all.id)
    green_domain = f.share(users["brno"], [f.indicator("evil.example", "domain-name")], tlp="green")
    amber_ip = f.share(users["brno"], [f.indicator("203.0.113.5")], tlp="amber", audience={"orgs": [orgs["cert"].slug]})
    amber_domain = f.share(users["brno"], [f.indicator("bad.example", "domain-name")], tlp="amber",
                           audience={"orgs": [orgs["cert"].slug]})
    run_fan_out()
    assert cert_filtered.id not in notified(green_domain)
    assert cert_filtered.id not in notified(amber_ip)
    assert cert_filtered.id in notified(amber_domain)


def test_filters_on_labels_keywords_and_advisories():
    org = f.make_org("hospital", "CZ")
    vendor = f.make_org("vendor", "DE")
    sharer = f.make_user(vendor)
    by_label = f.make_user(org)
    by_keyword = f.make_user(org)
    advisories = f.make_user(org)
    subscribe(by_label, filters={"labels": ["Ransomware"]})
    subscribe(by_keyword, filters={"keywords": ["infusion pump"]})
    subscribe(advisories, filters={"advisories": True})
    for user in (by_label, by_keyword):  # hospitals hear of advisories by default: off here
        services.set_default_alert(Principal.of(user), "advisories", False)
    labelled = f.share(sharer, [f.indicator("198.51.100.1", labels=["ransomware"])])
    described = f.share(sharer, [f.indicator("198.51.100.2", description="Targets the Infusion Pump fleet")])
    advisory = f.share(sharer, [report(report_types=["vulnerability"], name="CSAF: pump firmware")])
    plain_report = f.share(sharer, [report(report_types=["threat-report"], name="Weekly summary")])
    run_fan_out()
    assert notified(labelled) == {by_label.id}
    assert notified(described) == {by_keyword.id}
    assert notified(advisory) == {advisories.id}
    assert notified(plain_report) == set()


def test_owner_filters_never_match_anonymous_items_except_for_their_own_organisation():
    brno = f.make_org("hospital", "CZ")
    sao_paulo = f.make_org("hospital", "BR")
    cert = f.make_org("national_cert", "CZ")
    cert_analyst = f.make_user(cert)
    brno_analyst, brno_colleague = f.make_user(brno), f.make_user(brno)
    subscribe(cert_analyst, filters={"owner_kind": ["hospital"], "owner_country": ["CZ"]})
    subscribe(brno_colleague, filters={"owner_country": ["cz"]})
    from_brno = f.share(brno_analyst, tlp="green")
    from_brazil = f.share(f.make_user(sao_paulo), tlp="green")
    anonymous = f.share(brno_analyst, tlp="green", anonymous=True)
    run_fan_out()
    assert notified(from_brno) == {cert_analyst.id, brno_colleague.id}
    assert notified(from_brazil) == set()
    # The CERT may read the anonymous item, but a match on its owner would name the source.
    assert notified(anonymous) == {brno_colleague.id}


def test_correlation_filter_alerts_about_items_that_name_our_own_observables():
    brno = f.make_org("hospital", "CZ")
    ostrava = f.make_org("hospital", "CZ")
    brno_analyst = f.make_user(brno)
    ostrava_analyst = f.make_user(ostrava)
    subscribe(brno_analyst, filters={"correlates_with_own": True})
    f.share(brno_analyst, [f.indicator("192.0.2.77")], tlp="amber", audience="own")
    correlated = f.share(ostrava_analyst, [f.indicator("192.0.2.77")], tlp="green")
    unrelated = f.share(ostrava_analyst, [f.indicator("192.0.2.78")], tlp="green")
    run_fan_out()
    assert notified(correlated) == {brno_analyst.id}
    assert notified(unrelated) == set()


def test_revocation_reaches_everyone_who_was_alerted_even_if_their_filter_says_shared_only():
    brno = f.make_org("hospital", "CZ")
    cert = f.make_org("national_cert", "CZ")
    sharer = f.make_user(brno)
    recipient = f.make_user(cert)
    late_subscriber = f.make_user(cert)
    subscribe(recipient, filters={"events": ["shared"]})
    item = f.share(sharer, tlp="green")
    run_fan_out()
    subscribe(late_subscriber, filters={"events": ["shared"]})
    revoke(Principal.of(sharer), item.stix_id, reason="false positive")
    run_fan_out()
    assert notified(item, "revoked") == {recipient.id}


def test_widening_tells_the_new_readers_and_nobody_twice():
    brno = f.make_org("hospital", "CZ")
    ostrava = f.make_org("hospital", "CZ")
    cert = f.make_org("national_cert", "CZ")
    sharer = f.make_user(brno)
    cert_analyst, ostrava_analyst = f.make_user(cert), f.make_user(ostrava)
    subscribe(cert_analyst)
    subscribe(ostrava_analyst)
    item = f.share(sharer, tlp="amber", audience={"orgs": [cert.slug]})
    run_fan_out()
    assert notified(item) == {cert_analyst.id}
    p = Principal.of(sharer)
    widen(p, item.stix_id, resolve_audience(p, {"orgs": [ostrava.slug]}))
    run_fan_out()
    assert notified(item, "widened") == {ostrava_analyst.id}


def test_expiry_is_announced_once_to_the_readers():
    brno = f.make_org("hospital", "CZ")
    sharer, reader = f.make_user(brno), f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(reader)
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    item = f.share(sharer, [f.indicator("198.51.100.99", valid_until=soon)], tlp="green")
    run_fan_out()
    assert jobs.emit_expiries() == 0  # not yet
    # An hour later, as far as the item knows: shared an hour ago, valid until a second ago.
    stored = db.session.get(SharedItem, item.id)
    stored.first_added_us -= 3600 * 1_000_000
    stored.valid_until = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    assert jobs.emit_expiries() == 1
    assert jobs.emit_expiries() == 0
    run_fan_out()
    assert notified(item, "expired") == {reader.id}


def test_an_organisation_subscription_rings_every_member_for_what_the_organisation_may_read():
    brno = f.make_org("hospital", "CZ")
    cert = f.make_org("national_cert", "CZ")
    admin = f.make_user(cert, "admin")
    members = [admin, f.make_user(cert, "analyst"), f.make_user(cert, "viewer")]
    services.create_subscription(Principal.of(admin), channel="in_app", scope="org")
    sharer = f.make_user(brno)
    for_the_cert = f.share(sharer, tlp="amber", audience={"orgs": [cert.slug]})
    for_one_member = f.share(sharer, tlp="green", audience={"users": [members[1].email]})
    run_fan_out()
    assert notified(for_the_cert) == {m.id for m in members}
    # Named to one person: the organisation as a whole may not read it, so no bell rings.
    assert notified(for_one_member) == set()


def test_a_deactivated_organisation_is_alerted_to_nothing_by_any_subscription():
    brno, ostrava = f.make_org("hospital", "CZ"), f.make_org("hospital", "CZ")
    admin = f.make_user(ostrava, "admin")
    services.create_subscription(Principal.of(admin), channel="in_app", scope="org")
    subscribe(f.make_user(ostrava))
    ostrava.active = False
    db.session.commit()
    item = f.share(f.make_user(brno), tlp="green", audience="community")
    run_fan_out()
    assert notified(item) == set()


def test_a_notification_disappears_when_its_item_is_no_longer_readable():
    brno = f.make_org("hospital", "CZ")
    ostrava = f.make_org("hospital", "CZ")
    reader = f.make_user(ostrava)
    subscribe(reader)
    group = f.make_group("cz-pair", brno, ostrava)
    f.share(f.make_user(brno), tlp="amber", audience={"groups": ["cz-pair"]})
    run_fan_out()
    p = Principal.of(reader)
    assert len(services.list_notifications(p).rows) == 1
    assert services.unread_count(p) == 1
    db.session.execute(delete(group_members).where(group_members.c.group_id == group.id,
                                                   group_members.c.org_id == ostrava.id))
    db.session.commit()
    assert services.list_notifications(p).rows == []
    assert services.unread_count(p) == 0


def test_a_deleted_subscription_stops_alerting_even_when_a_new_one_takes_its_place():
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    first, second = f.make_user(f.make_org("national_cert")), f.make_user(f.make_org("national_cert"))
    old = subscribe(first)
    run_fan_out()  # the worker's copy of the subscriptions is now current
    before = f.share(sharer, tlp="green")
    run_fan_out()
    services.delete_subscription(Principal.of(first), old.id)
    subscribe(second)  # same number of subscriptions; on SQLite even the same id
    after = f.share(sharer, tlp="green")
    run_fan_out()
    assert notified(before) == {first.id}
    assert notified(after) == {second.id}
