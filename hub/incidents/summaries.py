"""Anonymised summaries a hospital publishes to the community.

A summary carries the country, the month, the attack type, the affected services and the
human-impact figures; free text only when its author wrote it for the purpose and it passed the
patient-data check. Nothing in any output names the hospital: no organisation, author, incident
id or exact time, and lists are ordered by (month, random id) so creation order leaks nothing.
A country is a cell of the small-cell rule (rule 12, `policy.publishable_cells`): a summary
shows its country only when at least `policy.MIN_ORGS_PER_CELL` organisations publish summaries
from that country (or the reader's organisation published it); otherwise the country is withheld,
and a country filter does not find it.
"""
from __future__ import annotations


import orjson
from collections import defaultdict

from sqlalchemy import and_, or_, select

from hub import audit, policy
from hub.db import decode_cursor, encode_cursor
from hub.errors import Forbidden, ValidationFailed
from hub.extensions import db
from hub.incidents.fields import IMPACT_FIGURES
from hub.incidents.filing import check_personal_data
from hub.incidents.models import Incident, IncidentSummary
from hub.incidents.reading import latest_data, own_incident
from hub.principal import Principal

MAX_TEXT = 2000


def publish_summary(principal: Principal, stix_id: str, text: str = "",
                    confirm_personal_data: bool = False) -> IncidentSummary:
    incident = own_incident(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot publish summaries")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValidationFailed("invalid text", [{"field": "text", "error": f"at most {MAX_TEXT:,} characters"}])
    check_personal_data(principal, {"text": text}, confirm_personal_data)
    data = latest_data(incident)
    impact = data.get("impact") or {}
    figures = {key: impact[key] for key in IMPACT_FIGURES if impact.get(key) is not None}
    figures["patient_care_disrupted"] = impact.get("patient_care_disrupted", "unknown")
    values = {
        "country": incident.owner.country,
        "month": incident.detected_at.strftime("%Y-%m"),
        "attack_type": incident.attack_type,
        "services": orjson.dumps(data.get("services") or []).decode(),
        "figures": orjson.dumps(figures).decode(),
        "text": text.strip(),
        "withdrawn": False,
    }
    summary = db.session.scalar(select(IncidentSummary).where(IncidentSummary.incident_id == incident.id))
    if summary is None:
        summary = IncidentSummary(incident_id=incident.id, **values)
        db.session.add(summary)
    else:
        for key, value in values.items():
            setattr(summary, key, value)
    audit.record("summary_published", principal, item=incident.item)
    db.session.commit()
    return summary


def withdraw_summary(principal: Principal, stix_id: str) -> None:
    incident = own_incident(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot withdraw summaries")
    summary = db.session.scalar(select(IncidentSummary).where(IncidentSummary.incident_id == incident.id))
    if summary is not None and not summary.withdrawn:
        summary.withdrawn = True
        audit.record("summary_withdrawn", principal, item=incident.item)
        db.session.commit()


def _cursor(summary: IncidentSummary) -> str:
    return encode_cursor(summary.month, summary.public_id)


def published_countries(principal: Principal) -> set[str]:
    """The countries a summary may name to this reader: the small-cell rule over countries,
    each cell built from the organisations that publish summaries there."""
    cells: dict[str, set[int]] = defaultdict(set)
    for country, org_id in db.session.execute(
            select(IncidentSummary.country, Incident.owner_org_id).distinct()
            .join(Incident, Incident.id == IncidentSummary.incident_id)
            .where(IncidentSummary.withdrawn.is_(False))):
        cells[country].add(org_id)
    return policy.publishable_cells(cells, principal.org_id)


def list_summaries(principal: Principal, *, limit: int = 100, cursor: str | None = None,
                   country: str | None = None) -> tuple[list[dict], str | None]:
    """Published summaries as their reader sees them, newest month first; every signed-in member
    may read them. Countries of fewer than MIN_ORGS_PER_CELL publishers are withheld."""
    countries = published_countries(principal)
    query = (select(IncidentSummary, Incident.owner_org_id)
             .join(Incident, Incident.id == IncidentSummary.incident_id)
             .where(IncidentSummary.withdrawn.is_(False)))
    if country:
        query = query.where(IncidentSummary.country == country.upper())
        if country.upper() not in countries:
            query = query.where(policy.owned_by_org_of(principal, Incident.owner_org_id))
    if cursor:
        month, public_id = decode_cursor(cursor, str, str)
        query = query.where(or_(IncidentSummary.month < month,
                                and_(IncidentSummary.month == month, IncidentSummary.public_id > public_id)))
    rows = db.session.execute(
        query.order_by(IncidentSummary.month.desc(), IncidentSummary.public_id).limit(limit + 1)).all()
    page = rows[:limit]
    views = [summary_view(summary, show_country=policy.shows_cell(summary.country, org_id, countries, principal.org_id))
             for summary, org_id in page]
    return views, (_cursor(page[-1][0]) if len(rows) > limit else None)


def summary_view(summary: IncidentSummary, *, show_country: bool = True) -> dict:
    return {"id": summary.public_id, "country": summary.country if show_country else None,
            "month": summary.month, "attack_type": summary.attack_type, "services": orjson.loads(summary.services),
            "figures": orjson.loads(summary.figures), "text": summary.text}
