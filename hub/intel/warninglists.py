"""Warning lists: is an observable value known to be benign (a public resolver, a CDN range,
a top domain, a reserved network)? The interface correlation, alerts and feeds call.

    from hub.intel import warninglists
    warninglists.lists_for("ipv4-addr", "10.1.2.3")        # -> ("rfc1918", "rfc5735")
    warninglists.lists_for_many([("domain-name", "x.example"), ...])  # -> {pair: lists} (listed only)
    warninglists.listed_in_items([item.id, ...])           # -> {item_id: [Listed, ...]}
    warninglists.exact_match(Observable.kind, Observable.value)   # SQL: EXISTS an exact entry

Values must be normalised as the observable index holds them (`hub.intel.observables.normalise`).
How entries apply:
- exact: the same (kind, normalised value);
- suffix: a domain and every name under it (`example.com` flags `www.example.com`);
- cidr: an address inside the network; a network value is flagged by the lists covering both
  its first and its last address.
A URL is also flagged through its host, and an e-mail address through its domain, by the lists
whose MISP matching attributes name URLs (resp. e-mail addresses).

The lists live in the database (`hub warninglists load`); each process holds them in memory as
hash maps and sorted intervals (bisect), rebuilt when the stamp row changes (one tiny query per
call), so a lookup costs microseconds.
"""
from __future__ import annotations

import socket
import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import g, has_request_context
from sqlalchemy import and_, exists, select

from hub.extensions import db
from hub.intel import observables
from hub.intel.models import Observable, WarningList, WarningListEntry, WarningListStamp

IP_KINDS = {"ipv4-addr": (socket.AF_INET, 32), "ipv6-addr": (socket.AF_INET6, 128)}


@dataclass(frozen=True)
class Listed:
    """An observable value found on warning lists."""

    kind: str
    value: str
    lists: tuple[str, ...]

    def as_json(self) -> dict:
        return {"kind": self.kind, "value": self.value, "lists": list(self.lists)}


def _ip_int(kind: str, text: str) -> int | None:
    family, _bits = IP_KINDS[kind]
    try:
        return int.from_bytes(socket.inet_pton(family, text), "big")
    except OSError:
        return None


class _Intervals:
    """Disjoint address intervals, each with the lists covering it: one bisect per lookup."""

    def __init__(self, ranges: list[tuple[int, int, str]]):
        events: list[tuple[int, int, str]] = []
        for first, last, name in ranges:
            events.append((first, 1, name))
            events.append((last + 1, -1, name))
        events.sort(key=lambda event: event[0])
        active: dict[str, int] = defaultdict(int)
        self.starts: list[int] = []
        self.labels: list[tuple[str, ...]] = []
        index = 0
        while index < len(events):
            position = events[index][0]
            while index < len(events) and events[index][0] == position:
                _, delta, name = events[index]
                active[name] += delta
                if not active[name]:
                    del active[name]
                index += 1
            label = tuple(sorted(active))
            if self.labels and self.labels[-1] == label:
                continue
            self.starts.append(position)
            self.labels.append(label)

    def at(self, address: int) -> tuple[str, ...]:
        index = bisect_right(self.starts, address) - 1
        return self.labels[index] if index >= 0 else ()


