"""Forms of the web UI: sharing, browsing filters, managing items. CSRF on every POST form."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from hub import bounds, form_errors
from hub.accounts import services as accounts
from hub.errors import ValidationFailed
from hub.intel import advisories, builders, observables, severity
from hub.intel.reads import ItemFilters
from hub.tlp import TLP
from hub.principal import Principal

# FIRST TLP 2.0 definitions, one line each, shown beside the choice.
TLP_CHOICES = [
    SelectChoice(TLP.clear.value, "TLP:CLEAR — no limit on disclosure"),
    SelectChoice(TLP.green.value, "TLP:GREEN — the community, not public"),
    SelectChoice(TLP.amber.value, "TLP:AMBER — recipients' organisations and their clients, need-to-know"),
    SelectChoice(TLP.amber_strict.value, "TLP:AMBER+STRICT — recipients' organisations only"),
    SelectChoice(TLP.red.value, "TLP:RED — the named individual recipients only"),
]
AUDIENCE_CHOICES = [
    SelectChoice("community", "Every member organisation"),
    SelectChoice("groups", "Sharing groups of my organisation"),
    SelectChoice("orgs", "Named organisations"),
    SelectChoice("users", "Named people (by e-mail) — required for TLP:RED"),
    SelectChoice("own", "My organisation only"),
]
STIX_TYPES = [
    "indicator", "report", "vulnerability", "course-of-action", "malware", "attack-pattern",
    "campaign", "intrusion-set", "threat-actor", "tool", "infrastructure", "observed-data",
    "sighting", "relationship", "identity", "incident", "note", "opinion", "software",
    "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file",
]
# The list shows current items unless asked: an indicator past valid_until is history, not a threat.
STATUS_CHOICES = [SelectChoice("current", "Current (not expired)"), SelectChoice("all", "Any status"),
                  SelectChoice("active", "Active (neither revoked nor expired)"),
                  SelectChoice("revoked", "Revoked"), SelectChoice("expired", "Expired")]
DEFAULT_STATUS = "current"
_STIX_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def end_of_day(day: date) -> datetime:
    """The last second of a calendar day, UTC: "valid until 1 March" includes 1 March."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=timezone.utc)


class AudienceForm(FlaskForm):
    """Who receives an item; the choices depend on the sharer (see `offer_audiences`)."""

    audience = RadioField("Audience", choices=AUDIENCE_CHOICES,
                          validators=[InputRequired(message="choose who receives this")])
    groups = CheckboxList("Sharing groups", choices=[], validate_choice=False)
    orgs = CheckboxList("Organisations", choices=[], validate_choice=False)
    users = TextAreaField("People (e-mail addresses, one per line)",
                          validators=[Optional(), Length(max=5000)])

    def offer_audiences(self, principal: Principal) -> None:
        self.groups.choices = [
            SelectChoice(group.slug, f"{group.name} ({', '.join(org.slug for org in group.orgs)})")
            for group in accounts.groups_of_org(principal.org_id)
        ]
        self.orgs.choices = [
            SelectChoice(org.slug, f"{org.name} — {org.kind.value.replace('_', ' ')}, {org.country}")
            for org in accounts.member_directory()
            if org.id != principal.org_id
        ]

    def validate_groups(self, field):
        if self.audience.data == "groups" and not field.data:
            raise ValidationError("choose at least one sharing group")

    def validate_orgs(self, field):
        if self.audience.data == "orgs" and not field.data:
            raise ValidationError("choose at least one organisation")

    def validate_users(self, field):
        if self.audience.data == "users" and not self.user_emails():
            raise ValidationError("name at least one person by e-mail address")

    def user_emails(self) -> list[str]:
        return [part for part in _EMAIL_SEPARATORS.split(self.users.data or "") if part]

    def audience_spec(self):
        """The audience as hub.intel.audience.resolve_audience spells it."""
        kind = self.audience.data
        if kind in ("community", "own"):
            return kind
        if kind == "groups":
            return {"groups": list(self.groups.data)}
        if kind == "orgs":
            return {"orgs": list(self.orgs.data)}
        return {"users": self.user_emails()}

    def attach_service_errors(self, error: ValidationFailed) -> None:
        """Show a service's ValidationFailed details next to the fields they name, in words."""
        form_errors.attach(self, error)


