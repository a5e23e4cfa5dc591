"""Writing and selecting thousands of rows at once, on PostgreSQL and SQLite alike.

A fan-out to every member writes thousands of notifications and asks about thousands of ids.
On PostgreSQL the varying values travel as one array parameter each (`unnest`, `= ANY`) instead
of thousands of placeholders; SQLite, in-process, takes a plain executemany and IN list.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, any_, bindparam, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from hub.extensions import db

_SQLITE_IN_CHUNK = 5000


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def insert_ignoring_duplicates(model):
    """INSERT … ON CONFLICT DO NOTHING, in the dialect at hand."""
    insert = postgresql.insert if _postgresql() else sqlite.insert
    return insert(model).on_conflict_do_nothing()


def insert_rows(model, rows: list[dict], constants: dict) -> None:
    """Insert rows (varying columns) that share `constants`; rows already there are skipped."""
    if not rows:
        return
    table = model.__table__
    if not _postgresql():
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


def id_in(column, ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids` as one array parameter on PostgreSQL (any length); an IN list elsewhere."""
    if _postgresql():
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(ids))


def id_chunks(ids: list[int]):
    """SQLite caps the number of parameters of one statement; PostgreSQL takes one array."""
    if _postgresql():
        yield list(ids)
        return
    for start in range(0, len(ids), _SQLITE_IN_CHUNK):
        yield ids[start:start + _SQLITE_IN_CHUNK]
