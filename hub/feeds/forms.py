"""The feed form of the web UI; it builds the same settings the REST API takes."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from hub.feeds.services import DEFAULT_KINDS, FEED_KINDS, FEED_TLPS, MAX_NAME_LENGTH


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FeedForm(FlaskForm):
    name = StringField("Name (e.g. Perimeter firewall)", validators=[InputRequired(), Length(max=MAX_NAME_LENGTH)])
    kinds = CheckboxList("Values of kind", default=list(DEFAULT_KINDS),
                         choices=[SelectChoice(kind, kind) for kind in FEED_KINDS])
    tlps = CheckboxList("TLP (TLP:RED is never exported: it reaches named people only)",
                        default=[tlp.value for tlp in FEED_TLPS],
                        choices=[SelectChoice(tlp.value, tlp.label) for tlp in FEED_TLPS])
    min_confidence = IntegerField("Minimum confidence (0-100)", default=0,
                                  validators=[Optional(), NumberRange(min=0, max=100)])


class ConfirmForm(FlaskForm):
    """A button that changes something: nothing to fill in but the CSRF token."""
