"""Pages: the organisation's feeds, creating one, rotating its token, deleting it."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import login_required

from hub import form_errors, secrets_at_rest
from hub.errors import ValidationFailed
from hub.feeds import services
from hub.feeds.api import feed_urls
from hub.feeds.export import SID_BASE
from hub.feeds.forms import ConfirmForm, FeedForm
from hub.principal import current_principal

bp = Blueprint("feeds", __name__, url_prefix="/feeds", template_folder="templates")

# A new token crosses the redirect in the session, sealed (the cookie is signed, not encrypted)
# and short-lived; the next GET of the page takes it out, so a reload never shows it again.
NEW_TOKEN_KEY = "new_feed_token"
NEW_TOKEN_MAX_AGE = 300


def _render(form: FeedForm | None = None, status: int = 200):
    principal = current_principal()
    sealed = session.pop(NEW_TOKEN_KEY, None)
    new_token = secrets_at_rest.unseal(sealed, max_age=NEW_TOKEN_MAX_AGE) if sealed else None
    feeds = [(feed, feed_urls(feed)) for feed in services.list_feeds(principal)]
    return render_template("feeds/feeds.html", feeds=feeds, form=form or FeedForm(formdata=None),
                           confirm=ConfirmForm(), new_token=new_token,
                           may_manage=services.may_manage_feeds(principal), sid_base=SID_BASE), status


@bp.get("/")
@login_required
def index():
    return _render()


@bp.post("/")
@login_required
def create():
    form = FeedForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    try:
        feed, token = services.create_feed(current_principal(), form.name.data, form.kinds.data or [],
                                           form.tlps.data or [], form.min_confidence.data or 0)
    except ValidationFailed as error:
        form_errors.attach(form, error)
        return _render(form, 422)
    # POST-redirect-GET: a reload does not create a second feed, and the token shows once.
    session[NEW_TOKEN_KEY] = secrets_at_rest.seal(f"{feed.name}\n{token}")
    flash(f"Feed “{feed.name}” created.", "success")
    return redirect(url_for(".index"), 303)


@bp.get("/<feed_id>/<any(rotate, delete):action>")
@login_required
def confirm(feed_id: str, action: str):
    """Rotating and deleting say what they do to the firewalls before they do it."""
    feed = services.get_feed(current_principal(), feed_id)
    return render_template("feeds/confirm.html", feed=feed, action=action, confirm=ConfirmForm())


@bp.post("/<feed_id>/rotate")
@login_required
def rotate(feed_id: str):
    if ConfirmForm().validate_on_submit():
        feed, token = services.rotate_token(current_principal(), feed_id)
        session[NEW_TOKEN_KEY] = secrets_at_rest.seal(f"{feed.name}\n{token}")
        flash(f"New token for “{feed.name}”: firewalls using the old one get 401 from now on.", "success")
    return redirect(url_for(".index"), 303)


@bp.post("/<feed_id>/delete")
@login_required
def delete(feed_id: str):
    if ConfirmForm().validate_on_submit():
        services.delete_feed(current_principal(), feed_id)
        flash("Feed deleted: firewalls polling its URL get 401 from now on.", "success")
    return redirect(url_for(".index"), 303)
