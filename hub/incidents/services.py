"""Filing, updating and reading incident reports; NIS2 marking, submissions and CERT advice.

An incident's STIX objects go through the intel store's ingest (validation, versions, audience
grants, outbox, audit) in the same transaction as the hospital-side rows, and every read starts
from `readable_incidents`, i.e. from hub/policy.py.
"""
from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload

from hub import audit, policy
from hub.accounts.models import Organisation, User
from hub.principal import OrgKind
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.extensions import db
from hub.incidents import nis2, privacy, stix
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES, PATIENT_CARE_DISRUPTED, SERVICES
from hub.incidents.models import (
    Incident,
    IncidentAdvice,
    IncidentItem,
    IncidentRevision,
    LawEnforcementCase,
    NisSubmission,
)
from hub.intel import builders, observables
from hub.intel.audience import Audience, resolve_audience
from hub.intel.ingest import prepare_all, store_prepared
from hub.intel.models import SharedItem
from hub.tlp import TLP
from hub.principal import Principal

DEFAULT_PAGE = 50
MAX_PAGE = 200
FIELDS = {"title", "started_at", "detected_at", "contained_at", "attack_type", "services", "impact",
          "narrative", "threat_actor", "indicators", "new_indicators", "significant", "tlp", "audience",
          "confirm_personal_data"}
NEW_INDICATOR_CONFIDENCE = 75  # seen by the victim itself; not yet corroborated by others
_IMPACT_KEYS = set(IMPACT_FIGURES) | {"patient_care_disrupted", "ransom_demanded"}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite hands them back without their zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- validating the report -----------------------------------------------------------------

def _parse_instant(value, field: str, problems: list, required: bool = False, tz: str = "UTC") -> str | None:
    """An ISO 8601 date-time, as UTC. Without an offset it is the organisation's local time
    (`tz`), as a person filling in a report means it."""
    if value in (None, ""):
        if required:
            problems.append({"field": field, "error": "required: when the hospital became aware"})
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems.append({"field": field, "value": value, "error": "an ISO 8601 date-time, e.g. 2026-03-28T06:45:00+01:00"})
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(timezone.utc).isoformat()


def validate_report(data, tz: str = "UTC") -> dict:
    """The report's fields, normalised; one ValidationFailed lists every problem."""
    if not isinstance(data, dict):
        raise ValidationFailed("invalid incident report", [{"field": "", "error": "expected a JSON object"}])
    problems: list[dict] = []
    for key in sorted(set(data) - FIELDS):
        problems.append({"field": key, "error": "not a field of an incident report"})
    clean: dict = {}

    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        problems.append({"field": "title", "error": "required, at most 300 characters"})
    else:
        clean["title"] = title.strip()
    for key in ("started_at", "detected_at", "contained_at"):
        clean[key] = _parse_instant(data.get(key), key, problems, required=key == "detected_at", tz=tz)
    if clean.get("started_at") and clean.get("detected_at") and clean["started_at"] > clean["detected_at"]:
        problems.append({"field": "started_at", "error": "the attack cannot start after it was detected"})
    if clean.get("contained_at") and clean.get("detected_at") and clean["contained_at"] < clean["detected_at"]:
        problems.append({"field": "contained_at", "error": "containment cannot precede detection"})

    attack_type = data.get("attack_type")
    attack_type = attack_type.strip().lower() if isinstance(attack_type, str) else attack_type
    if attack_type not in ATTACK_TYPES:
        problems.append({"field": "attack_type", "value": attack_type, "error": "one of " + ", ".join(ATTACK_TYPES)})
    clean["attack_type"] = attack_type
    services = data.get("services") or []
    if isinstance(services, list):
        services = [s.strip().lower() if isinstance(s, str) else s for s in services]
    if not isinstance(services, list) or any(s not in SERVICES for s in services):
        problems.append({"field": "services", "error": "a list of: " + ", ".join(SERVICES)})
        services = []
    clean["services"] = sorted(set(services))

    clean["impact"] = _validate_impact(data.get("impact") or {}, problems)

    narrative = data.get("narrative") or ""
    if not isinstance(narrative, str) or len(narrative) > 20000:
        problems.append({"field": "narrative", "error": "text of at most 20,000 characters"})
        narrative = ""
    clean["narrative"] = narrative.strip()
    actor = data.get("threat_actor") or ""
    if not isinstance(actor, str) or len(actor) > 200:
        problems.append({"field": "threat_actor", "error": "a name of at most 200 characters"})
        actor = ""
    clean["threat_actor"] = actor.strip() or None
    indicators = data.get("indicators") or []
    if not isinstance(indicators, list) or any(
        not isinstance(i, str) or not i.startswith("indicator--") for i in indicators
    ):
        problems.append({"field": "indicators", "error": "a list of STIX indicator ids"})
        indicators = []
    clean["indicators"] = sorted(set(indicators))
    clean["new_indicators"] = _validate_new_indicators(data.get("new_indicators") or [], problems)
    significant = data.get("significant", False)
    if not isinstance(significant, bool):
        problems.append({"field": "significant", "error": "true or false"})
    clean["significant"] = bool(significant)
    if problems:
        raise ValidationFailed("invalid incident report", problems)
    return clean


