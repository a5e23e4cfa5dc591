"""Signing in and out (password, then TOTP when enabled) and the account page."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from hub import audit, bounds, form_errors, secrets_at_rest
from hub.accounts import services as accounts
from hub.accounts import sessions as web_sessions
from hub.accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PlainPostForm,
    TokenCreateForm,
    TotpCodeForm,
    TotpDisableForm,
)
from hub.accounts.models import ApiToken, User
from hub.errors import NotFound, ValidationFailed
from hub.extensions import db, limiter, login_manager
from hub.accounts.audit_log import audit_rows
from hub.errors import Forbidden
from hub.principal import Principal, current_principal

bp = Blueprint("accounts", __name__, template_folder="templates")

AUDIT_PAGE = 50

# The password was right, the TOTP code is still due: who, since when, where to go next.
PENDING_SECOND_FACTOR = "pending_second_factor"
SECOND_FACTOR_WINDOW_SECONDS = 300
TOTP_SETUP_SECRET = "totp_setup_secret"


@bp.record_once
def _configure_login_manager(state) -> None:
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"


@bp.before_app_request
def _forget_previous_user() -> None:
    """Flask-Login caches the user in `g`, which lives on the app context; when one app context
    spans several requests (tests, embedded callers), each request must still load its own user."""
    g.pop("_login_user", None)


@login_manager.user_loader
def load_user(session_id: str):
    return web_sessions.user_of_session(session_id)


def _user_at_epoch(pending_id: str) -> User | None:
    """The user a password step was passed for, unless their password changed since."""
    user_id, _, epoch = pending_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or str(user.session_epoch) != epoch:
        return None
    return user


def _login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


# One budget per client address for both steps: a guessed TOTP code costs as much as a password.
login_attempts = limiter.shared_limit(_login_rate_limit, scope="login", methods=["POST"])


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site ("/items?tlp=red"), else None (no open redirect)."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _after_login_url(target: str | None) -> str:
    return safe_next(target) or url_for("home.index")


def _record_failed_login(email: str, reason: str) -> None:
    """Audited in the user's organisation; an unknown address leaves nothing that identifies anyone."""
    try:
        user = accounts.user_by_email(email)
    except NotFound:
        audit.record("login_failed", None, channel="web", reason="unknown account")
    else:
        audit.record("login_failed", None, subject_org_id=user.org_id, channel="web",
                     reason=reason, email=user.email)
    db.session.commit()


def _complete_login(user: User, *, second_factor: bool, target: str | None):
    session.pop(PENDING_SECOND_FACTOR, None)
    web_sessions.start_session(user)
    login_user(user)
    audit.record("login", Principal.of(user), channel="web", second_factor=second_factor)
    db.session.commit()
    return redirect(_after_login_url(target))


@bp.route("/login", methods=["GET", "POST"])
@login_attempts
def login():
    if current_user.is_authenticated:
        return redirect(_after_login_url(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    failed = False
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            _record_failed_login(form.email.data, "password")
            failed = True
        elif user.totp_secret:
            # Not signed in yet: only the code page may continue from here.
            session[PENDING_SECOND_FACTOR] = {
                "session_id": user.get_id(),
                "since": time.time(),
                "next": safe_next(form.next.data),
            }
            return redirect(url_for(".login_totp"))
        else:
            return _complete_login(user, second_factor=False, target=form.next.data)
    return render_template("accounts/login.html", form=form, failed=failed)


def _pending_user() -> tuple[User | None, str | None]:
    pending = session.get(PENDING_SECOND_FACTOR)
    if not isinstance(pending, dict) or time.time() - pending.get("since", 0) > SECOND_FACTOR_WINDOW_SECONDS:
        session.pop(PENDING_SECOND_FACTOR, None)
        return None, None
    user = _user_at_epoch(str(pending.get("session_id", "")))
    if user is None or not user.is_active or not user.totp_secret:
        return None, None
    return user, pending.get("next")


@bp.route("/login/totp", methods=["GET", "POST"])
@login_attempts
def login_totp():
    user, target = _pending_user()
    if user is None:
        flash("Sign in with your e-mail and password first.", "info")
        return redirect(url_for(".login"))
    form = TotpCodeForm()
    failed = False
    if form.validate_on_submit():
        if accounts.accept_totp_sign_in(user, form.code.data):
            return _complete_login(user, second_factor=True, target=target)
        _record_failed_login(user.email, "second factor")
        failed = True
    return render_template("accounts/login_totp.html", form=form, failed=failed)


@bp.post("/logout")
def logout():
    form = PlainPostForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            web_sessions.end_session(current_user._get_current_object())
            db.session.commit()
        logout_user()
        session.clear()
        flash("Signed out.", "info")
    return redirect(url_for(".login"))


def _active_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
        .order_by(ApiToken.created.desc(), ApiToken.id.desc())
    ))


