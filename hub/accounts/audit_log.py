"""The audit log as an organisation admin reads it: names instead of ids, times instead of numbers."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import func, not_, or_, select

from hub import policy
from hub.accounts.models import Organisation, SharingGroup, User
from hub.audit import AuditEvent
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.db import as_utc, canonical_stix_id, us_to_datetime
from hub.principal import Principal
from hub.intel.models import SharedItem

# Detail keys that hold an audience as ids (ingest.describe_grants).
AUDIENCE_KEYS = ("audience", "added")
WITHHELD = "withheld (TLP:RED)"
CONCEALED = "an anonymous source"


@dataclass
class AuditRow:
    event: AuditEvent
    actor: str | None
    actor_org: str | None
    detail: list[tuple[str, str]]


class _Directory:
    """Names of the users, organisations and groups a page of events mentions, in three queries."""

    def __init__(self, events: list[AuditEvent], details: list[dict], principal: Principal):
        user_ids = {e.actor_user_id for e in events if e.actor_user_id}
        org_ids = {e.actor_org_id for e in events if e.actor_org_id}
        group_ids: set[int] = set()
        for detail in details:
            for audience in _audiences(detail):
                user_ids.update(audience.get("user_ids") or [])
                org_ids.update(audience.get("org_ids") or [])
                group_ids.update(audience.get("group_ids") or [])
        self.users = self._names(User.id, User.email, user_ids)
        self.orgs = self._names(Organisation.id, Organisation.slug, org_ids)
        self.groups = self._names(SharingGroup.id, SharingGroup.slug, group_ids)
        item_ids = {e.item_id for e in events if e.item_id}
        self.concealed = policy.concealed_recipients(principal, item_ids)
        self.red_items = set(db.session.scalars(
            select(SharedItem.id).where(SharedItem.id.in_(item_ids), policy.audit_content_withheld())
        )) if item_ids else set()

    @staticmethod
    def _names(id_column, name_column, ids) -> dict[int, str]:
        ids = {i for i in ids if isinstance(i, int)}
        if not ids:
            return {}
        return dict(db.session.execute(select(id_column, name_column).where(id_column.in_(ids))).all())

    def audience(self, value: dict, concealed: set[int] = frozenset()) -> str:
        parts = ["every member organisation"] if value.get("community") else []
        for key, label, names in (("org_ids", "orgs", self.orgs), ("group_ids", "groups", self.groups),
                                  ("user_ids", "users", self.users)):
            # An item referring to an anonymous item (a sighting of it) names no organisation at
            # all: the one left out, or names vanishing, would tell the source.
            shown = value.get(key) or []
            if key == "org_ids" and concealed and shown:
                parts.append("orgs: not named (the item it refers to has an anonymous source)")
                continue
            if shown:
                parts.append(f"{label}: " + ", ".join(names.get(i, f"#{i}") for i in shown))
        return "; ".join(parts) or "own organisation"


def _audiences(detail: dict) -> list[dict]:
    return [detail[key] for key in AUDIENCE_KEYS if isinstance(detail.get(key), dict)]


def _parse(detail: str) -> dict:
    try:
        data = orjson.loads(detail or "{}")
    except orjson.JSONDecodeError:
        return {"detail": detail}
    return data if isinstance(data, dict) else {"detail": data}


def _pairs(data: dict, directory: _Directory, *, red: bool = False,
           concealed: set[int] = frozenset()) -> list[tuple[str, str]]:
    pairs = []
    for key, value in sorted(data.items()):
        # For a RED item the admin learns who did what when, never what it says (policy.py).
        if not policy.audit_detail_shown(key, content_withheld=red):
            text = WITHHELD
        elif key in AUDIENCE_KEYS and isinstance(value, dict):
            text = directory.audience(value, concealed)
        elif key == "modified_us" and isinstance(value, int):
            key, text = "version", us_to_datetime(value).strftime("%Y-%m-%d %H:%M:%S UTC")
        elif isinstance(value, str):
            text = value
        else:
            text = orjson.dumps(value).decode()
        pairs.append((key.replace("_", " "), text))
    return pairs


def audit_rows(events: list[AuditEvent], principal: Principal) -> list[AuditRow]:
    """The events as `principal` reads them (an anonymous source it may read stays unnamed)."""
    details = [_parse(event.detail) for event in events]
    directory = _Directory(events, details, principal)
    rows = []
    for event, detail in zip(events, details):
        concealed = directory.concealed.get(event.item_id, set())
        # On an item referring to an anonymous item, no other organisation's action is named:
        # the source's would name it, and naming all others would single it out.
        hidden = bool(concealed) and event.actor_org_id not in (None, event.subject_org_id)
        rows.append(AuditRow(
            event=event,
            actor=None if hidden else directory.users.get(event.actor_user_id),
            actor_org=CONCEALED if hidden else directory.orgs.get(event.actor_org_id),
            detail=_pairs(detail, directory, red=event.item_id in directory.red_items, concealed=concealed),
        ))
    return rows


# --- Filters, coalesced reads, CSV export --------------------------------------------------------

# Repeated reads of one item by one user (a page reloaded, a SIEM polling) are shown as one line
# with a count. The log keeps every row: it is append-only and hash-chained (hub/audit.py), so
# coalescing happens when it is read (page and CSV alike), never by rewriting an entry.
COALESCED_ACTIONS = frozenset({"read", "case_read", "incident_read", "token_use"})
COALESCE_WINDOW = timedelta(minutes=10)
_BATCH = 200


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    org: str = ""
    item: str = ""
    since: date | None = None
    until: date | None = None

    def as_args(self) -> dict:
        args = {key: getattr(self, key) for key in ("actor", "action", "org", "item") if getattr(self, key)}
        args.update({key: getattr(self, key).isoformat() for key in ("since", "until") if getattr(self, key)})
        return args


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def filtered_events(principal: Principal, wanted: AuditFilter, zone: str = "UTC"):
    """The events the principal may read (policy.audit_events_of), narrowed by the filter;
    dates are whole days on the organisation's clock."""
    if wanted.since and wanted.until and wanted.since > wanted.until:
        raise ValidationFailed("invalid range", [{"field": "until", "error": "the end is before the start"}])
    query = select(AuditEvent).where(policy.audit_events_of(principal))
    if wanted.action:
        query = query.where(AuditEvent.action == wanted.action.strip().replace(" ", "_").lower())
    if wanted.item:
        # Any spelling of the id finds its events (entries before ids were kept canonical too).
        query = query.where(func.lower(AuditEvent.stix_id) == canonical_stix_id(wanted.item.strip()))
    if wanted.actor or wanted.org:
        # Rows shown without their actor (see `audit_rows`) never match a filter on the actor:
        # matching would name who it was.
        query = query.where(or_(AuditEvent.actor_org_id == AuditEvent.subject_org_id,
                                AuditEvent.item_id.is_(None),
                                not_(policy.refers_to_concealed_source(principal, AuditEvent.item_id))))
    if wanted.actor:
        query = query.where(AuditEvent.actor_user_id.in_(
            select(User.id).where(User.email == wanted.actor.strip().lower())))
    if wanted.org:
        query = query.where(AuditEvent.actor_org_id.in_(
            select(Organisation.id).where(Organisation.slug == wanted.org.strip().lower())))
    if wanted.since:
        query = query.where(AuditEvent.at >= _day_start(wanted.since, zone))
    if wanted.until:
        query = query.where(AuditEvent.at < _day_start(wanted.until + timedelta(days=1), zone))
    return query


