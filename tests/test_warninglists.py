"""Warning lists of known-benign values: loaded from MISP's lists, matched, warned about, ignored by alerts."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.extensions import db
from hub.intel import warninglist_sources, warninglists
from hub.intel.models import Observable
from hub.intel.reads import get_item
from hub.principal import Principal
from tests import factories as f
from tests.alerts_support import cheap_password_hashing, run_fan_out, subscribe
from tests.test_alerts_fanout import notified
from tests.test_web_share import indicator_form, shared_id, visible_count

# Small lists, one of each MISP type the hub loads, so that the tests stay fast.
TEST_LISTS = ["rfc1918", "ipv6-linklocal", "empty-hashes", "captive-portals", "umbrella-blockpage-hostname",
              "umbrella-blockpage-v4"]
EMPTY_FILE_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture(autouse=True)
def _fast_users(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def lists():
    warninglist_sources.load(TEST_LISTS)


def test_cli_loads_lists_lists_them_and_drops_one(runner):
    available = runner.invoke(args=["warninglists", "available"])
    assert available.exit_code == 0
    assert "rfc1918\tcidr\t3\tList of RFC 1918 CIDR blocks" in available.output
    assert "(not loadable: regex)" in available.output

    loaded = runner.invoke(args=["warninglists", "load", "rfc1918", "captive-portals"])
    assert loaded.exit_code == 0, loaded.output
    assert "loaded rfc1918: 3 entries (cidr)" in loaded.output
    assert warninglists.lists_for("ipv4-addr", "10.20.30.40") == ("rfc1918",)

    listing = runner.invoke(args=["warninglists", "list"]).output
    assert "rfc1918\tcidr" in listing and "captive-portals\tstring" in listing

    dropped = runner.invoke(args=["warninglists", "drop", "rfc1918"])
    assert dropped.exit_code == 0 and "dropped rfc1918" in dropped.output
    assert "rfc1918" not in runner.invoke(args=["warninglists", "list"]).output
    # The matcher of this process notices the change at once.
    assert warninglists.lists_for("ipv4-addr", "10.20.30.40") == ()
    assert warninglists.lists_for("domain-name", "captive.apple.com") == ("captive-portals",)


def test_cli_refuses_unknown_and_regex_lists_and_loads_nothing(runner):
    result = runner.invoke(args=["warninglists", "load", "rfc1918", "no-such-list", "phone_numbers"])
    assert result.exit_code != 0
    assert "no-such-list" in result.output and "regex" in result.output
    assert warninglist_sources.loaded() == []
    assert runner.invoke(args=["warninglists", "drop", "rfc1918"]).exit_code != 0


def test_matcher_exact_cidr_and_domain_suffix(lists):
    assert warninglists.lists_for("ipv4-addr", "192.168.7.9") == ("rfc1918",)
    assert warninglists.lists_for("ipv4-addr", "10.0.0.0/16") == ("rfc1918",)  # a network inside one
    assert warninglists.lists_for("ipv4-addr", "0.0.0.0/0") == ()  # wider than any list
    assert warninglists.lists_for("ipv4-addr", "172.32.0.1") == ()  # just outside 172.16.0.0/12
    assert warninglists.lists_for("ipv4-addr", "146.112.61.104") == ("umbrella-blockpage-v4",)
    assert warninglists.lists_for("ipv6-addr", "fe80::1") == ("ipv6-linklocal",)
    assert warninglists.lists_for("md5", EMPTY_FILE_MD5) == ("empty-hashes",)
    # A string list matches exact names; a hostname list the name and everything under it.
    assert warninglists.lists_for("domain-name", "captive.apple.com") == ("captive-portals",)
    assert warninglists.lists_for("domain-name", "evil.captive.apple.com") == ()
    assert warninglists.lists_for("domain-name", "x.hit-phish.opendns.com") == ("umbrella-blockpage-hostname",)
    assert warninglists.lists_for("domain-name", "opendns.com") == ()
    # A URL through its host, for lists standing for URLs.
    assert warninglists.lists_for("url", "http://hit-block.opendns.com/") == ("umbrella-blockpage-hostname",)
    assert warninglists.lists_for("domain-name", "evil.example") == ()
    found = warninglists.lists_for_many([("ipv4-addr", "10.1.1.1"), ("ipv4-addr", "198.51.100.7")])
    assert found == {("ipv4-addr", "10.1.1.1"): ("rfc1918",)}


def test_overlapping_ranges_of_several_lists_are_all_named():
    matcher = warninglists.Matcher.from_rows([
        ("wide", "ipv4-addr", "ipv4-addr", "10.0.0.0/8", "cidr"),
        ("narrow", "ipv4-addr", "ipv4-addr", "10.1.0.0/16", "cidr"),
        ("single", "ipv4-addr", "ipv4-addr", "10.1.2.3", "exact"),
    ])
    assert matcher.lists_for("ipv4-addr", "10.1.2.3") == ("narrow", "single", "wide")
    assert matcher.lists_for("ipv4-addr", "10.1.2.4") == ("narrow", "wide")
    assert matcher.lists_for("ipv4-addr", "10.2.0.0") == ("wide",)
    assert matcher.lists_for("ipv4-addr", "11.0.0.0") == ()
    assert matcher.lists_for("ipv4-addr", "9.255.255.255") == ()


def test_rest_share_answers_warnings_for_listed_values(lists, api, make):
    user = make.make_user(make.make_org())
    listed, clean = f.indicator("10.1.2.3"), f.indicator("198.51.100.7")
    response = api(user).post("/share", json={"objects": [listed, clean], "tlp": "green"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["ids"] == [listed["id"], clean["id"]]
    assert body["warnings"] == [{"object_id": listed["id"], "kind": "ipv4-addr", "value": "10.1.2.3",
                                 "lists": ["rfc1918"]}]
    # Nothing to warn about: the answer is exactly the documented {"ids": [...]}.
    other = f.indicator("198.51.100.8")
    assert api(user).post("/share", json={"objects": [other], "tlp": "green"}).get_json() == {"ids": [other["id"]]}


def test_rest_item_flags_listed_values_in_hub_metadata(lists, api, make):
    user = make.make_user(make.make_org())
    listed = f.share(user, [f.indicator("192.168.1.10")])
    clean = f.share(user, [f.indicator("198.51.100.8")])
    flagged = api(user).get(f"/objects/{listed.stix_id}").get_json()["hub"]
    assert flagged["warning_lists"] == [{"kind": "ipv4-addr", "value": "192.168.1.10", "lists": ["rfc1918"]}]
    assert api(user).get(f"/objects/{clean.stix_id}").get_json()["hub"]["warning_lists"] == []


def test_web_share_warns_first_and_writes_nothing_until_confirmed(lists, web, make):
    user = make.make_user(make.make_org())
    browser = web(user)
    first = browser.submit("/share/indicator", indicator_form(value="10.9.8.7"))
    page = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "on a warning list" in page or "warning list" in page
    assert "rfc1918" in page and "Publish anyway" in page
    assert visible_count(user) == 0

    confirmed = browser.submit("/share/indicator", indicator_form(value="10.9.8.7", publish_anyway="y"),
                               form_page="/share/indicator")
    stix_id = shared_id(confirmed)
    detail = browser.get(f"/items/{stix_id}").get_data(as_text=True)
    assert "Known-benign values" in detail and "rfc1918" in detail


def test_web_share_of_a_clean_value_needs_no_confirmation(lists, web, make):
    user = make.make_user(make.make_org())
    shared_id(web(user).submit("/share/indicator", indicator_form(value="198.51.100.99")))
    assert visible_count(user) == 1


def test_alerts_ignore_items_whose_observables_are_all_listed(lists):
    brno, ostrava = f.make_org("hospital", "CZ"), f.make_org("hospital", "CZ")
    sharer, by_kind, by_correlation = f.make_user(brno), f.make_user(ostrava), f.make_user(brno)
    subscribe(by_kind, filters={"observable_types": ["ipv4-addr"]})
    subscribe(by_correlation, filters={"correlates_with_own": True})
    f.share(by_correlation, [f.indicator("10.4.4.4"), f.indicator("198.51.100.44")], tlp="amber", audience="own")
    other = f.make_user(ostrava)
    benign = f.share(other, [f.indicator("10.4.4.4")], tlp="green")
    malicious = f.share(other, [f.indicator("198.51.100.44")], tlp="green")
    run_fan_out()
    assert notified(benign) == set()
    assert notified(malicious) == {by_kind.id, by_correlation.id}


def test_the_same_item_alerts_when_no_list_is_loaded():
    """The check above can fail: without the lists, the benign item alerts like any other."""
    org = f.make_org("hospital", "CZ")
    subscriber = f.make_user(org)
    subscribe(subscriber, filters={"observable_types": ["ipv4-addr"]})
    item = f.share(f.make_user(f.make_org("hospital", "CZ")), [f.indicator("10.4.4.4")], tlp="green")
    run_fan_out()
    assert notified(item) == {subscriber.id}
    assert get_item(Principal.of(subscriber), item.stix_id).id == item.id


def test_default_set_exists_in_the_package():
    names = {found.name for found in warninglist_sources.available() if found.supported}
    assert set(warninglist_sources.DEFAULT_LISTS) <= names


def test_sql_exact_match_finds_items_naming_exactly_listed_values(lists):
    user = f.make_user(f.make_org())
    f.share(user, [f.indicator("146.112.61.105"), f.indicator("198.51.100.3")])
    listed = db.session.scalars(
        select(Observable.value).where(warninglists.exact_match(Observable.kind, Observable.value))).all()
    assert listed == ["146.112.61.105"]


def test_items_list_marks_items_naming_listed_values(lists, web):
    user = f.make_user(f.make_org())
    f.share(user, [f.indicator("10.3.3.3", name="Benign address")])
    page = web(user).get("/items").get_data(as_text=True)
    assert "on a warning list" in page and "10.3.3.3 (rfc1918)" in page
