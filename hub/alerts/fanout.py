"""Fan-out: one outbox entry becomes in-app notifications and e-mail/webhook deliveries.

Matching runs in Python over every subscription (filters are small and the item's facts are
read once); visibility is asked of the sharing policy in SQL for every matched recipient at
once (`policy.readable_items_for` with the recipients as columns), so a fan-out to a thousand
organisations is a handful of queries, never one per recipient. Everything the fan-out writes
commits together with the entry's `dispatched_at`, behind unique keys: running it twice (a
sweeper and a late task racing) writes nothing twice.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, and_, exists, func, select, text, update
from sqlalchemy.orm import aliased

from hub.accounts.models import Organisation, User

from hub.db import utcnow
from hub.db import id_chunks, id_in, insert_rows
from hub.alerts import defaults
from hub.alerts.filters import ADVISORY_MARKERS, Filters, ItemFacts, load_filters, matches
from hub.alerts.models import Delivery, Notification, Subscription
from hub.outbox import FOLLOW_UP_EVENTS, INCIDENT_EVENTS, OutboxEntry, names
from hub.extensions import db
from hub.intel import warninglists
from hub.intel.models import Observable, SharedItem, StixVersion
from hub.intel.store import load_json
from hub.policy import Reader, held_by_owner_org, readable_items_for, reads_at_all

# Events that concern whoever already heard of the item, whatever their filters say (rule 9).
EXTERNAL_CHANNELS = ("email", "webhook")


@dataclass
class FanOutResult:
    notifications: int = 0
    deliveries: int = 0
    # Immediate deliveries to hand to the delivery task (digests wait for their hour).
    ready_delivery_ids: list[int] = field(default_factory=list)
    # The outbox entries this fan-out marked dispatched: its whole sharing act.
    dispatched_ids: set[int] = field(default_factory=set)


class _Candidate(NamedTuple):  # ten thousand of these per fan-out: a tuple is cheapest
    id: int
    user_id: int
    org_id: int
    scope: str
    channel: str
    target: str | None
    mode: str
    filters: Filters


def recipient_key(channel: str, target: str) -> str:
    """The recipient part of a delivery's unique key: one message per address, however many
    subscriptions point at it."""
    normalised = target.strip().lower() if channel == "email" else target.strip()
    return hashlib.sha256(f"{channel}:{normalised}".encode()).hexdigest()


def item_facts(entry: OutboxEntry, item: SharedItem, *, with_correlation: bool) -> ItemFacts:
    version_id = entry.version_id or item.latest_version_id
    body = db.session.scalar(select(StixVersion.body).where(StixVersion.id == version_id))
    obj = load_json(body) if body else {}
    labels = frozenset(str(label).lower() for label in obj.get("labels") or [] if isinstance(label, str))
    report_types = frozenset(str(t).lower() for t in obj.get("report_types") or [] if isinstance(t, str))
    is_advisory = item.stix_type == "vulnerability" or (
        item.stix_type == "report" and bool(ADVISORY_MARKERS & (labels | report_types))
    )
    named = db.session.execute(
        select(Observable.id, Observable.kind, Observable.value).where(Observable.item_id == item.id)
    ).all()
    # Values on warning lists (public resolvers, CDNs, top domains...) are known benign: they
    # neither make an item match an observable filter nor correlate it with anything.
    benign = warninglists.matcher()
    meaningful = [row for row in named if not benign.lists_for(row.kind, row.value)]
    kinds = frozenset(row.kind for row in meaningful)
    correlated: frozenset[int] = frozenset()
    if with_correlation and meaningful:
        mine = aliased(Observable)
        correlated = frozenset(db.session.scalars(
            select(SharedItem.owner_org_id)
            .join(Observable, Observable.item_id == SharedItem.id)
            .join(mine, and_(mine.value == Observable.value, mine.kind == Observable.kind))
            .where(mine.item_id == item.id, id_in(mine.id, [row.id for row in meaningful]),
                   Observable.item_id != item.id, held_by_owner_org())
            .distinct()
        ))
    owner = db.session.get(Organisation, item.owner_org_id)
    return ItemFacts(
        event=entry.event,
        stix_type=item.stix_type,
        tlp=item.tlp,
        labels=labels,
        observable_kinds=kinds,
        is_advisory=is_advisory,
        anonymous=item.anonymous,
        owner_org_id=item.owner_org_id,
        owner_kind=owner.kind.value,
        owner_country=owner.country,
        search_text=item.search_text or "",
        correlated_org_ids=correlated,
    )


class _SubscriptionCache:
    """Every subscription with its parsed filters, reloaded only when the table changed.

    Subscriptions are created and deleted, never edited: the number of rows, the highest id and
    the latest creation time change with every create or delete, so one small query tells
    whether the copy held by this worker process is current.
    """

    def __init__(self):
        self._key: tuple | None = None
        self._candidates: list[_Candidate] = []

    def get(self) -> list[_Candidate]:
        count, highest, latest = db.session.execute(
            select(func.count(Subscription.id), func.max(Subscription.id), func.max(Subscription.created))
        ).one()
        key = (db.engine.url.render_as_string(), count, highest, latest)
        if key != self._key:
            rows = db.session.execute(select(
                Subscription.id, Subscription.user_id, Subscription.org_id, Subscription.scope,
                Subscription.channel, Subscription.target, Subscription.mode, Subscription.filters,
            ).order_by(Subscription.id)).all()
            self._candidates = [
                _Candidate(id_, user_id, org_id, scope, channel, target, mode, load_filters(filters))
                for id_, user_id, org_id, scope, channel, target, mode, filters in rows
            ]
            self._key = key
        return self._candidates


_subscriptions = _SubscriptionCache()


def _candidates() -> list[_Candidate]:
    return _subscriptions.get()


def readable_user_subscriptions(item_id: int, subscription_ids: list[int]) -> set[int]:
    """Of these user-scope subscriptions, those whose (active) user may read the item."""
    user_org = aliased(Organisation)
    found: set[int] = set()
    for chunk in id_chunks(subscription_ids):
        query: Select = (
            select(Subscription.id)
            .join(User, User.id == Subscription.user_id)
            .join(user_org, user_org.id == User.org_id)
            .join(SharedItem, SharedItem.id == item_id)
            .where(
                id_in(Subscription.id, chunk),
                User.active,
                reads_at_all(user_org),
                readable_items_for(Reader(User.id, User.org_id, user_org.kind)),
            )
        )
        found.update(db.session.scalars(query))
    return found


def readable_org_subscriptions(item_id: int, subscription_ids: list[int]) -> set[int]:
    """Of these org-scope subscriptions, those whose organisation as a whole may read the item."""
    found: set[int] = set()
    for chunk in id_chunks(subscription_ids):
        query: Select = (
            select(Subscription.id)
            .join(Organisation, Organisation.id == Subscription.org_id)
            .join(SharedItem, SharedItem.id == item_id)
            .where(
                id_in(Subscription.id, chunk),
                reads_at_all(),
                readable_items_for(Reader(None, Subscription.org_id, Organisation.kind)),
            )
        )
        found.update(db.session.scalars(query))
    return found


@dataclass
class _Act:
    entries: list[OutboxEntry]
    # Some of the act was fanned out by an earlier transaction (a large TAXII add).
    partly_told: bool = False


def _lock_act(entry_id: int) -> _Act | None:
    """The entries of the sharing act of this entry that are not fanned out yet, oldest first,
    locked for this fan-out; None when another worker holds it, or it is done.

    The act's oldest pending entry leads: a worker handed a later entry of an act whose oldest
    pending entry exists leaves the act to that entry's fan-out (the sweeper queues it if its
    task was lost), so two workers never both write an alert for one act.
    """
    locking = db.session.get_bind().dialect.name == "postgresql"
    query = select(OutboxEntry).where(OutboxEntry.id == entry_id)
    if locking:
        query = query.with_for_update(skip_locked=True)
    entry = db.session.scalars(query).first()
    if entry is None or entry.dispatched_at is not None:
        db.session.rollback()
        return None
    if entry.act is None:
        return _Act([entry])
    rest = db.session.execute(
        select(OutboxEntry.id, OutboxEntry.dispatched_at)
        .where(OutboxEntry.act == entry.act, OutboxEntry.id != entry.id).order_by(OutboxEntry.id)
    ).all()
    pending_ids = [row.id for row in rest if row.dispatched_at is None]
    if pending_ids and pending_ids[0] < entry.id:
        db.session.rollback()  # asked without locking: the older entry's worker never waits for us
        return None
    pending = []
    if pending_ids:
        later = select(OutboxEntry).where(OutboxEntry.id.in_(pending_ids)).order_by(OutboxEntry.id)
        if locking:
            later = later.with_for_update()
        pending = [e for e in db.session.scalars(later) if e.dispatched_at is None]
    return _Act([entry, *pending], partly_told=len(pending_ids) < len(rest))


# pg_advisory_xact_lock key held shared by a writer that found nobody to alert, until it commits,
# and exclusively by the creation of a subscription (any constant unique to this purpose).
SUBSCRIBING_LOCK_KEY = 0x5355_4253_4352  # "SUBSCR"


def nobody_to_alert(event: str, stix_types: set[str]) -> bool:
    """Whether an act being written (`event` about items of these types) can alert nobody: no
    subscription exists and no built-in alert applies, which is what dispatch_unheard would find
    after the commit. The answer holds until the writer commits.

    PostgreSQL only. The writer then holds SUBSCRIBING_LOCK_KEY shared until it commits, and a
    subscription is created under the same lock held exclusively (`hold_off_unheard_acts`), so a
    subscription never becomes visible in the middle of an act written as unheard: its alerts
    begin with the next one. Only *tried*: when a subscription is being created, the writer
    does not wait (nor risk a deadlock), it answers no and the act is fanned out as usual.
    """
    if db.session.get_bind().dialect.name != "postgresql" or defaults.may_concern_an_act(event, stix_types):
        return False
    held = db.session.scalar(text("SELECT pg_try_advisory_xact_lock_shared(:key)"), {"key": SUBSCRIBING_LOCK_KEY})
    return bool(held) and not db.session.scalar(select(exists().where(Subscription.id.is_not(None))))


def hold_off_unheard_acts() -> None:
    """Before a subscription is created: wait for every act being written as unheard to commit,
    and keep new ones from being so until this transaction ends (nobody_to_alert)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SUBSCRIBING_LOCK_KEY})


