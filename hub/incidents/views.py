"""Incident pages: report, read, NIS2 clocks, consent, the CERT's queue, the liaison's cases,
and the dashboard. Thin: parse, call a service, render."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from hub import form_errors, policy
from hub.accounts import services as accounts
from hub.errors import Forbidden, ValidationFailed
from hub.intel import display, reads
from hub.incidents import actors as threat_actors
from hub.incidents import cases, evidence, filing, reading, reporting, stix, summaries
from hub.incidents import dashboard as figures
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES, SERVICES
from hub.incidents.forms import IncidentForm
from hub.intel import manage, readers
from hub.intel.audience import resolve_audience
from hub.intel.forms import WidenForm
from hub.incidents.models import CaseStatus
from hub.incidents.nis2 import Stage
from hub.principal import OrgKind, Principal, current_principal
from hub.tlp import TLP

bp = Blueprint("incidents", __name__, template_folder="templates")


@bp.app_context_processor
def _vocabularies():
    return {"ATTACK_TYPES": ATTACK_TYPES, "SERVICES": SERVICES, "IMPACT_FIGURES": IMPACT_FIGURES,
            "ORG_KINDS": OrgKind}


def _back(stix_id: str):
    return redirect(url_for(".detail", stix_id=stix_id))


def _refused(error: ValidationFailed) -> None:
    flash(form_errors.summary(error), "error")


def _beside_field(error: ValidationFailed) -> str:
    """A refusal shown beside the one field of a small form, without API words."""
    return "; ".join(form_errors.detail_message(d) for d in error.details if d.get("error")) or \
        form_errors.human(error.message)


@bp.route("/incidents/new", methods=["GET", "POST"])
@login_required
def new():
    # Refused on the GET already: a viewer should not fill in a form only to be refused on sending.
    if not current_principal().can_share:
        raise Forbidden("viewers cannot file incident reports")
    form = IncidentForm()
    findings: list = []
    if form.is_submitted():
        findings, ready = _check_report(form, new=True)
        if ready:
            try:
                incident = filing.file_incident(current_principal(), form.report(current_user.org.timezone))
            except ValidationFailed as error:
                findings = form.show_errors(error.details)
            else:
                flash("Incident report filed.", "success")
                return _back(incident.stix_id)
    status = 422 if request.method == "POST" else 200
    return render_template("incidents/form.html", form=form, findings=findings, editing=None,
                           **_default_audience_words(current_principal(), form.tlp.data)), status


def _default_audience_words(principal: Principal, tlp_value: str | None) -> dict:
    """A new report's audience in words (its own organisation and the country's national CERTs,
    rule 6), and that audience as the page's audience.js sends it when the TLP changes."""
    spec = filing.default_audience_spec(principal)
    try:
        tlp = TLP.parse(tlp_value or "amber")
    except ValueError:
        tlp = TLP.amber
    who = readers.preview(principal, tlp, resolve_audience(principal, spec), stix_type="incident")
    kind, names = (spec, "") if isinstance(spec, str) else next(iter(spec.items()))
    return {"who": who, "who_default": {"audience": kind, "names": ",".join(names)}}


def _check_report(form: IncidentForm, *, new: bool) -> tuple[list, bool]:
    """Every problem of the sent form in one round: the form's own checks and the service's
    (dates in order, patient data, linked indicators) together. Returns (findings, ready)."""
    valid = form.validate()
    problems = filing.report_problems(current_principal(), form.report(current_user.org.timezone), new=new)
    findings = form.show_errors(problems)
    return findings, valid and not problems


@bp.route("/incidents/<stix_id>/edit", methods=["GET", "POST"])
@login_required
def edit(stix_id: str):
    me = current_principal()
    incident = reading.get_incident(me, stix_id, channel="web")
    if not policy.is_owner_org(me, incident):
        abort(404)
    if not me.can_share:
        raise Forbidden("viewers cannot update incident reports")
    form = IncidentForm()
    findings: list = []
    if request.method == "GET":
        form.fill(reading.latest_data(incident), incident.item.tlp.value, current_user.org.timezone)
    else:
        findings, ready = _check_report(form, new=False)
        if ready:
            try:
                filing.update_incident(me, stix_id, form.report(current_user.org.timezone))
            except ValidationFailed as error:
                findings = form.show_errors(error.details)
            else:
                flash("New revision saved.", "success")
                return _back(stix_id)
    status = 422 if request.method == "POST" else 200
    return render_template("incidents/form.html", form=form, findings=findings, editing=incident,
                           who=readers.of_item(me, incident.item), who_default=None), status


