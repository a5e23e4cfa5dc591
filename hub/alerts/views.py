"""Pages: the notification list behind the bell, subscriptions, and their deliveries."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from hub import form_errors, secrets_at_rest
from hub.alerts import services
from hub.alerts.forms import ConfirmForm, SubscriptionForm
from hub.alerts.models import DELIVERY_STATUSES
from hub.errors import HubError, ValidationFailed
from hub.principal import current_principal

bp = Blueprint("alerts", __name__, url_prefix="/alerts", template_folder="templates")


@bp.app_context_processor
def _bell():
    """`alerts_unread_count()` for any template (the bell in the top bar); asked only when used."""

    def alerts_unread_count() -> int:
        if not current_user.is_authenticated:
            return 0
        return services.unread_count(current_principal())

    return {"alerts_unread_count": alerts_unread_count}


@bp.get("/")
@login_required
def notifications():
    unread_only = request.args.get("unread") == "1"
    page = services.list_notifications(current_principal(), unread_only=unread_only,
                                       cursor=request.args.get("cursor") or None)
    next_url = url_for(".notifications", cursor=page.next_cursor, **({"unread": "1"} if unread_only else {})) \
        if page.next_cursor else None
    return render_template("alerts/notifications.html", rows=services.notification_views(current_principal(), page.rows),
                           unread_only=unread_only,
                           next_url=next_url, form=ConfirmForm())


@bp.get("/<int:notification_id>")
@login_required
def show_notification(notification_id: int):
    """Follow a notification to its item without marking it read: a GET changes nothing, so a
    link prefetcher or a mail scanner cannot clear alerts. Opening it from the list is a POST."""
    return redirect(_item_url(services.get_notification(current_principal(), notification_id)))


@bp.post("/<int:notification_id>")
@login_required
def open_notification(notification_id: int):
    """The list's "Open" button: mark the notification read, then go to its item (POST-redirect-GET)."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for(".notifications"))
    return redirect(_item_url(services.mark_read(current_principal(), notification_id)))


def _item_url(notification) -> str:
    if notification.item.stix_type == "incident":
        return url_for("incidents.detail", stix_id=notification.item.stix_id)
    return url_for("intel.item_detail", stix_id=notification.item.stix_id)


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    if ConfirmForm().validate_on_submit():
        services.mark_read(current_principal(), notification_id)
    return redirect(request.referrer if _same_site(request.referrer) else url_for(".notifications"))


