"""Low-level writes to the STIX store: the date_added clock and version rows."""
from __future__ import annotations


import orjson
from sqlalchemy import func, select, text

from hub.db import datetime_to_us, now_us, us_to_datetime
from hub.extensions import db
from hub.intel.models import StixVersion

# Any fixed 64-bit key: serialises writers on PostgreSQL for the length of their transaction.
_DATE_ADDED_LOCK_KEY = 0x4843_4855_4200


def stix_timestamp(value_us: int) -> str:
    """date_added as TAXII and the API show it: RFC 3339, UTC, microseconds."""
    return us_to_datetime(value_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def allocate_date_added(count: int) -> list[int]:
    """Reserve `count` strictly increasing date_added values, later than every committed one.

    On PostgreSQL a transaction-scoped advisory lock makes writers take turns from here to
    commit, so date_added order is commit order: a reader paging by date_added never skips an
    object that commits later with an earlier stamp. SQLite serialises writers by itself.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DATE_ADDED_LOCK_KEY})
    last = db.session.scalar(select(func.max(StixVersion.date_added_us))) or 0
    start = max(now_us(), last + 1)
    return list(range(start, start + count))


def canonical_json(obj: dict) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()


def load_json(body: str) -> dict:
    return orjson.loads(body)


def stix_stamp_to_us(stamp: str) -> int:
    """A STIX timestamp string in microseconds since the epoch (ValueError if malformed)."""
    from stix2.properties import TimestampProperty

    return datetime_to_us(TimestampProperty().clean(stamp, False)[0])


def stix_stamp_ms(value_us: int) -> str:
    """A STIX timestamp with millisecond precision, as the stix2 library writes them."""
    return us_to_datetime(value_us).strftime("%Y-%m-%dT%H:%M:%S.") + f"{(value_us // 1000) % 1000:03d}Z"
