"""Evidence attached to a law-enforcement case, with its chain of custody.

Files (logs, ransom notes, malware samples) are kept apart from shared intelligence: on disk
under HUB_EVIDENCE_DIR, named by their SHA-256 (computed while the upload streams in), readable
by the hub's process only, never rendered, and served only to the case's two parties — the
hospital and the liaison while consent is active (`policy.can_read_case`, asked by `get_case`).
Every upload and download is a custody event both parties read; the rows are append-only
(database triggers).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app, request
from sqlalchemy import select

from hub import audit
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.extensions import db
from hub.incidents.cases import get_case
from hub.accounts.models import Organisation, User
from hub.incidents.models import CustodyEvent, EvidenceFile, LawEnforcementCase
from hub.principal import Principal

_CHUNK = 1024 * 1024


def _evidence_dir() -> Path:
    directory = Path(current_app.config["HUB_EVIDENCE_DIR"])
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def _path_for(sha256: str) -> Path:
    return _evidence_dir() / sha256[:2] / sha256


def _custody(principal: Principal, evidence: EvidenceFile, action: str, **detail) -> None:
    import orjson

    db.session.add(CustodyEvent(case_id=evidence.case_id, evidence_id=evidence.id,
                                actor_user_id=principal.user_id, actor_org_id=principal.org_id,
                                action=action, sha256=evidence.sha256,
                                detail=orjson.dumps(detail).decode()))


UPLOAD_ENDPOINTS = ("incidents.case_evidence", "api.incidents.add_evidence")


def allow_evidence_uploads() -> None:
    """Evidence files may be larger than any other request body (HUB_EVIDENCE_MAX_BYTES); the
    exact limit is enforced while the file streams in."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = current_app.config["HUB_EVIDENCE_MAX_BYTES"] + 64 * 1024


def add_evidence(principal: Principal, case_id: str, filename: str, stream, content_type: str | None,
                 description: str = "") -> EvidenceFile:
    """Store an uploaded file (streamed, hashed on the way in) and log its custody."""
    case = get_case(principal, case_id, audit_view=False)
    if not principal.can_share:
        raise Forbidden("viewers cannot add evidence")
    name = (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:255]
    if not name:
        raise ValidationFailed("missing file", [{"field": "file", "error": "attach a file with a name"}])
    limit = current_app.config["HUB_EVIDENCE_MAX_BYTES"]
    digest, size = hashlib.sha256(), 0
    directory = _evidence_dir()
    handle, temp_name = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed("file too large", [{"field": "file", "error": f"at most {limit:,} bytes"}])
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationFailed("empty file", [{"field": "file", "error": "the file is empty"}])
        sha256 = digest.hexdigest()
        target = _path_for(sha256)
        target.parent.mkdir(exist_ok=True, mode=0o700)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, target)  # the same content twice is the same file
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    evidence = EvidenceFile(case_id=case.id, uploaded_by_id=principal.user_id, filename=name,
                            content_type=(content_type or "application/octet-stream")[:127], size=size,
                            sha256=sha256, description=(description or "")[:2000])
    db.session.add(evidence)
    db.session.flush()
    _custody(principal, evidence, "upload", filename=name, size=size)
    audit.record("evidence_uploaded", principal, subject_org_id=case.incident.owner_org_id,
                 item=case.incident.item, case=case.public_id, sha256=sha256)
    db.session.commit()
    return evidence


def list_evidence(principal: Principal, case_id: str) -> list[EvidenceFile]:
    case = get_case(principal, case_id, audit_view=False)
    return db.session.scalars(select(EvidenceFile).where(EvidenceFile.case_id == case.id)
                              .order_by(EvidenceFile.id)).all()


def open_evidence(principal: Principal, evidence_id: str) -> tuple[EvidenceFile, Path]:
    """The file for one of the case's parties; its hash is checked and the access logged."""
    evidence = db.session.scalar(select(EvidenceFile).where(EvidenceFile.public_id == evidence_id))
    if evidence is None:
        raise NotFound(f"no evidence {evidence_id}")
    case = get_case(principal, _case_public_id(evidence), audit_view=False)  # 404 outside the case
    path = _path_for(evidence.sha256)
    digest = hashlib.sha256()
    with open(path, "rb") as stored:
        while chunk := stored.read(_CHUNK):
            digest.update(chunk)
    intact = digest.hexdigest() == evidence.sha256
    _custody(principal, evidence, "download", verified=intact)
    audit.record("evidence_downloaded", principal, subject_org_id=case.incident.owner_org_id,
                 item=case.incident.item, case=case.public_id, sha256=evidence.sha256, verified=intact)
    db.session.commit()
    if not intact:
        raise Conflict("the stored file no longer matches its SHA-256; the custody log records this")
    return evidence, path


def _case_public_id(evidence: EvidenceFile) -> str:
    return db.session.get(LawEnforcementCase, evidence.case_id).public_id


def custody_log(principal: Principal, case_id: str) -> list[CustodyEvent]:
    case = get_case(principal, case_id, audit_view=False)
    return db.session.scalars(select(CustodyEvent).where(CustodyEvent.case_id == case.id)
                              .order_by(CustodyEvent.id)).all()


def evidence_view(evidence: EvidenceFile) -> dict:
    return {"id": evidence.public_id, "filename": evidence.filename, "size": evidence.size,
            "sha256": evidence.sha256, "content_type": evidence.content_type,
            "description": evidence.description, "uploaded_by": evidence.uploaded_by.email,
            "uploaded_at": evidence.uploaded_at.isoformat()}


def custody_view(event: CustodyEvent) -> dict:
    return {"at": event.at.isoformat(), "action": event.action, "sha256": event.sha256,
            "evidence": db.session.get(EvidenceFile, event.evidence_id).public_id,
            "actor": db.session.get(User, event.actor_user_id).email,
            "org": db.session.get(Organisation, event.actor_org_id).slug}


def download_response(evidence: EvidenceFile, path: Path):
    """The file as an opaque attachment: samples may be live malware, never rendered or sniffed."""
    from flask import send_file
    from werkzeug.utils import secure_filename

    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=secure_filename(evidence.filename) or "evidence.bin")
    response.headers["X-Evidence-SHA256"] = evidence.sha256
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