@bp.get("/incidents")
@login_required
def index():
    page, next_cursor = reading.list_incidents(
        current_principal(), cursor=request.args.get("cursor") or None, attack_type=request.args.get("attack_type") or None)
    # Rows first: recording the reads commits, which expires every loaded incident.
    rows = [reading.incident_row(incident) for incident in page]
    reading.record_incident_reads(current_principal(), page, "web")
    return render_template("incidents/list.html", rows=rows, next_cursor=next_cursor)


@bp.get("/actors")
@login_required
def actors():
    """Threat actors, one row per actor however many incidents name it (?name= one actor)."""
    principal = current_principal()
    name = request.args.get("name")
    found = threat_actors.threat_actors(principal, name=name.strip() if name is not None else None)
    reads.audit_reads(principal, [item for actor in found for item in actor.objects], "web")
    reading.record_incident_reads(principal, {i.id: i for actor in found for i in actor.incidents}.values(), "web")
    return render_template("incidents/actors.html", actors=found, name=name)


@bp.get("/incidents/<stix_id>")
@login_required
def detail(stix_id: str):
    return _render_detail(stix_id)


def _render_detail(stix_id: str, *, advice_error: str | None = None, summary_error: str | None = None,
                   widen_form=None, status: int = 200):
    me = current_principal()
    incident = reading.get_incident(me, stix_id, channel="web")
    view = reading.incident_view(me, incident)
    law_enforcement, consent_gains = [], {}
    if policy.manages_consents(me, incident):
        law_enforcement = accounts.member_directory(OrgKind.law_enforcement)
        # Consent widens who reads the report: the page names who would gain access, per unit.
        gains = readers.gained_by_each_consent(me, incident.item, [org.id for org in law_enforcement])
        consent_gains = {org.slug: gains[org.id] for org in law_enforcement}
    manages = policy.can_manage(me, incident)
    if manages and widen_form is None:
        widen_form = WidenForm(formdata=None)
        widen_form.offer_audiences(me)
    revision = request.args.get("revision", type=int)
    shown = reading.revision_data(me, stix_id, revision) if revision else view["report"]
    # Linked indicators by their values; revision_data already kept only readable ones.
    linked = display.indicators_with_values(me, shown.get("indicators") or [])
    return render_template("incidents/detail.html", view=view, incident=incident, report=shown, linked=linked,
                           shown_revision=revision or view["revision"], me=me,
                           submissions=reporting.submissions(me, incident), stages=list(Stage),
                           law_enforcement=law_enforcement, consent_gains=consent_gains, manages=manages,
                           who=readers.of_item(me, incident.item) if policy.sees_incident_internals(me, incident) else None,
                           widen_form=widen_form,
                           advises=(me.can_share and policy.is_national_cert_of(me, incident)
                                    and not policy.is_owner_org(me, incident)),
                           advice_error=advice_error, summary_error=summary_error, sent=request.form), status


def _confirmed() -> bool:
    return request.form.get("confirm") == "y"


@bp.post("/incidents/<stix_id>/audience")
@login_required
def widen(stix_id: str):
    """Widen the report's audience (with every object filed with it): asks first, naming who gains access."""
    me = current_principal()
    incident = reading.own_incident(me, stix_id)
    if not policy.can_manage(me, incident):
        raise Forbidden("only analysts and admins of the hospital widen its incident reports")
    form = WidenForm()
    form.offer_audiences(me)
    if form.validate_on_submit():
        try:
            audience = resolve_audience(me, form.audience_spec())
            if not form.confirm.data:
                manage.check_widening(incident.item, audience)
                return render_template(
                    "intel/widen_confirm.html", item=incident.item, form=form,
                    gained=readers.gained_by_widening(me, incident.item, audience),
                    action=url_for(".widen", stix_id=stix_id), back_url=url_for(".detail", stix_id=stix_id),
                    scope="the incident report and every object filed with it")
            filing.widen_incident(me, stix_id, audience)
        except ValidationFailed as error:
            form.attach_service_errors(error)
        else:
            flash("Audience widened. The new recipients are told.", "success")
            return _back(stix_id)
    return _render_detail(stix_id, widen_form=form, status=422)


@bp.post("/incidents/<stix_id>/consents")
@login_required
def grant(stix_id: str):
    if not _confirmed():
        flash("Nothing was shared: tick the box to confirm what the police unit will see.", "error")
        return _back(stix_id)
    try:
        cases.grant_consent(current_principal(), stix_id, request.form.get("org", ""))
        flash("Consent granted: the liaison now sees this incident as a case.", "success")
    except ValidationFailed as error:
        _refused(error)
    return _back(stix_id)


