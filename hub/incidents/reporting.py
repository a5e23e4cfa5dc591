"""NIS2 reporting: marking an incident significant, submitting its reports, and the national
CERT's side (its queue, requesting an intermediate report, advice under Art. 23(5)).

Each submission keeps an unchanged snapshot of the report as it was submitted.
"""
from __future__ import annotations

from datetime import datetime

import orjson
import pytz
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub import audit, policy
from hub.accounts.models import Organisation, User
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.extensions import db
from hub.incidents import nis2
from hub.incidents.clocks import nis2_clocks, org_timezone, parse_instant, utcnow
from hub.incidents.models import Incident, IncidentAdvice, NisSubmission
from hub.outbox import SUBMITTED_EVENTS, Event, announce
from hub.incidents.reading import (get_incident, own_incident, readable_incidents, record_incident_reads,
                                   visible_report)
from hub.principal import Principal

# NIS2 Art. 23(4)(a): the early warning says whether the incident is suspected to be caused by
# unlawful or malicious acts and whether it could have a cross-border impact.
ANSWERS = ("yes", "no", "unknown")
MAX_COUNTRIES = 30


def national_certs(principal: Principal) -> list[str]:
    """The names of the national CERTs a hospital's NIS2 reports go to (those of its country)."""
    return list(db.session.scalars(select(Organisation.name).where(
        policy.default_incident_audience_orgs(principal)).order_by(Organisation.name)))


def _answer(value, field: str, problems: list) -> str:
    if value in (None, ""):
        return "unknown"
    if value not in ANSWERS:
        problems.append({"field": field, "value": value, "error": "yes, no or unknown"})
    return value


def _countries(value, cross_border: str, problems: list) -> list[str]:
    """ISO 3166-1 alpha-2 codes, upper case, each once; only with a possible cross-border impact."""
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        value = [code for code in value.replace(";", ",").replace(" ", ",").split(",") if code]
    if not isinstance(value, list) or len(value) > MAX_COUNTRIES:
        problems.append({"field": "cross_border_countries",
                         "error": f"a list of at most {MAX_COUNTRIES} ISO 3166 country codes, e.g. [\"AT\", \"SK\"]"})
        return []
    codes: list[str] = []
    for index, code in enumerate(value):
        if not isinstance(code, str) or code.upper() not in pytz.country_names:
            problems.append({"field": f"cross_border_countries[{index}]", "value": code,
                             "error": "an ISO 3166 two-letter country code, e.g. AT"})
        elif code.upper() not in codes:
            codes.append(code.upper())
    if codes and cross_border != "yes":
        problems.append({"field": "cross_border_countries",
                         "error": "countries are named only when cross_border_impact is yes"})
    return codes


def art_23_4_a(suspected_malicious=None, cross_border_impact=None, cross_border_countries=None) -> dict:
    """The Art. 23(4)(a) answers, checked; absent answers are "unknown" (ValidationFailed lists every
    wrong field)."""
    problems: list = []
    malicious = _answer(suspected_malicious, "suspected_malicious", problems)
    cross_border = _answer(cross_border_impact, "cross_border_impact", problems)
    countries = _countries(cross_border_countries, cross_border, problems)
    if problems:
        raise ValidationFailed("invalid NIS2 Art. 23(4)(a) answers", problems)
    return {"suspected_malicious": malicious, "cross_border_impact": cross_border,
            "cross_border_countries": countries}


def mark_significant(principal: Principal, stix_id: str, aware_at: str | None = None) -> Incident:
    """Start the NIS2 clocks, from `aware_at` or else from detection."""
    incident = own_incident(principal, stix_id)
    if not principal.can_share:
        raise Forbidden("viewers cannot change incident reports")
    problems: list = []
    when = parse_instant(aware_at, "aware_at", problems, tz=org_timezone(principal)) if aware_at else None
    if problems:
        raise ValidationFailed("invalid aware_at", problems)
    newly = not incident.significant
    incident.significant = True
    incident.aware_at = datetime.fromisoformat(when) if when else incident.detected_at
    if newly:  # the national CERT of the country hears of it (alerts: default rules)
        announce(Event.incident_significant, incident.item_id, incident.item.latest_version_id,
                 actor_id=principal.user_id)
    audit.record("nis2_significant", principal, item=incident.item, aware_at=incident.aware_at.isoformat())
    db.session.commit()
    return incident


