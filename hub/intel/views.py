"""Intelligence pages: browse, item detail (revoke, widen), search, and the share forms.

Views parse, call a service, render; the HTML shell (hub/web) adds headers and error pages.
"""
from __future__ import annotations

import orjson
from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from hub import form_errors, policy
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.intel import (advisories, builders, correlation, display, freetext, manage, observables, readers, reads,
                       severity, sighting_uploads, sightings, warninglists)
from hub.intel.audience import resolve_audience
from hub.intel.forms import (
    STIX_TYPES,
    AdvisoryContentForm,
    AdvisoryForm,
    BulkSightingForm,
    ExtendForm,
    FreeTextForm,
    FreeTextShareForm,
    ItemFilterForm,
    RevokeForm,
    ShareIndicatorForm,
    SightingForm,
    WidenForm,
    end_of_day,
)
from hub.intel.ingest import share_objects
from hub.principal import Principal, current_principal
from hub.tlp import TLP

bp = Blueprint("intel", __name__, template_folder="templates")

# An item page lists the newest correlations; the REST endpoint gives up to 500.
DETAIL_CORRELATIONS = 50
# A firewall or proxy export of 100,000 lines is a few MB.
UPLOAD_MAX_BYTES = 10 * 1024 * 1024

# Keys of a relationship or sighting that point at other objects: shown, by name, on its page.
REFERENCE_KEYS = {"source_ref": "from", "target_ref": "to", "sighting_of_ref": "sighting of",
                  "observed_data_refs": "observed data"}


@bp.app_template_global()
def may_publish_advisories(user) -> bool:
    """Vendors and national CERTs publish advisories (analysts and admins)."""
    return bool(user.is_authenticated and user.can_share and policy.publishes_advisories(user.org.kind))


@bp.app_template_filter("typed_value")
def typed_value(kind: str, value: str) -> str:
    """An observable as people read it: "203.0.113.5 (IPv4 address)"."""
    return str(display.typed(kind, value))


@bp.app_template_global()
def cwe_name(cwe_id: str) -> str | None:
    return severity.cwe_name(cwe_id)


@bp.get("/items")
@login_required
def items():
    principal = current_principal()
    form = ItemFilterForm(request.args)
    if not form.validate():
        return render_template("intel/items.html", form=form, rows=[], total=None, next_url=None,
                               stix_types=STIX_TYPES), 400
    filters = form.item_filters()
    page = reads.list_items(principal, filters, cursor=form.cursor.data or None)
    total = reads.count_items(principal, filters)
    # Names in a list are content: reads of others' AMBER and RED items are audited as anywhere.
    reads.audit_reads(principal, page.items, "web")
    shown = display.summaries(page.items)
    facts = reads.list_metadata(principal, page.items)
    rows = [(shown[item.id], facts[item.id]) for item in page.items]
    next_url = (
        url_for(".items", **form.active_filters(), cursor=page.next_cursor) if page.next_cursor else None
    )
    return render_template("intel/items.html", form=form, rows=rows, total=total, next_url=next_url,
                           stix_types=STIX_TYPES)


@bp.get("/items/<stix_id>")
@login_required
def item_detail(stix_id: str):
    principal = current_principal()
    return _render_detail(principal, reads.get_item(principal, stix_id))


def _managed_on_the_web(principal: Principal, stix_id: str):
    """The caller's own item, unless it belongs to an incident report: that is managed as a
    whole from the incident's page (returns the redirect there instead)."""
    item = manage.managed_item(principal, stix_id)
    incident_id = policy.managing_incident(item)
    if incident_id is None:
        return item, None
    flash("This object belongs to an incident report: revoke it or widen its audience from the incident's page.",
          "error")
    return item, redirect(url_for("incidents.detail", stix_id=incident_id))


