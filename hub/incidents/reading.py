"""Reading incident reports: what a principal may see, paged, viewed and exported.

Every read starts from `readable_incidents`, i.e. from hub/policy.py; reads by organisations
other than the owner land in the owner's audit log.
"""
from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload

from hub import audit, bounds, policy
from hub.accounts.models import Organisation
from hub.errors import NotFound
from hub.extensions import db
from hub.incidents import stix
from hub.db import as_utc, decode_cursor, encode_cursor
from hub.incidents.clocks import nis2_clocks
from hub.incidents.models import Incident, IncidentAdvice, IncidentItem, LawEnforcementCase
from hub.intel.models import SharedItem
from hub.intel.reads import stix_object
from hub.principal import Principal

DEFAULT_PAGE = 50
MAX_PAGE = 200


# What a page of incidents shows, loaded with the page instead of one query per incident.
WITH_REPORT = (selectinload(Incident.revisions), selectinload(Incident.owner), selectinload(Incident.item))


def readable_incidents(principal: Principal) -> Select:
    """Incidents whose STIX incident object the sharing policy lets the principal read."""
    return (
        select(Incident)
        .join(SharedItem, SharedItem.id == Incident.item_id)
        .where(policy.readable_items(principal))
    )


def _encode_cursor(incident: Incident) -> str:
    return encode_cursor(as_utc(incident.created).isoformat(), incident.stix_id)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    return decode_cursor(cursor, bounds.parse_instant, str)


def list_incidents(principal: Principal, *, limit: int = DEFAULT_PAGE, cursor: str | None = None,
                   attack_type: str | None = None, significant: bool | None = None,
                   owner_country: str | None = None):
    """One page, newest first, keyset-paginated on (created, id); returns (incidents, next)."""
    query = readable_incidents(principal)
    if attack_type:
        query = query.where(Incident.attack_type == attack_type)
    if significant is not None:
        query = query.where(Incident.significant == significant)
    if owner_country:
        query = query.join(Organisation, Organisation.id == Incident.owner_org_id).where(
            Organisation.country == owner_country.upper())
    if cursor:
        created, stix_id = _decode_cursor(cursor)
        query = query.where(or_(Incident.created < created,
                                and_(Incident.created == created, Incident.stix_id < stix_id)))
    rows = db.session.scalars(
        query.order_by(Incident.created.desc(), Incident.stix_id.desc()).limit(limit + 1)
        .options(*WITH_REPORT)
    ).all()
    page = rows[:limit]
    return page, (_encode_cursor(page[-1]) if len(rows) > limit else None)


def get_incident(principal: Principal, stix_id: str, channel: str = "api") -> Incident:
    """The incident if the principal may read it (else 404); reads by others are audited."""
    incident = db.session.scalar(readable_incidents(principal).where(Incident.stix_id == stix_id))
    if incident is None:
        raise NotFound(f"no incident {stix_id}")
    if policy.is_audited_read(principal, incident.item):
        audit.record("incident_read", principal, subject_org_id=incident.owner_org_id,
                     item=incident.item, channel=channel, reader_kind=principal.org_kind.value)
        db.session.commit()
    return incident


def latest_data(incident: Incident) -> dict:
    """The current revision's report, unfiltered: show it to others through `visible_report`."""
    return orjson.loads(incident.revisions[-1].data)


def visible_report(principal: Principal, data: dict) -> dict:
    """A revision's data as this reader may see it: links only to indicators it may read (rule 7)."""
    return {**data, "indicators": sorted(readable_indicator_ids(principal, data.get("indicators") or []))}


def revision_data(principal: Principal, stix_id: str, number: int) -> dict:
    """One revision of a readable incident, as this reader may see it."""
    incident = get_incident(principal, stix_id)
    for revision in incident.revisions:
        if revision.number == number:
            return visible_report(principal, orjson.loads(revision.data))
    raise NotFound(f"no revision {number}")


def record_incident_reads(principal: Principal, incidents, channel: str) -> None:
    """Lists show report contents too: reads by other organisations go to the owners' audit logs."""
    others = [incident for incident in incidents if policy.is_audited_read(principal, incident.item)]
    for incident in others:
        audit.record("incident_read", principal, subject_org_id=incident.owner_org_id, item=incident.item,
                     channel=channel, reader_kind=principal.org_kind.value)
    if others:
        db.session.commit()