@dataclass
class CoalescedEvent:
    """One line of the log: an event, or a run of the same read within COALESCE_WINDOW."""
    event: AuditEvent  # the newest of the run
    count: int = 1
    oldest: AuditEvent | None = None

    @property
    def first_at(self) -> datetime:
        return (self.oldest or self.event).at

    @property
    def oldest_id(self) -> int:
        return (self.oldest or self.event).id

    def absorbs(self, event: AuditEvent) -> bool:
        newest = self.event
        return (newest.action in COALESCED_ACTIONS and event.action == newest.action
                and event.actor_user_id == newest.actor_user_id and event.actor_org_id == newest.actor_org_id
                and event.item_id == newest.item_id and event.stix_id == newest.stix_id
                and event.detail == newest.detail and newest.at - event.at <= COALESCE_WINDOW)


def coalesced_events(query, *, before_id: int | None = None) -> Iterator[CoalescedEvent]:
    """The query's events newest first, runs of repeated reads folded into one line each."""
    current: CoalescedEvent | None = None
    while True:
        batch_query = query.order_by(AuditEvent.id.desc()).limit(_BATCH)
        if before_id is not None:
            batch_query = batch_query.where(AuditEvent.id < before_id)
        batch = db.session.scalars(batch_query).all()
        for event in batch:
            if current is not None and current.absorbs(event):
                current.count += 1
                current.oldest = event
                continue
            if current is not None:
                yield current
            current = CoalescedEvent(event)
        if len(batch) < _BATCH:
            break
        before_id = batch[-1].id
    if current is not None:
        yield current


@dataclass
class AuditLine:
    row: AuditRow
    count: int
    first_at: datetime


def audit_lines(groups: list[CoalescedEvent], principal: Principal) -> list[AuditLine]:
    rows = audit_rows([group.event for group in groups], principal)
    return [AuditLine(row, group.count, group.first_at) for row, group in zip(rows, groups)]


def page_of(principal: Principal, wanted: AuditFilter, zone: str, *, before_id: int | None,
            size: int) -> tuple[list[AuditLine], int | None]:
    """One page of lines and the cursor of the next (older) page, or None."""
    groups = list(islice(coalesced_events(filtered_events(principal, wanted, zone), before_id=before_id), size + 1))
    more = len(groups) > size
    groups = groups[:size]
    return audit_lines(groups, principal), (groups[-1].oldest_id if more and groups else None)


CSV_COLUMNS = ("time_utc", "first_time_utc", "count", "actor", "actor_org", "action", "channel", "item", "detail")


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; a leading quote keeps it text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_lines(principal: Principal, wanted: AuditFilter, zone: str) -> Iterator[str]:
    """The filtered log as CSV text, a line at a time (streamed), coalesced like the page and
    with the same details withheld (TLP:RED content, anonymous sources). A bad filter raises
    here, before the first line."""
    return _csv_stream(filtered_events(principal, wanted, zone), principal)


def _csv_stream(query, principal: Principal) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    groups = coalesced_events(query)
    while chunk := list(islice(groups, _BATCH)):
        for line in audit_lines(chunk, principal):
            event = line.row.event
            detail = dict(line.row.detail)
            writer.writerow([_cell(value) for value in (
                _iso(event.at), _iso(line.first_at), str(line.count), line.row.actor or "",
                line.row.actor_org or "", event.action, detail.get("channel", ""), event.stix_id or "",
                "; ".join(f"{key}: {value}" for key, value in line.row.detail if key != "channel"),
            )])
        yield flush()


def _iso(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")
