"""Built-in alerts: what each kind of organisation is told without subscribing to anything.

A hospital's team hears the national CERT's advice on its incidents, sightings of its items and
new advisories; the national CERT hears when a hospital of its country files a significant
incident or submits a NIS2 report; a vendor hears of incident reports shared with it. Law
enforcement hears of cases through the case activity itself (hub/incidents/notify.py).

They ring the bell (in-app) of the organisation's admins and analysts, the people who act on
them; each user may turn any of them off (`MutedDefault`). They are rules in the fan-out, not
subscription rows, so that a new organisation or user has them from the first minute and a
change of the defaults reaches everyone. The sharing policy still has the last word: the
recipients are asked in the same SQL query whether they may read the item. Whoever a built-in
alert told of an item hears of its updates, revocation and expiry, as a subscriber would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import ColumnElement, and_, exists, select, true
from sqlalchemy.orm import aliased

from hub.accounts.models import Organisation, User
from hub.alerts.filters import ItemFacts
from hub.alerts.models import MutedDefault, Notification
from hub.db import id_in
from hub.extensions import db
from hub.intel.models import ItemReference, SharedItem
from hub.outbox import FOLLOW_UP_EVENTS, Event, OutboxEntry, names
from hub.policy import Reader, national_certs_following, readable_items_for
from hub.principal import OrgKind, Role


@dataclass(frozen=True)
class DefaultRule:
    key: str
    kinds: tuple[OrgKind, ...]
    title: str
    events: frozenset[str]
    # The organisations whose team it alerts, as SQL on Organisation (an alias), for this item;
    # None when the rule does not apply to it (decided without asking the database).
    reaches: Callable[[type, SharedItem, ItemFacts], ColumnElement[bool] | None]


def _cert_of_owner_country(org, item, facts) -> ColumnElement[bool] | None:
    return national_certs_following(org, facts.owner_kind, facts.owner_country)


def _owner_org(org, item, facts) -> ColumnElement[bool]:
    return org.id == item.owner_org_id


def _owners_of_sighted_items(org, item, facts) -> ColumnElement[bool]:
    # A sighting names what it saw (item_reference); the owners of those items hear of it.
    sighted = aliased(SharedItem)
    return exists(
        select(sighted.id)
        .join(ItemReference, ItemReference.ref_stix_id == sighted.stix_id)
        .where(ItemReference.item_id == item.id, sighted.owner_org_id == org.id)
    )


def _advisory(org, item, facts) -> ColumnElement[bool] | None:
    return true() if facts.is_advisory else None


def _incident(org, item, facts) -> ColumnElement[bool] | None:
    return true() if facts.stix_type == "incident" else None


RULES: tuple[DefaultRule, ...] = (
    DefaultRule(
        "cert_incident_reports", (OrgKind.national_cert,),
        "Significant incidents and NIS2 reports (early warning, notification, intermediate, progress, "
        "final) from hospitals of your country",
        frozenset(names((Event.incident_significant, Event.early_warning_sent, Event.notification_sent,
                         Event.intermediate_sent, Event.progress_sent, Event.final_report_sent))),
        _cert_of_owner_country,
    ),
    DefaultRule(
        "advice_on_own_incidents", (OrgKind.hospital,),
        "Advice and requests (an intermediate report) from the national CERT on your organisation's incidents",
        frozenset(names((Event.advice_given, Event.intermediate_asked))), _owner_org,
    ),
    DefaultRule(
        "sightings_of_own_items", tuple(OrgKind),
        "Sightings of your organisation's items",
        frozenset(names((Event.sighted,))), _owners_of_sighted_items,
    ),
    DefaultRule(
        "advisories", (OrgKind.hospital,),
        "New advisories (vulnerabilities, CSAF and advisory reports) you may read",
        frozenset(names((Event.shared,))), _advisory,
    ),
    DefaultRule(
        "incidents_shared_with_you", (OrgKind.vendor,),
        "Incident reports shared with your organisation",
        frozenset(names((Event.shared, Event.widened))), _incident,
    ),
)
RULE_KEYS = tuple(rule.key for rule in RULES)
DEFAULT_EVENTS = frozenset().union(*(rule.events for rule in RULES))
# Of the plain sharing events, only these types can concern a built-in alert (the fan-out's
# shortcut for bulk shares nobody subscribed to).
_TYPES_OF_SHARED_DEFAULTS = ("vulnerability", "report", "incident")
TEAM_ROLES = (Role.admin, Role.analyst)


def rules_for(kind: OrgKind) -> list[DefaultRule]:
    return [rule for rule in RULES if kind in rule.kinds]


def recipients(event: str, item: SharedItem, facts: ItemFacts) -> set[int]:
    """The users whom the built-in alerts tell of this event, who may read the item and have
    not turned the alert off."""
    found: set[int] = set()
    for rule in RULES:
        if event not in rule.events:
            continue
        org = aliased(Organisation)
        reach = rule.reaches(org, item, facts)
        if reach is None:
            continue
        muted = exists(select(MutedDefault.user_id).where(MutedDefault.user_id == User.id,
                                                          MutedDefault.rule == rule.key))
        found.update(db.session.scalars(
            select(User.id)
            .join(org, org.id == User.org_id)
            .join(SharedItem, SharedItem.id == item.id)
            .where(
                User.active,
                User.role.in_(TEAM_ROLES),
                org.kind.in_(rule.kinds),
                reach,
                ~muted,
                readable_items_for(Reader(User.id, User.org_id, org.kind)),
            )
        ))
    return found


_FOLLOW_UPS = frozenset(names(FOLLOW_UP_EVENTS))


def follow_up_recipients(event: str, item: SharedItem, facts: ItemFacts) -> set[int]:
    """Who hears what follows (an update, a revocation, an expiry) of an item a built-in alert
    told them of: each user told of an earlier event about it whom that alert would tell of it
    today (still a reader, still in the team, the alert not turned off)."""
    if event not in _FOLLOW_UPS:
        return set()
    told: dict[str, set[int]] = {}
    for user_id, earlier in db.session.execute(
        select(Notification.user_id, Notification.event).distinct()
        .where(Notification.item_id == item.id, Notification.event.in_(sorted(DEFAULT_EVENTS)))
    ):
        told.setdefault(earlier, set()).add(user_id)
    found: set[int] = set()
    for earlier, users in told.items():
        found |= recipients(earlier, item, facts) & users
    return found


_PLAIN_SHARING_EVENTS = names((Event.shared, Event.widened))


def may_concern(entry_ids: list[int]) -> bool:
    """Could a built-in alert apply to any of these outbox entries? (A follow-up may, when
    anyone was alerted of its item before.)"""
    plain = _PLAIN_SHARING_EVENTS
    return db.session.scalar(
        select(exists().where(
            id_in(OutboxEntry.id, entry_ids),  # a fan-out task holds up to 500: one array parameter
            (OutboxEntry.event.in_(sorted(DEFAULT_EVENTS - set(plain))))
            | and_(OutboxEntry.event.in_(plain),
                   exists(select(SharedItem.id).where(SharedItem.id == OutboxEntry.item_id,
                                                      SharedItem.stix_type.in_(_TYPES_OF_SHARED_DEFAULTS))))
            | and_(OutboxEntry.event.in_(sorted(_FOLLOW_UPS)),
                   exists(select(Notification.id).where(Notification.item_id == OutboxEntry.item_id))),
        ))
    )


def may_concern_an_act(event: str, stix_types: set[str]) -> bool:
    """`may_concern` for an act being written: an event about items of these types. A follow-up
    always may (whether anyone heard of its items is not asked here)."""
    if event in _PLAIN_SHARING_EVENTS:
        return not stix_types.isdisjoint(_TYPES_OF_SHARED_DEFAULTS)
    return event in DEFAULT_EVENTS or event in _FOLLOW_UPS