def _validate_new_indicators(entries, problems: list) -> list[dict]:
    """Observables seen in this incident, shared as indicators along with the report."""
    if not isinstance(entries, list):
        problems.append({"field": "new_indicators", "error": 'a list of {"type": ..., "value": ...}'})
        return []
    clean = []
    for index, entry in enumerate(entries):
        field = f"new_indicators[{index}]"
        kind = entry.get("type") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if kind not in builders.INDICATOR_KINDS:
            problems.append({"field": f"{field}.type", "value": kind,
                             "error": "one of " + ", ".join(builders.INDICATOR_KINDS)})
            continue
        try:
            normalised = observables.normalise(kind, value if isinstance(value, str) else "")
        except ValueError as exc:
            problems.append({"field": f"{field}.value", "value": value, "error": str(exc)})
            continue
        clean.append({"type": kind, "value": normalised})
    return clean


def _validate_impact(impact, problems: list) -> dict:
    if not isinstance(impact, dict):
        problems.append({"field": "impact", "error": "an object of human-impact figures"})
        return {}
    clean: dict = {}
    for key in sorted(set(impact) - _IMPACT_KEYS):
        problems.append({"field": f"impact.{key}", "error": "not a human-impact figure"})
    care = impact.get("patient_care_disrupted", "unknown")
    if care not in PATIENT_CARE_DISRUPTED:
        problems.append({"field": "impact.patient_care_disrupted", "value": care, "error": "yes, no or unknown"})
    clean["patient_care_disrupted"] = care
    for key, (_label, integer) in IMPACT_FIGURES.items():
        value = impact.get(key)
        if value is None:
            continue
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            problems.append({"field": f"impact.{key}", "value": value,
                             "error": "a whole number, 0 or more" if integer else "a number, 0 or more"})
            continue
        clean[key] = value
    ransom = impact.get("ransom_demanded")
    if ransom is not None:
        amount, currency = (ransom or {}).get("amount"), (ransom or {}).get("currency")
        if (not isinstance(ransom, dict) or isinstance(amount, bool) or not isinstance(amount, (int, float))
                or amount < 0 or not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha()):
            problems.append({"field": "impact.ransom_demanded",
                             "error": 'an object {"amount": number, "currency": ISO 4217 code, e.g. "EUR"}'})
        else:
            clean["ransom_demanded"] = {"amount": amount, "currency": currency.upper()}
    return clean


def _timezone_of(principal: Principal) -> str:
    return db.session.get(Organisation, principal.org_id).timezone