@bp.get("/items/<stix_id>/stix.json")
@login_required
def item_stix(stix_id: str):
    """The STIX object itself, as a download: read (and audited) exactly like its page."""
    principal = current_principal()
    item = reads.get_item(principal, stix_id)
    reads.audit_reads(principal, [item], "web")
    body = orjson.dumps(reads.stix_object(item), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    filename = f"{item.stix_id}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@bp.post("/items/<stix_id>/revoke")
@login_required
def revoke_item(stix_id: str):
    principal = current_principal()
    item, elsewhere = _managed_on_the_web(principal, stix_id)
    if elsewhere:
        return elsewhere
    form = RevokeForm()
    if not form.validate_on_submit():
        return _render_detail(principal, item, revoke_form=form, status=422)
    manage.revoke(principal, stix_id, reason=form.reason.data)
    flash("Revoked. Recipients are told to stop using it.", "success")
    return redirect(url_for(".item_detail", stix_id=stix_id))


@bp.post("/items/<stix_id>/extend")
@login_required
def extend_item(stix_id: str):
    principal = current_principal()
    item, elsewhere = _managed_on_the_web(principal, stix_id)
    if elsewhere:
        return elsewhere
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            manage.extend(principal, stix_id, end_of_day(form.valid_until.data))
        except ValidationFailed as error:
            form_errors.attach(form, error, {"valid_until": "valid_until"})
        else:
            flash("Validity extended. Followers of this item are told.", "success")
            return redirect(url_for(".item_detail", stix_id=stix_id))
    return _render_detail(principal, item, extend_form=form, status=422)


@bp.post("/items/<stix_id>/audience")
@login_required
def widen_item(stix_id: str):
    """Widening asks first: the page names who gains access, and only a confirmed form widens."""
    principal = current_principal()
    item, elsewhere = _managed_on_the_web(principal, stix_id)
    if elsewhere:
        return elsewhere
    form = WidenForm()
    form.offer_audiences(principal)
    if form.validate_on_submit():
        try:
            audience = resolve_audience(principal, form.audience_spec())
            if not form.confirm.data:
                manage.check_widening(item, audience)
                gained = readers.gained_by_widening(principal, item, audience)
                return render_template("intel/widen_confirm.html", item=item, form=form, gained=gained,
                                       action=url_for(".widen_item", stix_id=stix_id),
                                       back_url=url_for(".item_detail", stix_id=stix_id), scope=None)
            manage.widen(principal, stix_id, audience)
        except ValidationFailed as error:
            form.attach_service_errors(error)
        else:
            flash("Audience widened. The new recipients are told.", "success")
            return redirect(url_for(".item_detail", stix_id=stix_id))
    return _render_detail(principal, item, widen_form=form, status=422)


@bp.post("/items/<stix_id>/sightings")
@login_required
def sight_item(stix_id: str):
    principal = current_principal()
    item = reads.get_item(principal, stix_id)
    form = SightingForm()
    if form.validate_on_submit():
        request_ = sightings.SightingRequest(count=form.count.data, note=(form.note.data or "").strip(),
                                             anonymous=form.anonymous.data)
        try:
            sightings.record_sighting(principal, stix_id, request_)
        except ValidationFailed as error:
            form_errors.attach(form, error)
        else:
            flash("Sighting recorded. The source and your national CERT are told.", "success")
            return redirect(url_for(".item_detail", stix_id=stix_id))
    return _render_detail(principal, item, sighting_form=form, status=422)


@bp.route("/sightings/upload", methods=["GET", "POST"])
@login_required
def upload_sightings():
    principal = _sharer()
    form = BulkSightingForm()
    if form.validate_on_submit():
        try:
            values = form.observed_values(UPLOAD_MAX_BYTES)
            if not values:
                raise ValueError("paste some values or choose a file")
            if len(values) > sightings.MAX_BULK_VALUES:
                raise ValueError(f"at most {sightings.MAX_BULK_VALUES:,} lines per upload ({len(values):,} sent)")
            result = sightings.record_bulk(principal, sightings.BulkSightingRequest(
                values=tuple(values),
                sighting=sightings.SightingRequest(note=(form.note.data or "").strip(), anonymous=form.anonymous.data)))
        except ValidationFailed as error:
            form_errors.attach(form, error, {"values": "values"})
        except ValueError as error:
            form.values.errors = [str(error)]
        else:
            upload_id = sighting_uploads.keep(principal, result, len(values))
            return redirect(url_for(".sighting_upload_result", upload_id=upload_id), 303)
    status = 422 if request.method == "POST" else 200
    return _render_upload(principal, form, None), status


@bp.get("/sightings/upload/<upload_id>")
@login_required
def sighting_upload_result(upload_id: str):
    principal = _sharer()
    result = sighting_uploads.summary(principal, upload_id)
    if result is None:
        raise NotFound("no such upload")
    return _render_upload(principal, BulkSightingForm(), result)


def _render_upload(principal: Principal, form, result):
    return render_template("intel/upload_sightings.html", form=form, result=result,
                           who=readers.bulk_sighting_default(principal),
                           max_values=sightings.MAX_BULK_VALUES, shown_matches=sighting_uploads.SHOWN_MATCHES)


def _render_detail(principal: Principal, item, *, revoke_form=None, widen_form=None, sighting_form=None,
                   extend_form=None, status=200):
    # Every page that shows an item's content is a read: audited here, whichever route renders it.
    reads.audit_reads(principal, [item], "web")
    related = correlation.correlations_of(principal, item, limit=DETAIL_CORRELATIONS)
    seen = correlation.seen_by(principal, item)
    reads.audit_reads(principal, [c.item for c in related], "web")
    meta = reads.hub_metadata(principal, item, with_versions=True)
    obj = reads.stix_object(item)
    may_sight = principal.can_share and not item.revoked and item.stix_type in sightings.SIGHTABLE_TYPES
    managing_incident = policy.managing_incident(item)
    # An incident report and the objects filed with it are managed from the incident's page.
    can_manage = policy.can_manage(principal, item) and managing_incident is None
    if can_manage and widen_form is None:
        widen_form = WidenForm(formdata=None)
        widen_form.offer_audiences(principal)
    referenced = [
        (label, ref)
        for key, label in REFERENCE_KEYS.items()
        for ref in ([obj[key]] if isinstance(obj.get(key), str) else obj.get(key) or [])
        if isinstance(ref, str)
    ]
    # Only what the reader may read is named; rule 7 hid this item if it named anything else.
    readable_refs = display.readable_by_stix_id(principal, [ref for _label, ref in referenced])
    values = display.values_of_items([item.id]).get(item.id, [])
    advisory = advisories.advisory_of(obj)
    advisory_view = None if advisory is None else {
        "advisory": advisory, "tlp": meta["tlp"], "publisher": item.owner.name if meta["owner"] else None,
        "published": obj.get("published"), "version": len(meta["versions"]),
        "updated": obj.get("modified") if len(meta["versions"]) > 1 else None}
    return render_template(
        "intel/item_detail.html",
        item=item,
        advisory_view=advisory_view,
        may_edit_advisory=bool(advisory and can_manage and not item.revoked),
        obj=obj,
        meta=meta,
        kind=display.type_label(item.stix_type, obj),
        values=values,
        references=[(label, ref, readable_refs.get(ref)) for label, ref in referenced],
        related=display.related_of(principal, item),
        contents=display.contents_of(principal, obj),
        can_manage=can_manage,
        managing_incident=managing_incident,
        who=readers.of_item(principal, item),
        recipients=readers.chosen_recipients(principal, item),
        revoke_form=revoke_form or RevokeForm(formdata=None),
        widen_form=widen_form,
        correlations=related,
        seen=seen,
        score=correlation.attention_score(principal, item, seen),
        may_sight=may_sight,
        sighting_who=readers.sighting_default(principal, item) if may_sight else None,
        sighting_form=sighting_form or SightingForm(formdata=None),
        extend_form=extend_form or ExtendForm(formdata=None),
    ), status


@bp.get("/audience/preview")
def audience_preview():
    """Who would read what a share form describes (or, with `item`, who gains access when the
    owner widens that item), for the page to show as the audience changes."""
    if not current_user.is_authenticated:
        return jsonify(error="sign in first"), 401
    principal = current_principal()
    if not principal.can_share:
        return jsonify(error="viewers read but do not share: ask an analyst or admin of your organisation"), 403
    audience = {"audience": request.args.get("audience"), "groups": request.args.getlist("groups"),
                "orgs": request.args.getlist("orgs"), "users": request.args.getlist("users")}
    try:
        if request.args.get("item"):
            who = readers.widening_request(principal, request.args["item"], **audience)
        else:
            who = readers.preview_request(principal, tlp=request.args.get("tlp"), stix_type=request.args.get("type"),
                                          **audience)
    except ValidationFailed as error:
        first = error.details[0] if error.details else {}
        return jsonify(error=str(first.get("error") or error.message), field=first.get("field"),
                       details=error.details), 400
    except (NotFound, Forbidden) as error:
        return jsonify(error=error.message), error.status
    return jsonify(who.as_json())


def _who_reads(principal: Principal, form, stix_type: str = "indicator"):
    """The audience in words for a share form as filled in; None until it names a TLP and an audience."""
    try:
        return readers.preview_request(principal, tlp=form.tlp.data, stix_type=stix_type,
                                       audience=form.audience.data, groups=form.groups.data or [],
                                       orgs=form.orgs.data or [], users=[form.users.data or ""])
    except ValidationFailed:
        return None


@bp.get("/search")
@login_required
def search():
    principal = current_principal()
    query = request.args.get("q", "").strip()
    supporting = request.args.get("supporting", "") not in ("", "0", "false", "off")
    results, problem, looks_like = [], None, None
    if query:
        classified = observables.classify(query)
        looks_like = display.typed(*classified) if classified else None
        try:
            found = reads.search(principal, query, supporting=supporting)
        except ValidationFailed as error:
            problem = "; ".join(form_errors.detail_message(d) for d in error.details) or form_errors.human(error.message)
        else:
            reads.audit_reads(principal, [item for item, _matched in found], "web")
            shown = display.summaries([item for item, _matched in found])
            facts = reads.list_metadata(principal, [item for item, _matched in found])
            results = [(shown[item.id], matched, facts[item.id]) for item, matched in found]
    return render_template("intel/search.html", query=query, results=results, problem=problem,
                           supporting=supporting, looks_like=looks_like), (
        400 if problem else 200
    )


def _sharer() -> Principal:
    principal = current_principal()
    if not principal.can_share:
        raise Forbidden("viewers read but do not share: ask an analyst or admin of your organisation")
    return principal


def _identity_ref(anonymous: bool = False) -> str | None:
    """created_by_ref: the sharer organisation's STIX identity, unless the share is anonymous."""
    return None if anonymous else current_user.org.identity_id


def _status() -> int:
    """A form sent back with errors is a refused request."""
    return 422 if request.method == "POST" else 200


@bp.route("/share/indicator", methods=["GET", "POST"])
@login_required
def share_indicator():
    principal = _sharer()
    form = ShareIndicatorForm()
    form.offer_audiences(principal)
    if form.validate_on_submit():
        tlp = TLP(form.tlp.data)
        stix_indicator = builders.build_indicator(
            form.observable_type.data,
            form.value.data,
            name=(form.name.data or "").strip() or None,
            description=form.description.data.strip(),
            confidence=form.confidence.data,
            valid_until=end_of_day(form.valid_until.data) if form.valid_until.data else None,
            tlp=tlp,
            created_by_ref=_identity_ref(form.anonymous.data),
        )
        listed = [found for _id, found in warninglists.listed_in_objects([stix_indicator])]
        if listed and not form.publish_anyway.data:
            # Nothing is written: the sharer confirms (or changes the value) first.
            return render_template("intel/share_indicator.html", form=form, listed=listed,
                                   who=_who_reads(principal, form))
        try:
            audience = resolve_audience(principal, form.audience_spec())
            share_objects(principal, [stix_indicator], audience=audience, tlp=tlp,
                          anonymous=form.anonymous.data)
        except ValidationFailed as error:
            form.attach_service_errors(error)
        else:
            flash(f"Shared as {tlp.label}.", "success")
            return redirect(url_for(".item_detail", stix_id=stix_indicator["id"]))
    return render_template("intel/share_indicator.html", form=form, who=_who_reads(principal, form)), _status()


def _advisory_publisher() -> Principal:
    principal = _sharer()
    if not policy.publishes_advisories(principal.org_kind):
        raise Forbidden("advisories are published by vendors and national CERTs")
    return principal


def _advisory_step(form):
    """What a POST of an advisory form asks for: ("row", None) for another product row,
    ("refused", None) with errors on the form, ("preview", advisory) or ("publish", advisory)."""
    if form.add_row.data:
        form.offer_another_row()
        return "row", None
    if not form.validate_on_submit():
        return "refused", None
    return ("publish" if form.publish.data else "preview"), form.advisory()


@bp.route("/share/advisory", methods=["GET", "POST"])
@login_required
def share_advisory():
    """Fill in, preview as readers will see it, then publish (POST-redirect-GET)."""
    principal = _advisory_publisher()
    form = AdvisoryForm()
    form.offer_audiences(principal)
    step, advisory = _advisory_step(form) if request.method == "POST" else ("form", None)
    if advisory is not None:
        try:
            audience = resolve_audience(principal, form.audience_spec())
            tlp = TLP(form.tlp.data)
            # Checked before the preview too, so that Publish does not fail on what was previewed.
            problem = policy.check_audience_for_tlp(tlp, audience.community, audience.group_ids,
                                                    audience.org_ids, audience.user_ids)
            if problem:
                raise ValidationFailed("invalid audience for TLP:RED", [{"field": "audience", "error": problem}])
            if step == "publish":
                report_id = advisories.publish(principal, advisory, tlp=tlp, audience=audience,
                                               created_by_ref=_identity_ref())
                flash(f"Advisory published as {tlp.label}.", "success")
                return redirect(url_for(".item_detail", stix_id=report_id))
        except ValidationFailed as error:
            form.attach_service_errors(error)
            step, advisory = "refused", None
    preview = None if advisory is None else {
        "advisory": advisory, "tlp": form.tlp.data, "publisher": current_user.org.name, "published": None,
        "version": 1, "updated": None}
    return render_template("intel/share_advisory.html", form=form, preview=preview,
                           who=_who_reads(principal, form, "report")), (422 if step == "refused" else 200)


@bp.route("/items/<stix_id>/advisory", methods=["GET", "POST"])
@login_required
def edit_advisory(stix_id: str):
    """Edit a published advisory and republish it as a new version of the same objects."""
    principal = current_principal()
    item, published = advisories.editable_advisory(principal, stix_id)
    form = AdvisoryContentForm()
    step, advisory = _advisory_step(form) if request.method == "POST" else ("form", None)
    if request.method == "GET":
        form.fill_from(published)
    if step == "publish":
        try:
            advisories.republish(principal, stix_id, advisory)
        except ValidationFailed as error:
            form.general_errors = [error.message, *(str(d.get("error", "")) for d in error.details)]
            step, advisory = "refused", None
        else:
            flash("Advisory republished as a new version. Its readers are told.", "success")
            return redirect(url_for(".item_detail", stix_id=item.stix_id))
    preview = None if advisory is None else {
        "advisory": advisory, "tlp": item.tlp.value, "publisher": current_user.org.name,
        "published": reads.stix_object(item).get("published"), "version": advisories.version_count(item) + 1,
        "updated": None}
    return render_template("intel/edit_advisory.html", form=form, item=item, preview=preview), (
        422 if step == "refused" else 200)


@bp.route("/share/import", methods=["GET", "POST"])
@login_required
def import_text():
    """Free-text import, step one: paste, see what was found."""
    principal = _sharer()
    form = FreeTextForm()
    found, share_form = None, None
    if form.validate_on_submit():
        try:
            found = freetext.extract(principal, form.text.data)
        except ValidationFailed as error:
            form_errors.attach(form, error, {"text": "text"})
        else:
            share_form = _import_share_form(principal, form.text.data, found)
    status = 422 if form.errors else 200
    return render_template("intel/import_text.html", form=form, found=found, share_form=share_form,
                           who=share_form and _who_reads(principal, share_form)), status


def _import_share_form(principal: Principal, text: str, found) -> FreeTextShareForm:
    """The share step as first shown: every value not on a warning list ticked."""
    share_form = FreeTextShareForm(formdata=None)
    share_form.offer_audiences(principal)
    share_form.chosen.choices = [(item.key, item.value) for item in found if not item.lists]
    share_form.chosen.data = [item.key for item in found if not item.lists]
    share_form.text.data = text
    return share_form


@bp.post("/share/import/share")
@login_required
def import_text_share():
    """Free-text import, step two: share the ticked values as indicators."""
    principal = _sharer()
    share_form = FreeTextShareForm()
    form = FreeTextForm(formdata=None, text=share_form.text.data)
    try:
        found = freetext.extract(principal, share_form.text.data or "")
    except ValidationFailed as error:
        form_errors.attach(form, error, {"text": "text"})
        return render_template("intel/import_text.html", form=form, found=None, share_form=None), 422
    share_form.offer_audiences(principal)
    share_form.chosen.choices = [(item.key, item.value) for item in found if not item.lists]
    if share_form.validate_on_submit():
        tlp = TLP(share_form.tlp.data)
        try:
            items = freetext.share_found(
                principal, freetext.parse_chosen(share_form.chosen.data), tlp=tlp,
                audience=resolve_audience(principal, share_form.audience_spec()),
                description=(share_form.description.data or "").strip(), confidence=share_form.confidence.data,
                created_by_ref=_identity_ref(),
            )
        except ValidationFailed as error:
            share_form.attach_service_errors(error)
        else:
            flash(f"Shared {len(items)} indicator(s) as {tlp.label}.", "success")
            return redirect(url_for(".items"))
    return render_template("intel/import_text.html", form=form, found=found, share_form=share_form,
                           who=_who_reads(principal, share_form)), 422
