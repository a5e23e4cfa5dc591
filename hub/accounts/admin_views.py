"""Administration pages: an organisation's admin manages its users; operators manage member
organisations and sharing groups. Each view parses a form, calls one service, redirects."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import login_required

from hub import secrets_at_rest
from hub.accounts import services as accounts
from hub.accounts.forms import (
    GroupForm,
    GroupMemberForm,
    InviteUserForm,
    OrganisationEditForm,
    OrganisationForm,
    PlainPostForm,
    RoleForm,
    attach_errors,
)
from hub.errors import ValidationFailed
from hub.principal import current_principal

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

# An initial password crosses the redirect after the invitation sealed and short-lived (as a new
# API token does), so that it is shown once, by the next GET, and never kept in clear.
INITIAL_PASSWORD_KEY = "initial_password"
INITIAL_PASSWORD_MAX_AGE = 300


def _confirm(title: str, consequence: str, action: str, button: str, cancel: str):
    return render_template("admin/confirm.html", title=title, consequence=consequence, action=action,
                           button=button, cancel=cancel, form=PlainPostForm(formdata=None))


# --- An organisation's users ---------------------------------------------------------------------

@bp.route("/users", methods=["GET", "POST"])
@login_required
def users():
    me = current_principal()
    form = InviteUserForm()
    if form.validate_on_submit():
        try:
            user, password = accounts.invite_user(me, form.email.data, form.role.data)
        except ValidationFailed as error:
            attach_errors(form, error, {"email": form.email, "role": form.role})
        else:
            session[INITIAL_PASSWORD_KEY] = secrets_at_rest.seal(f"{user.id}:{password}")
            return redirect(url_for(".user", user_id=user.id), 303)
    status = 422 if form.errors else 200
    return render_template("admin/users.html", users=accounts.org_users(me), form=form), status


@bp.get("/users/<int:user_id>")
@login_required
def user(user_id: int):
    target = accounts.managed_user(current_principal(), user_id)
    sealed = session.pop(INITIAL_PASSWORD_KEY, None)
    opened = secrets_at_rest.unseal(sealed, max_age=INITIAL_PASSWORD_MAX_AGE) if sealed else None
    owner, _, password = (opened or "").partition(":")
    return _render_user(target, initial_password=password if owner == str(target.id) else None)


def _render_user(target, *, role_form=None, initial_password=None, status=200):
    return render_template("admin/user.html", target=target, initial_password=initial_password,
                           role_form=role_form or RoleForm(formdata=None, role=target.role.value),
                           plain_form=PlainPostForm(formdata=None)), status


@bp.post("/users/<int:user_id>/role")
@login_required
def change_role(user_id: int):
    me = current_principal()
    target = accounts.managed_user(me, user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            accounts.change_role(me, user_id, form.role.data)
        except ValidationFailed as error:
            attach_errors(form, error, {"role": form.role})
        else:
            flash(f"{target.email} is now {form.role.data}.", "success")
            return redirect(url_for(".user", user_id=user_id), 303)
    return _render_user(target, role_form=form, status=422)


def _user_action(user_id: int, *, title: str, consequence: str, button: str, act, done: str):
    """GET: a confirmation page stating the consequence; POST: the action, then back to the user."""
    me = current_principal()
    target = accounts.managed_user(me, user_id)
    form = PlainPostForm()
    if not form.validate_on_submit():
        return _confirm(title.format(email=target.email), consequence, url_for(f".{act.__name__}_page", user_id=user_id),
                        button, url_for(".user", user_id=user_id))
    try:
        act(me, user_id)
    except ValidationFailed as error:
        flash(error.details[0]["error"] if error.details else error.message, "error")
    else:
        flash(done.format(email=target.email), "success")
    return redirect(url_for(".user", user_id=user_id), 303)


def deactivate(me, user_id):
    accounts.set_user_active(me, user_id, False)


def reactivate(me, user_id):
    accounts.set_user_active(me, user_id, True)


def reset_totp(me, user_id):
    accounts.reset_totp(me, user_id)


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate_page(user_id: int):
    return _user_action(user_id, title="Deactivate {email}?", button="Deactivate", act=deactivate,
                        consequence="They are signed out everywhere at once, cannot sign in, and their API "
                                    "tokens stop working. What they shared stays shared. You can reactivate them later.",
                        done="{email} is deactivated.")


@bp.route("/users/<int:user_id>/reactivate", methods=["GET", "POST"])
@login_required
def reactivate_page(user_id: int):
    return _user_action(user_id, title="Reactivate {email}?", button="Reactivate", act=reactivate,
                        consequence="They can sign in again with their password, and their API tokens work again.",
                        done="{email} is active again.")


@bp.route("/users/<int:user_id>/reset-2fa", methods=["GET", "POST"])
@login_required
def reset_totp_page(user_id: int):
    return _user_action(user_id, title="Reset two-factor sign-in of {email}?", button="Reset two-factor sign-in",
                        act=reset_totp,
                        consequence="Their authenticator app and recovery codes stop working and they are signed "
                                    "out everywhere. At their next sign-in (password only) they must set up "
                                    "two-factor sign-in again before they can do anything else. Do this only after "
                                    "you have confirmed who is asking, e.g. by calling them back.",
                        done="Two-factor sign-in of {email} is reset; they will set it up again at their next sign-in.")


# --- Operators: member organisations -------------------------------------------------------------

@bp.route("/organisations", methods=["GET", "POST"])
@login_required
def organisations():
    me = current_principal()
    orgs = accounts.all_organisations(me)
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            org = accounts.register_org(me, form.slug.data.strip(), form.name.data, form.kind.data, form.country.data)
        except ValidationFailed as error:
            attach_errors(form, error, {"slug": form.slug, "name": form.name, "kind": form.kind, "country": form.country})
        else:
            flash(f"{org.name} is a member now. Add its first admin with `flask users create`.", "success")
            return redirect(url_for(".organisation", slug=org.slug), 303)
    status = 422 if form.errors else 200
    return render_template("admin/organisations.html", orgs=orgs, form=form), status


@bp.route("/organisations/<slug>", methods=["GET", "POST"])
@login_required
def organisation(slug: str):
    me = current_principal()
    accounts.all_organisations(me)  # operators only, before anything about the slug is said
    org = accounts.org_by_slug(slug)
    form = OrganisationEditForm(obj=None, name=org.name, kind=org.kind.value, country=org.country)
    if form.validate_on_submit():
        try:
            accounts.edit_org(me, slug, form.name.data, form.kind.data, form.country.data)
        except ValidationFailed as error:
            attach_errors(form, error, {"name": form.name, "kind": form.kind, "country": form.country})
        else:
            flash("Saved.", "success")
            return redirect(url_for(".organisation", slug=slug), 303)
    status = 422 if form.errors else 200
    return render_template("admin/organisation.html", org=org, form=form,
                           plain_form=PlainPostForm(formdata=None)), status


@bp.route("/organisations/<slug>/<any(deactivate, reactivate):change>", methods=["GET", "POST"])
@login_required
def organisation_active(slug: str, change: str):
    me = current_principal()
    accounts.all_organisations(me)
    org = accounts.org_by_slug(slug)
    form = PlainPostForm()
    if not form.validate_on_submit():
        consequence = ("Every user of this organisation is signed out at once and can no longer sign in; its API and "
                       "TAXII tokens stop working. Its shared items stay. You can reactivate it later."
                       if change == "deactivate" else "Its users can sign in again and their tokens work again.")
        return _confirm(f"{change.capitalize()} {org.name}?", consequence,
                        url_for(".organisation_active", slug=slug, change=change), change.capitalize(),
                        url_for(".organisation", slug=slug))
    try:
        accounts.set_org_active(me, slug, change == "reactivate")
    except ValidationFailed as error:
        flash(error.details[0]["error"] if error.details else error.message, "error")
    else:
        flash(f"{org.name} is {change}d.", "success")
    return redirect(url_for(".organisation", slug=slug), 303)


# --- Operators: sharing groups -------------------------------------------------------------------

@bp.route("/groups", methods=["GET", "POST"])
@login_required
def groups():
    me = current_principal()
    all_groups = accounts.all_groups(me)
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = accounts.register_group(me, form.slug.data.strip(), form.name.data)
        except ValidationFailed as error:
            attach_errors(form, error, {"slug": form.slug, "name": form.name})
        else:
            flash(f"Sharing group {group.name} created. Add its members.", "success")
            return redirect(url_for(".group", slug=group.slug), 303)
    status = 422 if form.errors else 200
    return render_template("admin/groups.html", groups=all_groups, form=form), status


def _member_form(me, group) -> GroupMemberForm:
    form = GroupMemberForm()
    members = {org.id for org in group.orgs}
    form.org.choices = [(org.slug, f"{org.name} ({org.slug})") for org in accounts.all_organisations(me)
                        if org.id not in members]
    return form


@bp.route("/groups/<slug>", methods=["GET", "POST"])
@login_required
def group(slug: str):
    me = current_principal()
    found = accounts.group_by_slug(me, slug)
    form = _member_form(me, found)
    if form.validate_on_submit():
        try:
            accounts.add_group_member(me, slug, form.org.data)
        except ValidationFailed as error:
            attach_errors(form, error, {"org": form.org})
        else:
            flash(f"{form.org.data} is now a member of {found.name}.", "success")
            return redirect(url_for(".group", slug=slug), 303)
    status = 422 if form.errors else 200
    return render_template("admin/group.html", group=found, form=form), status


@bp.route("/groups/<slug>/members/<org_slug>/remove", methods=["GET", "POST"])
@login_required
def remove_member(slug: str, org_slug: str):
    me = current_principal()
    found = accounts.group_by_slug(me, slug)
    org = accounts.org_by_slug(org_slug)
    form = PlainPostForm()
    if not form.validate_on_submit():
        return _confirm(f"Remove {org.name} from {found.name}?",
                        "It no longer receives what is shared with this group from now on, and loses sight of "
                        "items shared with the group before (unless they were shared with it otherwise).",
                        url_for(".remove_member", slug=slug, org_slug=org_slug), "Remove",
                        url_for(".group", slug=slug))
    accounts.remove_group_member(me, slug, org_slug)
    flash(f"{org.name} is no longer a member of {found.name}.", "success")
    return redirect(url_for(".group", slug=slug), 303)
