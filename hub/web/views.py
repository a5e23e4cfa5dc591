"""Pages: browse, item detail (revoke, widen), search, audit log. Views parse, call, render."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from hub import audit, policy
from hub.errors import Forbidden, ValidationFailed
from hub.intel import manage, reads
from hub.intel.audience import resolve_audience
from hub.principal import Principal
from hub.web.audit_log import audit_rows
from hub.web.errors import register_error_pages
from hub.web.forms import STIX_TYPES, ItemFilterForm, RevokeForm, WidenForm
from hub.web.security import add_security_headers
from hub.web.share import ADVISORY_ORG_KINDS
from hub.web.share import bp as share_bp

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
)
bp.register_blueprint(share_bp)
bp.after_request(add_security_headers)
register_error_pages(bp)

AUDIT_PAGE = 50
# Keys of a STIX object that point at other objects: shown as links on the detail page.
REFERENCE_KEYS = ("object_refs", "source_ref", "target_ref", "sighting_of_ref", "where_sighted_refs",
                  "observed_data_refs")


def current_principal() -> Principal:
    return Principal.of(current_user)


@bp.app_template_global()
def may_publish_advisories(user) -> bool:
    """Vendors and national CERTs publish advisories (analysts and admins)."""
    return bool(user.is_authenticated and user.can_share and user.org.kind in ADVISORY_ORG_KINDS)


@bp.app_template_filter("when")
def format_when(value) -> str:
    """A timestamp (datetime or RFC 3339 text) as "2026-11-02 08:00", in UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(".items"))
    return redirect(url_for("accounts.login"))


@bp.get("/items")
@login_required
def items():
    principal = current_principal()
    form = ItemFilterForm(request.args)
    if not form.validate():
        return render_template("web/items.html", form=form, rows=[], total=None, next_url=None,
                               stix_types=STIX_TYPES), 400
    filters = form.item_filters()
    page = reads.list_items(principal, filters, cursor=form.cursor.data or None)
    total = reads.count_items(principal, filters)
    # Names in a list are content: reads of others' AMBER and RED items are audited as anywhere.
    audit.record_reads(principal, page.items, "web")
    rows = [(item, reads.hub_metadata(principal, item)) for item in page.items]
    next_url = (
        url_for(".items", **form.active_filters(), cursor=page.next_cursor) if page.next_cursor else None
    )
    return render_template("web/items.html", form=form, rows=rows, total=total, next_url=next_url,
                           stix_types=STIX_TYPES)


@bp.get("/items/<stix_id>")
@login_required
def item_detail(stix_id: str):
    principal = current_principal()
    item = reads.read_item(principal, stix_id, "web")
    return _render_detail(principal, item)


@bp.post("/items/<stix_id>/revoke")
@login_required
def revoke_item(stix_id: str):
    principal = current_principal()
    form = RevokeForm()
    if not form.validate_on_submit():
        return _render_detail(principal, reads.get_item(principal, stix_id), revoke_form=form, status=422)
    manage.revoke(principal, stix_id, reason=form.reason.data or "")
    flash("Revoked. Recipients are told to stop using it.", "success")
    return redirect(url_for(".item_detail", stix_id=stix_id))


@bp.post("/items/<stix_id>/audience")
@login_required
def widen_item(stix_id: str):
    principal = current_principal()
    item = reads.get_item(principal, stix_id)
    if not policy.can_manage(principal, item):
        raise Forbidden("only analysts and admins of the owner organisation may change this item")
    form = WidenForm()
    form.offer_audiences(principal)
    if form.validate_on_submit():
        try:
            manage.widen(principal, stix_id, resolve_audience(principal, form.audience_spec()))
        except ValidationFailed as error:
            form.attach_service_errors(error)
        else:
            flash("Audience widened. The new recipients are told.", "success")
            return redirect(url_for(".item_detail", stix_id=stix_id))
    return _render_detail(principal, item, widen_form=form, status=422)


def _render_detail(principal: Principal, item, *, revoke_form=None, widen_form=None, status=200):
    meta = reads.hub_metadata(principal, item, with_versions=True)
    obj = reads.stix_object(item)
    can_manage = policy.can_manage(principal, item)
    if can_manage and widen_form is None:
        widen_form = WidenForm(formdata=None)
        widen_form.offer_audiences(principal)
    references = [
        (key, ref)
        for key in REFERENCE_KEYS
        for ref in ([obj[key]] if isinstance(obj.get(key), str) else obj.get(key) or [])
        if isinstance(ref, str)
    ]
    return render_template(
        "web/item_detail.html",
        item=item,
        obj=obj,
        meta=meta,
        stix_json=json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False),
        references=references,
        can_manage=can_manage,
        revoke_form=revoke_form or RevokeForm(formdata=None),
        widen_form=widen_form,
    ), status


@bp.get("/search")
@login_required
def search():
    principal = current_principal()
    query = request.args.get("q", "").strip()
    results, problem = [], None
    if query:
        try:
            found = reads.search(principal, query)
        except ValidationFailed as error:
            problem = "; ".join(d.get("error", "") for d in error.details) or error.message
        else:
            audit.record_reads(principal, [item for item, _matched in found], "web")
            results = [(item, matched, reads.hub_metadata(principal, item)) for item, matched in found]
    return render_template("web/search.html", query=query, results=results, problem=problem), (
        400 if problem else 200
    )


@bp.get("/audit")
@login_required
def audit_log():
    principal = current_principal()
    if not principal.is_admin:
        raise Forbidden("only your organisation's admins read its audit log")
    before = request.args.get("before_id", "")
    if before and not before.isdigit():
        raise ValidationFailed("invalid page", [{"field": "before_id", "error": "not a page of this log"}])
    events = audit.events_for_org(principal.org_id, limit=AUDIT_PAGE + 1,
                                  before_id=int(before) if before else None)
    more = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    rows = audit_rows(events)
    older_url = url_for(".audit_log", before_id=events[-1].id) if more else None
    return render_template("web/audit.html", rows=rows, older_url=older_url)