def check_personal_data(principal: Principal, fields: dict[str, str | None], confirmed: bool) -> bool:
    """Refuse free text that looks like patient data unless the author confirmed it.

    Returns whether anything was flagged (and so confirmed)."""
    flagged = privacy.check_free_text(fields, principal.country)
    if flagged and not confirmed:
        raise ValidationFailed(
            "this text looks like it contains patient data: redact it, or confirm that it may be "
            "shared (confirm_personal_data: true)",
            flagged,
        )
    return bool(flagged)


def _parse_tlp(value) -> TLP:
    if value is None:
        return TLP.amber
    try:
        tlp = TLP.parse(str(value))
    except (ValueError, KeyError):
        raise ValidationFailed("invalid tlp", [{"field": "tlp", "value": value, "error": "clear, green, amber or amber+strict"}]) from None
    if tlp == TLP.red:
        raise ValidationFailed("invalid tlp", [{
            "field": "tlp", "value": value,
            "error": "incident reports cannot be TLP:RED: the national CERT and, with consent, law "
                     "enforcement must be able to read them; use amber+strict"}])
    return tlp


def default_audience_spec(principal: Principal) -> dict | str:
    """Rule 6: a hospital's incident reaches its own organisation and its country's national CERTs."""
    certs = db.session.scalars(
        select(Organisation.slug).where(
            Organisation.kind == OrgKind.national_cert,
            Organisation.country == principal.country,
            Organisation.id != principal.org_id,
        ).order_by(Organisation.slug)
    ).all()
    return {"orgs": list(certs)} if certs else "own"


def _readable_indicator_ids(principal: Principal, stix_ids) -> set[str]:
    if not stix_ids:
        return set()
    return set(db.session.scalars(
        select(SharedItem.stix_id).where(
            SharedItem.stix_id.in_(list(stix_ids)), policy.readable_items(principal)
        )
    ))


def _check_indicators(principal: Principal, ids: list[str]) -> None:
    readable = _readable_indicator_ids(principal, ids)
    missing = [i for i in ids if i not in readable]
    if missing:
        raise ValidationFailed("unknown indicators", [
            {"field": "indicators", "value": i, "error": "no indicator with this id that you may read"}
            for i in missing])


# --- filing and updating ---------------------------------------------------------------------

def _store_revision(principal, incident_id: str, data: dict, tlp: TLP, audience: Audience,
                    created: datetime, modified: datetime) -> list[SharedItem]:
    """Share the revision's STIX objects; new indicators first, as ordinary indicators to the
    report's audience and TLP, then linked from it. Returns the incident's own items."""
    new_indicators = data.pop("new_indicators", [])
    if new_indicators:
        org_identity = db.session.get(Organisation, principal.org_id).identity_id
        built = [
            builders.build_indicator(entry["type"], entry["value"], tlp=tlp, confidence=NEW_INDICATOR_CONFIDENCE,
                                     description=f"Seen during the incident \"{data['title']}\"",
                                     created_by_ref=org_identity, now=modified)
            for entry in new_indicators
        ]
        store_prepared(principal, prepare_all(built, tlp, False), audience, False)
        data["indicators"] = sorted(set(data["indicators"]) | {obj["id"] for obj in built})
    objects = stix.incident_objects(data, stix_id=incident_id, created=created, modified=modified, tlp=tlp)
    return store_prepared(principal, prepare_all(objects, tlp, False), audience, False)


def file_incident(principal: Principal, body: dict) -> Incident:
    if not principal.can_share:
        raise Forbidden("viewers cannot file incident reports")
    data = validate_report(body, _timezone_of(principal))
    tlp = _parse_tlp(body.get("tlp"))
    audience = resolve_audience(principal, body.get("audience") or default_audience_spec(principal))
    confirmed = check_personal_data(
        principal, {"title": data["title"], "narrative": data["narrative"]}, body.get("confirm_personal_data") is True)
    _check_indicators(principal, data["indicators"])

    now = _utcnow()
    stix_id = f"incident--{uuid.uuid4()}"
    try:
        items = _store_revision(principal, stix_id, data, tlp, audience, now, now)
        incident_item = next(item for item in items if item.stix_id == stix_id)
        incident = Incident(
            stix_id=stix_id, item_id=incident_item.id, owner_org_id=principal.org_id,
            author_id=principal.user_id, title=data["title"], attack_type=data["attack_type"],
            detected_at=datetime.fromisoformat(data["detected_at"]), significant=data["significant"],
            aware_at=datetime.fromisoformat(data["detected_at"]) if data["significant"] else None,
            revision_count=1, created=now, updated=now,
        )
        db.session.add(incident)
        db.session.flush()
        db.session.add_all(IncidentItem(incident_id=incident.id, item_id=item.id) for item in items)
        db.session.add(IncidentRevision(incident_id=incident.id, number=1, author_id=principal.user_id,
                                        created=now, data=orjson.dumps(data).decode(),
                                        personal_data_confirmed=confirmed))
        audit.record("incident_filed", principal, item=incident_item, significant=data["significant"])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return incident


