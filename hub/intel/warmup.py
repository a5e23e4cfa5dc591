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
import time

from hub.intel.ingest import prepare_object
from hub.tlp import TLP

SAMPLES = (
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
    for sample in SAMPLES:
        prepare_object(sample, TLP.green, False)
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