def submittable(principal: Principal, stix_id: str, stage: str) -> tuple[Incident, nis2.Stage]:
    """The caller's significant incident and the NIS2 stage it may submit (or why not)."""
    incident = own_incident(principal, stix_id)
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
    return incident, stage_value


def submit_nis_report(principal: Principal, stix_id: str, stage: str, *, suspected_malicious=None,
                      cross_border_impact=None, cross_border_countries=None,
                      request_key: str | None = None) -> NisSubmission:
    """Submit one NIS2 report: a snapshot of the current revision, kept unchanged, with the
    Art. 23(4)(a) answers. The same `request_key` sent again (a double click, a retried request)
    returns the submission it already made instead of a second one."""
    incident, stage_value = submittable(principal, stix_id, stage)
    if request_key is not None and (not isinstance(request_key, str) or not 8 <= len(request_key) <= 64):
        raise ValidationFailed("invalid request_key", [{"field": "request_key",
                                                        "error": "a client-chosen key of 8 to 64 characters"}])
    answers = art_23_4_a(suspected_malicious, cross_border_impact, cross_border_countries)
    if request_key:
        earlier = db.session.scalar(select(NisSubmission).where(NisSubmission.request_key == request_key))
        if earlier is not None:
            if earlier.incident_id != incident.id or earlier.stage != stage_value.value:
                raise ValidationFailed("request_key already used", [{"field": "request_key",
                                                                    "error": "already used for another submission"}])
            return earlier
    now = utcnow()
    revision = incident.revisions[-1]
    owner: Organisation = incident.owner
    submitter = db.session.get(User, principal.user_id)
    snapshot = {
        "stage": stage_value.value,
        "incident": incident.stix_id,
        "organisation": {"slug": owner.slug, "name": owner.name, "country": owner.country},
        "tlp": incident.item.tlp.value,
        "submitted_at": now.isoformat(),
        "submitted_by": submitter.email,
        "aware_at": incident.aware_at.isoformat() if incident.aware_at else None,
        "revision": revision.number,
        "report": orjson.loads(revision.data),
        "art_23_4_a": answers,
        "clocks": nis2_clocks(incident, now),
    }
    submission = NisSubmission(incident_id=incident.id, stage=stage_value.value, submitted_by_id=principal.user_id,
                               submitted_at=now, revision_number=revision.number,
                               snapshot=orjson.dumps(snapshot).decode(),
                               suspected_malicious=answers["suspected_malicious"],
                               cross_border_impact=answers["cross_border_impact"],
                               cross_border_countries=orjson.dumps(answers["cross_border_countries"]).decode(),
                               request_key=request_key or None)
    db.session.add(submission)
    announce(SUBMITTED_EVENTS[stage_value.value], incident.item_id, incident.item.latest_version_id,
             actor_id=principal.user_id)
    audit.record("nis2_submitted", principal, item=incident.item, stage=stage_value.value)
    try:
        db.session.commit()
    except IntegrityError:
        # The same key sent twice at once: the other request stored it first.
        db.session.rollback()
        earlier = db.session.scalar(select(NisSubmission).where(NisSubmission.request_key == request_key))
        if request_key and earlier is not None:
            return earlier
        raise
    return submission


def submission_answers(submission: NisSubmission) -> dict:
    """The Art. 23(4)(a) answers a submission carried."""
    return {"suspected_malicious": submission.suspected_malicious or "unknown",
            "cross_border_impact": submission.cross_border_impact or "unknown",
            "cross_border_countries": orjson.loads(submission.cross_border_countries or "[]")}


def submission_snapshot(principal: Principal, stix_id: str, public_id: str) -> dict:
    """A submitted report as this reader may see it (the stored snapshot never changes)."""
    submission = get_submission(principal, stix_id, public_id)
    snapshot = orjson.loads(submission.snapshot)
    # Snapshots taken before these were kept: the answers from their columns, the current TLP.
    snapshot.setdefault("art_23_4_a", submission_answers(submission))
    snapshot.setdefault("tlp", get_incident(principal, stix_id).item.tlp.value)
    return {**snapshot, "report": visible_report(principal, snapshot["report"])}


