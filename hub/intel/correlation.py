"""Correlation (issue 14): what else the reader may read that names the same thing as an item.

Three kinds, each a handful of index lookups on the observable table, never a scan:
- `same-value`: another item names the same normalised value (an IP, domain, URL, e-mail, hash);
- `same-file`: another item names a different hash of the same file, known from an object the
  reader may read that carries several hashes of one file (hub.intel.observables.file_hash_groups);
- `cidr`: an address inside a network another item names, or a network holding another's address.

Every lookup runs under the sharing policy (rule 7 included): an item the reader may not read is
never reported and never serves as the bridge of a same-file correlation.

"Seen by": how many organisations reported a sighting of an item, counting only the sightings
the reader may read, and naming only the organisations whose sightings are not anonymous.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, func, not_, select, text
from sqlalchemy.orm import aliased

from hub import policy
from hub.accounts.models import Organisation
from hub.db import id_chunks, in_parameter, on_postgresql
from hub.extensions import db
from hub.intel import decay, observables, reads, warninglists
from hub.intel.models import ItemReference, Observable, SharedItem
from hub.intel.reads import is_expired
from hub.intel.store import load_json
from hub.principal import Principal

SAME_VALUE = "same-value"
SAME_FILE = "same-file"
CIDR = "cidr"
# An item page shows the most recent ones; an indicator for 8.8.8.8 may correlate with thousands.
MAX_CORRELATIONS = 500
HASH_KINDS = frozenset(observables.HASH_LENGTHS)


@dataclass(frozen=True)
class Correlation:
    item: SharedItem
    value: str  # the value the other item names
    kind: str  # SAME_VALUE, SAME_FILE or CIDR


def observables_of(item: SharedItem) -> set[tuple[str, str]]:
    return set(db.session.execute(select(Observable.kind, Observable.value).where(Observable.item_id == item.id)).all())


def correlations_of(principal: Principal, item: SharedItem, *, limit: int = MAX_CORRELATIONS) -> list[Correlation]:
    """The readable items that correlate with `item` (itself readable), newest first, one entry
    per (item, kind, value); at most `limit`."""
    return correlations_for_values(principal, observables_of(item), exclude_stix_id=item.stix_id, limit=limit)


def correlations_for_values(principal: Principal, values: set[tuple[str, str]], *, exclude_stix_id: str | None = None,
                            limit: int = MAX_CORRELATIONS) -> list[Correlation]:
    """What the reader may read that correlates with these (kind, normalised value) pairs: the
    share confirmation asks it of values not yet stored.

    Values on a warning list (public resolvers, CDNs, reserved ranges...) are left out. One
    statement looks up the values themselves and every network that would hold one of the
    addresses, under the sharing policy; a second one, only if a readable object ties hashes
    together, the file's other hashes; and one per network value, the addresses inside it.

    The warning lists' stamp is read in the first statement when the lists this process holds
    leave every value in and no value is a network: a lookup is then one round trip. Exact: if
    the stamp moved, the lookup runs again with the current lists; if nothing matched, no list
    could have changed the (empty) answer."""
    held = warninglists.held_matcher()
    if held is not None and not any(held[0].lists_for(kind, value) for kind, value in values) and not any(
            kind in observables.IP_KINDS and observables.key_range(kind, value) for kind, value in values):
        found, stamp = _correlate(principal, values, exclude_stix_id, limit)
        if stamp is _NOTHING_FOUND or stamp == held[1]:
            return found
    listed = warninglists.lists_for_many(values)
    values = {pair for pair in values if not listed.get(pair)}  # known-benign values correlate nothing
    return _correlate(principal, values, exclude_stix_id, limit)[0]


_NOTHING_FOUND = object()


def _correlate(principal: Principal, values: set[tuple[str, str]], exclude_stix_id: str | None,
               limit: int) -> tuple[list[Correlation], object]:
    """The correlations of these values (warning-listed ones already left out), and the warning
    lists' stamp as the first statement read it (_NOTHING_FOUND when it found no row)."""
    if not values:
        return [], _NOTHING_FOUND
    found: dict[tuple[str, str, str], Correlation] = {}

    def collect(kind: str, item: SharedItem, value: str) -> None:
        # One correlation per STIX id: of several organisations' copies of an observable, the one
        # a read of that id serves (the reader's own, else the first shared; reads.get_item).
        if item.stix_id == exclude_stix_id:
            return
        key = (item.stix_id, kind, value)
        kept = found.get(key)
        if kept is None or _served_before(principal, item, kept.item):
            found[key] = Correlation(item, value, kind)

    enclosing = {(kind, network) for kind, value in values if kind in observables.IP_KINDS
                 for network in observables.enclosing_networks(kind, value)} - values
    hashes = {pair for pair in values if pair[0] in HASH_KINDS}
    bridges: dict[int, SharedItem] = {}
    named, stamp = _readable_naming(principal, values | enclosing, limit)
    for item, kind, value in named:
        if (kind, value) in values:
            collect(SAME_VALUE, item, value)
            if kind in HASH_KINDS and item.stix_type in ("file", "indicator"):
                bridges[item.id] = item  # the object itself may be the one that ties hashes together
        else:
            collect(CIDR, item, value)
    same_file = _hashes_grouped_with(hashes, bridges.values()) - hashes
    for item, _kind, value in _readable_naming(principal, same_file, limit)[0]:
        collect(SAME_FILE, item, value)
    for kind, value in values:
        if kind in observables.IP_KINDS:
            for item, other in _readable_inside(principal, kind, value, limit):
                collect(CIDR, item, other)
    ordered = sorted(found.values(), key=lambda c: (-c.item.last_added_us, c.kind, c.value))
    return ordered[:limit], stamp


