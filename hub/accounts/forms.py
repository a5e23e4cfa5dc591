"""Forms for signing in and for the account page. Flask-WTF: every one carries a CSRF token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from hub.accounts.services import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    next = HiddenField()


class TotpCodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="six digits")],
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
