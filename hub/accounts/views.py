"""Signing in and out (password, then TOTP when enabled) and the account page."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from hub import audit, bounds, secrets_at_rest
from hub.accounts import services as accounts
from hub.accounts import sessions as web_sessions
from hub.accounts.forms import (
    AuditFilterForm,
    LoginForm,
    PasswordChangeForm,
    PlainPostForm,
    RecoveryCodesForm,
    SecondFactorForm,
    TokenCreateForm,
    TotpCodeForm,
    TotpDisableForm,
    attach_errors,
)
from hub.accounts.models import ApiToken, User
from hub.errors import NotFound, ValidationFailed
from hub.extensions import db, limiter, login_manager
from hub.accounts import audit_log as audit_pages
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


# While an admin's reset of two-factor sign-in is pending, these pages still answer.
ENROLMENT_ALLOWED = {"accounts.totp_setup", "accounts.recovery_codes", "accounts.logout", "accounts.login",
                     "web.static", "web.favicon"}
# While an invited user has not chosen their own password, these pages still answer.
PASSWORD_CHANGE_ALLOWED = {"accounts.account", "accounts.change_password", "accounts.logout", "accounts.login",
                           "web.static", "web.favicon"}


@bp.before_app_request
def _enrol_second_factor_first():
    """After an admin invited a user (with a password the admin saw) or reset their two-factor
    sign-in, the web UI offers only the password change, then the enrolment."""
    if request.blueprint == "api" or request.path.startswith(("/api/", "/taxii2")):
        return None
    if not current_user.is_authenticated:
        return None
    if current_user.password_change_due:
        if request.endpoint in PASSWORD_CHANGE_ALLOWED:
            return None
        flash("Choose a password of your own to continue: the one you were given was seen by your admin.", "info")
        return redirect(url_for("accounts.account"))
    if request.endpoint in ENROLMENT_ALLOWED:
        return None
    if current_user.totp_enrolment_due and not current_user.totp_secret:
        flash("Your admin reset your two-factor sign-in: set it up again to continue.", "info")
        return redirect(url_for("accounts.totp_setup"))
    return None


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
    form = SecondFactorForm()
    failed = False
    if form.validate_on_submit():
        code = form.code.data
        if accounts.looks_like_recovery_code(code):
            accepted = accounts.accept_recovery_code(user, code)
        else:
            accepted = accounts.accept_totp_sign_in(user, code)
        if accepted:
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
            codes = accounts.enable_totp(current_user, secret, form.code.data)
        except ValidationFailed as error:
            _attach(form, error, {"code": form.code})
        else:
            session.pop(TOTP_SETUP_SECRET, None)
            session[NEW_RECOVERY_CODES_KEY] = secrets_at_rest.seal("\n".join(codes))
            flash("Two-factor sign-in is on. You will be asked for a code at every sign-in.", "success")
            return redirect(url_for(".recovery_codes"), 303)
    uri = accounts.totp_uri(current_user, secret)
    # segno draws the QR code as SVG here, so the secret never leaves the hub for an image service.
    qr_svg = Markup(segno.make(uri, error="m").svg_inline(
        scale=5, dark="#111", title="QR code for your authenticator app", svgclass="qr"
    ))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/totp_setup.html", form=form, secret=secret, qr_svg=qr_svg), status


# Recovery codes cross the redirect after their issue like a new API token: sealed, short-lived.
NEW_RECOVERY_CODES_KEY = "new_recovery_codes"


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@login_required
def recovery_codes():
    """Shows new recovery codes once; regenerates them (the old ones stop working)."""
    form = RecoveryCodesForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = accounts.regenerate_recovery_codes(current_user, form.password.data)
        except ValidationFailed as error:
            _attach(form, error, {"password": form.password})
            status = 422
        else:
            session[NEW_RECOVERY_CODES_KEY] = secrets_at_rest.seal("\n".join(codes))
            flash("New recovery codes issued. The old ones no longer work.", "success")
            return redirect(url_for(".recovery_codes"), 303)
    elif request.method == "POST":
        status = 422
    sealed = session.pop(NEW_RECOVERY_CODES_KEY, None) if request.method == "GET" else None
    opened = secrets_at_rest.unseal(sealed, max_age=NEW_TOKEN_MAX_AGE) if sealed else None
    return render_template("accounts/recovery_codes.html", form=form, new_codes=opened.split("\n") if opened else None,
                           unused=accounts.unused_recovery_codes(current_user)), status


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


_attach = attach_errors


def _audit_filter() -> tuple[AuditFilterForm, audit_pages.AuditFilter]:
    principal = current_principal()
    if not principal.is_admin:
        raise Forbidden("only your organisation's admins read its audit log")
    form = AuditFilterForm(request.args)
    if not form.validate():
        raise ValidationFailed("invalid filter", [{"field": name, "error": "; ".join(errors)}
                                                  for name, errors in form.errors.items()])
    wanted = audit_pages.AuditFilter(actor=form.actor.data or "", action=form.action.data or "",
                                     org=form.org.data or "", item=form.item.data or "",
                                     since=form.since.data, until=form.until.data)
    return form, wanted


@bp.get("/audit")
@login_required
def audit_log():
    form, wanted = _audit_filter()
    before = request.args.get("before_id", "")
    try:
        before_id = bounds.parse_count(before) if before else None
    except bounds.OutOfBounds:
        raise ValidationFailed("invalid page", [{"field": "before_id", "error": "not a page of this log"}]) from None
    try:
        lines, next_id = audit_pages.page_of(current_principal(), wanted, current_user.org.timezone,
                                             before_id=before_id, size=AUDIT_PAGE)
    except ValidationFailed as error:
        _attach(form, error, {"until": form.until, "since": form.since})
        lines, next_id = [], None
    older_url = url_for(".audit_log", before_id=next_id, **wanted.as_args()) if next_id else None
    csv_url = url_for(".audit_csv", **wanted.as_args())
    return render_template("accounts/audit.html", lines=lines, older_url=older_url, csv_url=csv_url,
                           form=form, filtered=bool(wanted.as_args()))


@bp.get("/audit.csv")
@login_required
def audit_csv():
    _form, wanted = _audit_filter()
    lines = audit_pages.csv_lines(current_principal(), wanted, current_user.org.timezone)
    audit.record("audit_exported", current_principal(), filters=wanted.as_args())
    db.session.commit()
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})
