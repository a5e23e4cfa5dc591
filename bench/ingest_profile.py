"""Where a bulk share spends its time: cProfile over the hub's own ingest of an ATT&CK bundle.

    .venv/bin/python bench/ingest_profile.py                      # Mobile in envelopes of 500, SQLite
    .venv/bin/python bench/ingest_profile.py --bundle ics --whole # ICS as one TAXII add (pending path)
    BENCH_PROFILE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_profile \
        .venv/bin/python bench/ingest_profile.py

No HTTP, no worker, no medallion: the share service (hub.intel.bulk.share_each) in this process,
or for --whole the TAXII pending path (queue_add, then complete_pending_add as a worker runs it).
The figures are CPU seconds of this process under the profiler (time.process_time), and the
number of Python function calls, which does not depend on how busy the machine is: compare
those between commits. BENCH_PROFILE_DATABASE_URL names a PostgreSQL database the script may
empty (it drops and creates every table); without it, in-memory SQLite.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ATTACK_DIR = Path(os.environ.get("BENCH_ATTACK_DIR", ROOT.parent / "shared" / "data" / "attack"))
BUNDLES = {"mobile": "mobile-attack-17.1.json", "ics": "ics-attack-18.1.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", choices=sorted(BUNDLES), default="mobile")
    parser.add_argument("--envelope", type=int, default=500, help="objects per share_each call")
    parser.add_argument("--whole", action="store_true", help="one TAXII add of the whole bundle")
    parser.add_argument("--top", type=int, default=30, help="functions listed")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime, calls")
    args = parser.parse_args()

    # The testing configuration reads its database from TEST_DATABASE_URL (in-memory SQLite without).
    if os.environ.get("BENCH_PROFILE_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = os.environ["BENCH_PROFILE_DATABASE_URL"]
    os.environ.setdefault("HUB_INGEST_PROCESSES", "1")  # one process: the profile sees all the work

    from hub import create_app
    from hub.extensions import db
    from hub.intel.audience import Audience
    from hub.intel.bulk import share_each
    from hub.intel.warmup import warm_up
    from hub.taxii import pending
    from hub.taxii.collections import collection_for, set_default_tlp
    from hub.tlp import TLP
    from tests import factories

    objects = json.loads((ATTACK_DIR / BUNDLES[args.bundle]).read_text())["objects"]
    app = create_app("testing")
    app.config["HUB_ALERTS_ENQUEUE"] = False
    with app.app_context():
        db.drop_all()
        db.create_all()
        org = factories.make_org()
        principal = factories.principal(factories.make_user(org))
        set_default_tlp(org.slug, f"org-{org.slug}", TLP.green)
        warm_up()  # one-time imports and schema compilation are not the per-object cost
        profile = cProfile.Profile(time.process_time)
        started = time.process_time()
        profile.enable()
        if args.whole:
            collection = collection_for(principal, f"org-{org.slug}", with_default=True)
            pending.complete_pending_add(pending.queue_add(principal, collection, objects).id)
        else:
            for start in range(0, len(objects), args.envelope):
                share_each(principal, objects[start:start + args.envelope], audience=Audience(community=True),
                           default_tlp=TLP.green)
        profile.disable()
        seconds = time.process_time() - started
        db.drop_all()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    shape = "whole bundle, pending path" if args.whole else f"envelopes of {args.envelope}"
    database = "PostgreSQL" if os.environ.get("BENCH_PROFILE_DATABASE_URL") else "SQLite"
    print(f"{args.bundle} ({len(objects)} objects, {shape}, {database}): {seconds:.2f} s CPU under the profiler, "
          f"{stats.total_calls:,} function calls, {len(objects) / seconds:.0f} objects/s")


if __name__ == "__main__":
    main()