def _own_incident(principal: Principal, stix_id: str) -> Incident:
    """The caller's organisation's incident (404 otherwise, whatever else the caller may read)."""
    incident = db.session.scalar(
        select(Incident).where(Incident.stix_id == stix_id, Incident.owner_org_id == principal.org_id)
    )
    if incident is None:
        raise NotFound(f"no incident {stix_id}")
    return incident


def _current_audience(item: SharedItem) -> Audience:
    return Audience(
        community=item.audience_community,
        group_ids=frozenset(g.group_id for g in item.grants if g.group_id),
        org_ids=frozenset(g.org_id for g in item.grants if g.org_id),
        user_ids=frozenset(g.user_id for g in item.grants if g.user_id),
    )


def update_incident(principal: Principal, stix_id: str, body: dict) -> Incident:
    """A new revision: new versions of the same STIX objects; the audience only ever widens."""
    incident = _own_incident(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot update incident reports")
    data = validate_report(body, _timezone_of(principal))
    item = incident.item
    if body.get("tlp") is not None and _parse_tlp(body["tlp"]) != item.tlp:
        raise ValidationFailed("invalid tlp", [{"field": "tlp", "value": body["tlp"],
                                                "error": f"the report is {item.tlp.label}; its TLP cannot change"}])
    audience = _current_audience(item)
    if body.get("audience") is not None:
        wider = resolve_audience(principal, body["audience"])
        audience = Audience(community=audience.community or wider.community,
                            group_ids=audience.group_ids | wider.group_ids,
                            org_ids=audience.org_ids | wider.org_ids,
                            user_ids=audience.user_ids | wider.user_ids)
    confirmed = check_personal_data(
        principal, {"title": data["title"], "narrative": data["narrative"]}, body.get("confirm_personal_data") is True)
    _check_indicators(principal, data["indicators"])

    # NIS2 significance, once marked, stays: a revision cannot silently stop the clocks.
    data["significant"] = data["significant"] or incident.significant
    now = _utcnow()
    # STIX timestamps here have millisecond precision: the new version must be a later one.
    now_ms_us = int(now.timestamp() * 1000) * 1000
    modified = _EPOCH + timedelta(microseconds=max(now_ms_us, item.latest_version.modified_us + 1000))
    try:
        items = _store_revision(principal, stix_id, data, item.tlp, audience, incident.created, modified)
        known = set(db.session.scalars(select(IncidentItem.item_id).where(IncidentItem.incident_id == incident.id)))
        db.session.add_all(IncidentItem(incident_id=incident.id, item_id=i.id) for i in items if i.id not in known)
        incident.revision_count += 1
        incident.title = data["title"]
        incident.attack_type = data["attack_type"]
        incident.detected_at = datetime.fromisoformat(data["detected_at"])
        incident.updated = now
        if data["significant"] and not incident.significant:
            incident.significant = True
            incident.aware_at = incident.detected_at
        db.session.add(IncidentRevision(incident_id=incident.id, number=incident.revision_count,
                                        author_id=principal.user_id, created=now,
                                        data=orjson.dumps(data).decode(), personal_data_confirmed=confirmed))
        audit.record("incident_updated", principal, item=item, revision=incident.revision_count)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _revoke_dropped(principal, incident, {i.stix_id for i in items})
    return incident


def _revoke_dropped(principal: Principal, incident: Incident, current: set[str]) -> None:
    """Objects the new revision no longer contains (a withdrawn attribution) are revoked, so
    that everyone who received them is told to stop relying on them."""
    from hub.intel import manage

    dropped = db.session.scalars(
        select(SharedItem.stix_id).join(IncidentItem, IncidentItem.item_id == SharedItem.id).where(
            IncidentItem.incident_id == incident.id, SharedItem.revoked.is_(False),
            SharedItem.stix_id.not_in(current))
    ).all()
    for stix_id in dropped:
        manage.revoke(principal, stix_id, reason="no longer part of the incident report")


# --- reading -----------------------------------------------------------------------------------

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
    raw = f"{incident.created.astimezone(timezone.utc).isoformat()}|{incident.stix_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, stix_id = raw.split("|", 1)
        return datetime.fromisoformat(created), stix_id
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("invalid cursor", [{"field": "cursor", "value": cursor,
                                                   "error": "use the `next` value of a previous page"}]) from None


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
    if incident.owner_org_id != principal.org_id:
        audit.record("incident_read", principal, subject_org_id=incident.owner_org_id,
                     item=incident.item, channel=channel, reader_kind=principal.org_kind.value)
        db.session.commit()
    return incident


def latest_data(incident: Incident) -> dict:
    return orjson.loads(incident.revisions[-1].data)


def visible_report(principal: Principal, data: dict) -> dict:
    """A revision's data as this reader may see it: links only to indicators it may read (rule 7)."""
    return {**data, "indicators": sorted(_readable_indicator_ids(principal, data.get("indicators") or []))}


def revision_data(principal: Principal, stix_id: str, number: int) -> dict:
    incident = get_incident(principal, stix_id)
    for revision in incident.revisions:
        if revision.number == number:
            return visible_report(principal, orjson.loads(revision.data))
    raise NotFound(f"no revision {number}")


def record_incident_reads(principal: Principal, incidents, channel: str) -> None:
    """Lists show report contents too: reads by other organisations go to the owners' audit logs."""
    others = [incident for incident in incidents if incident.owner_org_id != principal.org_id]
    for incident in others:
        audit.record("incident_read", principal, subject_org_id=incident.owner_org_id, item=incident.item,
                     channel=channel, reader_kind=principal.org_kind.value)
    if others:
        db.session.commit()


def _sees_clocks(principal: Principal, incident: Incident) -> bool:
    return principal.org_id == incident.owner_org_id or (
        principal.org_kind == OrgKind.national_cert and principal.country == incident.owner.country)


def nis2_clocks(incident: Incident, now: datetime | None = None) -> list[dict]:
    if not incident.significant or incident.aware_at is None:
        return []
    tz = incident.owner.timezone
    submitted = _first_submissions(incident)
    due = nis2.deadlines(
        as_utc(incident.aware_at),
        tz,
        notification_submitted_at=submitted.get(nis2.Stage.notification),
        intermediate_due_at=as_utc(incident.intermediate_due_at),
    )
    return [
        {"stage": status.stage.value, "due_at": status.due_at.isoformat(),
         "due_local": nis2.format_local(status.due_at, tz), "state": status.state,
         "submitted_at": status.submitted_at.isoformat() if status.submitted_at else None}
        for status in nis2.clock_status(due, submitted, now or _utcnow())
    ]


def _first_submissions(incident: Incident) -> dict:
    first: dict = {}
    for submission in db.session.scalars(
        select(NisSubmission).where(NisSubmission.incident_id == incident.id).order_by(NisSubmission.submitted_at)
    ):
        first.setdefault(nis2.Stage(submission.stage), as_utc(submission.submitted_at))
    return first


def incident_view(principal: Principal, incident: Incident) -> dict:
    """What the reader may see of a readable incident, as JSON."""
    data = latest_data(incident)
    owner_view = principal.org_id == incident.owner_org_id
    view = {
        "id": incident.stix_id,
        "title": incident.title,
        "owner": incident.owner.slug,
        "owner_country": incident.owner.country,
        "tlp": incident.item.tlp.value,
        "attack_type": incident.attack_type,
        "significant": incident.significant,
        "revision": incident.revision_count,
        "created": incident.created.isoformat(),
        "updated": incident.updated.isoformat(),
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
        ] if _sees_clocks(principal, incident) else [],
    }
    if _sees_clocks(principal, incident):
        view["nis2"] = nis2_clocks(incident)
    if principal.org_kind == OrgKind.law_enforcement:
        view["case"] = db.session.scalar(select(LawEnforcementCase.public_id).where(
            LawEnforcementCase.incident_id == incident.id, LawEnforcementCase.org_id == principal.org_id,
            LawEnforcementCase.consent_active))
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
    from hub.intel.reads import stix_object

    incident = get_incident(principal, stix_id, channel="stix-export")
    items = db.session.scalars(
        select(SharedItem).join(IncidentItem, IncidentItem.item_id == SharedItem.id)
        .where(IncidentItem.incident_id == incident.id, policy.readable_items(principal))
        .order_by(SharedItem.id)
    ).all()
    objects = [stix_object(item) for item in items]
    data = latest_data(incident)
    links = sorted(_readable_indicator_ids(principal, data["indicators"]))
    tlp = incident.item.tlp
    objects += stix.indicator_relationships(stix_id, links, created=incident.created, tlp=tlp)
    if links:
        hospital = stix.organisation_identity(incident.owner)
        seen = datetime.fromisoformat(data.get("started_at") or data["detected_at"])
        objects += [hospital, *stix.indicator_sightings(stix_id, links, where_sighted_ref=hospital["id"],
                                                        first_seen=seen, created=incident.created, tlp=tlp)]
    return stix.export_bundle(objects, schema_url)