def own_incident(principal: Principal, stix_id: str) -> Incident:
    """The caller's organisation's incident (404 otherwise, whatever else the caller may read)."""
    incident = db.session.scalar(
        select(Incident).where(Incident.stix_id == stix_id, policy.owned_by_org_of(principal, Incident.owner_org_id))
    )
    if incident is None:
        raise NotFound(f"no incident {stix_id}")
    return incident


def readable_indicator_ids(principal: Principal, stix_ids) -> set[str]:
    """Those of these ids the principal may read."""
    if not stix_ids:
        return set()
    return set(db.session.scalars(
        select(SharedItem.stix_id).where(
            SharedItem.stix_id.in_(list(stix_ids)), policy.readable_items(principal)
        )
    ))


def incident_row(incident: Incident) -> dict:
    """What a list row shows of a readable incident: the head of incident_view, without the
    report, revisions, advice and clocks that cost queries per row."""
    return {
        "id": incident.stix_id,
        "title": incident.title,
        "owner": incident.owner.slug,
        "owner_country": incident.owner.country,
        "tlp": incident.item.tlp.value,
        "attack_type": incident.attack_type,
        "significant": incident.significant,
        "updated": incident.updated.isoformat(),
    }


def incident_view(principal: Principal, incident: Incident) -> dict:
    """What the reader may see of a readable incident, as JSON."""
    data = latest_data(incident)
    owner_view = policy.sees_incident_internals(principal, incident)
    follows_nis2 = policy.follows_nis2_reporting(principal, incident)
    view = {
        **incident_row(incident),
        "revision": incident.revision_count,
        "created": incident.created.isoformat(),
        "report": visible_report(principal, data),
        "revisions": [
            {"number": r.number, "created": r.created.isoformat(),
             **({"author": r.author.email} if owner_view else {})}
            for r in incident.revisions
        ],
        "advice": [
            {"org": a.org.slug, "kind": a.kind, "body": a.body, "created": a.created.isoformat()}
            for a in db.session.scalars(select(IncidentAdvice).where(IncidentAdvice.incident_id == incident.id)
                                        .order_by(IncidentAdvice.id))
        ] if follows_nis2 else [],
    }
    if follows_nis2:
        view["nis2"] = nis2_clocks(incident)
    if policy.is_law_enforcement(principal):
        view["case"] = db.session.scalar(select(LawEnforcementCase.public_id).where(
            LawEnforcementCase.incident_id == incident.id, policy.liaison_cases(principal)))
    if owner_view:
        view["consents"] = [
            {"org": case.org.slug, "active": case.consent_active, "case": case.public_id,
             "status": case.status.value, "granted_at": case.granted_at.isoformat(),
             "revoked_at": case.revoked_at.isoformat() if case.revoked_at else None}
            for case in db.session.scalars(select(LawEnforcementCase).where(
                LawEnforcementCase.incident_id == incident.id).order_by(LawEnforcementCase.id))
        ]
    return view


def incident_bundle(principal: Principal, stix_id: str, schema_url: str) -> dict:
    """The STIX 2.1 bundle of the report as this reader may see it."""
    incident = get_incident(principal, stix_id, channel="stix-export")
    items = db.session.scalars(
        select(SharedItem).join(IncidentItem, IncidentItem.item_id == SharedItem.id)
        .where(IncidentItem.incident_id == incident.id, policy.readable_items(principal))
        .order_by(SharedItem.id)
    ).all()
    objects = [stix_object(item) for item in items]
    data = latest_data(incident)
    links = sorted(readable_indicator_ids(principal, data["indicators"]))
    tlp = incident.item.tlp
    objects += stix.indicator_relationships(stix_id, links, created=incident.created, tlp=tlp)
    if links:
        hospital = stix.organisation_identity(incident.owner)
        seen = datetime.fromisoformat(data.get("started_at") or data["detected_at"])
        objects += [hospital, *stix.indicator_sightings(stix_id, links, where_sighted_ref=hospital["id"],
                                                        first_seen=seen, created=incident.created, tlp=tlp)]
    return stix.export_bundle(objects, schema_url)