def _served_before(principal: Principal, item: SharedItem, other: SharedItem) -> bool:
    """Whether a read of their STIX id serves `item` rather than `other` (reads.get_item's order)."""
    return reads.serving_key(principal, item) < reads.serving_key(principal, other)


# Readable items read per value and lookup: a value that thousands of items name (a popular
# scanner) correlates with its newest holders, not with all of them.
MAX_CANDIDATES = 5000


def _readable_of(principal: Principal, hits) -> list[tuple[SharedItem, str, str]]:
    """(item, kind, value) for the hits (item_id, kind, value) whose item is matchable: a bulk
    upload's, the policy asked once of the items found (policy.readable_items_among)."""
    hits = list(hits)
    if not hits:
        return []
    items = {item.id: item for item in policy.readable_items_among(principal, sorted({hit[0] for hit in hits}))}
    return _matchable([(items[item_id], kind, value) for item_id, kind, value in hits if item_id in items])


def _hits(pairs) -> list[tuple[int, str, str]]:
    """(item_id, kind, value) of stored observables among these (kind, value) pairs: values as one
    array (one index scan, one bind parameter on PostgreSQL), kinds as a short IN list, pairs kept
    in Python (a row-value IN list is planned as one OR branch per pair)."""
    pairs = set(pairs)
    rows = db.session.execute(_hits_statement(), {
        "values": sorted({value for _kind, value in pairs}), "kinds": sorted({kind for kind, _value in pairs}),
        "most": MAX_CANDIDATES * max(1, len(pairs))}).all()
    return [tuple(row) for row in rows if (row[1], row[2]) in pairs]


# Built once per database dialect, executed with parameters: building and keying the statement
# anew cost more than the index lookup itself.
_HITS: dict[str, object] = {}


def _hits_statement():
    dialect = db.session.get_bind().dialect.name
    if dialect not in _HITS:
        _HITS[dialect] = (
            select(Observable.item_id, Observable.kind, Observable.value)
            .where(in_parameter(Observable.value, "values"), in_parameter(Observable.kind, "kinds"))
            .order_by(Observable.item_id.desc())
            .limit(bindparam("most"))
        )
    return _HITS[dialect]


