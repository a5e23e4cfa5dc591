"""EXPLAIN ANALYZE of the TAXII page query on a bench database: is paging an index range scan?

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hub_bench \
        .venv/bin/python bench/taxii_explain.py --email reader@other-hospital.test [--collection community]

Prints the plan of "a page of 100 with added_after at the middle of the collection", built by
the very code that serves it (hub.taxii.reading), for the given user and collection.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from hub import create_app  # noqa: E402
from hub.accounts.services import user_by_email  # noqa: E402
from hub.extensions import db  # noqa: E402
from hub.intel.models import StixVersion  # noqa: E402
from hub.principal import Principal  # noqa: E402
from hub.taxii import reading  # noqa: E402
from hub.taxii.collections import collection_for  # noqa: E402
from hub.taxii.filters import ObjectFilters, PageRequest  # noqa: E402


def middle_date_added() -> int:
    count = db.session.scalar(select(func.count()).select_from(StixVersion))
    return db.session.scalar(select(StixVersion.date_added_us).order_by(StixVersion.date_added_us)
                             .offset(count // 2).limit(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--collection", default="community")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        principal = Principal.of(user_by_email(args.email))
        collection = collection_for(principal, args.collection)
        page = PageRequest(filters=ObjectFilters(), limit=args.limit, after_us=middle_date_added(), digest="explain")
        statement, parameters = reading.page_query(principal, collection, page)
        compiled = statement.compile(db.engine)
        connection = db.session.connection()
        for (line,) in connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled),
                                                  compiled.construct_params(parameters)):
            print(line)


if __name__ == "__main__":
    main()
