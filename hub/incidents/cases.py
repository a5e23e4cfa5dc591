"""Law-enforcement consent and case review.

A hospital admin consents, per incident, to one law-enforcement organisation; that opens (or
reopens) a case the liaison works through received → under review → investigation opened |
declined → closed. The liaison sees the incident and the case only while consent is active
(rule 6: hub/policy.py decides, for the STIX items and for the case), and every view by
law enforcement lands in the hospital's audit log.
"""
from __future__ import annotations

from sqlalchemy import select

from hub import audit, policy
from hub.accounts.models import Organisation
from hub.outbox import Event, announce
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.extensions import db
from hub.incidents.clocks import utcnow
from hub.incidents.filing import check_personal_data
from hub.incidents.models import CaseMessage, CaseStatus, Incident, LawEnforcementCase
from hub.incidents.notify import notify, team_of
from hub.incidents.reading import incident_view, own_incident
from hub.principal import Principal

# Where a case may go next; only the law-enforcement organisation moves it.
TRANSITIONS = {
    CaseStatus.received: {CaseStatus.under_review},
    CaseStatus.under_review: {CaseStatus.investigation_opened, CaseStatus.declined},
    CaseStatus.investigation_opened: {CaseStatus.closed},
    CaseStatus.declined: {CaseStatus.closed},
    CaseStatus.closed: set(),
}
MESSAGE_KINDS = ("message", "info_request")
MAX_MESSAGE = 10000


def _law_enforcement_org(slug: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None or not policy.may_receive_consent(org):
        raise ValidationFailed("not a law-enforcement organisation", [
            {"field": "org", "value": slug, "error": "the slug of a law-enforcement member organisation"}])
    return org


def _admin_incident(principal: Principal, stix_id: str) -> Incident:
    incident = own_incident(principal, stix_id)
    if not policy.manages_consents(principal, incident):
        raise Forbidden("only an admin of the hospital grants or revokes consent")
    return incident


def grant_consent(principal: Principal, stix_id: str, org_slug: str) -> LawEnforcementCase:
    incident = _admin_incident(principal, stix_id)
    org = _law_enforcement_org(org_slug)
    case = db.session.scalar(select(LawEnforcementCase).where(
        LawEnforcementCase.incident_id == incident.id, LawEnforcementCase.org_id == org.id))
    now = utcnow()
    if case is None:
        case = LawEnforcementCase(incident_id=incident.id, org_id=org.id, granted_by_id=principal.user_id,
                                  granted_at=now, status=CaseStatus.received, status_changed_at=now)
        db.session.add(case)
    elif case.consent_active:
        return case
    else:
        case.consent_active = True
        case.granted_by_id, case.granted_at = principal.user_id, now
        case.revoked_by_id, case.revoked_at = None, None
    db.session.flush()
    # The liaison may now read the report: announced like any widening of an audience.
    announce(Event.widened, incident.item_id, incident.item.latest_version_id, actor_id=principal.user_id)
    notify(incident, "case_opened", team_of(org.id))
    audit.record("consent_granted", principal, item=incident.item, org=org.slug, case=case.public_id)
    db.session.commit()
    return case


def revoke_consent(principal: Principal, stix_id: str, org_slug: str) -> LawEnforcementCase:
    incident = _admin_incident(principal, stix_id)
    org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    case = org and db.session.scalar(select(LawEnforcementCase).where(
        LawEnforcementCase.incident_id == incident.id, LawEnforcementCase.org_id == org.id))
    if not case:
        raise NotFound(f"no consent for {org_slug}")
    if case.consent_active:
        case.consent_active = False
        case.revoked_by_id, case.revoked_at = principal.user_id, utcnow()
        audit.record("consent_revoked", principal, item=incident.item, org=org.slug, case=case.public_id)
        db.session.commit()
    return case


def case_queue(principal: Principal, status: str | None = None) -> list[LawEnforcementCase]:
    """A law-enforcement organisation's cases, while their consent is active."""
    if not policy.is_law_enforcement(principal):
        raise Forbidden("the case queue is for law-enforcement organisations")
    query = select(LawEnforcementCase).where(policy.liaison_cases(principal))
    if status:
        try:
            query = query.where(LawEnforcementCase.status == CaseStatus(status))
        except ValueError:
            raise ValidationFailed("invalid status", [{"field": "status", "value": status,
                                                       "error": "one of " + ", ".join(s.value for s in CaseStatus)}]) from None
    return db.session.scalars(query.order_by(LawEnforcementCase.granted_at.desc(), LawEnforcementCase.id.desc())).all()


def get_case(principal: Principal, public_id: str, *, audit_view: bool = True) -> LawEnforcementCase:
    """The case for its law-enforcement organisation (while consent is active) or for the
    hospital's own members; anyone else gets 404."""
    case = db.session.scalar(select(LawEnforcementCase).where(LawEnforcementCase.public_id == public_id))
    if case is None:
        raise NotFound(f"no case {public_id}")
    if not policy.can_read_case(principal, case):
        raise NotFound(f"no case {public_id}")
    if audit_view and policy.is_case_liaison(principal, case):
        audit.record("case_read", principal, subject_org_id=case.incident.owner_org_id,
                     item=case.incident.item, case=case.public_id)
        db.session.commit()
    return case


def set_case_status(principal: Principal, public_id: str, status: str) -> LawEnforcementCase:
    case = get_case(principal, public_id, audit_view=False)
    if not policy.is_case_law_enforcement(principal, case):
        raise Forbidden("only the law-enforcement organisation moves its case")
    if not principal.can_share:
        raise Forbidden("viewers cannot change a case")
    try:
        target = CaseStatus(status)
    except ValueError:
        raise ValidationFailed("invalid status", [{"field": "status", "value": status,
                                                   "error": "one of " + ", ".join(s.value for s in CaseStatus)}]) from None
    if target not in TRANSITIONS[case.status]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[case.status])) or "nothing (closed)"
        raise ValidationFailed("illegal status change", [{"field": "status", "value": status,
                                                          "error": f"from {case.status.value} the case may go to {allowed}"}])
    case.status, case.status_changed_at = target, utcnow()
    notify(case.incident, "case_status", team_of(case.incident.owner_org_id))
    audit.record("case_status", principal, subject_org_id=case.incident.owner_org_id,
                 item=case.incident.item, case=case.public_id, status=target.value)
    db.session.commit()
    return case


