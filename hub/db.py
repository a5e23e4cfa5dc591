"""Database helpers every feature shares: column types, the clock, bulk ids and one cursor codec."""
from __future__ import annotations

import base64
import binascii
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    Integer,
    String,
    any_,
    bindparam,
    event,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from hub import bounds
from hub.errors import ValidationFailed
from hub.extensions import db

def without_jit(engine: Engine) -> None:
    """Turn PostgreSQL's JIT compilation off on every connection of the engine.

    The policy's SQL (one OR of subqueries per rule) makes the planner's cost estimate of a page's
    count exceed jit_above_cost, and compiling it took ~150-550 ms for a query that runs in ~12 ms
    (bench/page_speed.py, demo x100), and a feed of 100,000 values waited 1.5 s for its first line:
    JIT pays only on long analytical scans, which the hub does not run. Set per connection, not in the server's configuration, so that it holds on any server.
    """
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _jit_off(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()


# SQLite only auto-increments INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer, "sqlite")


def enum_column(enum_cls, length: int):
    """A str-valued Enum stored as VARCHAR (no native enum types: migrations stay simple)."""
    return Enum(enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime, always UTC when read back.

    SQLite keeps no offset, so without this every reader had to re-attach UTC by hand. A naive
    value written is taken to be UTC, as everything the hub computes is.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return as_utc(value)

    def process_result_value(self, value, dialect):
        return as_utc(value)


def canonical_stix_id(value):
    """A STIX id as the hub compares and keys it: its UUID's hex in lower case.

    A UUID reads the same in either case (RFC 4122) and STIX 2.1 accepts both, so
    "indicator--0A1B…" names the object "indicator--0a1b…" does, for consumers as for the rules
    that give an id to its first owner (rule 11) or forbid another member's identity as
    created_by_ref. Stored objects keep the spelling sent; only the hub's keys are canonical.
    (The type before "--" is lower case in every valid id.) Anything but a string as it is.
    """
    return value.lower() if isinstance(value, str) else value


class StixIdMap(dict):
    """A dict keyed by STIX ids whatever the case of their hex (canonical_stix_id): what the hub
    looks up by an id read from an object (a marking reference, a relationship's ends, a report's
    contents) finds the entry of the same id in any spelling. A key that is not a string is
    never found."""

    def __init__(self, pairs=()):
        super().__init__((canonical_stix_id(key), value) for key, value in dict(pairs).items())

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and super().__contains__(canonical_stix_id(key))

    def __getitem__(self, key):
        if not isinstance(key, str):
            raise KeyError(key)
        return super().__getitem__(canonical_stix_id(key))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __setitem__(self, key, value) -> None:
        super().__setitem__(canonical_stix_id(key), value)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other=(), **more) -> None:
        for key, value in {**dict(other), **more}.items():
            self[key] = value


class StixId(TypeDecorator):
    """A column of STIX ids, canonical (canonical_stix_id) in everything bound to it: the rows
    the ORM writes and every value a query compares with it, so that no lookup can miss an id for
    the case of its hex digits. Rows written by COPY are made from canonical ids (hub.intel.ingest)."""

    impl = String(100)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return canonical_stix_id(value)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A datetime in UTC; a naive one is taken to be UTC already (values read from SQL text)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def now_us() -> int:
    return time.time_ns() // 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def us_to_datetime(value: int) -> datetime:
    # Whole microseconds: as a float of seconds, the last microsecond of year 9999 rounds up into
    # year 10000 (out of range), and far-future values lose a millisecond.
    return _EPOCH + timedelta(microseconds=value)


def datetime_to_us(value: datetime) -> int:
    return (as_utc(value) - _EPOCH) // timedelta(microseconds=1)


def on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def reserve_ids(table, count: int) -> list[int | None]:
    """On PostgreSQL, `count` primary keys from the table's own sequence; elsewhere Nones."""
    if not on_postgresql():
        return [None] * count
    # One row holding an array, from a sequence named once: pg_get_serial_sequence in the select
    # list ran once per id (a catalogue lookup each), and a row per id cost more to fetch than to
    # make (a bulk share reserves ids for three tables per chunk).
    return db.session.execute(
        text("SELECT array_agg(nextval(CAST(:sequence AS regclass))) FROM generate_series(1, :n)"),
        {"sequence": _id_sequence(table.name), "n": count},
    ).scalar() or []


@lru_cache(maxsize=None)
def _id_sequence(table_name: str) -> str:
    return db.session.execute(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table_name}).scalar_one()


# Writing and selecting thousands of rows at once, on PostgreSQL and SQLite alike: on PostgreSQL
# the varying values travel as one array parameter each (`unnest`, `= ANY`) instead of thousands
# of placeholders; SQLite, in-process, takes a plain executemany and IN list.
_SQLITE_IN_CHUNK = 5000


def insert_ignoring_duplicates(model):
    """INSERT … ON CONFLICT DO NOTHING, in the dialect at hand."""
    insert = postgresql.insert if on_postgresql() else sqlite.insert
    return insert(model).on_conflict_do_nothing()


