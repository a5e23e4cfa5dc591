"""Large add-objects requests: answered `pending` at once, shared by a worker chunk by chunk.

These tests call the worker's service function directly; tests/test_taxii_worker.py runs a real
Celery worker.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.intel.models import SharedItem
from hub.tlp import TLP
from hub.taxii import pending
from hub.taxii.models import TaxiiPendingAdd, TaxiiStatus
from tests.factories import indicator


def marked(n: int) -> dict:
    return indicator(f"10.1.{n // 250}.{n % 250 + 1}", object_marking_refs=[TLP.green.marking_id])


def invalid_object() -> dict:
    return {**marked(9999), "id": f"indicator--{uuid.uuid4()}", "pattern": "[not a pattern"}


@pytest.fixture
def sharer(app, make, member_of, taxii, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 20)
    monkeypatch.setattr(pending, "CHUNK", 10)
    return taxii(member_of(make.make_org("hospital", "CZ")))


def status_of(client, status_id: str) -> dict:
    response = client.get(f"/api/status/{status_id}/")
    assert response.status_code == 200
    return response.json


def assert_counts_add_up(status: dict) -> None:
    assert status["success_count"] + status["failure_count"] + status["pending_count"] == status["total_count"]
    assert len(status.get("successes", [])) == status["success_count"]
    assert len(status.get("failures", [])) == status["failure_count"]


def post_large(sharer, objects: list) -> dict:
    response = sharer.post(sharer.objects_path("community"), {"objects": objects})
    assert response.status_code == 202
    return response.json


def test_a_large_add_answers_pending_and_stores_the_request(sharer):
    objects = [marked(n) for n in range(25)]
    status = post_large(sharer, objects)
    assert status["status"] == "pending"
    assert (status["total_count"], status["pending_count"], status["success_count"], status["failure_count"]) == (25, 25, 0, 0)
    assert status_of(sharer, status["id"]) == status
    assert db.session.scalar(select(func.count(SharedItem.id))) == 0
    assert db.session.get(TaxiiPendingAdd, status["id"]) is not None


def test_a_small_add_stays_synchronous(sharer):
    status = post_large(sharer, [marked(n) for n in range(19)])
    assert status["status"] == "complete" and status["success_count"] == 19
    assert db.session.scalar(select(func.count(TaxiiPendingAdd.id))) == 0


def test_the_worker_shares_everything_and_reports_an_invalid_object_without_failing_its_neighbours(sharer):
    objects = [marked(n) for n in range(24)]
    bad = invalid_object()
    objects.insert(13, bad)
    status = post_large(sharer, objects)
    assert pending.complete_pending_add(status["id"]) == 25
    done = status_of(sharer, status["id"])
    assert done["status"] == "complete"
    assert (done["total_count"], done["success_count"], done["failure_count"], done["pending_count"]) == (25, 24, 1, 0)
    assert_counts_add_up(done)
    [failure] = done["failures"]
    assert failure["id"] == bad["id"] and "pattern" in failure["message"].lower()
    assert [s["id"] for s in done["successes"]] == [o["id"] for o in objects if o is not bad]
    assert db.session.scalar(select(func.count(SharedItem.id))) == 24
    assert db.session.get(TaxiiPendingAdd, status["id"]) is None
    # Finished: running it again does nothing.
    assert pending.complete_pending_add(status["id"]) == 0


def test_a_worker_dying_mid_request_loses_and_repeats_nothing(sharer, app, monkeypatch):
    objects = [marked(n) for n in range(45)]
    objects[27] = invalid_object()
    status = post_large(sharer, objects)
    real_share_each, calls = pending.share_each, []

    def dies_in_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("the worker is killed")
        return real_share_each(*args, **kwargs)

    monkeypatch.setattr(pending, "share_each", dies_in_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        pending.complete_pending_add(status["id"])
    db.session.rollback()
    midway = status_of(sharer, status["id"])
    assert midway["status"] == "pending"
    assert (midway["success_count"], midway["failure_count"], midway["pending_count"]) == (20, 0, 25)
    assert_counts_add_up(midway)

    # Another worker cannot take it while the lease holds; the sweeper leaves it alone.
    assert pending.complete_pending_add(status["id"]) == 0
    assert pending.sweep_pending_adds() == 0
    # The lease runs out: the sweeper queues it again, and a worker finishes it.
    held = db.session.get(TaxiiPendingAdd, status["id"])
    held.lease_until = held.created
    db.session.commit()
    assert pending.sweep_pending_adds() == 1
    assert pending.complete_pending_add(status["id"]) == 25
    done = status_of(sharer, status["id"])
    assert (done["status"], done["success_count"], done["failure_count"], done["pending_count"]) == ("complete", 44, 1, 0)
    assert_counts_add_up(done)
    assert db.session.scalar(select(func.count(SharedItem.id))) == 44


def test_a_chunk_shared_but_not_recorded_is_counted_once(sharer, monkeypatch):
    objects = [marked(n) for n in range(30)]
    status = post_large(sharer, objects)
    real_record, calls = pending._record, []

    def dies_before_recording_the_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("the worker is killed")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(pending, "_record", dies_before_recording_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        pending.complete_pending_add(status["id"])
    db.session.rollback()
    assert db.session.scalar(select(func.count(SharedItem.id))) == 20  # shared, only 10 recorded
    held = db.session.get(TaxiiPendingAdd, status["id"])
    held.lease_until = None
    db.session.commit()
    assert pending.complete_pending_add(status["id"]) == 20
    done = status_of(sharer, status["id"])
    assert (done["success_count"], done["failure_count"], done["pending_count"]) == (30, 0, 0)
    assert sorted(s["id"] for s in done["successes"]) == sorted(o["id"] for o in objects)


def test_a_sharer_who_lost_the_right_to_share_gets_the_rest_refused(sharer):
    status = post_large(sharer, [marked(n) for n in range(25)])
    sharer.user.active = False
    db.session.commit()
    assert pending.complete_pending_add(status["id"]) == 25
    row = db.session.get(TaxiiStatus, status["id"])
    assert (row.status, row.success_count, row.failure_count, row.pending_count) == ("complete", 0, 25, 0)
