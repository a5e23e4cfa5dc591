"""Filing and revising incident reports.

A report is validated as a whole (one error lists every problem), checked for patient data, and
its STIX objects go through the intel store's ingest (validation, versions, audience grants,
outbox, audit) in the same transaction as the hospital-side rows.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import orjson
from sqlalchemy import select

from hub import audit, bounds, policy
from hub.accounts.models import Organisation
from hub.db import canonical_stix_id
from hub.errors import Forbidden, ValidationFailed
from hub.extensions import db
from hub.incidents import privacy, stix
from hub.incidents.clocks import org_timezone, parse_instant, utcnow
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES, PATIENT_CARE_DISRUPTED, SERVICES
from hub.incidents.models import Incident, IncidentItem, IncidentRevision
from hub.incidents.reading import own_incident, readable_indicator_ids
from hub.intel import builders, manage, observables
from hub.intel.audience import Audience, resolve_audience
from hub.intel.ingest import prepare_all, store_prepared
from hub.intel.writing import add_audience
from hub.outbox import Event, announce
from hub.intel.models import SharedItem
from hub.tlp import TLP
from hub.principal import Principal

FIELDS = {"title", "started_at", "detected_at", "contained_at", "attack_type", "services", "impact",
          "narrative", "threat_actor", "indicators", "new_indicators", "significant", "tlp", "audience",
          "confirm_personal_data"}
NEW_INDICATOR_CONFIDENCE = 75  # seen by the victim itself; not yet corroborated by others
_IMPACT_KEYS = set(IMPACT_FIGURES) | {"patient_care_disrupted", "ransom_demanded"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# --- validating the report -----------------------------------------------------------------

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
        clean[key] = parse_instant(data.get(key), key, problems, required=key == "detected_at", tz=tz)
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
    clean["indicators"] = sorted({canonical_stix_id(i) for i in indicators})  # as the hub keys them
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
        try:
            clean[key] = bounds.bounded_figure(value, integer=integer)
        except bounds.OutOfBounds:
            problems.append({"field": f"impact.{key}", "value": value,
                             "error": f"{'a whole number' if integer else 'a number'} from 0 to {bounds.MAX_FIGURE:,}"})
    ransom = impact.get("ransom_demanded")
    if ransom is not None:
        amount = ransom.get("amount") if isinstance(ransom, dict) else None
        currency = ransom.get("currency") if isinstance(ransom, dict) else None
        try:
            bounds.bounded_figure(amount, integer=False)
        except bounds.OutOfBounds:
            amount = None
        if amount is None or not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            problems.append({"field": "impact.ransom_demanded",
                             "error": 'an object {"amount": number, "currency": ISO 4217 code, e.g. "EUR"}'})
        else:
            clean["ransom_demanded"] = {"amount": amount, "currency": currency.upper()}
    return clean


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
    if policy.named_users_only(tlp):
        raise ValidationFailed("invalid tlp", [{
            "field": "tlp", "value": value,
            "error": "incident reports cannot be TLP:RED: the national CERT and, with consent, law "
                     "enforcement must be able to read them; use amber+strict"}])
    return tlp


def default_audience_spec(principal: Principal) -> dict | str:
    """Rule 6: a hospital's incident reaches its own organisation and its country's national CERTs."""
    certs = db.session.scalars(
        select(Organisation.slug).where(policy.default_incident_audience_orgs(principal)).order_by(Organisation.slug)
    ).all()
    return {"orgs": list(certs)} if certs else "own"


def _check_indicators(principal: Principal, ids: list[str]) -> None:
    readable = readable_indicator_ids(principal, ids)
    missing = [i for i in ids if i not in readable]
    if missing:
        raise ValidationFailed("unknown indicators", [
            {"field": "indicators", "value": i, "error": "no indicator with this id that you may read"}
            for i in missing])


def report_problems(principal: Principal, body: dict, *, new: bool = True) -> list[dict]:
    """Every problem of a report at once (fields, TLP, patient data, linked indicators), writing
    nothing: a form shows them all after one sending instead of one kind per attempt."""
    problems: list[dict] = []
    data = None
    try:
        data = validate_report({key: value for key, value in body.items() if key in FIELDS - {"tlp", "audience",
                                "confirm_personal_data"}}, org_timezone(principal))
    except ValidationFailed as error:
        problems.extend(error.details)
    if new:
        try:
            _parse_tlp(body.get("tlp"))
        except ValidationFailed as error:
            problems.extend(error.details)
    texts = {key: body.get(key) if isinstance(body.get(key), str) else "" for key in ("title", "narrative")}
    try:
        check_personal_data(principal, texts, body.get("confirm_personal_data") is True)
    except ValidationFailed as error:
        problems.extend(error.details)
    if data is not None:
        try:
            _check_indicators(principal, data["indicators"])
        except ValidationFailed as error:
            problems.extend(error.details)
    return problems


# --- filing and updating ---------------------------------------------------------------------

def _store_revision(principal, incident_id: str, data: dict, tlp: TLP, audience: Audience,
                    created: datetime, modified: datetime) -> list[SharedItem]:
    """Share the revision's STIX objects; returns the items that belong to the incident.

    Indicators first seen in this incident are shared with the report's TLP and audience and
    belong to it like its other objects (rule 6: law enforcement reads them only with consent,
    vendors only when named, never the public view), then linked from the report.
    """
    new_indicators = data.pop("new_indicators", [])
    indicator_items: list[SharedItem] = []
    if new_indicators:
        org_identity = db.session.get(Organisation, principal.org_id).identity_id
        built = [
            builders.build_indicator(entry["type"], entry["value"], tlp=tlp, confidence=NEW_INDICATOR_CONFIDENCE,
                                     description="Observed by the reporting organisation",
                                     created_by_ref=org_identity, now=modified)
            for entry in new_indicators
        ]
        indicator_items = store_prepared(principal, prepare_all(built, tlp, False), audience, False)
        data["indicators"] = sorted(set(data["indicators"]) | {obj["id"] for obj in built})
    objects = stix.incident_objects(data, stix_id=incident_id, created=created, modified=modified, tlp=tlp)
    return store_prepared(principal, prepare_all(objects, tlp, False), audience, False) + indicator_items


def file_incident(principal: Principal, body: dict) -> Incident:
    """File a new report as revision 1; its STIX objects are shared to its audience at its TLP."""
    if not principal.can_share:
        raise Forbidden("viewers cannot file incident reports")
    data = validate_report(body, org_timezone(principal))
    tlp = _parse_tlp(body.get("tlp"))
    audience = resolve_audience(principal, body.get("audience") or default_audience_spec(principal))
    confirmed = check_personal_data(
        principal, {"title": data["title"], "narrative": data["narrative"]}, body.get("confirm_personal_data") is True)
    _check_indicators(principal, data["indicators"])

    now = utcnow()
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
        if incident.significant:  # one sharing act with the report's objects: one alert
            announce(Event.incident_significant, incident_item.id, incident_item.latest_version_id,
                     actor_id=principal.user_id)
        audit.record("incident_filed", principal, item=incident_item, significant=data["significant"])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
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
    incident = own_incident(principal, stix_id)
    stix_id = incident.stix_id  # not the spelling a link used: the ids of its objects derive from it
    if not principal.can_share:
        raise Forbidden("viewers cannot update incident reports")
    data = validate_report(body, org_timezone(principal))
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
    now = utcnow()
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
            announce(Event.incident_significant, item.id, item.latest_version_id, actor_id=principal.user_id)
        db.session.add(IncidentRevision(incident_id=incident.id, number=incident.revision_count,
                                        author_id=principal.user_id, created=now,
                                        data=orjson.dumps(data).decode(), personal_data_confirmed=confirmed))
        audit.record("incident_updated", principal, item=item, revision=incident.revision_count)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _revoke_dropped(principal, incident, {i.stix_id for i in items} | set(data["indicators"]))
    return incident


def _revoke_dropped(principal: Principal, incident: Incident, current: set[str]) -> None:
    """Objects the new revision no longer contains (a withdrawn attribution) are revoked, so
    that everyone who received them is told to stop relying on them."""
    dropped = db.session.scalars(
        select(SharedItem.stix_id).join(IncidentItem, IncidentItem.item_id == SharedItem.id).where(
            IncidentItem.incident_id == incident.id, SharedItem.revoked.is_(False),
            SharedItem.stix_id.not_in(current))
    ).all()
    for stix_id in dropped:
        manage.revoke(principal, stix_id, reason="no longer part of the incident report")


# --- widening, from the incident's page ---------------------------------------------------------

def incident_items(incident: Incident) -> list[SharedItem]:
    """The report and every object filed with it, the report first: they share one audience."""
    items = db.session.scalars(select(SharedItem).join(IncidentItem, IncidentItem.item_id == SharedItem.id)
                               .where(IncidentItem.incident_id == incident.id).order_by(SharedItem.id)).all()
    return sorted(items, key=lambda item: item.id != incident.item_id)


def widen_incident(principal: Principal, stix_id: str, audience: Audience) -> Incident:
    """Add recipients to the report and every object filed with it, as one sharing act; nobody is
    ever removed (rule 10). Each object whose audience grows is announced and audited as widened."""
    incident = own_incident(principal, stix_id)
    if not policy.can_manage(principal, incident.item):
        raise Forbidden("only analysts and admins of the hospital widen its incident reports")
    manage.check_widening(incident.item, audience)
    try:
        for item in incident_items(incident):
            added = add_audience(item, audience)
            if added is not None:
                announce(Event.widened, item.id, item.latest_version_id, actor_id=principal.user_id)
                audit.record("widen", principal, item=item, added=added)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return incident