@bp.post("/read-all")
@login_required
def mark_all_read():
    if ConfirmForm().validate_on_submit():
        marked = services.mark_all_read(current_principal())
        flash(f"Marked {marked} notification{'s' if marked != 1 else ''} read.", "success")
    return redirect(url_for(".notifications"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


def _render_subscriptions(form: SubscriptionForm, *, new_secret: str | None = None, status: int = 200):
    principal = current_principal()
    rows = [(s, services.describe_subscription(principal, s), services.can_manage(principal, s))
            for s in services.list_subscriptions(principal)]
    return render_template("alerts/subscriptions.html", form=form, rows=rows, new_secret=new_secret,
                           confirm=ConfirmForm(), built_in=services.default_alerts(principal)), status


# A generated webhook secret crosses the redirect after its creation in the session, sealed (the
# cookie is signed, not encrypted) and short-lived; the next GET shows it once and takes it out.
NEW_SECRET_KEY = "new_webhook_secret"
NEW_SECRET_MAX_AGE = 300


@bp.get("/subscriptions")
@login_required
def subscriptions():
    sealed = session.pop(NEW_SECRET_KEY, None)
    new_secret = secrets_at_rest.unseal(sealed, max_age=NEW_SECRET_MAX_AGE) if sealed else None
    return _render_subscriptions(SubscriptionForm(), new_secret=new_secret)


@bp.post("/subscriptions")
@login_required
def create_subscription():
    form = SubscriptionForm()
    if not form.validate_on_submit():
        return _render_subscriptions(form, status=400)
    channel = form.channel.data
    try:
        created = services.create_subscription(
            current_principal(),
            channel=channel,
            target=(form.target.data or "").strip() or None if channel != "in_app" else None,
            secret=(form.secret.data or None) if channel == "webhook" else None,
            filters=form.filters(),
            mode=form.mode.data,
            scope=form.scope.data if current_user.is_admin else "user",
        )
    except ValidationFailed as error:
        form.show_errors(error.details)
        return _render_subscriptions(form, status=422)
    except HubError as error:
        flash(error.message, "error")
        return _render_subscriptions(form, status=error.status)
    if created.generated_secret:
        session[NEW_SECRET_KEY] = secrets_at_rest.seal(created.generated_secret)
    flash("Subscription saved.", "success")
    # POST-redirect-GET: a reload shows the page again, it does not subscribe twice.
    return redirect(url_for(".subscriptions"))


@bp.post("/subscriptions/built-in/<rule>")
@login_required
def set_default_alert(rule: str):
    """Turn a built-in alert on or off for oneself (the form says which: on=1 or on=0)."""
    if ConfirmForm().validate_on_submit():
        try:
            alert = services.set_default_alert(current_principal(), rule, request.form.get("on") == "1")
        except ValidationFailed as error:
            flash(form_errors.summary(error), "error")
        else:
            flash(f"Built-in alert turned {'on' if alert.on else 'off'}: {alert.title}.", "success")
    return redirect(url_for(".subscriptions"))


@bp.route("/subscriptions/<int:subscription_id>/delete", methods=["GET", "POST"])
@login_required
def delete_subscription(subscription_id: int):
    """Deleting cannot be undone: a page says what stops, and a box must be ticked."""
    principal = current_principal()
    subscription = services.get_subscription(principal, subscription_id)
    form = ConfirmForm()
    problem = None
    if form.validate_on_submit():
        if request.form.get("confirm") == "y":
            services.delete_subscription(principal, subscription_id)
            flash("Subscription deleted.", "success")
            return redirect(url_for(".subscriptions"))
        problem = "Nothing was deleted: tick the box to confirm."
    return render_template("alerts/subscription_delete.html", subscription=subscription, confirm=form,
                           summary=services.describe_subscription(principal, subscription),
                           problem=problem), (422 if problem else 200)


@bp.get("/subscriptions/<int:subscription_id>")
@login_required
def subscription_detail(subscription_id: int):
    principal = current_principal()
    subscription = services.get_subscription(principal, subscription_id)
    status = request.args.get("status") if request.args.get("status") in DELIVERY_STATUSES else None
    page = services.deliveries_of(principal, subscription_id, status=status, cursor=request.args.get("cursor") or None)
    next_url = url_for(".subscription_detail", subscription_id=subscription_id, cursor=page.next_cursor,
                       **({"status": status} if status else {})) if page.next_cursor else None
    return render_template(
        "alerts/subscription_detail.html", subscription=subscription,
        summary=services.describe_subscription(principal, subscription), rows=page.rows, status=status,
        statuses=DELIVERY_STATUSES, next_url=next_url, may_replay=services.can_manage(principal, subscription),
        confirm=ConfirmForm(),
    )


@bp.post("/deliveries/<int:delivery_id>/replay")
@login_required
def replay_delivery(delivery_id: int):
    back = request.form.get("subscription_id", type=int)
    if ConfirmForm().validate_on_submit():
        try:
            delivery = services.replay_delivery(current_principal(), delivery_id)
        except HubError as error:
            if error.status == 404:
                raise
            flash(form_errors.human(error.message), "error")
        else:
            flash("The delivery was queued again with a fresh set of attempts.", "success")
            back = delivery.subscription_id
    if back:
        return redirect(url_for(".subscription_detail", subscription_id=back))
    return redirect(url_for(".subscriptions"))