def _render_account(*, password_form=None, disable_form=None, token_form=None, new_token=None,
                    status=200):
    return render_template(
        "accounts/account.html",
        password_form=password_form or PasswordChangeForm(formdata=None),
        disable_form=disable_form or TotpDisableForm(formdata=None),
        token_form=token_form or TokenCreateForm(formdata=None),
        revoke_form=PlainPostForm(formdata=None),
        tokens=_active_tokens(current_user),
        new_token=new_token,
    ), status


# A new API token crosses the redirect after its creation in the session, sealed (the session
# cookie is signed, not encrypted) and short-lived; the next GET of the account page takes it out.
NEW_TOKEN_KEY = "new_api_token"
NEW_TOKEN_MAX_AGE = 300


@bp.get("/account")
@login_required
def account():
    sealed = session.pop(NEW_TOKEN_KEY, None)
    new_token = secrets_at_rest.unseal(sealed, max_age=NEW_TOKEN_MAX_AGE) if sealed else None
    return _render_account(new_token=new_token)


@bp.post("/account/password")
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            _attach(form, error, {"current_password": form.current_password, "password": form.new_password})
        else:
            # The epoch moved on and the other sessions ended; this one goes on under the new epoch.
            login_user(current_user._get_current_object())
            flash("Password changed. Your other sessions have been signed out.", "success")
            return redirect(url_for(".account"))
    return _render_account(password_form=form, status=422)


@bp.route("/account/totp", methods=["GET", "POST"])
@login_required
def totp_setup():
    if current_user.totp_secret:
        flash("Two-factor sign-in is already on.", "info")
        return redirect(url_for(".account"))
    secret = session.get(TOTP_SETUP_SECRET) or accounts.new_totp_secret()
    session[TOTP_SETUP_SECRET] = secret
    form = TotpCodeForm()
    if form.validate_on_submit():
        try:
            accounts.enable_totp(current_user, secret, form.code.data)
        except ValidationFailed as error:
            _attach(form, error, {"code": form.code})
        else:
            session.pop(TOTP_SETUP_SECRET, None)
            flash("Two-factor sign-in is on. You will be asked for a code at every sign-in.", "success")
            return redirect(url_for(".account"))
    uri = accounts.totp_uri(current_user, secret)
    # segno draws the QR code as SVG here, so the secret never leaves the hub for an image service.
    qr_svg = Markup(segno.make(uri, error="m").svg_inline(
        scale=5, dark="#111", title="QR code for your authenticator app", svgclass="qr"
    ))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/totp_setup.html", form=form, secret=secret, qr_svg=qr_svg), status


@bp.post("/account/totp/disable")
@login_required
def totp_disable():
    form = TotpDisableForm()
    if form.validate_on_submit():
        try:
            accounts.disable_totp(current_user, form.password.data)
        except ValidationFailed as error:
            _attach(form, error, {"password": form.password})
        else:
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for(".account"))
    return _render_account(disable_form=form, status=422)


@bp.post("/account/tokens")
@login_required
def create_token():
    form = TokenCreateForm()
    if not form.validate_on_submit():
        return _render_account(token_form=form, status=422)
    token = accounts.create_token(current_user, (form.label.data or "").strip())
    # POST-redirect-GET: a reload shows the account page, it does not create another token. The
    # token is shown once, by the next GET, and never stored in clear (see NEW_TOKEN_KEY).
    session[NEW_TOKEN_KEY] = secrets_at_rest.seal(token)
    return redirect(url_for(".account"), 303)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    form = PlainPostForm()
    if form.validate_on_submit():
        accounts.revoke_token(current_user, token_id)
        flash("Token revoked. Programs using it can no longer sign in.", "success")
    return redirect(url_for(".account"))


def _attach(form, error: ValidationFailed, fields: dict) -> None:
    for detail in error.details or [{"error": error.message}]:
        field = fields.get(detail.get("field")) or next(iter(fields.values()))
        field.errors = [*field.errors, form_errors.detail_message(detail, error.message)]


@bp.get("/audit")
@login_required
def audit_log():
    principal = current_principal()
    if not principal.is_admin:
        raise Forbidden("only your organisation's admins read its audit log")
    before = request.args.get("before_id", "")
    try:
        before_id = bounds.parse_count(before) if before else None
    except bounds.OutOfBounds:
        raise ValidationFailed("invalid page", [{"field": "before_id", "error": "not a page of this log"}]) from None
    events = audit.events_for_org(principal.org_id, limit=AUDIT_PAGE + 1, before_id=before_id)
    more = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    rows = audit_rows(events)
    older_url = url_for(".audit_log", before_id=events[-1].id) if more else None
    return render_template("accounts/audit.html", rows=rows, older_url=older_url)

