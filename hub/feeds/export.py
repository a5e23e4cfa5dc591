"""What a feed carries, and its three formats: plain text (EDL), CSV and Suricata rules.

`feed_entries` is the one query that decides which lines a feed holds; every format and any
future exclusion (warning lists) go through it. ETag and Last-Modified come from the hub-wide
change counter (hub/feeds/changes.py), never from reading the lines. Lines are read through one streamed query (a server-side cursor on PostgreSQL), so a feed of
100,000 values never sits in memory and its first line leaves before its last is read.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, Select, bindparam, cast, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from hub import policy
from hub.db import UTCDateTime, as_utc, datetime_to_us, on_postgresql, us_to_datetime, utcnow
from hub.extensions import db
from hub.feeds.changes import FeedChange
from hub.feeds.models import Feed
from hub.intel import warninglists
from hub.intel.models import Observable, SharedItem, StixVersion
from hub.principal import OrgKind
from hub.tlp import TLP

BATCH = 5000
FORMATS = ("txt", "csv", "rules")
MEDIA_TYPES = {"txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8",
               "rules": "text/plain; charset=utf-8"}
# Bumped whenever a format's bytes change for the same content, so that ETags change with it.
FORMAT_VERSION = "1"
CSV_COLUMNS = ("value", "kind", "stix_id", "tlp", "confidence", "valid_until", "first_seen")
# Suricata signature ids: SID_BASE + a digest of the kind and value, so a value keeps its sid from
# poll to poll (a suppression survives) and the sid tells nothing about the hub (a row id would count
# the observables shared in between, readable or not). Above every range sidallocation.org lists
# (all below 10,000,000), within Suricata's 32-bit sid.
SID_BASE = 3_000_000_000
SID_MAX = 2**32 - 1
SID_SPAN = SID_MAX - SID_BASE
HUB_NAME = "HealthCERT Hub"


@dataclass(frozen=True)
class FeedEntry:
    """One line of a feed: an observable value and the item that names it."""

    observable_id: int
    kind: str
    value: str
    item_id: int
    stix_id: str
    tlp: TLP
    confidence: int | None
    valid_until: datetime | None
    first_added_us: int


@dataclass(frozen=True)
class FeedFilter:
    """What decides a feed's lines, copied off the Feed row: a streamed body is read after the
    request's database session has ended, when the row can no longer be loaded."""

    public_id: str
    org_id: int
    org_kind: OrgKind
    kinds: tuple[str, ...]
    tlps: tuple[TLP, ...]
    min_confidence: int

    @classmethod
    def of(cls, feed: Feed) -> "FeedFilter":
        return cls(feed.public_id, feed.org_id, feed.org.kind, tuple(feed.kinds),
                   tuple(TLP(value) for value in feed.tlps if policy.organisation_wide_tlp(TLP(value))),
                   feed.min_confidence)


def _confidence():
    """The item's STIX confidence, read from its newest version's JSON in SQL (no column holds it)."""
    body = cast(StixVersion.body, JSONB) if on_postgresql() else type_coerce(StixVersion.body, JSON)
    return body["confidence"].as_integer()


def feed_entries(feed: FeedFilter, now: datetime, *, details: bool = True) -> Select:
    """The one query of a feed's lines, in no order: observables of the items that every member of
    the feed's organisation may read (the policy), of the feed's kinds and TLPs, at its minimum
    confidence, neither revoked nor expired. Without `details`, the columns a line's identity
    needs only (no JSON read).

    Any further exclusion (a warning list) is one more condition here.
    """
    conditions = [
        policy.readable_items_for_organisation(feed.org_id, feed.org_kind),
        Observable.kind.in_(feed.kinds),
        SharedItem.tlp.in_(feed.tlps),
        SharedItem.revoked.is_(False),
        or_(SharedItem.valid_until.is_(None), SharedItem.valid_until > now),
    ]
    columns = [Observable.id, Observable.kind, Observable.value, Observable.item_id, SharedItem.last_added_us]
    query = select(*columns).join(SharedItem, SharedItem.id == Observable.item_id)
    if details or feed.min_confidence:
        confidence = _confidence()
        query = query.join(StixVersion, StixVersion.id == SharedItem.latest_version_id)
        if feed.min_confidence:
            # STIX: an absent confidence is unknown, which no minimum admits.
            conditions.append(confidence >= feed.min_confidence)
        if details:
            query = query.add_columns(SharedItem.stix_id, SharedItem.tlp, confidence.label("confidence"), SharedItem.valid_until,
                                      SharedItem.first_added_us)
    return query.where(*conditions)