def dispatch_unheard(entry_ids: list[int]) -> bool:
    """With no subscription at all, mark the entries dispatched with one statement; True if done.

    What fan_out would do for each of them then (nobody to match, nobody heard before: no
    notification, no delivery), without a transaction per entry: a bulk share of thousands of
    objects would otherwise keep the workers busy for minutes writing nothing. Not when a
    built-in alert may apply to one of them.
    """
    if _candidates() or defaults.may_concern(entry_ids):
        return False
    db.session.execute(
        update(OutboxEntry)
        .where(id_in(OutboxEntry.id, entry_ids), OutboxEntry.dispatched_at.is_(None))
        .values(dispatched_at=utcnow())
    )
    db.session.commit()
    return True


# Which entry of a sharing act names the act in a recipient's alert: the incident work first,
# then the object the others hang on (an incident, a report), then by type, then the oldest.
_EVENT_RANK = {name: 0 for name in names(INCIDENT_EVENTS)}
_TYPE_RANK = {"incident": 0, "report": 1, "grouping": 2, "vulnerability": 3, "campaign": 3, "intrusion-set": 3,
              "threat-actor": 3, "malware": 3, "sighting": 4, "indicator": 5, "relationship": 9}


@dataclass
class _EntryPlan:
    """What one entry of an act would tell, before the act is coalesced."""

    entry: OutboxEntry
    item: SharedItem
    users: set[int]
    channels: list[_Candidate]
    prior_subscriptions: set[int]

    @property
    def rank(self) -> tuple:
        return (_EVENT_RANK.get(self.entry.event, 1), _TYPE_RANK.get(self.item.stix_type, 6), self.entry.id)


