"""Sharing from the web: an indicator from what a human knows, or a vulnerability advisory."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from hub.accounts.models import OrgKind
from hub.errors import Forbidden, ValidationFailed
from hub.intel import builders
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.intel.tlp import TLP
from hub.principal import Principal
from hub.web.forms import AdvisoryForm, ShareIndicatorForm, end_of_day

bp = Blueprint("share", __name__, url_prefix="/share")

ADVISORY_ORG_KINDS = (OrgKind.vendor, OrgKind.national_cert)


def _sharer() -> Principal:
    principal = Principal.of(current_user)
    if not principal.can_share:
        raise Forbidden("viewers read but do not share: ask an analyst or admin of your organisation")
    return principal


def _identity_ref(anonymous: bool = False) -> str | None:
    """created_by_ref: the sharer organisation's STIX identity, unless the share is anonymous."""
    return None if anonymous else current_user.org.identity_id


def _status() -> int:
    """A form sent back with errors is a refused request."""
    return 422 if request.method == "POST" else 200


@bp.route("/indicator", methods=["GET", "POST"])
@login_required
def indicator():
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
        try:
            audience = resolve_audience(principal, form.audience_spec())
            share_objects(principal, [stix_indicator], audience=audience, tlp=tlp,
                          anonymous=form.anonymous.data)
        except ValidationFailed as error:
            form.attach_service_errors(error)
        else:
            flash(f"Shared as {tlp.label}.", "success")
            return redirect(url_for("web.item_detail", stix_id=stix_indicator["id"]))
    return render_template("web/share_indicator.html", form=form), _status()


@bp.route("/advisory", methods=["GET", "POST"])
@login_required
def advisory():
    principal = _sharer()
    if principal.org_kind not in ADVISORY_ORG_KINDS:
        raise Forbidden("advisories are published by vendors and national CERTs")
    form = AdvisoryForm()
    form.offer_audiences(principal)
    if form.validate_on_submit():
        tlp = TLP(form.tlp.data)
        objects = builders.build_advisory(
            title=form.title.data.strip(),
            summary=form.summary.data.strip(),
            cve_ids=form.parsed_cve_ids,
            products=form.parsed_products,
            mitigation=form.mitigation.data.strip(),
            reference_urls=form.parsed_references,
            tlp=tlp,
            created_by_ref=_identity_ref(),
        )
        try:
            audience = resolve_audience(principal, form.audience_spec())
            share_objects(principal, objects, audience=audience, tlp=tlp)
        except ValidationFailed as error:
            form.attach_service_errors(error)
        else:
            flash(f"Advisory published as {tlp.label}.", "success")
            return redirect(url_for("web.item_detail", stix_id=objects[0]["id"]))
    return render_template("web/share_advisory.html", form=form), _status()
