"""Large add-objects requests: answered `pending` at once, shared by the workers slice by slice,
chunk by chunk.

These tests call the worker's service function directly; tests/test_taxii_worker.py runs a real
Celery worker. The first tests keep a request in one slice (the order of the request is then the
order of the status lists); the sliced ones cut it in three.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text

from hub.db import lz4_available
from hub.extensions import db
from hub.intel.models import SharedItem
from hub.tlp import TLP
from hub.taxii import pending
from hub.taxii.models import TaxiiPendingAdd, TaxiiPendingSlice, TaxiiStatus
from tests.factories import indicator


# Fixed ids: the slice of an object is a hash of its id, and the sliced tests need slice 1 to take
# two chunks (with these ids the three slices hold 18, 17 and 10 objects).
IDS = uuid.uuid5(uuid.NAMESPACE_URL, "taxii-pending-0")


CHUNK = 10  # HUB_TAXII_CHUNK in these tests (the `sharer` fixture)


def marked(n: int) -> dict:
    return indicator(f"10.1.{n // 250}.{n % 250 + 1}", object_marking_refs=[TLP.green.marking_id],
                     id=f"indicator--{uuid.uuid5(IDS, str(n))}")


def invalid_object() -> dict:
    return {**marked(9999), "pattern": "[not a pattern"}


@pytest.fixture
def sharer(app, make, member_of, taxii, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_TAXII_ASYNC_OBJECTS", 20)
    monkeypatch.setitem(app.config, "HUB_TAXII_CHUNK", CHUNK)
    monkeypatch.setattr(pending, "SLICE_OBJECTS", 5)
    monkeypatch.setitem(app.config, "HUB_TAXII_SLICES", 1)
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


def test_the_stored_request_is_compressed_with_lz4_where_postgresql_has_it(sharer):
    """Storing ATT&CK ICS (2.5 MB) took 35-40 ms with PostgreSQL's default pglz, 11-12 ms with lz4."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql" or not lz4_available(connection):
        pytest.skip("lz4 is a PostgreSQL column compression, where the server was built with it")
    status = post_large(sharer, [marked(n) for n in range(25)])
    assert db.session.scalar(text("SELECT pg_column_compression(objects) FROM taxii_pending_add WHERE id = :id"),
                             {"id": status["id"]}) == "lz4"


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
    held = db.session.get(TaxiiPendingSlice, (status["id"], 0))
    held.lease_until = db.session.get(TaxiiPendingAdd, status["id"]).created
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
    held = db.session.get(TaxiiPendingSlice, (status["id"], 0))
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


# Sliced: several workers share one request.