class Matcher:
    """The enabled warning lists of one moment, in memory. Build with `Matcher.from_rows`."""

    def __init__(self, exact: dict, suffix: dict, ranges: dict, url_lists: frozenset, email_lists: frozenset,
                 names: tuple[str, ...] = ()):
        self._exact: dict[tuple[str, str], tuple[str, ...]] = exact
        self._suffix: dict[str, tuple[str, ...]] = suffix
        self._ranges: dict[str, _Intervals] = ranges
        self._url_lists = url_lists
        self._email_lists = email_lists
        self.names = names

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, str, str]]) -> "Matcher":
        """rows: (list name, applies_to, kind, value, match)."""
        exact: dict[tuple[str, str], set[str]] = defaultdict(set)
        suffix: dict[str, set[str]] = defaultdict(set)
        ranges: dict[str, list[tuple[int, int, str]]] = {"ipv4-addr": [], "ipv6-addr": []}
        url_lists, email_lists, names = set(), set(), set()
        for name, applies_to, kind, value, match in rows:
            names.add(name)
            kinds = applies_to.split(",")
            if "url" in kinds:
                url_lists.add(name)
            if "email-addr" in kinds:
                email_lists.add(name)
            if match == "exact":
                exact[(kind, value)].add(name)
            elif match == "suffix":
                suffix[value].add(name)
            elif match == "cidr" and kind in IP_KINDS:
                address, _, prefix = value.partition("/")
                first = _ip_int(kind, address)
                if first is None or not prefix.isdigit():
                    continue
                size = 1 << (IP_KINDS[kind][1] - int(prefix))
                ranges[kind].append((first, first + size - 1, name))
        return cls(
            {key: tuple(sorted(found)) for key, found in exact.items()},
            {key: tuple(sorted(found)) for key, found in suffix.items()},
            {kind: _Intervals(spans) for kind, spans in ranges.items()},
            frozenset(url_lists), frozenset(email_lists), tuple(sorted(names)),
        )

    def lists_for(self, kind: str, value: str) -> tuple[str, ...]:
        """The names of the warning lists a normalised observable value is on (sorted, or empty)."""
        if kind in IP_KINDS:
            return self._ip(kind, value)
        if kind == "domain-name":
            return self._domain(value)
        if kind == "url":
            return self._merge(self._exact.get(("url", value), ()), self._url_host(value))
        if kind == "email-addr":
            domain = value.rpartition("@")[2]
            via_domain = tuple(name for name in self._domain(domain) if name in self._email_lists)
            return self._merge(self._exact.get(("email-addr", value), ()), via_domain)
        return self._exact.get((kind, value), ())

    def _ip(self, kind: str, value: str) -> tuple[str, ...]:
        found = self._exact.get((kind, value), ())
        intervals = self._ranges.get(kind)
        if intervals is None or not intervals.starts:
            return found
        address, _, prefix = value.partition("/")
        first = _ip_int(kind, address)
        if first is None:
            return found
        covering = intervals.at(first)
        if prefix.isdigit():  # a network: lists covering both of its ends
            last = first + (1 << (IP_KINDS[kind][1] - int(prefix))) - 1
            at_last = set(intervals.at(last))
            covering = tuple(name for name in covering if name in at_last)
        return self._merge(found, covering)

    def _domain(self, value: str) -> tuple[str, ...]:
        found = self._exact.get(("domain-name", value), ())
        if not self._suffix:
            return found
        name = value
        while True:
            on = self._suffix.get(name)
            if on:
                found = self._merge(found, on)
            dot = name.find(".")
            if dot < 0 or name.find(".", dot + 1) < 0:  # stop before a bare top-level domain
                return found
            name = name[dot + 1:]

    def _url_host(self, url: str) -> tuple[str, ...]:
        if not self._url_lists:
            return ()
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return ()
        if not host:
            return ()
        if ":" in host:
            on = self._ip("ipv6-addr", host)
        elif host.replace(".", "").isdigit():
            on = self._ip("ipv4-addr", host)
        else:
            on = self._domain(host)
        return tuple(name for name in on if name in self._url_lists)

    @staticmethod
    def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
        if not second:
            return first
        if not first:
            return second
        return tuple(sorted(set(first) | set(second)))


EMPTY = Matcher({}, {}, {}, frozenset(), frozenset())


