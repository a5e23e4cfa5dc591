"""Forms for signing in and for the account page. Flask-WTF: every one carries a CSRF token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from hub import form_errors
from hub.accounts.services import MIN_PASSWORD_LENGTH
from hub.errors import ValidationFailed
from hub.principal import OrgKind, Role

ROLE_CHOICES = [(Role.viewer.value, "viewer — reads what is shared with the organisation"),
                (Role.analyst.value, "analyst — also shares, sights and reports incidents"),
                (Role.admin.value, "admin — also manages users and reads the audit log")]
KIND_CHOICES = [(kind.value, kind.value.replace("_", " ")) for kind in OrgKind]


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    next = HiddenField()


class TotpCodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="six digits")],
    )


class SecondFactorForm(FlaskForm):
    """At sign-in: a code from the app, or one of the recovery codes."""
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[DataRequired(), Regexp(r"^\s*(\d{3}\s?\d{3}|[A-Za-z2-9]{5}-?[A-Za-z2-9]{5})\s*$",
                                           message="six digits, or a recovery code like abcde-fghjk")],
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1000,
                                           message=f"at least {MIN_PASSWORD_LENGTH} characters")],
    )
    confirm_password = PasswordField(
        "New password again", validators=[DataRequired(), EqualTo("new_password", message="the two new passwords differ")]
    )


class TotpDisableForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()])


class TokenCreateForm(FlaskForm):
    label = StringField("Label (what uses this token)", validators=[Length(max=100)])


class PlainPostForm(FlaskForm):
    """A button that changes something: nothing to fill in but the CSRF token."""


class RecoveryCodesForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()])


class InviteUserForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.viewer.value)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class OrganisationForm(FlaskForm):
    slug = StringField("Slug (short name in URLs and exports)", validators=[DataRequired(), Length(max=63)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=KIND_CHOICES)
    country = StringField("Country (ISO code, e.g. CZ)", validators=[DataRequired(), Length(min=2, max=2, message="two letters")])


class OrganisationEditForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=KIND_CHOICES)
    country = StringField("Country (ISO code, e.g. CZ)", validators=[DataRequired(), Length(min=2, max=2, message="two letters")])


class GroupForm(FlaskForm):
    slug = StringField("Slug", validators=[DataRequired(), Length(max=63)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])


class GroupMemberForm(FlaskForm):
    org = SelectField("Organisation", choices=[])


class AuditFilterForm(FlaskForm):
    """The audit log's filters: a GET form, so the filtered view has a URL (and no CSRF token)."""
    class Meta:
        csrf = False

    actor = StringField("Actor (e-mail)", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=40)])
    org = StringField("Organisation (slug)", validators=[Optional(), Length(max=64)])
    item = StringField("Item (STIX id)", validators=[Optional(), Length(max=100)])
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])


def attach_errors(form, error: ValidationFailed, fields: dict) -> None:
    """Show a service's validation errors next to the fields they are about."""
    for detail in error.details or [{"error": error.message}]:
        field = fields.get(detail.get("field")) or next(iter(fields.values()))
        field.errors = [*field.errors, form_errors.detail_message(detail, error.message)]