def get_submission(principal: Principal, stix_id: str, public_id: str) -> NisSubmission:
    """A submission of a readable incident, for those who follow its NIS2 reporting (else 404)."""
    incident = get_incident(principal, stix_id)
    submission = db.session.scalar(select(NisSubmission).where(
        NisSubmission.public_id == public_id, NisSubmission.incident_id == incident.id))
    if submission is None or not policy.follows_nis2_reporting(principal, incident):
        raise NotFound(f"no submission {public_id}")
    return submission


def submissions(principal: Principal, incident: Incident) -> list[NisSubmission]:
    """The incident's NIS2 submissions, oldest first; none for those who do not follow its reporting."""
    if not policy.follows_nis2_reporting(principal, incident):
        return []
    return db.session.scalars(select(NisSubmission).where(NisSubmission.incident_id == incident.id)
                              .order_by(NisSubmission.submitted_at)).all()


def _cert_acting(principal: Principal, stix_id: str) -> Incident:
    """The incident a national CERT's analyst or admin acts on (viewers read, nothing else)."""
    incident = get_incident(principal, stix_id)  # 404 first: unreadable looks absent
    if not policy.is_national_cert(principal):
        raise Forbidden("only a national CERT does this")
    if not principal.can_share:
        raise Forbidden("viewers read only: an analyst or admin of the CERT does this")
    if not policy.is_national_cert_of(principal, incident):
        raise Forbidden("only the national CERT of the hospital's country does this")
    return incident


def request_intermediate(principal: Principal, stix_id: str, due_at: str) -> Incident:
    """The national CERT asks for an intermediate report by `due_at` (NIS2 Art. 23(4)(c))."""
    incident = _cert_acting(principal, stix_id)
    problems: list = []
    when = parse_instant(due_at, "due_at", problems, required=True, tz=org_timezone(principal))
    if problems:
        raise ValidationFailed("invalid due_at", problems)
    incident.intermediate_due_at = datetime.fromisoformat(when)
    announce(Event.intermediate_asked, incident.item_id, incident.item.latest_version_id, actor_id=principal.user_id)
    audit.record("nis2_intermediate_requested", principal, subject_org_id=incident.owner_org_id,
                 item=incident.item, due_at=when)
    db.session.commit()
    return incident


def give_advice(principal: Principal, stix_id: str, body: str, kind: str = "involve_law_enforcement") -> IncidentAdvice:
    """NIS2 Art. 23(5): the CSIRT advises the hospital, e.g. to report to law enforcement."""
    incident = _cert_acting(principal, stix_id)
    if kind not in ("involve_law_enforcement", "general"):
        raise ValidationFailed("invalid kind", [{"field": "kind", "value": kind, "error": "involve_law_enforcement or general"}])
    if not isinstance(body, str) or not body.strip() or len(body) > 5000:
        raise ValidationFailed("invalid body", [{"field": "body", "error": "the advice itself: text of 1 to 5,000 characters"}])
    advice = IncidentAdvice(incident_id=incident.id, org_id=principal.org_id, author_id=principal.user_id,
                            kind=kind, body=body.strip())
    db.session.add(advice)
    announce(Event.advice_given, incident.item_id, incident.item.latest_version_id, actor_id=principal.user_id)
    audit.record("incident_advice", principal, subject_org_id=incident.owner_org_id, item=incident.item, kind=kind)
    db.session.commit()
    return advice


def nis_queue(principal: Principal, channel: str = "api") -> list[tuple[Incident, list[dict]]]:
    """A national CERT's queue: significant incidents of its country that it may read, by next due.
    The queue shows the reports' titles and clocks: each read lands in the owner's audit log."""
    if not policy.is_national_cert(principal):
        raise Forbidden("the NIS2 queue is for national CERTs")
    incidents = db.session.scalars(
        readable_incidents(principal).where(policy.nis2_queue_incidents(principal))
    ).all()
    record_incident_reads(principal, incidents, channel)
    rows = [(incident, nis2_clocks(incident)) for incident in incidents]

    def next_due(row):
        open_clocks = [c["due_at"] for c in row[1] if not c["submitted_at"]]
        return (0, min(open_clocks)) if open_clocks else (1, "")

    return sorted(rows, key=next_due)