class _MatcherCache:
    """The process's matcher, rebuilt when the stamp row (written with every load and drop) changes."""

    def __init__(self):
        self._key: tuple | None = None
        self._matcher = EMPTY
        self._lock = threading.Lock()

    def get(self) -> Matcher:
        token = db.session.scalar(select(WarningListStamp.token).where(WarningListStamp.id == 1))
        key = (db.engine.url.render_as_string(), token)
        if key == self._key:
            return self._matcher
        with self._lock:
            if key != self._key:
                rows = db.session.execute(
                    select(WarningList.name, WarningList.applies_to, WarningListEntry.kind,
                           WarningListEntry.value, WarningListEntry.match)
                    .join(WarningList, WarningList.id == WarningListEntry.list_id)
                ) if token is not None else []
                self._matcher = Matcher.from_rows(rows)
                self._key = key
        return self._matcher


    def held(self) -> tuple[Matcher, str | None] | None:
        """The matcher this process holds for this database and the stamp it was built at,
        without asking the database (None before the first check)."""
        key = self._key
        if key is None or key[0] != db.engine.url.render_as_string():
            return None
        return self._matcher, key[1]


_cache = _MatcherCache()


def held_matcher() -> tuple[Matcher, str | None] | None:
    """The matcher last built and its stamp, unchecked: for a caller that checks the stamp in
    its own statement (correlation) instead of in one more round trip."""
    return _cache.held()


def stamp_column():
    """The current stamp as a scalar subquery, to read in the same statement as a lookup."""
    return select(WarningListStamp.token).where(WarningListStamp.id == 1).scalar_subquery()


def matcher() -> Matcher:
    """The current matcher: hold it for a batch of lookups. One stamp check per call, and once
    per web request (a page of fifty items asks fifty times)."""
    if not has_request_context():
        return _cache.get()
    if "warning_list_matcher" not in g:
        g.warning_list_matcher = _cache.get()
    return g.warning_list_matcher


def matcher_now() -> Matcher:
    """The current matcher, checked against the stamp now rather than once per request: for work
    that outlives a request's first look (a streamed feed) or shares its context (tests)."""
    return _cache.get()


def version() -> str:
    """Changes whenever a list is loaded or dropped: what a cached answer that left listed values
    out (a feed's ETag) depends on."""
    return str(db.session.scalar(select(WarningListStamp.token).where(WarningListStamp.id == 1)))


def lists_for(kind: str, value: str) -> tuple[str, ...]:
    """The warning lists a normalised observable value is on; () when none."""
    return matcher().lists_for(kind, value)


def lists_for_many(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """The listed ones among (kind, normalised value) pairs, with their lists."""
    current = matcher()
    found = {}
    for kind, value in pairs:
        on = current.lists_for(kind, value)
        if on:
            found[(kind, value)] = on
    return found


def listed_in_items(item_ids: list[int]) -> dict[int, list[Listed]]:
    """For each item, the observables it names (per the observable index) that are listed."""
    if not item_ids:
        return {}
    current = matcher()
    if not current.names:
        return {}
    found: dict[int, list[Listed]] = {}
    rows = db.session.execute(
        select(Observable.item_id, Observable.kind, Observable.value)
        .where(Observable.item_id.in_(item_ids)).order_by(Observable.item_id, Observable.kind, Observable.value)
    )
    for item_id, kind, value in rows:
        on = current.lists_for(kind, value)
        if on:
            found.setdefault(item_id, []).append(Listed(kind, value, on))
    return found


def listed_in_objects(objects: list[dict]) -> list[tuple[str, Listed]]:
    """(STIX id, listed observable) for STIX objects not yet shared: the warning before publishing."""
    current = matcher()
    found = []
    for obj in objects:
        for kind, value in sorted(observables.from_object(obj)):
            on = current.lists_for(kind, value)
            if on:
                found.append((obj["id"], Listed(kind, value, on)))
    return found


def exact_match(kind_column, value_column):
    """SQL: the (kind, value) columns name an exact entry of an enabled list (CIDR ranges and
    domain suffixes are not covered: use the matcher for those)."""
    return exists().where(and_(WarningListEntry.match == "exact", WarningListEntry.kind == kind_column,
                               WarningListEntry.value == value_column))