def insert_rows(model, rows: list[dict], constants: dict) -> None:
    """Insert rows (varying columns) that share `constants`; rows already there are skipped."""
    if not rows:
        return
    table = model.__table__
    if not on_postgresql():
        db.session.execute(insert_ignoring_duplicates(model), [{**row, **constants} for row in rows])
        return
    columns = list(rows[0])
    arrays = [
        bindparam(f"values_{name}", [row[name] for row in rows], type_=postgresql.ARRAY(table.c[name].type))
        for name in columns
    ]
    values = func.unnest(*arrays).table_valued(*columns).render_derived(name="v")
    chosen = select(
        *[values.c[name] for name in columns],
        *[literal(value, table.c[name].type) for name, value in constants.items()],
    )
    db.session.execute(
        postgresql.insert(model).from_select(columns + list(constants), chosen).on_conflict_do_nothing()
    )


def lz4_available(connection) -> bool:
    """Whether this PostgreSQL server was built with lz4 (a column compression since version 14)."""
    return bool(connection.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def lz4_statement(table_name: str, column: str, method: str = "lz4") -> str:
    return f"ALTER TABLE {table_name} ALTER COLUMN {column} SET COMPRESSION {method}"


# (table, column) of every column compress_with_lz4 names: tests check the migrations agree.
LZ4_COLUMNS: set[tuple[str, str]] = set()


def compress_with_lz4(table, column: str) -> None:
    """Have PostgreSQL compress this column's large values with lz4 rather than its default pglz,
    where the server has it, when `create_all` makes the table (tests, the embedded hub); a
    migration does the same with lz4_statement for deployed databases. lz4 compresses a few times
    faster for slightly larger values; readers decompress either."""

    def after_create(target, connection, **_kw) -> None:
        if connection.dialect.name == "postgresql" and lz4_available(connection):
            connection.execute(text(lz4_statement(target.name, column)))

    LZ4_COLUMNS.add((table.name, column))
    event.listen(table, "after_create", after_create)


def copy_rows(table, rows: list[dict]) -> None:
    """PostgreSQL: rows (every one with the same keys) streamed into the table with COPY, the
    fastest bulk write it has; no conflict handling, so only for rows that cannot exist yet."""
    columns = list(rows[0])
    copy_sequences(table, columns, ([row[column] for column in columns] for row in rows))


def copy_sequences(table, columns, rows) -> None:
    """copy_rows for rows given as sequences of values in the order of `columns`: what a bulk
    write of thousands of rows saves by not building a dict for each."""
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def id_in(column, ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids` as one array parameter on PostgreSQL (any length); an IN list elsewhere."""
    if on_postgresql():
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(ids))


def in_parameter(column, name: str) -> ColumnElement[bool]:
    """`column IN :name` for a statement built once and executed many times with `name` given at
    execution: one array parameter on PostgreSQL (the same SQL text for any number of values, so
    the server may keep its plan), an expanding IN list elsewhere (SQLite: chunk with id_chunks)."""
    if on_postgresql():
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def id_chunks(ids: list[int]):
    """SQLite caps the number of parameters of one statement; PostgreSQL takes one array."""
    if on_postgresql():
        yield list(ids)
        return
    for start in range(0, len(ids), _SQLITE_IN_CHUNK):
        yield ids[start:start + _SQLITE_IN_CHUNK]


# Keyset cursors: the sort key of the last row of a page, as opaque URL-safe text. One codec for
# every list, so that a cursor from one list fails cleanly (422) in another instead of a 500.
# Encrypted (AES-SIV: deterministic, authenticated): a sort key can be an internal row id, whose
# value would tell how many rows the hub holds, readable or not.
_CURSOR_SEPARATOR = "|"


@lru_cache(maxsize=4)
def _cursor_cipher(secret: str) -> AESSIV:
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
               info=b"healthcert-hub list cursors").derive(secret.encode())
    return AESSIV(key)


def encode_cursor(*parts) -> str:
    raw = _CURSOR_SEPARATOR.join(str(part) for part in parts)
    sealed = _cursor_cipher(current_app.config["SECRET_KEY"]).encrypt(raw.encode(), None)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode_cursor(cursor: str, *types, field: str = "cursor") -> tuple:
    """The parts of a cursor, converted by `types` (int, str, datetime.fromisoformat, ...).

    Anything this hub did not issue is a ValidationFailed naming the field; integers outside
    64 bits and instants outside the hub's years are refused here, so no query below sees them.
    """
    try:
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        raw = _cursor_cipher(current_app.config["SECRET_KEY"]).decrypt(sealed, None).decode()
        texts = raw.split(_CURSOR_SEPARATOR, len(types) - 1)
        if len(texts) != len(types):
            raise ValueError("wrong number of parts")
        parts = tuple(convert(text_) for convert, text_ in zip(types, texts))
        for part in parts:
            if isinstance(part, int):
                bounds.bounded_int(part)
            elif isinstance(part, datetime):
                bounds.bounded_instant(part)
        return parts
    except (ValueError, TypeError, binascii.Error, UnicodeError, OverflowError, InvalidTag):
        raise ValidationFailed("invalid cursor", [{"field": field, "value": cursor[:100],
                                                   "error": "use the `next` value of a previous page"}]) from None
