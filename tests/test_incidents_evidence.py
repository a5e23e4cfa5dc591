"""Evidence on a case: hashed on upload, served to the case's two parties only, custody-logged."""
from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import select, text

from hub.extensions import db
from hub.incidents.models import CustodyEvent
from tests.incidents_support import build_world, report

NOTE = b"YOUR FILES ARE ENCRYPTED. Contact evil@decryptyourstuff.zip\n" * 100


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def case(api, world):
    incident_id = api(world.hospital_analyst).post("/incidents", json=report()).json["id"]
    return api(world.hospital_admin).post(f"/incidents/{incident_id}/consents",
                                          json={"org": world.police.org.slug}).json["case"], incident_id


def upload(api, user, case_id, content=NOTE, name="ransom-note.txt"):
    return api(user).post(f"/cases/{case_id}/evidence", data={"file": (io.BytesIO(content), name),
                                                              "description": "found on PACS server"},
                          content_type="multipart/form-data")


def test_an_uploaded_file_is_hashed_and_both_parties_download_it_intact(api, world, case):
    case_id, _ = case
    stored = upload(api, world.hospital_analyst, case_id)
    assert stored.status_code == 201
    assert stored.json["sha256"] == hashlib.sha256(NOTE).hexdigest() and stored.json["size"] == len(NOTE)

    for user in (world.police, world.hospital_admin):
        download = api(user).get(f"/evidence/{stored.json['id']}")
        assert download.status_code == 200 and download.data == NOTE
        assert download.headers["Content-Type"] == "application/octet-stream"
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Evidence-SHA256"] == stored.json["sha256"]

    for user in (world.police, world.hospital_analyst):
        log = api(user).get(f"/cases/{case_id}/custody").json["custody"]
        assert [(e["action"], e["org"]) for e in log] == [
            ("upload", world.hospital.slug), ("download", world.police.org.slug), ("download", world.hospital.slug)]


def test_nobody_outside_the_case_learns_of_the_evidence(api, world, case):
    case_id, incident_id = case
    evidence_id = upload(api, world.police, case_id).json["id"]
    for outsider in (world.cert, world.other_police, world.other_hospital_analyst, world.vendor):
        client = api(outsider)
        assert client.get(f"/evidence/{evidence_id}").status_code == 404
        assert client.get(f"/cases/{case_id}/evidence").status_code == 404
        assert client.get(f"/cases/{case_id}/custody").status_code == 404
        assert upload(api, outsider, case_id).status_code == 404
    api(world.hospital_admin).delete(f"/incidents/{incident_id}/consents/{world.police.org.slug}")
    assert api(world.police).get(f"/evidence/{evidence_id}").status_code == 404
    assert api(world.police).get(f"/cases/{case_id}/custody").status_code == 404
    # Outsiders' attempts were never custody events.
    assert {e.actor_org_id for e in db.session.scalars(select(CustodyEvent))} == {world.police.org_id}


def test_a_tampered_file_is_refused_and_the_check_is_logged(app, api, world, case):
    from pathlib import Path

    case_id, _ = case
    stored = upload(api, world.hospital_analyst, case_id).json
    path = Path(app.config["HUB_EVIDENCE_DIR"]) / stored["sha256"][:2] / stored["sha256"]
    path.write_bytes(b"tampered")
    answer = api(world.police).get(f"/evidence/{stored['id']}")
    assert answer.status_code == 409
    last = db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.id.desc())).first()
    assert last.action == "download" and '"verified":false' in last.detail


def test_empty_or_missing_files_are_refused(api, world, case):
    case_id, _ = case
    assert upload(api, world.hospital_analyst, case_id, content=b"").status_code == 422
    missing = api(world.hospital_analyst).post(f"/cases/{case_id}/evidence", data={"description": "x"},
                                               content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.json["details"][0]["field"] == "file"
    assert upload(api, world.hospital_viewer, case_id).status_code == 403


def test_files_over_the_limit_are_refused(app, api, world, case, monkeypatch):
    case_id, _ = case
    monkeypatch.setitem(app.config, "HUB_EVIDENCE_MAX_BYTES", 1000)
    assert upload(api, world.hospital_analyst, case_id, content=b"x" * 5000).status_code in (413, 422)
    assert db.session.scalars(select(CustodyEvent)).all() == []