def post_message(principal: Principal, public_id: str, body, kind: str = "message",
                 confirm_personal_data: bool = False) -> CaseMessage:
    case = get_case(principal, public_id, audit_view=False)
    if not principal.can_share:
        raise Forbidden("viewers cannot write on a case")
    if kind not in MESSAGE_KINDS:
        raise ValidationFailed("invalid kind", [{"field": "kind", "value": kind, "error": "message or info_request"}])
    if kind == "info_request" and not policy.is_case_law_enforcement(principal, case):
        raise ValidationFailed("invalid kind", [{"field": "kind", "error": "only the liaison requests information"}])
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_MESSAGE:
        raise ValidationFailed("invalid body", [{"field": "body", "error": f"text of 1 to {MAX_MESSAGE:,} characters"}])
    confirmed = False
    if policy.is_owner_org(principal, case.incident):
        # What the hospital writes leaves the hospital: checked for patient data first.
        confirmed = check_personal_data(principal, {"body": body}, confirm_personal_data)
    message = CaseMessage(case_id=case.id, author_id=principal.user_id, author_org_id=principal.org_id,
                          kind=kind, body=body.strip(), personal_data_confirmed=confirmed)
    db.session.add(message)
    # The other side's bell rings: the liaison's team, or the hospital's.
    other_org = case.org_id if policy.is_owner_org(principal, case.incident) else case.incident.owner_org_id
    notify(case.incident, "case_message", team_of(other_org))
    audit.record("case_message", principal, subject_org_id=case.incident.owner_org_id,
                 item=case.incident.item, case=case.public_id, kind=kind)
    db.session.commit()
    return message


def case_messages(principal: Principal, public_id: str) -> list[CaseMessage]:
    case = get_case(principal, public_id)
    return db.session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.id)).all()


def case_view(principal: Principal, case: LawEnforcementCase) -> dict:
    return {
        "id": case.public_id,
        "status": case.status.value,
        "status_changed_at": case.status_changed_at.isoformat(),
        "granted_at": case.granted_at.isoformat(),
        "consent_active": case.consent_active,
        "org": case.org.slug,
        "incident": incident_view(principal, case.incident),
        "allowed_next": sorted(s.value for s in TRANSITIONS[case.status]),
    }


def message_view(message: CaseMessage) -> dict:
    return {"id": message.id, "kind": message.kind, "body": message.body,
            "author": message.author.email, "org": message.author.org.slug,
            "created": message.created.isoformat()}
