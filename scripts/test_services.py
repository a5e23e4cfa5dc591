"""Find the PostgreSQL and Redis servers `make test` uses; give the suite a fresh database.

    python scripts/test_services.py postgres HOST PORT DBNAME   # drops and recreates DBNAME
    python scripts/test_services.py redis HOST PORT DB

Each prints the URL for the suite (TEST_DATABASE_URL, TEST_REDIS_URL) and exits 0; exits 3 when
nothing listens on the port (the suite then runs embedded); exits 1 when something listens but
does not work as expected, because a half-working server must fail loudly, not be skipped.
"""
from __future__ import annotations

import re
import socket
import sys

NOTHING_LISTENS = 3


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def fresh_postgres_database(host: str, port: int, name: str) -> str:
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"error: {name!r} is not a plain database name (a-z, 0-9, _)")
    server = f"postgresql://postgres@{host}:{port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
        # FORCE ends sessions a previous, interrupted run may have left behind.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def redis_database(host: str, port: int, db: int) -> str:
    import redis

    url = f"redis://{host}:{port}/{db}"
    redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    return url


def main(argv: list[str]) -> int:
    service, host, port, target = argv[1], argv[2], int(argv[3]), argv[4]
    if not _listening(host, port):
        return NOTHING_LISTENS
    try:
        if service == "postgres":
            url = fresh_postgres_database(host, port, target)
        elif service == "redis":
            url = redis_database(host, port, int(target))
        else:
            raise SystemExit(f"error: unknown service {service}")
    except Exception as error:  # any driver error: report it, in one line
        print(f"error: {service} on {host}:{port} answers but cannot be used: {error}", file=sys.stderr)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
