"""Objects per second validated: stix2-validator per object against hub.intel.validation.

    .venv/bin/python bench/validation_bench.py [bundle.json ...]   # default: the ATT&CK bundles

For each bundle: stix2-validator's validate_instance (what sharing called per object before
issue 13), hub.intel.validation.validate_object (what it calls now), whether the two agree on
every object, and the whole per-object check of the share path (ingest.prepare_object: stix2
parsing, TLP, validation) with each of the two, all in one process on one core, after a warm-up object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.intel import validation  # noqa: E402
from hub.intel.ingest import ObjectRejected, prepare_object  # noqa: E402
from hub.tlp import TLP  # noqa: E402

ATTACK = Path("/work/shared/data/attack")
DEFAULT_BUNDLES = [ATTACK / "mobile-attack-17.1.json", ATTACK / "ics-attack-18.1.json"]


def rate(check, objects) -> tuple[float, list]:
    check(objects[0])  # warm-up: imports, compiled schemas
    start = time.perf_counter()
    results = [check(obj) for obj in objects]
    return len(objects) / (time.perf_counter() - start), results


def prepare(obj):
    try:
        return prepare_object(obj, TLP.clear, anonymous=False)
    except ObjectRejected as exc:
        return str(exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", type=Path, default=DEFAULT_BUNDLES)
    args = parser.parse_args()
    started = time.perf_counter()
    validation.validate_object({"type": "x-warm", "id": "x-warm--00000000-0000-4000-8000-000000000000"})
    print(f"first use of hub.intel.validation (imports, schemas compiled): {time.perf_counter() - started:.2f} s")
    from stix2validator import ValidationOptions, validate_instance

    options = ValidationOptions(version="2.1")
    fast = validation.validate_object

    def as_before(obj):  # the share path's per-object stix2-validator call before issue 13
        return [str(error) for error in validate_instance(obj, options).errors]

    for path in args.bundles:
        objects = json.loads(path.read_text())["objects"]
        theirs_rate, theirs = rate(lambda obj: validate_instance(obj, options).is_valid, objects)
        ours_rate, ours = rate(lambda obj: not validation.validate_object(obj), objects)
        share_rate, prepared = rate(prepare, objects)
        validation.validate_object = as_before
        try:
            before_rate, _ = rate(prepare, objects)
        finally:
            validation.validate_object = fast
        disagree = sum(a != b for a, b in zip(theirs, ours))
        rejected = sum(isinstance(result, str) for result in prepared)
        print(f"{path.name}: {len(objects)} objects, {sum(theirs)} valid for stix2-validator, {disagree} disagreements")
        print(f"  stix2-validator              {theirs_rate:9.0f} objects/s")
        print(f"  hub.intel.validation         {ours_rate:9.0f} objects/s  ({ours_rate / theirs_rate:.0f}x)")
        print(f"  share path, stix2-validator  {before_rate:9.0f} objects/s")
        print(f"  share path, now              {share_rate:9.0f} objects/s  ({rejected} rejected)")


if __name__ == "__main__":
    main()
