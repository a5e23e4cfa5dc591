"""REST API v1 for incident reports, NIS2 reporting and law-enforcement cases. Parse, call, answer."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from hub.principal import current_principal
from hub.rest import ApiError, json_body, page_limit
from hub.incidents import cases, clocks, evidence, filing, reading, reporting, stix, summaries
from hub.incidents import dashboard as incident_dashboard
from hub.intel import severity

bp = Blueprint("incidents", __name__)


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


def _schema_url(definition_id: str = stix.HUB_HEALTHCARE_EXTENSION) -> str:
    base = current_app.config["HUB_BASE_URL"].rstrip("/")
    return f"{base}/api/v1/extension-definitions/{definition_id}/schema"


# The hub's own STIX extensions: id -> (definition given its schema URL, JSON schema).
EXTENSIONS = {
    stix.HUB_HEALTHCARE_EXTENSION: (stix.hub_extension_definition, stix.hub_extension_schema),
    severity.ADVISORY_EXTENSION: (severity.advisory_extension_definition, severity.advisory_extension_schema),
}


@bp.post("/incidents")
def file_incident():
    incident = filing.file_incident(current_principal(), json_body())
    return jsonify({"id": incident.stix_id}), 201


@bp.get("/incidents")
def list_incidents():
    page, next_cursor = reading.list_incidents(
        current_principal(), limit=_limit(), cursor=request.args.get("cursor") or None,
        attack_type=request.args.get("attack_type") or None, significant=_flag("significant"),
        owner_country=request.args.get("country") or None,
    )
    reading.record_incident_reads(current_principal(), page, "api")
    return jsonify({"incidents": [reading.incident_view(current_principal(), i) for i in page], "next": next_cursor})


@bp.get("/incidents/<stix_id>")
def get_incident(stix_id: str):
    incident = reading.get_incident(current_principal(), stix_id)
    return jsonify(reading.incident_view(current_principal(), incident))


@bp.put("/incidents/<stix_id>")
def update_incident(stix_id: str):
    incident = filing.update_incident(current_principal(), stix_id, json_body())
    return jsonify({"id": incident.stix_id, "revision": incident.revision_count})


@bp.get("/incidents/<stix_id>/revisions/<int:number>")
def get_revision(stix_id: str, number: int):
    return jsonify({"id": stix_id, "revision": number,
                    "report": reading.revision_data(current_principal(), stix_id, number)})


@bp.get("/incidents/<stix_id>/stix")
def incident_stix(stix_id: str):
    return jsonify(reading.incident_bundle(current_principal(), stix_id, _schema_url()))


@bp.post("/incidents/<stix_id>/consents")
def grant_consent(stix_id: str):
    body = json_body()
    if not isinstance(body.get("org"), str):
        raise ApiError(422, "missing org", [{"field": "org", "error": "the slug of a law-enforcement organisation"}])
    case = cases.grant_consent(current_principal(), stix_id, body["org"])
    return jsonify({"org": case.org.slug, "case": case.public_id, "active": True}), 201


@bp.delete("/incidents/<stix_id>/consents/<slug>")
def revoke_consent(stix_id: str, slug: str):
    cases.revoke_consent(current_principal(), stix_id, slug)
    return "", 204


@bp.post("/incidents/<stix_id>/significant")
def mark_significant(stix_id: str):
    body = json_body() if request.get_data() else {}
    incident = reporting.mark_significant(current_principal(), stix_id, body.get("aware_at"))
    return jsonify({"id": incident.stix_id, "nis2": clocks.nis2_clocks(incident)})


@bp.post("/incidents/<stix_id>/nis2/<stage>")
def submit_nis_report(stix_id: str, stage: str):
    body = json_body() if request.get_data() else {}
    submission = reporting.submit_nis_report(
        current_principal(), stix_id, stage, suspected_malicious=body.get("suspected_malicious"),
        cross_border_impact=body.get("cross_border_impact"),
        cross_border_countries=body.get("cross_border_countries"), request_key=body.get("request_key"))
    return jsonify({"id": submission.public_id, "stage": submission.stage,
                    "submitted_at": submission.submitted_at.isoformat(),
                    **reporting.submission_answers(submission)}), 201


@bp.get("/incidents/<stix_id>/nis2/submissions/<public_id>")
def get_submission(stix_id: str, public_id: str):
    return jsonify(reporting.submission_snapshot(current_principal(), stix_id, public_id))


@bp.post("/incidents/<stix_id>/nis2/intermediate-request")
def request_intermediate(stix_id: str):
    body = json_body()
    incident = reporting.request_intermediate(current_principal(), stix_id, body.get("due_at"))
    return jsonify({"id": incident.stix_id, "nis2": clocks.nis2_clocks(incident)})


@bp.get("/nis2/queue")
def nis_queue():
    return jsonify({"incidents": [
        {"id": incident.stix_id, "title": incident.title, "owner": incident.owner.slug, "nis2": clocks}
        for incident, clocks in reporting.nis_queue(current_principal())
    ]})


@bp.post("/incidents/<stix_id>/advice")
def give_advice(stix_id: str):
    body = json_body()
    advice = reporting.give_advice(current_principal(), stix_id, body.get("body", ""),
                                  body.get("kind", "involve_law_enforcement"))
    return jsonify({"kind": advice.kind, "created": advice.created.isoformat()}), 201


@bp.get("/cases")
def case_queue():
    queue = cases.case_queue(current_principal(), request.args.get("status") or None)
    reading.record_incident_reads(current_principal(), [case.incident for case in queue], "api")
    return jsonify({"cases": [cases.case_view(current_principal(), case) for case in queue]})


@bp.get("/cases/<case_id>")
def get_case(case_id: str):
    return jsonify(cases.case_view(current_principal(), cases.get_case(current_principal(), case_id)))


@bp.post("/cases/<case_id>/status")
def set_case_status(case_id: str):
    body = json_body()
    case = cases.set_case_status(current_principal(), case_id, body.get("status"))
    return jsonify({"id": case.public_id, "status": case.status.value})


@bp.post("/cases/<case_id>/messages")
def post_message(case_id: str):
    body = json_body()
    message = cases.post_message(current_principal(), case_id, body.get("body"), body.get("kind", "message"),
                                 body.get("confirm_personal_data") is True)
    return jsonify(cases.message_view(message)), 201


@bp.get("/cases/<case_id>/messages")
def list_messages(case_id: str):
    return jsonify({"messages": [cases.message_view(m) for m in cases.case_messages(current_principal(), case_id)]})


@bp.get("/extension-definitions/<definition_id>")
def extension_definition(definition_id: str):
    if definition_id not in EXTENSIONS:
        raise ApiError(404, f"no extension definition {definition_id}")
    return jsonify(EXTENSIONS[definition_id][0](_schema_url(definition_id)))


@bp.get("/extension-definitions/<definition_id>/schema")
def extension_schema(definition_id: str):
    if definition_id not in EXTENSIONS:
        raise ApiError(404, f"no extension definition {definition_id}")
    return jsonify(EXTENSIONS[definition_id][1]())


@bp.post("/cases/<case_id>/evidence")
def add_evidence(case_id: str):
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "missing file", [{"field": "file", "error": "send the file as multipart/form-data field `file`"}])
    stored = evidence.add_evidence(current_principal(), case_id, upload.filename, upload.stream,
                                   upload.mimetype, request.form.get("description", ""))
    return jsonify(evidence.evidence_view(stored)), 201


@bp.get("/cases/<case_id>/evidence")
def list_evidence(case_id: str):
    return jsonify({"evidence": [evidence.evidence_view(e) for e in evidence.list_evidence(current_principal(), case_id)]})


@bp.get("/evidence/<evidence_id>")
def download_evidence(evidence_id: str):
    return evidence.download_response(*evidence.open_evidence(current_principal(), evidence_id))


@bp.get("/cases/<case_id>/custody")
def custody_log(case_id: str):
    return jsonify({"custody": [evidence.custody_view(e) for e in evidence.custody_log(current_principal(), case_id)]})


@bp.post("/incidents/<stix_id>/summary")
def publish_summary(stix_id: str):
    body = json_body()
    summary = summaries.publish_summary(current_principal(), stix_id, body.get("text", ""),
                                        body.get("confirm_personal_data") is True)
    return jsonify(summaries.summary_view(summary)), 201


@bp.delete("/incidents/<stix_id>/summary")
def withdraw_summary(stix_id: str):
    summaries.withdraw_summary(current_principal(), stix_id)
    return "", 204


@bp.get("/summaries")
def list_summaries():
    rows, next_cursor = summaries.list_summaries(current_principal(), limit=_limit(),
                                                 cursor=request.args.get("cursor") or None,
                                                 country=request.args.get("country") or None)
    return jsonify({"summaries": rows, "next": next_cursor})


@bp.get("/dashboard")
def dashboard():
    return jsonify(incident_dashboard.dashboard_figures(current_principal()))


@bp.get("/dashboard.csv")
def dashboard_csv():
    return Response(incident_dashboard.dashboard_csv(current_principal()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=incident-dashboard.csv"})