def _plan(entry: OutboxEntry, candidates: list[_Candidate], with_correlation: bool) -> _EntryPlan:
    """Who hears of one entry: matching subscriptions and built-in alerts, each recipient asked
    of the policy; never the user who acted."""
    item = db.session.get(SharedItem, entry.item_id)
    facts = item_facts(entry, item, with_correlation=with_correlation)
    prior_users = set(db.session.scalars(
        select(Notification.user_id).where(Notification.item_id == item.id).distinct()
    ))
    prior_subscriptions = set(db.session.scalars(
        select(Delivery.subscription_id).where(Delivery.item_id == item.id).distinct()
    ))
    prior_orgs = set(db.session.scalars(
        select(User.org_id).join(Notification, Notification.user_id == User.id)
        .where(Notification.item_id == item.id).distinct()
    )) if prior_users else set()
    heard = _Heard(prior_users, prior_subscriptions, prior_orgs)
    chosen = [
        c for c in candidates
        if matches(c.filters, facts, c.org_id)
        or (entry.event in names(FOLLOW_UP_EVENTS) and heard.before(c))
    ]
    actor = entry.actor_user_id
    chosen = [c for c in chosen if not (c.scope == "user" and c.user_id == actor)]
    user_scope = [c.id for c in chosen if c.scope == "user"]
    org_scope = [c.id for c in chosen if c.scope == "org"]
    allowed = readable_user_subscriptions(item.id, user_scope) | readable_org_subscriptions(item.id, org_scope)
    chosen = [c for c in chosen if c.id in allowed]
    users = (_notification_recipients(chosen) | defaults.recipients(entry.event, item, facts)
             | defaults.follow_up_recipients(entry.event, item, facts))
    if entry.event == "widened":
        # Widening tells those who newly may read the item; the others already know it.
        users -= prior_users
    users.discard(actor)
    channels = [c for c in chosen if c.channel in EXTERNAL_CHANNELS and c.target
                and not (entry.event == "widened" and c.id in prior_subscriptions)]
    return _EntryPlan(entry, item, users, channels, prior_subscriptions)


