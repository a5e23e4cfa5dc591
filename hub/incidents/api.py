"""REST API v1 for incident reports, NIS2 reporting and law-enforcement cases. Parse, call, answer."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from hub.api.errors import ApiError
from hub.api.views import json_body, page_limit, token_required
from hub.incidents import cases, clocks, evidence, filing, reading, reporting, stix, summaries
from hub.incidents import dashboard as incident_dashboard

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")


def _limit() -> int:
    return page_limit(reading.DEFAULT_PAGE, reading.MAX_PAGE)


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None:
        return None
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise ApiError(400, f"invalid {name}", [{"field": name, "value": value, "error": "1 or 0"}])


def _schema_url() -> str:
    base = current_app.config["HUB_BASE_URL"].rstrip("/")
    return f"{base}/api/v1/extension-definitions/{stix.HUB_HEALTHCARE_EXTENSION}/schema"


@bp.post("/incidents")
@token_required
def file_incident():
    incident = filing.file_incident(g.principal, json_body())
    return jsonify({"id": incident.stix_id}), 201


@bp.get("/incidents")
@token_required
def list_incidents():
    page, next_cursor = reading.list_incidents(
        g.principal, limit=_limit(), cursor=request.args.get("cursor") or None,
        attack_type=request.args.get("attack_type") or None, significant=_flag("significant"),
        owner_country=request.args.get("country") or None,
    )
    reading.record_incident_reads(g.principal, page, "api")
    return jsonify({"incidents": [reading.incident_view(g.principal, i) for i in page], "next": next_cursor})


@bp.get("/incidents/<stix_id>")
@token_required
def get_incident(stix_id: str):
    incident = reading.get_incident(g.principal, stix_id)
    return jsonify(reading.incident_view(g.principal, incident))


@bp.put("/incidents/<stix_id>")
@token_required
def update_incident(stix_id: str):
    incident = filing.update_incident(g.principal, stix_id, json_body())
    return jsonify({"id": incident.stix_id, "revision": incident.revision_count})


@bp.get("/incidents/<stix_id>/revisions/<int:number>")
@token_required
def get_revision(stix_id: str, number: int):
    return jsonify({"id": stix_id, "revision": number,
                    "report": reading.revision_data(g.principal, stix_id, number)})


@bp.get("/incidents/<stix_id>/stix")
@token_required
def incident_stix(stix_id: str):
    return jsonify(reading.incident_bundle(g.principal, stix_id, _schema_url()))


@bp.post("/incidents/<stix_id>/consents")
@token_required
def grant_consent(stix_id: str):
    body = json_body()
    if not isinstance(body.get("org"), str):
        raise ApiError(422, "missing org", [{"field": "org", "error": "the slug of a law-enforcement organisation"}])
    case = cases.grant_consent(g.principal, stix_id, body["org"])
    return jsonify({"org": case.org.slug, "case": case.public_id, "active": True}), 201


@bp.delete("/incidents/<stix_id>/consents/<slug>")
@token_required
def revoke_consent(stix_id: str, slug: str):
    cases.revoke_consent(g.principal, stix_id, slug)
    return "", 204


@bp.post("/incidents/<stix_id>/significant")
@token_required
def mark_significant(stix_id: str):
    body = json_body() if request.get_data() else {}
    incident = reporting.mark_significant(g.principal, stix_id, body.get("aware_at"))
    return jsonify({"id": incident.stix_id, "nis2": clocks.nis2_clocks(incident)})


@bp.post("/incidents/<stix_id>/nis2/<stage>")
@token_required
def submit_nis_report(stix_id: str, stage: str):
    submission = reporting.submit_nis_report(g.principal, stix_id, stage)
    return jsonify({"id": submission.public_id, "stage": submission.stage,
                    "submitted_at": submission.submitted_at.isoformat()}), 201


@bp.get("/incidents/<stix_id>/nis2/submissions/<public_id>")
@token_required
def get_submission(stix_id: str, public_id: str):
    return jsonify(reporting.submission_snapshot(g.principal, stix_id, public_id))


@bp.post("/incidents/<stix_id>/nis2/intermediate-request")
@token_required
def request_intermediate(stix_id: str):
    body = json_body()
    incident = reporting.request_intermediate(g.principal, stix_id, body.get("due_at"))
    return jsonify({"id": incident.stix_id, "nis2": clocks.nis2_clocks(incident)})


@bp.get("/nis2/queue")
@token_required
def nis_queue():
    return jsonify({"incidents": [
        {"id": incident.stix_id, "title": incident.title, "owner": incident.owner.slug, "nis2": clocks}
        for incident, clocks in reporting.nis_queue(g.principal)
    ]})


@bp.post("/incidents/<stix_id>/advice")
@token_required
def give_advice(stix_id: str):
    body = json_body()
    advice = reporting.give_advice(g.principal, stix_id, body.get("body", ""),
                                  body.get("kind", "involve_law_enforcement"))
    return jsonify({"kind": advice.kind, "created": advice.created.isoformat()}), 201


@bp.get("/cases")
@token_required
def case_queue():
    queue = cases.case_queue(g.principal, request.args.get("status") or None)
    reading.record_incident_reads(g.principal, [case.incident for case in queue], "api")
    return jsonify({"cases": [cases.case_view(g.principal, case) for case in queue]})


@bp.get("/cases/<case_id>")
@token_required
def get_case(case_id: str):
    return jsonify(cases.case_view(g.principal, cases.get_case(g.principal, case_id)))


@bp.post("/cases/<case_id>/status")
@token_required
def set_case_status(case_id: str):
    body = json_body()
    case = cases.set_case_status(g.principal, case_id, body.get("status"))
    return jsonify({"id": case.public_id, "status": case.status.value})


@bp.post("/cases/<case_id>/messages")
@token_required
def post_message(case_id: str):
    body = json_body()
    message = cases.post_message(g.principal, case_id, body.get("body"), body.get("kind", "message"),
                                 body.get("confirm_personal_data") is True)
    return jsonify(cases.message_view(message)), 201


@bp.get("/cases/<case_id>/messages")
@token_required
def list_messages(case_id: str):
    return jsonify({"messages": [cases.message_view(m) for m in cases.case_messages(g.principal, case_id)]})


@bp.get("/extension-definitions/<definition_id>")
@token_required
def extension_definition(definition_id: str):
    if definition_id != stix.HUB_HEALTHCARE_EXTENSION:
        raise ApiError(404, f"no extension definition {definition_id}")
    return jsonify(stix.hub_extension_definition(_schema_url()))


@bp.get("/extension-definitions/<definition_id>/schema")
@token_required
def extension_schema(definition_id: str):
    if definition_id != stix.HUB_HEALTHCARE_EXTENSION:
        raise ApiError(404, f"no extension definition {definition_id}")
    return jsonify(stix.hub_extension_schema())


@bp.post("/cases/<case_id>/evidence")
@token_required
def add_evidence(case_id: str):
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "missing file", [{"field": "file", "error": "send the file as multipart/form-data field `file`"}])
    stored = evidence.add_evidence(g.principal, case_id, upload.filename, upload.stream,
                                   upload.mimetype, request.form.get("description", ""))
    return jsonify(evidence.evidence_view(stored)), 201


@bp.get("/cases/<case_id>/evidence")
@token_required
def list_evidence(case_id: str):
    return jsonify({"evidence": [evidence.evidence_view(e) for e in evidence.list_evidence(g.principal, case_id)]})


@bp.get("/evidence/<evidence_id>")
@token_required
def download_evidence(evidence_id: str):
    return evidence.download_response(*evidence.open_evidence(g.principal, evidence_id))


@bp.get("/cases/<case_id>/custody")
@token_required
def custody_log(case_id: str):
    return jsonify({"custody": [evidence.custody_view(e) for e in evidence.custody_log(g.principal, case_id)]})


@bp.post("/incidents/<stix_id>/summary")
@token_required
def publish_summary(stix_id: str):
    body = json_body()
    summary = summaries.publish_summary(g.principal, stix_id, body.get("text", ""),
                                        body.get("confirm_personal_data") is True)
    return jsonify(summaries.summary_view(summary)), 201


@bp.delete("/incidents/<stix_id>/summary")
@token_required
def withdraw_summary(stix_id: str):
    summaries.withdraw_summary(g.principal, stix_id)
    return "", 204


@bp.get("/summaries")
@token_required
def list_summaries():
    page, next_cursor = summaries.list_summaries(limit=_limit(), cursor=request.args.get("cursor") or None,
                                                 country=request.args.get("country") or None)
    return jsonify({"summaries": [summaries.summary_view(s) for s in page], "next": next_cursor})


@bp.get("/dashboard")
@token_required
def dashboard():
    return jsonify(incident_dashboard.dashboard_figures(g.principal))


@bp.get("/dashboard.csv")
@token_required
def dashboard_csv():
    return Response(incident_dashboard.dashboard_csv(g.principal), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=incident-dashboard.csv"})