@bp.post("/incidents/<stix_id>/consents/<slug>/revoke")
@login_required
def revoke(stix_id: str, slug: str):
    if not _confirmed():
        flash("Consent was not revoked: tick the box to confirm.", "error")
        return _back(stix_id)
    cases.revoke_consent(current_principal(), stix_id, slug)
    flash("Consent revoked: the case is hidden from that organisation from now on.", "success")
    return _back(stix_id)


@bp.post("/incidents/<stix_id>/significant")
@login_required
def significant(stix_id: str):
    reporting.mark_significant(current_principal(), stix_id)
    flash("Marked significant: the NIS2 clocks run from the time of awareness.", "success")
    return _back(stix_id)


@bp.route("/incidents/<stix_id>/nis2/<stage>", methods=["GET", "POST"])
@login_required
def submit(stix_id: str, stage: str):
    """A NIS2 report cannot be withdrawn: the page says where it goes and asks for a tick first."""
    me = current_principal()
    incident, stage_value = reporting.submittable(me, stix_id, stage)
    problem = None
    if request.method == "POST":
        if not _confirmed():
            # Both in one round: the answers' problems as well as the missing tick.
            problem = "Nothing was sent: tick the box to confirm that this report goes to the national CERT."
            try:
                reporting.art_23_4_a(request.form.get("suspected_malicious"), request.form.get("cross_border_impact"),
                                     request.form.get("cross_border_countries"))
            except ValidationFailed as error:
                problem += " " + form_errors.summary(error)
        else:
            try:
                reporting.submit_nis_report(
                    me, stix_id, stage, suspected_malicious=request.form.get("suspected_malicious"),
                    cross_border_impact=request.form.get("cross_border_impact"),
                    cross_border_countries=request.form.get("cross_border_countries"),
                    request_key=request.form.get("request_key") or None)
            except ValidationFailed as error:
                problem = form_errors.summary(error)
            else:
                flash(f"{stage_value.label} submitted.", "success")
                return _back(stix_id)
    return render_template("incidents/nis2_submit.html", incident=incident, stage=stage_value,
                           recipients=reporting.national_certs(me), values=request.form,
                           request_key=request.form.get("request_key") or uuid.uuid4().hex,
                           problem=problem), (422 if problem else 200)


@bp.get("/incidents/<stix_id>/nis2/submissions/<public_id>")
@login_required
def submission(stix_id: str, public_id: str):
    snapshot = reporting.submission_snapshot(current_principal(), stix_id, public_id)
    if request.args.get("format") == "json":
        return Response(orjson.dumps(snapshot), mimetype="application/json", headers={
            "Content-Disposition": f"attachment; filename=nis2-{snapshot['stage']}-{public_id}.json"})
    return render_template("incidents/submission.html", snapshot=snapshot, stix_id=stix_id, public_id=public_id)


@bp.post("/incidents/<stix_id>/advice")
@login_required
def advise(stix_id: str):
    try:
        reporting.give_advice(current_principal(), stix_id, request.form.get("body", ""))
    except ValidationFailed as error:
        # The page again, with the error beside the field (nothing was sent).
        return _render_detail(stix_id, advice_error=_beside_field(error), status=422)
    flash("Advice sent to the hospital.", "success")
    return _back(stix_id)


@bp.post("/incidents/<stix_id>/summary")
@login_required
def publish(stix_id: str):
    try:
        summaries.publish_summary(current_principal(), stix_id, request.form.get("text", ""),
                                  request.form.get("confirm_personal_data") == "y")
    except ValidationFailed as error:
        # The page again with the typed text and the reason beside it (nothing was published).
        return _render_detail(stix_id, summary_error=_beside_field(error), status=422)
    flash("Anonymised summary published to the community.", "success")
    return _back(stix_id)


