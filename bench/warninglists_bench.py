"""Warning-list matching benchmark: prints figures, asserts nothing.

Loads the default warning lists (hub.intel.warninglist_sources.DEFAULT_LISTS) into an in-memory
SQLite hub, builds the matcher, and looks up a mix of values (random IPv4 and IPv6 addresses,
domains under listed and unlisted names, URLs, hashes), some listed, most not.

    .venv/bin/python bench/warninglists_bench.py [--values 100000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.pop("TEST_DATABASE_URL", None)  # in-memory SQLite: the figures are the matcher's

from hub import create_app  # noqa: E402
from hub.extensions import db  # noqa: E402
from hub.intel import warninglist_sources, warninglists  # noqa: E402


def sample_values(count: int, rng: random.Random) -> list[tuple[str, str]]:
    makers = [
        lambda: ("ipv4-addr", ".".join(str(rng.randrange(256)) for _ in range(4))),
        lambda: ("ipv6-addr", f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"),
        lambda: ("domain-name", f"host{rng.randrange(10**6)}.{rng.choice(['google.com', 'evil.example', 'cdn.net'])}"),
        lambda: ("url", f"https://www{rng.randrange(3)}.{rng.choice(['google.com', 'bad.example'])}/p{rng.randrange(999)}"),
        lambda: ("sha256", f"{rng.getrandbits(256):064x}"),
        lambda: ("ipv4-addr", rng.choice(["8.8.8.8", "10.1.2.3", "1.1.1.1", "192.168.0.1"])),
    ]
    return [rng.choice(makers)() for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = create_app("testing")
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        records = warninglist_sources.load(list(warninglist_sources.DEFAULT_LISTS))
        loaded = time.perf_counter() - started
        entries = sum(record.entry_count for record in records)
        print(f"loaded {len(records)} lists, {entries} entries, in {loaded:.2f} s")
        started = time.perf_counter()
        matcher = warninglists.matcher()
        print(f"matcher built in {time.perf_counter() - started:.2f} s")
        values = sample_values(args.values, random.Random(7))
        for round_no in range(1, args.rounds + 1):
            started = time.perf_counter()
            listed = sum(1 for kind, value in values if matcher.lists_for(kind, value))
            elapsed = time.perf_counter() - started
            print(f"round {round_no}: {len(values)} lookups in {elapsed:.3f} s = "
                  f"{len(values) / elapsed:,.0f} values/s ({listed} listed)")
            started = time.perf_counter()
            warninglists.lists_for_many(values)
            elapsed = time.perf_counter() - started
            print(f"         lists_for_many (one stamp check): {len(values) / elapsed:,.0f} values/s")


if __name__ == "__main__":
    main()