class ShareIndicatorForm(AudienceForm):
    observable_type = SelectField(
        "Observable type",
        choices=[SelectChoice(kind, label) for kind, (label, _t, _p) in builders.INDICATOR_KINDS.items()],
    )
    value = StringField("Value", validators=[DataRequired(message="enter the value you observed"),
                                             Length(max=2048)])
    name = StringField("Name (optional)", validators=[Optional(), Length(max=250)])
    description = TextAreaField("Description: what was seen, where, and why it is malicious",
                                validators=[DataRequired(message="say what this is and why it matters"),
                                            Length(max=10000)])
    confidence = IntegerField("Confidence (0–100)", default=50,
                              validators=[InputRequired(message="a number from 0 to 100"),
                                          NumberRange(0, 100, message="a number from 0 to 100")])
    valid_until = DateField("Valid until (optional)", validators=[Optional()])
    tlp = RadioField("TLP", choices=TLP_CHOICES, validators=[InputRequired(message="choose a TLP label")])
    anonymous = BooleanField("Share anonymously (recipients do not see that my organisation is the source)")
    # Asked only when the value is on a warning list of known-benign values.
    publish_anyway = BooleanField("Publish anyway: I know this value is on a warning list")

    def validate_value(self, field):
        try:
            self.normalised_value = observables.normalise(self.observable_type.data, field.data or "")
        except (ValueError, UnicodeError) as exc:
            raise ValidationError(str(exc)) from None

    def validate_valid_until(self, field):
        if field.data is not None and end_of_day(field.data) <= datetime.now(timezone.utc):
            raise ValidationError("must be in the future")
        if field.data is not None and field.data.year > bounds.MAX_YEAR:  # a slip of the date picker
            raise ValidationError(f"must be a date up to {bounds.MAX_YEAR}; leave it empty for no end")


class AffectedProductRow(Form):
    """One row of the affected-products table (a sub-form: the page's CSRF token covers it)."""

    vendor = StringField("Vendor", validators=[Optional(), Length(max=250)])
    product = StringField("Product", validators=[Optional(), Length(max=250)])
    versions = StringField("Affected versions", validators=[Optional(), Length(max=250)])
    fixed_version = StringField("Fixed in", validators=[Optional(), Length(max=250)])

    def is_blank(self) -> bool:
        return not any((self[name].data or "").strip() for name in ("vendor", "product", "versions", "fixed_version"))