def _readable_naming(principal: Principal, values: set[tuple[str, str]], limit: int):
    """(item, kind, value) for the `limit` newest matchable items naming one of these pairs, and
    the warning lists' stamp (_NOTHING_FOUND without rows): one statement, the index lookup of
    the values, the sharing policy of the items found and the stamp, prepared once per kind of
    reader (policy.statement_for_reader) so that the server keeps its plan."""
    if not values:
        return [], _NOTHING_FOUND
    pairs = set(values)
    rows = db.session.execute(policy.statement_for_reader(principal, ("correlation", "naming"), _naming_statement), {
        "values": sorted({value for _kind, value in pairs}), "kinds": sorted({kind for kind, _value in pairs}),
        "most": MAX_CANDIDATES * len(pairs), **policy.reader_parameters(principal)}).all()
    stamp = rows[0][3] if rows else _NOTHING_FOUND
    return _matchable([(item, kind, value) for item, kind, value, _stamp in rows if (kind, value) in pairs])[:limit], stamp


def _naming_statement(reader):
    return (select(SharedItem, Observable.kind, Observable.value, warninglists.stamp_column())
            .join(Observable, Observable.item_id == SharedItem.id)
            .where(in_parameter(Observable.value, "values"), in_parameter(Observable.kind, "kinds"),
                   SharedItem.revoked.is_(False), policy.readable_items_for(reader))
            .order_by(SharedItem.id.desc())
            .limit(bindparam("most")))


def _matchable(found: list[tuple[SharedItem, str, str]]) -> list[tuple[SharedItem, str, str]]:
    """Readable rows less revoked and expired items (history: they leave matching, default
    lists and feeds), newest first."""
    found = [row for row in found if not row[0].revoked and not is_expired(row[0])]
    return sorted(found, key=lambda row: -row[0].last_added_us)


def readable_items_naming(principal: Principal, pairs: set[tuple[str, str]]) -> list[tuple[SharedItem, str, str]]:
    """(item, kind, value) for every matchable item naming one of these (kind, value) pairs: a
    bulk upload's matches (up to 100,000 values) in two statements, the observable lookup of
    every value and the sharing policy of the items found."""
    if on_postgresql() and not any("\n" in value for _kind, value in pairs):
        return _readable_of(principal, _bulk_hits(pairs))
    hits = []
    for chunk in id_chunks(list(pairs)):  # SQLite's parameter cap
        hits += _hits(chunk)
    return _readable_of(principal, hits)


# PostgreSQL: one index probe of (value, kind) per pair, the pairs travelling as two texts that
# the server splits (psycopg spent longer writing 60,000 values as an array literal than the
# server spent matching them). LATERAL keeps it a loop of index probes, whatever the store's
# size: with the values as one `= ANY` array the planner chose a parallel scan of the whole table.
# Normalised values hold no line break (nor do stored ones); a bulk upload reports every match.
_BULK_HITS = text(
    "SELECT o.item_id, o.kind, o.value "
    "FROM unnest(string_to_array(CAST(:values AS text), E'\\n'), string_to_array(CAST(:kinds AS text), E'\\n')) "
    "AS wanted (value, kind) "
    "CROSS JOIN LATERAL (SELECT item_id, kind, value FROM observable "
    "WHERE observable.value = wanted.value AND observable.kind = wanted.kind OFFSET 0) AS o")


def _bulk_hits(pairs: set[tuple[str, str]]) -> list[tuple[int, str, str]]:
    ordered = sorted(pairs, key=lambda pair: pair[1])  # neighbouring probes read neighbouring index pages
    rows = db.session.execute(_BULK_HITS, {"values": "\n".join(value for _kind, value in ordered),
                                           "kinds": "\n".join(kind for kind, _value in ordered)})
    return [tuple(row) for row in rows]


