"""The subscription form of the web UI; it builds the same request the REST API takes."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from hub import form_errors
from hub.principal import OrgKind
from hub.alerts.filters import OBSERVABLE_KINDS
from hub.outbox import ITEM_EVENTS
from hub.tlp import TLP


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _words(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]


class SubscriptionForm(FlaskForm):
    channel = RadioField("How", default="in_app", choices=[
        SelectChoice("in_app", "In-app only (the bell)"),
        SelectChoice("email", "E-mail, and in-app"),
        SelectChoice("webhook", "Signed webhook, and in-app"),
    ])
    target = StringField("E-mail address or webhook URL", validators=[Optional(), Length(max=2048)])
    secret = StringField("Webhook secret (leave empty and the hub generates one)",
                         validators=[Optional(), Length(max=256)])
    mode = SelectField("When", default="immediate", choices=[
        SelectChoice("immediate", "Immediately"), SelectChoice("hourly", "Hourly digest (e-mail)"),
        SelectChoice("daily", "Daily digest (e-mail)"),
    ])
    scope = SelectField("For", default="user", choices=[
        SelectChoice("user", "Me"), SelectChoice("org", "My whole organisation (admins)"),
    ])
    events = CheckboxList("Events (none ticked: all)", choices=[SelectChoice(e.value, e.value) for e in ITEM_EVENTS])
    types = StringField("STIX types, comma-separated (e.g. indicator, report)")
    observable_types = CheckboxList("Indicators naming", choices=[SelectChoice(k, k) for k in OBSERVABLE_KINDS])
    advisories = BooleanField("Advisories only")
    min_tlp = SelectField("TLP at or above", default="", choices=[SelectChoice("", "Any TLP")] + [
        SelectChoice(t.value, t.label) for t in TLP
    ])
    labels = StringField("Labels, comma-separated")
    owner_kind = CheckboxList("Shared by organisations of kind",
                              choices=[SelectChoice(k.value, k.value.replace("_", " ")) for k in OrgKind])
    owner_country = StringField("Shared by organisations in (country codes, e.g. CZ, SK)")
    correlates_with_own = BooleanField("Only items that name an observable my organisation shared")
    keywords = StringField("Keywords, comma-separated")

    def filters(self) -> dict:
        """The API's `filters` object, with only what was filled in."""
        chosen = {
            "events": self.events.data or [],
            "types": [t.lower() for t in _words(self.types.data)],
            "observable_types": self.observable_types.data or [],
            "labels": _words(self.labels.data),
            "owner_kind": self.owner_kind.data or [],
            "owner_country": _words(self.owner_country.data),
            "keywords": _words(self.keywords.data),
        }
        filters = {key: value for key, value in chosen.items() if value}
        if self.advisories.data:
            filters["advisories"] = True
        if self.correlates_with_own.data:
            filters["correlates_with_own"] = True
        if self.min_tlp.data:
            filters["min_tlp"] = self.min_tlp.data
        return filters

    def show_errors(self, details: list[dict]) -> None:
        """Put a service's ValidationFailed details beside the fields they name."""
        for detail in details:
            name = str(detail.get("field", "")).removeprefix("filters.")
            field = getattr(self, name, None) if name else None
            target = field if field is not None and hasattr(field, "errors") else self.target
            errors = list(target.errors) if isinstance(target.errors, (list, tuple)) else []
            target.errors = errors + [form_errors.detail_message(detail, "invalid")]


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (delete, replay, mark read)."""
