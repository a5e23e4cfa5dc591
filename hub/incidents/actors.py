"""Threat actors as one entity each, with the incident reports that name them.

Every incident report files its own `threat-actor` object (its id derives from the incident, so
that revisions version it: hub.incidents.stix.derived_id), so the same actor named by three
hospitals is three objects with three ids. People mean one actor: they are merged by name,
ignoring case and spacing. Only objects and incidents the reader may read take part (the
policy filters both), so an actor named only in unreadable reports does not appear at all.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import aliased, selectinload

from hub import policy
from hub.errors import NotFound
from hub.extensions import db
from hub.incidents.models import Incident, IncidentItem
from hub.intel import reads
from hub.intel.models import SharedItem
from hub.principal import Principal

# Actor objects considered per page: far more than any community names.
MAX_ACTOR_OBJECTS = 5000
_SQL_PARAMETERS = 500  # SQLite caps the parameters of one statement


def actor_key(name: str) -> str:
    """The key two spellings of one actor share ("LockBit 3.0", "lockbit  3.0")."""
    return " ".join((name or "").split()).casefold()


@dataclass
class ThreatActor:
    key: str
    objects: list[SharedItem] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The spelling most of its readable objects use (the oldest of equally common ones)."""
        spellings = Counter(" ".join(item.name.split()) for item in reversed(self.objects))
        return spellings.most_common(1)[0][0]


def threat_actors(principal: Principal, name: str | None = None) -> list[ThreatActor]:
    """The readable threat actors, merged by name, each with the readable incidents naming it;
    most recently named first. With `name`, only that actor (NotFound if the reader may read
    none of that name)."""
    objects = list(db.session.scalars(
        reads.readable(principal)
        .where(SharedItem.stix_type == "threat-actor")
        .order_by(SharedItem.last_added_us.desc(), SharedItem.id.desc())
        .limit(MAX_ACTOR_OBJECTS)
    ))
    wanted = actor_key(name) if name is not None else None
    merged: dict[str, ThreatActor] = {}
    for item in objects:
        key = actor_key(item.name)
        if not key or (wanted is not None and key != wanted):
            continue
        merged.setdefault(key, ThreatActor(key)).objects.append(item)
    if wanted is not None and not merged:
        raise NotFound("no threat actor of this name")
    by_object = _naming_incidents(principal, [item.id for actor in merged.values() for item in actor.objects])
    for actor in merged.values():
        seen: set[int] = set()
        for item in actor.objects:
            for incident in by_object.get(item.id, []):
                if incident.id not in seen:
                    seen.add(incident.id)
                    actor.incidents.append(incident)
        actor.incidents.sort(key=lambda incident: incident.updated, reverse=True)
    return list(merged.values())


def _naming_incidents(principal: Principal, actor_item_ids: list[int]) -> dict[int, list[Incident]]:
    """Per threat-actor object, the incident report it was filed with, when the reader may read
    that report: one query per 500 actors."""
    incident_item = aliased(SharedItem)
    found: dict[int, list[Incident]] = {}
    ids = sorted(set(actor_item_ids))
    for start in range(0, len(ids), _SQL_PARAMETERS):
        rows = db.session.execute(
            select(IncidentItem.item_id, Incident)
            .join(Incident, Incident.id == IncidentItem.incident_id)
            .join(incident_item, incident_item.id == Incident.item_id)
            .where(IncidentItem.item_id.in_(ids[start:start + _SQL_PARAMETERS]),
                   policy.readable_items_for(policy.Reader.of(principal), incident_item))
            .options(selectinload(Incident.owner), selectinload(Incident.item))
        )
        for actor_item_id, incident in rows:
            found.setdefault(actor_item_id, []).append(incident)
    return found
