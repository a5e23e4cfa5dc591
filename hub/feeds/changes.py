"""The hub-wide feed change counter: what lets a feed poll answer 304 without reading its lines.

A feed's lines depend on the tables its query (`export.feed_entries`) and the sharing policy read,
and on time (expiry). Rather than aggregate every line on every poll to learn whether any changed,
the database itself counts the transactions that wrote to any of those tables: a trigger on each
notes the write, and one row, `feed_change`, takes `version + 1` as the transaction commits, in
that transaction. A feed's ETag is a keyed digest of that version, the latest expiry already
passed, the feed's settings and the format (`export.feed_tag`). So:

- a poll with no write since the client's tag answers 304 after one small query;
- any write a reader may see moves every feed's tag at the moment it becomes visible (the counter
  commits with it), so a 304 is never stale; writes a feed's reader cannot see move it too, which
  costs one unneeded 200, and says only that the hub wrote something, never what, whose or how
  much (the tag is keyed with the secret key, so neither the version nor its steps can be read);
- on PostgreSQL the counter row is locked only at commit (a deferred trigger), so concurrent
  shares never wait on each other for the rest of their transaction, and never deadlock on it.

`tests/test_feed_changes.py` fails if the feed query comes to read a table that is not watched.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, DDL, Integer, event
from sqlalchemy.orm import Mapped, mapped_column

from hub.extensions import db

# Every table whose rows can change what any feed carries: the feed query's own tables, every
# table the sharing policy reads, and the warning lists. Never `feed` (each poll writes it) or the
# audit log.
WATCHED_TABLES = (
    "shared_item", "stix_version", "observable", "audience_grant", "item_reference",
    "organisation", "sharing_group", "sharing_group_member", "incident_item", "law_enforcement_case",
    "warning_list", "warning_list_entry", "warning_list_stamp",
)


class FeedChange(db.Model):
    """One row (id 1): how many transactions have written to a watched table, and when the last
    committed (microseconds since the epoch, the database's clock)."""

    __tablename__ = "feed_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_us: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedChangePending(db.Model):
    """PostgreSQL only: a row a writing transaction inserts once, whose deferred trigger bumps
    `feed_change` at commit and deletes it."""

    __tablename__ = "feed_change_pending"

    txid: Mapped[int] = mapped_column(BigInteger, primary_key=True)


_PG_NOW_US = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"

POSTGRESQL_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION hub_feed_change_noted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Once per transaction (the setting is local to it, and undone with a rolled-back savepoint).
    IF current_setting('hub.feed_change_noted', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('hub.feed_change_noted', 'on', true);
        INSERT INTO feed_change_pending (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_feed_change_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_change (id, version, changed_us) VALUES (1, 1, {_PG_NOW_US})
    ON CONFLICT (id) DO UPDATE SET version = feed_change.version + 1, changed_us = EXCLUDED.changed_us;
    DELETE FROM feed_change_pending WHERE txid = NEW.txid;
    RETURN NULL;
END $$;
"""

POSTGRESQL_COMMIT_TRIGGER = """
CREATE CONSTRAINT TRIGGER feed_change_at_commit AFTER INSERT ON feed_change_pending
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hub_feed_change_commit();
"""


def postgresql_watch(table: str) -> str:
    return (f"CREATE TRIGGER feed_change_noted AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hub_feed_change_noted();")


_SQLITE_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"


def sqlite_watch(table: str) -> list[str]:
    """SQLite (one writer at a time, no deferred triggers): every written row bumps the counter."""
    bump = (f"INSERT INTO feed_change (id, version, changed_us) VALUES (1, 1, {_SQLITE_NOW_US}) "
            f"ON CONFLICT (id) DO UPDATE SET version = version + 1, changed_us = excluded.changed_us;")
    return [f"CREATE TRIGGER IF NOT EXISTS feed_change_{event_name.lower()}_{table} AFTER {event_name} ON {table} "
            f"BEGIN {bump} END;" for event_name in ("INSERT", "UPDATE", "DELETE")]


def _install(target, connection, **_kw) -> None:
    """After `create_all` (tests, the embedded SQLite hub); migrations install the same."""
    if connection.dialect.name == "postgresql":
        connection.execute(DDL(POSTGRESQL_FUNCTIONS))
        connection.execute(DDL("DROP TRIGGER IF EXISTS feed_change_at_commit ON feed_change_pending"))
        connection.execute(DDL(POSTGRESQL_COMMIT_TRIGGER))
        for table in WATCHED_TABLES:
            connection.execute(DDL(f"DROP TRIGGER IF EXISTS feed_change_noted ON {table}"))
            connection.execute(DDL(postgresql_watch(table)))
    elif connection.dialect.name == "sqlite":
        for table in WATCHED_TABLES:
            for statement in sqlite_watch(table):
                connection.execute(DDL(statement))


event.listen(db.metadata, "after_create", _install)