@dataclass(frozen=True)
class ChangeState:
    """What a feed's tag is made of, read in one query: the hub-wide change counter
    (hub/feeds/changes.py), when it last moved, the clock, and the latest expiry already passed
    (an expiry changes a feed without any write, so the tag folds it in)."""

    version: int
    changed_us: int
    now: datetime
    last_expiry: datetime | None


def change_state(now: datetime | None = None) -> ChangeState:
    """One small query: the counter row and an index probe on `shared_item.valid_until`. On
    PostgreSQL the clock is the database's, the one the counter's commits are stamped with
    (`now` stands in for it in tests of expiry)."""
    if now is None and on_postgresql():
        clock = func.statement_timestamp()
    else:
        clock = bindparam("now", now or utcnow(), type_=UTCDateTime())
    version, changed_us, now, last_expiry = db.session.execute(select(
        select(FeedChange.version).where(FeedChange.id == 1).scalar_subquery(),
        select(FeedChange.changed_us).where(FeedChange.id == 1).scalar_subquery(),
        clock,
        select(func.max(SharedItem.valid_until)).where(SharedItem.valid_until <= clock).scalar_subquery(),
    )).one()
    return ChangeState(version or 0, changed_us or 0, as_utc(now), as_utc(last_expiry))


def feed_tag(secret: str, feed: FeedFilter, state: ChangeState, fmt: str) -> str:
    """The feed's ETag: moves with every committed write to a table a feed reads, every expiry that
    passes, the feed's settings and the format. Keyed with the hub's secret, so that it tells
    nothing (not the counter, not how many writes happened) beyond "this changed"."""
    expiry = datetime_to_us(state.last_expiry) if state.last_expiry else 0
    message = (f"{feed.public_id}|{feed.org_kind}|{feed.kinds}|{feed.tlps}|{feed.min_confidence}|{state.version}|{expiry}"
               f"|{fmt}|{FORMAT_VERSION}")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def changed_second(state: ChangeState, created_at: datetime) -> datetime:
    """When the feed last changed, to the second as HTTP dates go: the latest of its creation, the
    last committed write, and the last expiry passed."""
    created_at = as_utc(created_at)
    return max(created_at, us_to_datetime(state.changed_us), state.last_expiry or created_at).replace(microsecond=0)


def last_modified(state: ChangeState, created_at: datetime) -> datetime:
    """The Last-Modified to send: `changed_second`, or the second before it while the clock is
    still in that second. A second change within the same second would otherwise carry the same
    date, and a client holding it would be told 304 (`not_modified_since` compares the true
    second, so the earlier date costs at most one more 200)."""
    return min(changed_second(state, created_at), state.now.replace(microsecond=0) - timedelta(seconds=1))


def not_modified_since(state: ChangeState, created_at: datetime, modified_since: datetime) -> bool:
    return changed_second(state, created_at) <= modified_since


def entries(feed: FeedFilter, now: datetime, batch: int = BATCH) -> Iterator[FeedEntry]:
    """The feed's lines, one per distinct (kind, value), ordered by value then kind: the earliest
    shared item naming a value speaks for it.

    One query, streamed: on PostgreSQL a server-side cursor hands over `batch` rows at a time, so
    the first line leaves before the last is read, memory stays flat, and the policy's predicate
    is planned once (keyset pages planned and ran it again for every 5,000 lines)."""
    benign = warninglists.matcher_now()  # known-benign values never reach a firewall's blocklist
    order = (Observable.value, Observable.kind, Observable.item_id)
    rows = db.session.execute(feed_entries(feed, now).order_by(*order).execution_options(yield_per=batch))
    previous = None
    try:
        for row in rows:
            key = (row.value, row.kind)
            if key == previous or "\n" in row.value or "\r" in row.value or benign.lists_for(row.kind, row.value):
                # One line per value; a value with a line break (no normaliser lets one through)
                # would smuggle a second entry into a firewall's list.
                continue
            previous = key
            yield FeedEntry(row.id, row.kind, row.value, row.item_id, row.stix_id, row.tlp, row.confidence, row.valid_until,
                            row.first_added_us)
    finally:
        rows.close()  # a firewall that hangs up mid-feed releases the cursor at once