def fan_out(entry_id: int) -> FanOutResult:
    """Turn the sharing act of one outbox entry into one alert per recipient (in-app
    notification, e-mail or webhook delivery), and mark its entries dispatched.

    Each recipient's alert names the act's main object that the recipient may read; the act's
    other objects it may read are recorded beside it (never shown on their own), so that their
    updates reach it and its alert can say "and N related objects". Safe to run any number of
    times, concurrently too.
    """
    result = FanOutResult()
    locked = _lock_act(entry_id)
    if locked is None:
        return result
    entries = locked.entries
    candidates = _candidates()
    with_correlation = any(c.filters.correlates_with_own for c in candidates)
    plans = sorted((_plan(entry, candidates, with_correlation) for entry in entries), key=lambda p: p.rank)

    now = utcnow()
    # An act written in several transactions (a large TAXII add) still gives one alert each:
    # whoever already has one hears of the rest through it.
    act = entries[0].act
    led: set[int] = set(db.session.scalars(
        select(Notification.user_id).where(Notification.act == act, Notification.lead))) if locked.partly_told else set()
    for plan in plans:  # best-ranked first: a user's first plan is the one their alert names
        if not plan.users:
            continue
        rows = [{"user_id": user_id, "lead": user_id not in led} for user_id in sorted(plan.users)]
        led |= plan.users
        insert_rows(Notification, rows, {"outbox_id": plan.entry.id, "item_id": plan.item.id,
                                         "event": plan.entry.event, "created": now, "act": plan.entry.act})
    if led:
        # The act is locked (or SQLite serialises writers): every row of it is ours.
        result.notifications = db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.outbox_id.in_([p.entry.id for p in plans]), Notification.lead)
        )

    sent_keys: set[str] = set(db.session.scalars(
        select(Delivery.recipient_key).join(OutboxEntry, OutboxEntry.id == Delivery.outbox_id)
        .where(OutboxEntry.act == act, Delivery.status != "coalesced"))) if locked.partly_told else set()
    written = False
    for plan in plans:
        delivery_rows, seen_keys = [], set()
        for c in plan.channels:
            key = recipient_key(c.channel, c.target)
            if key in seen_keys:
                continue
            seen_keys.add(key)
            coalesced = key in sent_keys
            delivery_rows.append({
                "public_id": str(uuid.uuid4()),
                "subscription_id": c.id,
                "channel": c.channel,
                "recipient_key": key,
                "status": "coalesced" if coalesced else "pending" if c.mode == "immediate" else "digest",
            })
        sent_keys |= seen_keys
        if delivery_rows:
            written = True
            insert_rows(Delivery, delivery_rows, {"outbox_id": plan.entry.id, "item_id": plan.item.id,
                                                  "event": plan.entry.event, "attempts": 0, "created": now,
                                                  "next_attempt_at": now})
    if written:
        inserted = db.session.execute(
            select(Delivery.id, Delivery.status)
            .where(Delivery.outbox_id.in_([p.entry.id for p in plans]), Delivery.status != "coalesced")
            .order_by(Delivery.id)
        ).all()
        result.deliveries = len(inserted)
        result.ready_delivery_ids = [row.id for row in inserted if row.status == "pending"]

    for entry in entries:
        entry.dispatched_at = now
    db.session.commit()
    result.dispatched_ids = {entry.id for entry in entries}
    return result


@dataclass(frozen=True)
class _Heard:
    """Who was already alerted about the item, by any earlier event."""

    users: set[int]
    subscriptions: set[int]
    orgs: set[int]

    def before(self, c: _Candidate) -> bool:
        if c.id in self.subscriptions:
            return True
        if c.scope == "user":
            return c.user_id in self.users
        return c.channel == "in_app" and c.org_id in self.orgs


def _notification_recipients(chosen: list[_Candidate]) -> set[int]:
    """In-app is always on for a user's own subscriptions; an organisation's in-app
    subscription rings every active member's bell."""
    users = {c.user_id for c in chosen if c.scope == "user"}
    org_ids = sorted({c.org_id for c in chosen if c.scope == "org" and c.channel == "in_app"})
    for chunk in id_chunks(org_ids):
        users.update(db.session.scalars(
            select(User.id).where(id_in(User.org_id, chunk), User.active)
        ))
    return users


def pending_entry_ids(older_than: datetime, limit: int = 1000) -> list[int]:
    """Outbox entries never fanned out, oldest first: the sweeper's work."""
    return list(db.session.scalars(
        select(OutboxEntry.id)
        .where(OutboxEntry.dispatched_at.is_(None), OutboxEntry.created < older_than)
        .order_by(OutboxEntry.id)
        .limit(limit)
    ))
