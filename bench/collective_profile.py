"""cProfile of a bulk sighting upload and of correlation lookups, against a store that
`collective_bench.py --database NAME` filled (it must exist).

    .venv/bin/python bench/collective_profile.py --database bench_collective_1m            # both
    .venv/bin/python bench/collective_profile.py --database bench_collective_1m --only bulk

Prints the functions by cumulative time. A bulk run commits its sightings, as the bench does.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import select  # noqa: E402

from collective_bench import absent_value, value_of  # noqa: E402
from hub import create_app  # noqa: E402
from hub.accounts.models import User  # noqa: E402
from hub.extensions import db  # noqa: E402
from hub.intel import correlation, sightings  # noqa: E402
from hub.intel.warmup import warm_up  # noqa: E402
from hub.principal import Principal  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--observables", type=int, default=1_000_000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--only", choices=("bulk", "correlation"))
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    from config import ProductionConfig

    admin_url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    class ProfileConfig(ProductionConfig):
        SECRET_KEY = "bench-only"
        SQLALCHEMY_DATABASE_URI = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{args.database}"
        HUB_ALERTS_ENQUEUE = False
        RATELIMIT_ENABLED = False

    app = create_app(ProfileConfig)
    with app.app_context():
        principal = Principal.of(db.session.scalar(select(User).where(User.email == "reader@bench.test")))
        warm_up()
        rng = random.Random(14)
        print(f"load average {os.getloadavg()[0]:.1f}")
        if args.only in (None, "correlation"):
            pairs = [value_of(rng.randrange(args.observables)) if k % 2 == 0 else absent_value(k)
                     for k in range(args.lookups)]
            for pair in pairs[:20]:  # warm: statements prepared, plans kept
                correlation.correlations_for_values(principal, {pair})
                db.session.rollback()
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            for pair in pairs:
                correlation.correlations_for_values(principal, {pair})
                db.session.rollback()
            profile.disable()
            print(f"\ncorrelation: {args.lookups} lookups, {(time.perf_counter() - started) * 1000 / args.lookups:.2f} ms each")
            pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(args.top)
        if args.only in (None, "bulk"):
            values = [value_of(rng.randrange(args.observables))[1] if k % 100 == 0 else absent_value(k)[1]
                      for k in range(args.bulk)]
            request = sightings.parse_bulk_request({"values": values, "tlp": "green", "audience": "community"})
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            result = sightings.record_bulk(principal, request)
            profile.disable()
            elapsed = time.perf_counter() - started
            print(f"\nbulk: {args.bulk:,} values in {elapsed:.2f} s ({args.bulk / elapsed:,.0f}/s), "
                  f"{len(result.matched)} matched, {len(result.sightings)} sightings")
            pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(args.top)


if __name__ == "__main__":
    main()
