"""What an alert says, in words: the one mapping from event to sentence.

The bell, the notification list, the API, e-mail subjects and bodies and the webhook's `title`
all read it from here, so an event code (`early_warning_sent`) never reaches a person.
"""
from __future__ import annotations

# "{what}" is the object ("Indicator “evil.example”", or "incident “Ransomware on ward 3”"),
# "{by}" the acting organisation (" by Hospital Y") or nothing when it may not be named.
EVENT_SENTENCES = {
    "shared": "{What} shared{by}",
    "updated": "{What} updated{by}",
    "revoked": "{What} revoked{by}: stop using it",
    "expired": "{What} expired",
    "widened": "{What} now shared with you{by}",
    "sighted": "Sighting recorded{by}: {what}",
    "case_opened": "Law-enforcement case opened on {what}",
    "case_message": "New message in the law-enforcement case on {what}",
    "case_status": "Law-enforcement case status changed on {what}",
    "nis2_early_warning": "NIS2 early warning due for {what}",
    "nis2_notification": "NIS2 incident notification due for {what}",
    "nis2_intermediate": "NIS2 intermediate report due for {what}",
    "nis2_progress": "NIS2 progress report due for {what}",
    "nis2_final": "NIS2 final report due for {what}",
    "incident_significant": "Significant {what} reported{by}",
    "early_warning_sent": "Early warning submitted for {what}{by}",
    "notification_sent": "Incident notification submitted for {what}{by}",
    "intermediate_sent": "Intermediate report submitted for {what}{by}",
    "progress_sent": "Progress report submitted for {what}{by}",
    "final_report_sent": "Final report submitted for {what}{by}",
    "advice_given": "Advice on {what}{by}",
    "intermediate_asked": "Intermediate report requested for {what}{by}",
}

# Short forms, for a column or a badge beside the sentence.
EVENT_LABELS = {
    "shared": "Shared", "updated": "Updated", "revoked": "Revoked", "expired": "Expired",
    "widened": "Now shared with you", "sighted": "Sighted",
    "case_opened": "Case opened", "case_message": "Case message", "case_status": "Case status",
    "nis2_early_warning": "Early warning due", "nis2_notification": "Notification due",
    "nis2_intermediate": "Intermediate report due", "nis2_progress": "Progress report due",
    "nis2_final": "Final report due",
    "incident_significant": "Significant incident", "early_warning_sent": "Early warning submitted",
    "notification_sent": "Notification submitted", "intermediate_sent": "Intermediate report submitted",
    "progress_sent": "Progress report submitted", "final_report_sent": "Final report submitted",
    "advice_given": "CERT advice", "intermediate_asked": "Intermediate report requested",
}


def event_label(event: str) -> str:
    return EVENT_LABELS.get(event, event.replace("_", " ").capitalize())


def object_words(stix_type: str, name: str | None, stix_id: str) -> str:
    """"indicator “evil.example”", or the id when there is no name to show."""
    kind = stix_type.replace("-", " ")
    return f"{kind} “{name}”" if name else f"{kind} {stix_id}"


def alert_title(event: str, *, stix_type: str, name: str | None, stix_id: str, by: str | None = None,
                related: int = 0) -> str:
    """The sentence for an alert, e.g. "Early warning submitted for incident “X” by Hospital Y"."""
    what = object_words(stix_type, name, stix_id)
    sentence = EVENT_SENTENCES.get(event, event_label(event) + ": {what}")
    title = sentence.format(what=what, What=what[:1].upper() + what[1:], by=f" by {by}" if by else "")
    if related:
        title += f" (and {related} related object{'s' if related != 1 else ''})"
    return title


def acting_org_name(actor_org, item, owner_named: bool) -> str | None:
    """Who did it, as an alert may say: another organisation acting on the item (a CERT's
    advice) is named; the item's own organisation only where its source may be named
    (never for an anonymous item, except to its own organisation)."""
    if actor_org is not None and actor_org.id != item.owner_org_id:
        return actor_org.name
    return item.owner.name if owner_named else None