# --- formats ---------------------------------------------------------------------------------

def _lines_in_chunks(lines: Iterator[str], size: int = 1000) -> Iterator[bytes]:
    """Join lines into chunks: one write per thousand lines, not one per line."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def txt_lines(items: Iterator[FeedEntry]) -> Iterator[str]:
    """External dynamic list: one value per line, nothing else (firewalls read every line)."""
    for entry in items:
        yield entry.value + "\n"


def csv_lines(items: Iterator[FeedEntry]) -> Iterator[str]:
    """Header, then value,kind,stix_id,tlp,confidence,valid_until,first_seen. Never the source:
    anonymous items would otherwise name their owner, and a firewall has no use for it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in items:
        writer.writerow((entry.value, entry.kind, entry.stix_id, entry.tlp.label,
                         "" if entry.confidence is None else entry.confidence,
                         _stamp(entry.valid_until), _stamp(us_to_datetime(entry.first_added_us))))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _content(text: str) -> str:
    """A Suricata content string: ; " \\ and | written as hex bytes, which the grammar reserves."""
    return "".join(f"|{ord(char):02X}|" if char in ';"\\|' else char for char in text)


def value_sid(kind: str, value: str) -> int:
    """The sid a value's rule takes unless another value's already holds it."""
    digest = hashlib.sha256(f"{kind}:{value}".encode()).digest()
    return SID_BASE + int.from_bytes(digest[:8], "big") % SID_SPAN


def suricata_rule(entry: FeedEntry, sid: int) -> str | None:
    """One Suricata rule for a line, or None for kinds no inline rule can match (hashes, e-mail)."""
    msg = f'msg:"{HUB_NAME} blocklist {entry.kind} {entry.stix_id}"'
    tail = f"sid:{sid}; rev:1;)"
    if entry.kind in ("ipv4-addr", "ipv6-addr"):
        return f"alert ip [{entry.value}] any -> $HOME_NET any ({msg}; {tail}"
    if entry.kind == "domain-name":
        # dotprefix + endswith: the domain itself and every subdomain, nothing that merely ends alike.
        return (f"alert dns $HOME_NET any -> any any ({msg}; dns.query; dotprefix; "
                f'content:".{_content(entry.value)}"; nocase; endswith; {tail}')
    if entry.kind == "url":
        host, _, rest = entry.value.split("://", 1)[1].partition("/")
        host = host.rsplit("@", 1)[-1]
        if host.startswith("["):
            host = host[1:].split("]", 1)[0]
        else:
            host = host.split(":", 1)[0]
        path = "/" + rest
        return (f"alert http $HOME_NET any -> any any ({msg}; flow:established,to_server; "
                f'http.host; content:"{_content(host)}"; nocase; bsize:{len(host.encode())}; '
                f'http.uri.raw; content:"{_content(path)}"; startswith; {tail}')
    return None


def rules_lines(items: Iterator[FeedEntry]) -> Iterator[str]:
    yield (f"# {HUB_NAME} blocklist as Suricata rules: sids from {SID_BASE} to {SID_MAX}, one per value, "
           "stable between polls. Hashes and e-mail addresses have no inline rule: use .txt or .csv.\n")
    used: set[int] = set()  # a digest collision moves the later value (in value order) to the next free sid
    for entry in items:
        if entry.kind not in RULE_KINDS:
            continue
        sid = value_sid(entry.kind, entry.value)
        while sid in used:
            sid = SID_BASE + (sid - SID_BASE + 1) % SID_SPAN
        used.add(sid)
        yield suricata_rule(entry, sid) + "\n"


RULE_KINDS = ("ipv4-addr", "ipv6-addr", "domain-name", "url")
FORMATTERS = {"txt": txt_lines, "csv": csv_lines, "rules": rules_lines}


def feed_body(feed: FeedFilter, fmt: str, now: datetime) -> Iterator[bytes]:
    """The feed in one format, as byte chunks to stream."""
    return _lines_in_chunks(FORMATTERS[fmt](entries(feed, now)))