@pytest.fixture
def sliced(sharer, app, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_TAXII_SLICES", 3)
    return sharer


def request_with_versions() -> tuple[list, dict, dict, dict]:
    """45 objects: one invalid, and one indicator posted in two versions (the later one last)."""
    objects = [marked(n) for n in range(42)]
    bad = invalid_object()
    first = marked(500)
    second = {**first, "modified": "2030-01-01T00:00:00.000Z", "description": "second version"}
    objects.insert(5, first)
    objects.insert(20, bad)
    objects.append(second)
    return objects, bad, first, second


def slices_of(status_id: str) -> dict[int, TaxiiPendingSlice]:
    db.session.expire_all()
    return {s.slice_no: s for s in db.session.scalars(select(TaxiiPendingSlice).where(TaxiiPendingSlice.status_id == status_id))}


def row_counts(status_id: str) -> tuple[int, int, int]:
    db.session.expire_all()
    row = db.session.get(TaxiiStatus, status_id)
    assert row.success_count + row.failure_count + row.pending_count == row.total_count
    return row.success_count, row.failure_count, row.pending_count


def test_a_large_request_is_cut_into_slices_keeping_every_version_of_an_id_together(sliced, app):
    objects, _, first, second = request_with_versions()
    status = post_large(sliced, objects)
    assert set(slices_of(status["id"])) == {0, 1, 2}
    positions = [pending.slice_positions(objects, 3, n) for n in range(3)]
    assert sorted(p for part in positions for p in part) == list(range(len(objects)))
    [holder] = [part for part in positions if objects.index(first) in part]
    assert len(objects) - 1 in holder  # the second version, in the same slice, after the first
    assert all(part == sorted(part) and part for part in positions)
    assert pending.slice_count_for(4) == 1  # never a slice smaller than SLICE_OBJECTS (5 here)


def test_interleaved_slices_keep_the_counts_exact_and_report_failures_per_object(sliced, monkeypatch):
    objects, bad, first, second = request_with_versions()
    status = post_large(sliced, objects)
    sizes = {n: len(pending.slice_positions(objects, 3, n)) for n in range(3)}
    real_share_each, real_record = pending.share_each, pending._record
    seen, nested, started = [], [], []

    def checked_record(*args, **kwargs):
        result = real_record(*args, **kwargs)
        seen.append(row_counts(status["id"]))  # success + failure + pending = total after every record
        return result

    def second_worker_meanwhile(*args, **kwargs):
        outcomes = real_share_each(*args, **kwargs)
        if not started:
            started.append(1)
            # While the first worker holds slice 0, a second worker claims and finishes the others.
            nested.append(pending.complete_pending_add(status["id"]))
            assert row_counts(status["id"])[2] == sizes[0] - 0  # only slice 0 is left, nothing of it recorded
        return outcomes

    monkeypatch.setattr(pending, "_record", checked_record)
    monkeypatch.setattr(pending, "share_each", second_worker_meanwhile)
    assert pending.complete_pending_add(status["id"]) == sizes[0]
    assert nested == [sizes[1] + sizes[2]]
    pendings = [p for _, _, p in seen]
    assert pendings == sorted(pendings, reverse=True) and len(set(pendings)) == len(pendings)
    done = status_of(sliced, status["id"])
    assert (done["status"], done["success_count"], done["failure_count"], done["pending_count"]) == ("complete", 44, 1, 0)
    assert_counts_add_up(done)
    [failure] = done["failures"]
    assert failure["id"] == bad["id"] and "pattern" in failure["message"].lower()
    assert sorted((s["id"], s["version"]) for s in done["successes"]) == sorted(
        (o["id"], o["modified"]) for o in objects if o is not bad)
    assert db.session.scalar(select(func.count(SharedItem.id))) == 43  # two versions, one item
    item = db.session.scalar(select(SharedItem).where(SharedItem.stix_id == first["id"]))
    assert item is not None
    assert db.session.get(TaxiiPendingAdd, status["id"]) is None and slices_of(status["id"]) == {}
    assert pending.complete_pending_add(status["id"]) == 0


def test_a_slice_whose_lease_ran_out_is_claimed_again(sliced, monkeypatch):
    objects, bad, _, _ = request_with_versions()
    status = post_large(sliced, objects)
    sizes = {n: len(pending.slice_positions(objects, 3, n)) for n in range(3)}
    assert sizes[1] > CHUNK  # slice 1 takes two chunks: the worker dies in its second
    real_share_each, calls = pending.share_each, []

    def dies_in_the_second_slice(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1 + -(-sizes[0] // CHUNK) + 1:  # the second chunk of slice 1
            raise KeyboardInterrupt("the worker is killed")
        return real_share_each(*args, **kwargs)

    monkeypatch.setattr(pending, "share_each", dies_in_the_second_slice)
    with pytest.raises(KeyboardInterrupt):
        pending.complete_pending_add(status["id"])
    db.session.rollback()
    monkeypatch.setattr(pending, "share_each", real_share_each)
    recorded_of_1 = min(CHUNK, sizes[1])
    assert row_counts(status["id"])[2] == sizes[1] - recorded_of_1 + sizes[2]
    assert set(slices_of(status["id"])) == {1, 2}
    # Another worker takes the free slice 2, not slice 1 while its lease holds.
    assert pending.complete_pending_add(status["id"]) == sizes[2]
    assert row_counts(status["id"])[2] == sizes[1] - recorded_of_1
    assert pending.sweep_pending_adds() == 0
    held = slices_of(status["id"])[1]
    assert held.done_count == recorded_of_1
    held.lease_until = db.session.get(TaxiiPendingAdd, status["id"]).created
    db.session.commit()
    assert pending.sweep_pending_adds() == 1
    assert pending.complete_pending_add(status["id"]) == sizes[1] - recorded_of_1
    done = status_of(sliced, status["id"])
    assert (done["status"], done["success_count"], done["failure_count"], done["pending_count"]) == ("complete", 44, 1, 0)
    assert_counts_add_up(done)
    successes = [(s["id"], s["version"]) for s in done["successes"]]
    assert len(successes) == len(set(successes))


def test_a_chunk_recorded_by_another_worker_is_not_recorded_twice(sliced, monkeypatch):
    """A slow worker whose lease ran out finishes a chunk another worker already recorded."""
    objects, _, _, _ = request_with_versions()
    status = post_large(sliced, objects)
    real_share_each, slow = pending.share_each, []

    def lease_runs_out_meanwhile(*args, **kwargs):
        outcomes = real_share_each(*args, **kwargs)
        if not slow:
            slow.append(1)
            piece = slices_of(status["id"])[0]
            piece.lease_until = db.session.get(TaxiiPendingAdd, status["id"]).created
            db.session.commit()
            pending.complete_pending_add(status["id"])  # the other worker takes slice 0 and all the rest
        return outcomes

    monkeypatch.setattr(pending, "share_each", lease_runs_out_meanwhile)
    assert pending.complete_pending_add(status["id"]) == 0
    done = status_of(sliced, status["id"])
    assert (done["status"], done["success_count"], done["failure_count"], done["pending_count"]) == ("complete", 44, 1, 0)
    assert_counts_add_up(done)


def test_a_tlp_claimed_by_a_definition_in_another_slice_still_holds(sliced):
    """hub.intel.markings: a definition of the request saying TLP:RED marks its objects whichever
    slice each falls in (the slices are shared by different workers, in any order)."""
    definition = {"type": "marking-definition", "spec_version": "2.1", "created": "2026-01-01T00:00:00.000Z",
                  "definition_type": "statement", "definition": {"statement": "internal"}, "name": "TLP:RED",
                  "id": next(f"marking-definition--{uuid.uuid5(IDS, f'red-{n}')}" for n in range(100)
                             if pending.slice_of({"id": f"marking-definition--{uuid.uuid5(IDS, f'red-{n}')}"}, 0, 3) == 0)}
    secret = next(candidate for candidate in (
        indicator(f"10.9.0.{n}", object_marking_refs=[definition["id"]], id=f"indicator--{uuid.uuid5(IDS, f'secret-{n}')}")
        for n in range(1, 100)) if pending.slice_of(candidate, 0, 3) != 0)
    objects = [definition, *(marked(n) for n in range(30)), secret]
    status = post_large(sliced, objects)
    assert len(slices_of(status["id"])) == 3
    pending.complete_pending_add(status["id"])
    done = status_of(sliced, status["id"])
    [failure] = [f for f in done["failures"] if f["id"] == secret["id"]]  # (the definition has no TLP of its own)
    assert "RED" in failure["message"] and done["success_count"] == 30
    assert db.session.scalar(select(func.count(SharedItem.id)).where(SharedItem.stix_id == secret["id"])) == 0


def test_copies_of_observables_a_few_places_apart_never_chain_a_chunk_over_the_whole_slice(sharer, app, monkeypatch):
    """A chunk takes the later copies of the observables it holds, not the copies of those
    copies: observable j at 11j and again at 11j + 12, indicators between, once drew all 101
    objects into one chunk (one transaction, no progress recorded until its end)."""
    monkeypatch.setitem(app.config, "HUB_TAXII_CHUNK", 10)
    monkeypatch.setitem(app.config, "HUB_TAXII_SLICES", 1)
    sizes, real_share_each = [], pending.share_each
    monkeypatch.setattr(pending, "share_each",
                        lambda principal, chunk, **kw: sizes.append(len(chunk)) or real_share_each(principal, chunk, **kw))

    def observable(j: int, note: str) -> dict:
        return {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid5(uuid.NAMESPACE_URL, f'chunk-{j}')}",
                "value": f"10.77.0.{j + 1}", "x_note": note, "object_marking_refs": [TLP.green.marking_id]}

    objects: list = [None] * (11 * 8 + 13)
    for j in range(9):
        objects[11 * j], objects[11 * j + 12] = observable(j, "first"), observable(j, "later")
    objects = [obj if obj is not None else marked(position) for position, obj in enumerate(objects)]
    status = post_large(sharer, objects)
    pending.complete_pending_add(status["id"])
    assert max(sizes) <= 2 * 10 + 10 // 4, sizes
    done = status_of(sharer, status["id"])
    assert (done["status"], done["success_count"]) == ("complete", len(objects)), done
