"""The incident form: one page a CISO fills in under pressure, turned into the report's data."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    IntegerField,
    RadioField,
    SelectField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from hub import form_errors
from hub.bounds import MAX_FIGURE
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES, SERVICES
from hub.intel import builders, observables

_LOCAL = "%Y-%m-%dT%H:%M"
_INDICATOR_LINE = re.compile(r"^new_indicators\[(\d+)\]")
# NumberRange also refuses NaN; the upper bound refuses infinity and integers beyond 64 bits.
_WHOLE = [Optional(), NumberRange(min=0, max=MAX_FIGURE)]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class IncidentForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    started_at = DateTimeLocalField("Attack started (local time)", format=_LOCAL, validators=[Optional()])
    detected_at = DateTimeLocalField("Detected — when you became aware (local time)", format=_LOCAL,
                                     validators=[DataRequired()])
    contained_at = DateTimeLocalField("Contained (local time)", format=_LOCAL, validators=[Optional()])
    attack_type = SelectField("Attack type", choices=[SelectChoice(k, v) for k, v in ATTACK_TYPES.items()])
    services = CheckboxesField("Affected services", choices=[SelectChoice(k, v) for k, v in SERVICES.items()])
    patient_care_disrupted = RadioField("Patient care disrupted", default="unknown", choices=[
        SelectChoice("yes", "Yes"), SelectChoice("no", "No"), SelectChoice("unknown", "Unknown")])
    diversions_count = IntegerField(IMPACT_FIGURES["diversions_count"][0], validators=_WHOLE)
    diversions_hours = FloatField(IMPACT_FIGURES["diversions_hours"][0], validators=_WHOLE)
    appointments_postponed = IntegerField(IMPACT_FIGURES["appointments_postponed"][0], validators=_WHOLE)
    procedures_cancelled = IntegerField(IMPACT_FIGURES["procedures_cancelled"][0], validators=_WHOLE)
    patients_transferred = IntegerField(IMPACT_FIGURES["patients_transferred"][0], validators=_WHOLE)
    records_exposed = IntegerField(IMPACT_FIGURES["records_exposed"][0], validators=_WHOLE)
    downtime_hours = FloatField(IMPACT_FIGURES["downtime_hours"][0], validators=_WHOLE)
    ransom_amount = FloatField("Ransom demanded (amount)", validators=_WHOLE)
    ransom_currency = StringField("Currency", default="EUR", validators=[Optional(), Length(min=3, max=3)])
    narrative = TextAreaField("What happened", validators=[Length(max=20000)])
    threat_actor = StringField("Threat actor, if known", validators=[Length(max=200)])
    indicators = TextAreaField("Linked indicators already shared (STIX ids, one per line)")
    new_indicators = TextAreaField("Indicators seen in this incident (one value per line: an IP address or "
                                   "network, domain, URL, e-mail address or file hash; its type is detected)")
    significant = BooleanField("Significant incident under NIS2 (starts the reporting clocks)")
    tlp = RadioField("TLP", default="amber", choices=[
        SelectChoice("clear", "TLP:CLEAR"), SelectChoice("green", "TLP:GREEN"),
        SelectChoice("amber", "TLP:AMBER"), SelectChoice("amber+strict", "TLP:AMBER+STRICT")])
    confirm_personal_data = BooleanField("I have checked the flagged text: it may be shared as written")

    def report(self, tz: str) -> dict:
        zone = ZoneInfo(tz)

        def instant(value: datetime | None) -> str | None:
            return value.replace(tzinfo=zone).isoformat() if value else None

        impact = {"patient_care_disrupted": self.patient_care_disrupted.data or "unknown"}
        for key in IMPACT_FIGURES:
            value = getattr(self, key).data
            if value is not None:
                impact[key] = value
        if self.ransom_amount.data is not None:
            impact["ransom_demanded"] = {"amount": self.ransom_amount.data,
                                         "currency": (self.ransom_currency.data or "EUR").upper()}
        return {
            "title": self.title.data,
            "started_at": instant(self.started_at.data),
            "detected_at": instant(self.detected_at.data),
            "contained_at": instant(self.contained_at.data),
            "attack_type": self.attack_type.data,
            "services": self.services.data or [],
            "impact": impact,
            "narrative": self.narrative.data or "",
            "threat_actor": self.threat_actor.data or None,
            "indicators": [line.strip() for line in (self.indicators.data or "").splitlines() if line.strip()],
            "new_indicators": observed_indicators(self.new_indicators.data or "", strict=False),
            "significant": bool(self.significant.data),
            "tlp": self.tlp.data,
            "confirm_personal_data": bool(self.confirm_personal_data.data),
        }

    def validate_new_indicators(self, field):
        try:
            observed_indicators(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def fill(self, report: dict, tlp: str, tz: str) -> None:
        """Pre-fill from the latest revision, for an update."""
        zone = ZoneInfo(tz)
        for key in ("started_at", "detected_at", "contained_at"):
            if report.get(key):
                getattr(self, key).data = datetime.fromisoformat(report[key]).astimezone(zone).replace(tzinfo=None)
        for key in ("title", "attack_type", "services", "narrative", "threat_actor", "significant"):
            getattr(self, key).data = report.get(key)
        impact = report.get("impact") or {}
        self.patient_care_disrupted.data = impact.get("patient_care_disrupted", "unknown")
        for key in IMPACT_FIGURES:
            getattr(self, key).data = impact.get(key)
        if impact.get("ransom_demanded"):
            self.ransom_amount.data = impact["ransom_demanded"]["amount"]
            self.ransom_currency.data = impact["ransom_demanded"]["currency"]
        self.indicators.data = "\n".join(report.get("indicators") or [])
        self.tlp.data = tlp

    def new_indicator_lines(self) -> list[tuple[int, str]]:
        """The non-blank lines of "Indicators seen", with their line numbers (1 = first line)."""
        lines = (self.new_indicators.data or "").splitlines()
        return [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]

    def show_errors(self, details: list[dict]) -> list[dict]:
        """Put a service's error details next to their fields, in the form's words; returns
        patient-data findings. A field WTForms already refused keeps its own message only, so one
        sending shows every problem once."""
        findings = []
        already_refused = {name for name, field in self._fields.items() if field.errors}
        lines = self.new_indicator_lines()
        for detail in details:
            if detail.get("kind"):
                findings.append({**detail, "label": self._label_of(detail.get("field", ""))})
            service_name = detail.get("field", "")
            name = service_name.split(".")[-1]
            message = form_errors.detail_message(detail, "invalid")
            line = _INDICATOR_LINE.match(service_name)
            if line:
                name = "new_indicators"
                index = int(line.group(1))
                if index < len(lines):
                    number, text = lines[index]
                    message = f"Line {number} “{text}”: {form_errors.human(detail.get('error') or 'invalid')}"
            if name == "ransom_demanded":
                name = "ransom_amount"
            field = self._fields.get(name)
            if field is None or name in already_refused:
                continue
            if message not in field.errors:
                field.errors = [*field.errors, message]
        return findings

    def _label_of(self, name: str) -> str:
        field = self._fields.get(name)
        return field.label.text if field is not None else form_errors.human(name).capitalize()

def observed_indicators(text: str, *, strict: bool = True) -> list[dict]:
    """One observed value per line, its type detected ("203.0.113.5", "evil.example", a hash,
    defanged or not); the older "type value" lines ("ipv4-addr 203.0.113.5") still work.
    A line that is none of these is a ValueError naming it (or, not strict, left to the
    report's validation, which names it as well)."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        if kind in builders.INDICATOR_KINDS and rest.strip():
            entries.append({"type": kind, "value": rest.strip()})
            continue
        found = observables.classify(line)
        if found is not None:
            entries.append({"type": found[0], "value": found[1]})
        elif strict:
            raise ValueError(f"line {number}: {line[:80]!r} is not an IP address or network, domain name, URL, "
                             "e-mail address or file hash")
        else:
            entries.append({"type": None, "value": line})
    return entries
