"""A feed's ETag comes from the hub-wide change counter (hub/feeds/changes.py), not from its lines:
is a 304 ever stale after a change its organisation may see, and does an unchanged feed still
answer 304 at once?"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Table, text
from sqlalchemy.sql import visitors

from hub.accounts import services as accounts
from hub.db import datetime_to_us, utcnow
from hub.extensions import db
from hub.feeds import changes, export
from hub.intel.audience import resolve_audience
from hub.intel.manage import extend, revoke, widen
from hub.intel.models import WarningList, WarningListEntry, WarningListStamp
from hub.principal import OrgKind
from hub.tlp import TLP
from tests import factories as f
from tests.test_feeds import new_feed, poll, share_value, txt_values


@pytest.fixture
def world(member_of):
    """Hospital A polls; hospital B shares; C is outside; group G holds A and B (as test_feeds)."""
    a, b, c = f.make_org(slug="hosp-a"), f.make_org(slug="hosp-b"), f.make_org(slug="hosp-c")
    f.make_group("g-ab", a, b)
    return {"a": a, "b": b, "c": c, "a_analyst": member_of(a, "analyst"), "b_analyst": member_of(b, "analyst")}


def operator(org):
    user = f.make_user(org, "admin")
    user.is_operator = True
    db.session.commit()
    return f.principal(user)


def tables_read_by(statement) -> set[str]:
    return {element.name for element in visitors.iterate(statement) if isinstance(element, Table)}


@pytest.mark.parametrize("kind", list(OrgKind))
@pytest.mark.parametrize("min_confidence", [0, 50])
def test_every_table_a_feed_reads_is_watched(world, kind, min_confidence):
    """A table the feed query or the sharing policy comes to read, unwatched, would let a write
    change a feed without moving its tag: a stale 304."""
    feed = export.FeedFilter("x", world["a"].id, kind, ("ipv4-addr",), (TLP.green,), min_confidence)
    read = tables_read_by(export.feed_entries(feed, utcnow()))
    read |= {model.__tablename__ for model in (WarningList, WarningListEntry, WarningListStamp)}
    assert "shared_item" in read and "audience_grant" in read
    assert read <= set(changes.WATCHED_TABLES), read - set(changes.WATCHED_TABLES)


@pytest.mark.parametrize("table", changes.WATCHED_TABLES)
def test_a_committed_write_to_any_watched_table_moves_the_tag_and_a_rolled_back_one_does_not(world, table):
    feed, _ = new_feed(world["a_analyst"])
    lines = export.FeedFilter.of(feed)
    if db.engine.dialect.name == "sqlite":  # row triggers: a statement that writes no row fires none
        names = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                                       {"t": table}))
        assert names == {f"feed_change_{event}_{table}" for event in ("insert", "update", "delete")}
        return
    before = export.feed_tag("k", lines, export.change_state(), "txt")
    db.session.execute(text(f"DELETE FROM {table} WHERE false"))
    db.session.rollback()
    assert export.feed_tag("k", lines, export.change_state(), "txt") == before
    db.session.execute(text(f"DELETE FROM {table} WHERE false"))
    db.session.commit()
    assert export.feed_tag("k", lines, export.change_state(), "txt") != before


def test_polling_and_unrelated_writes_leave_the_tag_alone(client, world):
    share_value(world["b_analyst"], "198.51.100.1")
    feed, token = new_feed(world["a_analyst"])
    etag = poll(client, feed.public_id, token).headers["ETag"]
    new_feed(world["b_analyst"])  # another feed, audited: neither reads as content
    for _ in range(3):
        assert poll(client, feed.public_id, token, headers={"If-None-Match": etag}).status_code == 304


def _after(client, feed, token, etag):
    response = poll(client, feed.public_id, token, headers={"If-None-Match": etag})
    assert response.status_code == 200, "a stale 304 after a change the feed's organisation sees"
    assert response.headers["ETag"] != etag
    return response


def test_widening_and_group_membership_changes_move_the_tag(client, world):
    b, hub_operator = world["b_analyst"], operator(world["c"])
    f.make_group("g-bc", world["b"], world["c"])
    to_group = share_value(b, "198.51.100.7", tlp="amber", audience={"groups": ["g-bc"]})
    to_c = share_value(b, "198.51.100.8", tlp="amber", audience={"orgs": ["hosp-c"]})
    feed, token = new_feed(world["a_analyst"])
    first = poll(client, feed.public_id, token)
    assert txt_values(first) == []

    accounts.add_group_member(hub_operator, "g-bc", "hosp-a")
    joined = _after(client, feed, token, first.headers["ETag"])
    assert txt_values(joined) == ["198.51.100.7"]

    widen(f.principal(b), to_c.stix_id, resolve_audience(f.principal(b), {"orgs": ["hosp-a"]}))
    widened = _after(client, feed, token, joined.headers["ETag"])
    assert txt_values(widened) == ["198.51.100.7", "198.51.100.8"]

    accounts.remove_group_member(hub_operator, "g-bc", "hosp-a")
    left = _after(client, feed, token, widened.headers["ETag"])
    assert txt_values(left) == ["198.51.100.8"]
    assert to_group.id


def test_a_new_version_and_a_revocation_move_the_tag(client, world):
    b = world["b_analyst"]
    item = share_value(b, "198.51.100.1", valid_until="2099-01-01T00:00:00.000Z")
    feed, token = new_feed(world["a_analyst"])
    first = poll(client, feed.public_id, token, "csv")
    assert "2099-01-01T00:00:00Z" in first.get_data(as_text=True)
    extend(f.principal(b), item.stix_id, utcnow() + timedelta(days=400))
    extended = _after(client, feed, token, first.headers["ETag"])
    assert "2099-01-01" not in extended.get_data(as_text=True)
    revoke(f.principal(b), item.stix_id)
    gone = _after(client, feed, token, extended.headers["ETag"])
    assert gone.get_data(as_text=True).splitlines()[1:] == []


def test_an_expiry_passing_moves_the_tag_without_any_write(world):
    """Expiry needs no write: the tag folds in the latest expiry already passed."""
    b = world["b_analyst"]
    share_value(b, "198.51.100.1", valid_until="2030-01-01T00:00:00.000Z")
    share_value(b, "198.51.100.2")
    feed, _ = new_feed(world["a_analyst"])
    lines = export.FeedFilter.of(feed)
    before = export.change_state(now=utcnow().replace(year=2029))
    same = export.change_state(now=utcnow().replace(year=2029, month=6))
    after = export.change_state(now=utcnow().replace(year=2030, month=6))
    assert export.feed_tag("k", lines, before, "txt") == export.feed_tag("k", lines, same, "txt")
    assert export.feed_tag("k", lines, after, "txt") != export.feed_tag("k", lines, before, "txt")
    assert [entry.value for entry in export.entries(lines, before.now)] == ["198.51.100.1", "198.51.100.2"]
    assert [entry.value for entry in export.entries(lines, after.now)] == ["198.51.100.2"]


def test_a_date_sent_in_the_second_of_a_change_never_earns_a_stale_304(world):
    """Two changes within one second share an HTTP date: while the clock is still in the second
    of the last change, the date sent is the second before, so a second change in that second
    is not hidden from a client that sends the date back."""
    feed, _ = new_feed(world["a_analyst"])
    change = utcnow().replace(microsecond=100_000) + timedelta(days=1)
    polled = export.ChangeState(1, datetime_to_us(change), change + timedelta(microseconds=300_000), None)
    sent = export.last_modified(polled, feed.created_at)
    assert sent == change.replace(microsecond=0) - timedelta(seconds=1)
    later_change = change + timedelta(microseconds=500_000)
    again = export.ChangeState(2, datetime_to_us(later_change), later_change + timedelta(seconds=3), None)
    assert not export.not_modified_since(again, feed.created_at, sent)
    # Once the clock has left that second, the true date is sent, and it earns a 304.
    settled = export.last_modified(again, feed.created_at)
    assert settled == later_change.replace(microsecond=0)
    assert export.not_modified_since(again, feed.created_at, settled)


def test_the_tag_is_keyed_and_differs_by_feed_and_format(world):
    feed, _ = new_feed(world["a_analyst"])
    other, _ = new_feed(world["a_analyst"], name="Second firewall")
    state = export.change_state()
    lines = export.FeedFilter.of(feed)
    tags = {export.feed_tag("k", lines, state, "txt"), export.feed_tag("k", lines, state, "csv"),
            export.feed_tag("k", export.FeedFilter.of(other), state, "txt"), export.feed_tag("other key", lines, state, "txt")}
    assert len(tags) == 4