@bp.get("/incidents/<stix_id>/stix")
@login_required
def bundle(stix_id: str):
    schema = url_for("api.incidents.extension_schema", definition_id=stix.HUB_HEALTHCARE_EXTENSION,
                     _external=True)
    return Response(orjson.dumps(reading.incident_bundle(current_principal(), stix_id, schema)), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={stix_id}.json"})


@bp.get("/nis2")
@login_required
def nis_queue():
    return render_template("incidents/nis2_queue.html", rows=reporting.nis_queue(current_principal(), "web"))


@bp.get("/cases")
@login_required
def case_queue():
    status = request.args.get("status") or None
    return render_template("incidents/cases.html", rows=cases.case_queue(current_principal(), status), status=status,
                           statuses=list(CaseStatus))


@bp.get("/cases/<case_id>")
@login_required
def case(case_id: str):
    return _render_case(case_id)


def _render_case(case_id: str, *, message_error: str | None = None, evidence_error: str | None = None,
                 status: int = 200):
    me = current_principal()
    found = cases.get_case(me, case_id)
    return render_template("incidents/case.html", case=found, view=cases.case_view(me, found),
                           messages=cases.case_messages(me, case_id),
                           evidence=evidence.list_evidence(me, case_id),
                           custody=[evidence.custody_view(e) for e in evidence.custody_log(me, case_id)], me=me,
                           law_enforcement_party=policy.is_case_law_enforcement(me, found),
                           message_error=message_error, evidence_error=evidence_error, sent=request.form), status


@bp.post("/cases/<case_id>/status")
@login_required
def case_status(case_id: str):
    if request.form.get("status") == CaseStatus.declined.value and not _confirmed():
        flash("The case was not declined: tick the box to confirm.", "error")
        return redirect(url_for(".case", case_id=case_id))
    try:
        cases.set_case_status(current_principal(), case_id, request.form.get("status", ""))
    except ValidationFailed as error:
        _refused(error)
    return redirect(url_for(".case", case_id=case_id))


@bp.post("/cases/<case_id>/messages")
@login_required
def case_message(case_id: str):
    try:
        cases.post_message(current_principal(), case_id, request.form.get("body", ""), request.form.get("kind", "message"),
                           request.form.get("confirm_personal_data") == "y")
    except ValidationFailed as error:
        # The case again with the typed message kept and the reason beside it (nothing was sent).
        return _render_case(case_id, message_error=_beside_field(error), status=422)
    return redirect(url_for(".case", case_id=case_id))


@bp.post("/cases/<case_id>/evidence")
@login_required
def case_evidence(case_id: str):
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed("missing file", [{"field": "file", "error": "choose a file"}])
        evidence.add_evidence(current_principal(), case_id, upload.filename, upload.stream, upload.mimetype,
                              request.form.get("description", ""))
    except ValidationFailed as error:
        return _render_case(case_id, evidence_error=_beside_field(error), status=422)
    flash("Evidence stored; its SHA-256 is in the custody log.", "success")
    return redirect(url_for(".case", case_id=case_id))


@bp.get("/evidence/<evidence_id>")
@login_required
def download(evidence_id: str):
    return evidence.download_response(*evidence.open_evidence(current_principal(), evidence_id))


@bp.get("/summaries")
@login_required
def summary_list():
    rows, next_cursor = summaries.list_summaries(current_principal(), limit=50,
                                                 cursor=request.args.get("cursor") or None)
    return render_template("incidents/summaries.html", rows=rows,
                           next_cursor=next_cursor)


@bp.get("/dashboard")
@login_required
def dashboard():
    me = current_principal()
    now = datetime.now(timezone.utc)
    try:
        selection = figures.parse_selection(request.args, now.date())
        problems = {}
    except ValidationFailed as error:
        selection = figures.Selection()
        problems = {d["field"]: form_errors.detail_message(d) for d in error.details}
    rows = figures.dashboard_rows(me, selection, now.date())
    data = figures.figures_of(rows)
    quarter = selection.period if figures.is_quarter(selection.period) else figures.quarter_of(now.date())
    compliance = figures.nis2_compliance(me, rows, quarter, now) if policy.is_national_cert(me) else None
    return render_template("incidents/dashboard.html", figures=data, charts=figures.charts_svg(data),
                           selection=selection, problems=problems, compliance=compliance,
                           quarter_label=figures.quarter_label(quarter),
                           periods=figures.period_choices(now.date()), countries=figures.published_countries(me),
                           csv_args={key: value for key, value in request.args.items()
                                     if key in ("period", "country", "attack_type") and not problems}
                           ), (400 if problems else 200)


@bp.get("/dashboard.csv")
@login_required
def dashboard_csv():
    try:
        selection = figures.parse_selection(request.args, datetime.now(timezone.utc).date())
    except ValidationFailed as error:
        return Response(form_errors.summary(error), status=400, mimetype="text/plain")
    return Response(figures.dashboard_csv(current_principal(), selection), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=incident-dashboard.csv"})