def _readable_inside(principal: Principal, kind: str, value: str, limit: int):
    """(item, value) for readable items naming an address or narrower network inside `value`:
    an index range scan on ip_key and the policy, in one statement."""
    bounds = observables.key_range(kind, value)
    if bounds is None:
        return []
    low, high = bounds
    rows = db.session.execute(policy.statement_for_reader(principal, ("correlation", "inside"), _inside_statement), {
        "kind": kind, "low": low, "high": high, "value": value, **policy.reader_parameters(principal)}).all()
    return [(item, other) for item, _kind, other in _matchable(rows)][:limit]


def _inside_statement(reader):
    return (select(SharedItem, Observable.kind, Observable.value)
            .join(Observable, Observable.item_id == SharedItem.id)
            .where(Observable.kind == bindparam("kind"), Observable.ip_key >= bindparam("low"),
                   Observable.ip_key <= bindparam("high"), Observable.value != bindparam("value"),
                   SharedItem.revoked.is_(False), policy.readable_items_for(reader))
            .order_by(SharedItem.id.desc())
            .limit(MAX_CANDIDATES))


def _hashes_grouped_with(hashes: set[tuple[str, str]], bridges) -> set[tuple[str, str]]:
    """Every hash that one of these readable objects groups with one of `hashes` as one file."""
    related: set[tuple[str, str]] = set()
    for item in bridges:
        for group in observables.file_hash_groups(load_json(item.latest_version.body)):
            if group & hashes:
                related |= group
    return related


# --- "Seen by" --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeenBy:
    organisations: int  # how many organisations reported sightings the reader may read
    named: tuple[str, ...]  # names of those whose sightings are not anonymous (or the reader's own)
    sightings: int  # how many readable sighting objects
    last_sighted_us: int | None = None  # when the newest of them reached the hub

    def as_json(self) -> dict:
        return {"seen_by": self.organisations, "seen_by_organisations": list(self.named),
                "sightings": self.sightings}


def seen_by(principal: Principal, item: SharedItem) -> SeenBy:
    """Who reported seeing `item`, as far as the reader may know.

    An organisation that reported both under its name and anonymously counts once for each:
    merging the two would tell the reader which anonymous report is whose.
    """
    sighting = aliased(SharedItem)
    rows = db.session.execute(
        select(sighting.owner_org_id, sighting.anonymous, func.count(), func.max(sighting.last_added_us))
        .join(ItemReference, ItemReference.item_id == sighting.id)
        .where(ItemReference.ref_stix_id == item.stix_id, sighting.stix_type == "sighting",
               not_(sighting.revoked), policy.readable_items_for(policy.Reader.of(principal), sighting))
        .group_by(sighting.owner_org_id, sighting.anonymous)
    ).all()
    named_ids = {org_id for org_id, anonymous, _, _ in rows
                 if policy.reveals_owner_to_org(principal.org_id, _Owned(org_id, anonymous))}
    names = db.session.scalars(select(Organisation.name).where(Organisation.id.in_(named_ids))).all() if named_ids else []
    return SeenBy(organisations=len(rows), named=tuple(sorted(names)), sightings=sum(row[2] for row in rows),
                  last_sighted_us=max((row[3] for row in rows), default=None))


def attention_score(principal: Principal, item: SharedItem, seen: SeenBy | None = None) -> int:
    """The item's decay score for this reader (hub.intel.decay): only readable sightings count."""
    seen = seen or seen_by(principal, item)
    confidence = load_json(item.latest_version.body).get("confidence")
    return decay.decay_score(
        confidence=confidence if isinstance(confidence, int) and not isinstance(confidence, bool) else None,
        last_activity_us=max(item.last_added_us, seen.last_sighted_us or 0),
        sightings=seen.sightings,
        half_life_days=float(current_app.config.get("HUB_DECAY_HALF_LIFE_DAYS", decay.DEFAULT_HALF_LIFE_DAYS)),
        active=not item.revoked and not is_expired(item),
    )


@dataclass(frozen=True)
class _Owned:
    """What policy.reveals_owner_to_org looks at, for a grouped row."""

    owner_org_id: int
    anonymous: bool
