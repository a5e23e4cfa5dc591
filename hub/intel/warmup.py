"""Pay the share path's one-time costs before the first share, not during it.

The first object a process validates imports jsonschema (whose format checks build some forty
lark grammars), compiles the OASIS schemas with jsonschema-rs and loads stix2 and the STIX
pattern grammar: 2-5 seconds on a shared 2-core machine. A web worker paid it on the first
TAXII add it answered, and every Celery pool process on the first large add it completed, so a
single ATT&CK push spent about half its time there. `warm_up()` runs the real path on two small
objects; gunicorn.conf.py calls it as each web worker starts, workers/worker.py before the pool
forks (its processes inherit the result).
"""
from __future__ import annotations

import gc
import logging
import time
import uuid

from hub.intel.ingest import prepare_object
from hub.tlp import TLP

log = logging.getLogger(__name__)

_SAMPLES = (
    {
        "type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "warm-up",
        "external_references": [{"source_name": "warm-up", "url": "https://example.org/warm-up"}],
    },
    {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--3e1b6b33-5d7d-4f4c-8b8a-1f1f0f2e7a11",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '203.0.113.1'] OR [domain-name:value = 'example.org']",
        "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z",
    },
)


def warm_up() -> float:
    """Validate the samples as a share would (nothing is stored); returns the seconds it took."""
    started = time.perf_counter()
    for sample in _SAMPLES:
        prepare_object(sample, TLP.green, False)
    return time.perf_counter() - started


_RELATIONSHIP = {
    "type": "relationship", "spec_version": "2.1", "id": "relationship--5b1e9c1a-2f43-4d8e-9a57-0c3d6e1f2a90",
    "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "relationship_type": "indicates",
    "source_ref": _SAMPLES[1]["id"], "target_ref": _SAMPLES[0]["id"],
}


def warm_up_database() -> float | None:
    """On PostgreSQL, write a share and read it back over TAXII once, in a transaction that is
    rolled back; returns the seconds it took, or None where not done (SQLite, or it failed).

    A fresh process's first share and first TAXII read compiled some fifty SQL statements and
    filled its connection's catalog caches: 50-70 ms of CPU in each web worker and Celery process,
    paid by the first client's push. The throwaway organisation, user and objects never commit
    (sequences skip a few ids); date_added and audit writers wait for it a moment at start-up.
    Call in each process that will share, with an app context, after any fork.
    """
    from hub.accounts.models import Organisation, User
    from hub.extensions import db
    from hub.intel.audience import Audience
    from hub.intel.bulk import _store_batch, prepare_each
    from hub.principal import OrgKind, Principal, Role
    from hub.taxii import reading
    from hub.taxii.collections import collection_for
    from hub.taxii.filters import ObjectFilters, PageRequest

    if db.engine.dialect.name != "postgresql":
        return None
    started = time.perf_counter()
    try:
        org = Organisation(slug=f"warm-up-{uuid.uuid4().hex[:16]}", name="warm-up", kind=OrgKind.hospital,
                           country="CZ")
        user = User(email=f"{org.slug}@warm-up.invalid", org=org, role=Role.analyst, password_hash="!")
        db.session.add_all([org, user])
        db.session.flush()
        principal = Principal.of(user)
        samples = [*_SAMPLES, _RELATIONSHIP]
        prepared = prepare_each(samples, TLP.green, False)
        _store_batch(principal, list(enumerate(prepared)), Audience(community=True), False)
        db.session.flush()
        community = collection_for(principal, "community")
        page = PageRequest(filters=ObjectFilters(), limit=100, after_us=None, digest="warm-up")
        reading.page_of_versions(principal, community, page)
        reading.page_of_versions(principal, community, page, object_id=_SAMPLES[0]["id"])
    except Exception:  # a hub not migrated yet, a database not up: the first share pays instead
        log.warning("database warm-up skipped", exc_info=True)
        return None
    finally:
        db.session.rollback()
    return time.perf_counter() - started


def freeze_start_up_objects() -> int:
    """Put what start-up left alive out of the garbage collector's reach; returns how many objects.

    Modules, compiled schemas, grammars and the app (some 335,000 objects) live as long as the
    process. The first full collection after start-up walked them all, 0.2-0.25 s in the middle
    of the first large share a process made; frozen, they are never walked again (new objects
    still are). Called after `warm_up`: before the Celery pool forks (children inherit the frozen
    generation and keep its memory pages shared), and in each web worker.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