class AdvisoryContentForm(FlaskForm):
    """What an advisory says; the same fields when it is first published and when it is edited."""

    PRODUCT_ROWS = 3  # rows offered on an empty form; "Add a product row" adds one more
    title = StringField("Title", validators=[DataRequired(message="give the advisory a title"), Length(max=250)])
    summary = TextAreaField("Summary", validators=[DataRequired(message="say what the vulnerability lets an attacker do"),
                                                   Length(max=20000)])
    products = FieldList(FormField(AffectedProductRow), "Affected products", min_entries=PRODUCT_ROWS, max_entries=50)
    cvss_v3 = StringField("CVSS v3.1 vector", validators=[Optional(), Length(max=200)],
                          description="e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    cvss_v4 = StringField("CVSS v4.0 vector", validators=[Optional(), Length(max=300)],
                          description="e.g. CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
    cwe_ids = StringField("CWE ids (optional, separated by spaces or commas)", validators=[Optional(), Length(max=1000)],
                          description="e.g. CWE-787, CWE-306")
    cve_ids = StringField("CVE ids (separated by spaces or commas)",
                          validators=[DataRequired(message="name at least one CVE id"), Length(max=5000)])
    mitigation = TextAreaField("Mitigation", validators=[DataRequired(message="say what readers should do"),
                                                         Length(max=20000)])
    references = TextAreaField("Reference URLs, one per line, each optionally followed by the SHA-256 of the"
                               " document", validators=[Length(max=20000)])
    add_row = SubmitField("Add a product row")
    preview = SubmitField("Preview")
    publish = SubmitField("Publish")

    def validate_cve_ids(self, field):
        try:
            self.parsed_cve_ids = builders.parse_cve_ids(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate_cwe_ids(self, field):
        try:
            self.parsed_cwe_ids = severity.parse_cwe_ids(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate_cvss_v3(self, field):
        self._score("v3", field)

    def validate_cvss_v4(self, field):
        self._score("v4", field)

    def _score(self, family: str, field) -> None:
        if (field.data or "").strip():
            try:
                self.scores[family] = severity.score_cvss(family, field.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None

    def validate_references(self, field):
        try:
            self.parsed_references = builders.parse_references(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate(self, extra_validators=None) -> bool:
        """Every field's own checks, then the product rows: all errors in one round."""
        self.scores, self.parsed_cwe_ids, self.products_error = {}, [], None
        valid = super().validate(extra_validators)
        if not (self.cvss_v3.data or "").strip() and not (self.cvss_v4.data or "").strip():
            self.cvss_v3.errors = [*self.cvss_v3.errors,
                                   "give a CVSS v3.1 or a v4.0 vector (or both): readers sort advisories by severity"]
            valid = False
        filled = [row.form for row in self.products if not row.form.is_blank()]
        for row in filled:
            for name, message in (("vendor", "name the vendor"), ("product", "name the product")):
                if not (row[name].data or "").strip():
                    row[name].errors = [*row[name].errors, message]
                    valid = False
        if not filled:
            self.products_error = "name at least one affected product (vendor and product)"
            valid = False
        return valid

    def advisory(self) -> advisories.Advisory:
        """The validated answers as an Advisory."""
        return advisories.Advisory(
            title=self.title.data.strip(),
            summary=self.summary.data.strip(),
            cve_ids=self.parsed_cve_ids,
            products=[
                advisories.AffectedProduct(row.form.vendor.data.strip(), row.form.product.data.strip(),
                                           (row.form.versions.data or "").strip(),
                                           (row.form.fixed_version.data or "").strip())
                for row in self.products if not row.form.is_blank()
            ],
            mitigation=self.mitigation.data.strip(),
            cvss=[self.scores[family] for family in ("v3", "v4") if family in self.scores],
            cwe_ids=self.parsed_cwe_ids,
            references=self.parsed_references,
        )

    def offer_another_row(self) -> None:
        if len(self.products) < self.products.max_entries:
            self.products.append_entry()

    def fill_from(self, advisory: advisories.Advisory) -> None:
        """Show a published advisory in the form, for editing."""
        self.title.data, self.summary.data, self.mitigation.data = advisory.title, advisory.summary, advisory.mitigation
        self.cve_ids.data = ", ".join(advisory.cve_ids)
        self.cwe_ids.data = ", ".join(advisory.cwe_ids)
        for score in advisory.cvss:
            self[f"cvss_{score.family}"].data = score.vector
        self.references.data = "\n".join(f"{url} {sha256}" if sha256 else url for url, sha256 in advisory.references)
        while len(self.products):
            self.products.pop_entry()
        for product in advisory.products:
            self.products.append_entry({"vendor": product.vendor, "product": product.product,
                                        "versions": product.versions, "fixed_version": product.fixed_version})
        self.offer_another_row()


class AdvisoryForm(AudienceForm, AdvisoryContentForm):
    """A new advisory: what it says, and its TLP and audience (fixed once published)."""

    tlp = RadioField("TLP", choices=TLP_CHOICES, validators=[InputRequired(message="choose a TLP label")])


class WidenForm(AudienceForm):
    audience = RadioField("Add recipients", choices=AUDIENCE_CHOICES[:4],
                          validators=[InputRequired(message="choose whom to add")])
    # Set by the confirmation step, once the owner has seen who gains access.
    confirm = HiddenField()


class RevokeForm(FlaskForm):
    reason = TextAreaField("Reason (kept in the audit log)",
                           filters=[lambda value: value.strip() if isinstance(value, str) else value],
                           validators=[DataRequired(message="say why this item is revoked"), Length(max=500)])


class ItemFilterForm(Form):
    """The browse filters, read from the query string (GET: nothing to forge, no CSRF)."""

    type = StringField("Type", validators=[Optional(), Length(max=64)])
    # A "+" typed into a query string arrives as a space: amber strict means amber+strict.
    tlp = SelectField("TLP", choices=[SelectChoice("", "Any TLP")] + [SelectChoice(t.value, t.label) for t in TLP],
                      filters=[lambda value: value.replace(" ", "+") if value else value],
                      validators=[Optional()])
    owner = StringField("Owner organisation", validators=[Optional(), Length(max=64)])
    status = SelectField("Status", choices=STATUS_CHOICES, default=DEFAULT_STATUS, validators=[Optional()])
    added_after = DateField("Added on or after", validators=[Optional()])
    added_before = DateField("Added on or before", validators=[Optional()])
    # Off: what members share; on: also relationships, observables, an advisory's parts...
    supporting = BooleanField("Show supporting objects", false_values=("false", "0", "off", ""))
    cursor = HiddenField()

    def validate_type(self, field):
        if field.data and not _STIX_TYPE.match(field.data):
            raise ValidationError("not a STIX object type")

    def item_filters(self) -> ItemFilters:
        return ItemFilters(
            types=(self.type.data,) if self.type.data else (),
            tlps=(TLP(self.tlp.data),) if self.tlp.data else (),
            owner=(self.owner.data or "").strip() or None,
            added_after=start_of_day(self.added_after.data) if self.added_after.data else None,
            # "on or before" a day: strictly before the next midnight.
            added_before=start_of_day(self.added_before.data) + timedelta(days=1)
            if self.added_before.data else None,
            status=self.status.data or DEFAULT_STATUS,
            supporting=bool(self.supporting.data),
        )

    def active_filters(self) -> dict[str, str]:
        """The filters as query parameters, for the next-page link."""
        values = {
            "type": self.type.data,
            "tlp": self.tlp.data,
            "owner": self.owner.data,
            "status": self.status.data if self.status.data != DEFAULT_STATUS else "",
            "added_after": self.added_after.data.isoformat() if self.added_after.data else "",
            "added_before": self.added_before.data.isoformat() if self.added_before.data else "",
            "supporting": "1" if self.supporting.data else "",
        }
        return {key: value for key, value in values.items() if value}


class SightingForm(FlaskForm):
    """"We saw this too", from an item's page: the default TLP and audience follow the item."""

    count = IntegerField("How many times", default=1,
                         validators=[InputRequired(message="say how many times (1 or more)"),
                                     NumberRange(min=1, max=999_999_999, message="from 1 to 999,999,999")])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=5000)],
                         description="Where or how you saw it, e.g. 'blocked at the VPN gateway'.")
    anonymous = BooleanField("Report anonymously (your organisation is not named to others)")


class BulkSightingForm(FlaskForm):
    """Observed values from a log, a CSV column or a firewall export, pasted or uploaded."""

    values = TextAreaField("Observed values, one per line", validators=[Optional()],
                           description="IP addresses or networks, domains, URLs, e-mail addresses, hashes; "
                                       "defanged spellings (hxxp, [.]) are fine. A CSV line counts its first column.")
    upload = FileField("…or a text or CSV file", validators=[Optional()])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=5000)])
    anonymous = BooleanField("Report anonymously (your organisation is not named to others)")

    def observed_values(self, max_bytes: int) -> list[str]:
        """The first column of each non-empty line, from the file if one was sent, else the text."""
        data = self.upload.data
        if data and getattr(data, "filename", ""):
            raw = data.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise ValidationError(f"the file is larger than {max_bytes // 1_000_000} MB")
            text = raw.decode("utf-8", errors="replace")
        else:
            text = self.values.data or ""
        lines = (line.split(",", 1)[0].strip().strip('"') for line in text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


class ExtendForm(FlaskForm):
    """A later end of validity for an indicator (it counts to the end of the chosen day, UTC)."""

    valid_until = DateField("Valid until (end of day, UTC)", validators=[InputRequired(message="choose a date")])


class FreeTextForm(FlaskForm):
    """Step one of the free-text import: the pasted text (bounded by hub.intel.freetext)."""

    text = TextAreaField("Paste an e-mail, a report or log lines",
                         validators=[DataRequired(message="paste some text to look for indicators in")])


class FreeTextShareForm(AudienceForm):
    """Step two: the values chosen among those found, shared with one TLP and one audience."""

    text = HiddenField()
    chosen = CheckboxList("Values to share", choices=[], validate_choice=False)
    description = TextAreaField("Description for every indicator: where these were seen and why they matter",
                                validators=[Optional(), Length(max=10000)])
    confidence = IntegerField("Confidence (0–100)", default=50,
                              validators=[InputRequired(message="a number from 0 to 100"),
                                          NumberRange(0, 100, message="a number from 0 to 100")])
    tlp = RadioField("TLP", choices=TLP_CHOICES, validators=[InputRequired(message="choose a TLP label")])

    def validate_chosen(self, field):
        if not field.data:
            raise ValidationError("tick at least one value to share")