# --- NIS2 ----------------------------------------------------------------------------------------

def mark_significant(principal: Principal, stix_id: str, aware_at: str | None = None) -> Incident:
    incident = _own_incident(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot change incident reports")
    problems: list = []
    when = _parse_instant(aware_at, "aware_at", problems, tz=_timezone_of(principal)) if aware_at else None
    if problems:
        raise ValidationFailed("invalid aware_at", problems)
    incident.significant = True
    incident.aware_at = datetime.fromisoformat(when) if when else incident.detected_at
    audit.record("nis2_significant", principal, item=incident.item, aware_at=incident.aware_at.isoformat())
    db.session.commit()
    return incident


def submit_nis_report(principal: Principal, stix_id: str, stage: str) -> NisSubmission:
    """Submit one NIS2 report: a snapshot of the current revision, kept unchanged."""
    incident = _own_incident(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot submit reports")
    try:
        stage_value = nis2.Stage(stage)
    except ValueError:
        raise ValidationFailed("invalid stage", [{"field": "stage", "value": stage,
                                                  "error": "one of " + ", ".join(s.value for s in nis2.Stage)}]) from None
    if not incident.significant:
        raise ValidationFailed("not a significant incident", [{"field": "significant",
                                                              "error": "mark the incident significant (NIS2) first"}])
    now = _utcnow()
    revision = incident.revisions[-1]
    owner: Organisation = incident.owner
    submitter = db.session.get(User, principal.user_id)
    snapshot = {
        "stage": stage_value.value,
        "incident": incident.stix_id,
        "organisation": {"slug": owner.slug, "name": owner.name, "country": owner.country},
        "submitted_at": now.isoformat(),
        "submitted_by": submitter.email,
        "aware_at": incident.aware_at.isoformat() if incident.aware_at else None,
        "revision": revision.number,
        "report": orjson.loads(revision.data),
        "clocks": nis2_clocks(incident, now),
    }
    submission = NisSubmission(incident_id=incident.id, stage=stage_value.value, submitted_by_id=principal.user_id,
                               submitted_at=now, revision_number=revision.number,
                               snapshot=orjson.dumps(snapshot).decode())
    db.session.add(submission)
    audit.record("nis2_submitted", principal, item=incident.item, stage=stage_value.value)
    db.session.commit()
    return submission


def submission_snapshot(principal: Principal, stix_id: str, public_id: str) -> dict:
    """A submitted report as this reader may see it (the stored snapshot never changes)."""
    snapshot = orjson.loads(get_submission(principal, stix_id, public_id).snapshot)
    return {**snapshot, "report": visible_report(principal, snapshot["report"])}


def get_submission(principal: Principal, stix_id: str, public_id: str) -> NisSubmission:
    incident = get_incident(principal, stix_id)
    submission = db.session.scalar(select(NisSubmission).where(
        NisSubmission.public_id == public_id, NisSubmission.incident_id == incident.id))
    if submission is None or not _sees_clocks(principal, incident):
        raise NotFound(f"no submission {public_id}")
    return submission


def submissions(principal: Principal, incident: Incident) -> list[NisSubmission]:
    if not _sees_clocks(principal, incident):
        return []
    return db.session.scalars(select(NisSubmission).where(NisSubmission.incident_id == incident.id)
                              .order_by(NisSubmission.submitted_at)).all()


def _cert_reading(principal: Principal, stix_id: str) -> Incident:
    incident = get_incident(principal, stix_id)  # 404 first: unreadable looks absent
    if principal.org_kind != OrgKind.national_cert:
        raise Forbidden("only a national CERT does this")
    if incident.owner.country != principal.country:
        raise Forbidden("only the national CERT of the hospital's country does this")
    return incident


def request_intermediate(principal: Principal, stix_id: str, due_at: str) -> Incident:
    incident = _cert_reading(principal, stix_id)
    problems: list = []
    when = _parse_instant(due_at, "due_at", problems, required=True, tz=_timezone_of(principal))
    if problems:
        raise ValidationFailed("invalid due_at", problems)
    incident.intermediate_due_at = datetime.fromisoformat(when)
    audit.record("nis2_intermediate_requested", principal, subject_org_id=incident.owner_org_id,
                 item=incident.item, due_at=when)
    db.session.commit()
    return incident


def give_advice(principal: Principal, stix_id: str, body: str, kind: str = "involve_law_enforcement") -> IncidentAdvice:
    """NIS2 Art. 23(5): the CSIRT advises the hospital, e.g. to report to law enforcement."""
    incident = _cert_reading(principal, stix_id)
    if kind not in ("involve_law_enforcement", "general"):
        raise ValidationFailed("invalid kind", [{"field": "kind", "value": kind, "error": "involve_law_enforcement or general"}])
    if not isinstance(body, str) or len(body) > 5000:
        raise ValidationFailed("invalid body", [{"field": "body", "error": "text of at most 5,000 characters"}])
    advice = IncidentAdvice(incident_id=incident.id, org_id=principal.org_id, author_id=principal.user_id,
                            kind=kind, body=body.strip())
    db.session.add(advice)
    audit.record("incident_advice", principal, subject_org_id=incident.owner_org_id, item=incident.item, kind=kind)
    db.session.commit()
    return advice


def nis_queue(principal: Principal) -> list[tuple[Incident, list[dict]]]:
    """A national CERT's queue: significant incidents of its country that it may read, by next due."""
    if principal.org_kind != OrgKind.national_cert:
        raise Forbidden("the NIS2 queue is for national CERTs")
    incidents = db.session.scalars(
        readable_incidents(principal)
        .join(Organisation, Organisation.id == Incident.owner_org_id)
        .where(Incident.significant, Organisation.country == principal.country)
    ).all()
    rows = [(incident, nis2_clocks(incident)) for incident in incidents]

    def next_due(row):
        open_clocks = [c["due_at"] for c in row[1] if not c["submitted_at"]]
        return (0, min(open_clocks)) if open_clocks else (1, "")

    return sorted(rows, key=next_due)
