"""Pay the database's share of a fresh process's first share and first TAXII read at start-up.

Beside hub.intel.warmup (which warms the checks, without a database): this one writes and reads,
so it needs the TAXII reading code as well as the share path.
"""
from __future__ import annotations

import logging
import time
import uuid

from hub.accounts.models import Organisation, User
from hub.extensions import db
from hub.intel.audience import Audience
from hub.intel.bulk import prepare_each, store_batch
from hub.intel.warmup import SAMPLES
from hub.principal import OrgKind, Principal, Role
from hub.taxii import reading
from hub.taxii.collections import collection_for
from hub.taxii.filters import ObjectFilters, PageRequest
from hub.tlp import TLP

log = logging.getLogger(__name__)

_RELATIONSHIP = {
    "type": "relationship", "spec_version": "2.1", "id": "relationship--5b1e9c1a-2f43-4d8e-9a57-0c3d6e1f2a90",
    "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "relationship_type": "indicates",
    "source_ref": SAMPLES[1]["id"], "target_ref": SAMPLES[0]["id"],
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
        samples = [*SAMPLES, _RELATIONSHIP]
        prepared = prepare_each(samples, TLP.green, False)
        store_batch(principal, list(enumerate(prepared)), Audience(community=True), False)
        db.session.flush()
        community = collection_for(principal, "community")
        page = PageRequest(filters=ObjectFilters(), limit=100, after_us=None, digest="warm-up")
        reading.page_of_versions(principal, community, page)
        reading.page_of_versions(principal, community, page, object_id=SAMPLES[0]["id"])
    except Exception:  # a hub not migrated yet, a database not up: the first share pays instead
        log.warning("database warm-up skipped", exc_info=True)
        return None
    finally:
        try:
            db.session.rollback()
        except Exception:  # a lost connection: the pool replaces it; a worker must still start
            log.warning("database warm-up could not roll back", exc_info=True)
    return time.perf_counter() - started
