"""Low-level writes to the STIX store: the date_added clock and version rows."""
from __future__ import annotations

import re

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


def version_spelling(modified_us: int) -> str:
    """A version's timestamp (µs since the epoch) as stix2 writes modified: milliseconds at least,
    more digits only where they are not zero. What a version sent in another spelling keeps as
    sent (StixVersion.version_as_sent)."""
    moment = us_to_datetime(modified_us)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{f'{moment.microsecond:06d}'.rstrip('0').ljust(3, '0')}Z")


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
    """A STIX timestamp string in microseconds since the epoch (ValueError if malformed); digits
    beyond the microsecond are cut (the hub's clock counts microseconds)."""
    from stix2.properties import TimestampProperty

    return datetime_to_us(TimestampProperty().clean(to_the_microsecond(stamp), False)[0])


# A STIX timestamp finer than the microsecond. STIX 2.1 and its schemas allow any number of
# fraction digits (Go's RFC3339Nano writes nine); Python's datetime, and so the stix2 library,
# holds six.
_FINER_THAN_MICROSECONDS = re.compile(
    r"\A(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6})\d+Z\Z")


def to_the_microsecond(stamp):
    """The timestamp with its fraction cut after six digits; anything else as it is."""
    if isinstance(stamp, str) and len(stamp) > 27:
        match = _FINER_THAN_MICROSECONDS.match(stamp)
        if match:
            return match.group(1) + "Z"
    return stamp


def finer_than_microseconds(stamp) -> bool:
    return isinstance(stamp, str) and to_the_microsecond(stamp) != stamp


def same_moment(first, second) -> bool:
    """Whether two timestamps say the same moment, in whatever precision each is written."""
    return _moment(first) == _moment(second)


def _moment(stamp) -> str:
    """A timestamp spelt without trailing zeros in its fraction: equal for the same moment."""
    if not isinstance(stamp, str) or "." not in stamp:
        return stamp
    return stamp[:-1].rstrip("0").rstrip(".") + "Z"


def with_stamps_to_the_microsecond(value):
    """A copy of a JSON value with every timestamp finer than the microsecond cut after six
    digits (what the stix2 library can read); the value itself when it has none."""
    if isinstance(value, str):
        return to_the_microsecond(value)
    if isinstance(value, dict):
        cut = {key: with_stamps_to_the_microsecond(item) for key, item in value.items()}
        return value if all(cut[key] is value[key] for key in value) else cut
    if isinstance(value, list):
        cut = [with_stamps_to_the_microsecond(item) for item in value]
        return value if all(new is old for new, old in zip(cut, value)) else cut
    return value


def stix_stamp_ms(value_us: int) -> str:
    """A STIX timestamp with millisecond precision, as the stix2 library writes them."""
    return us_to_datetime(value_us).strftime("%Y-%m-%dT%H:%M:%S.") + f"{(value_us // 1000) % 1000:03d}Z"
