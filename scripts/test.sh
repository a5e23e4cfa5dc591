#!/usr/bin/env bash
# `make test`: install what the suite needs, find PostgreSQL and Redis, run the whole suite.
#
# PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) -> a fresh database for the suite,
#   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hub_test
# Redis on 127.0.0.1:6379 -> TEST_REDIS_URL=redis://127.0.0.1:6379/15
# Neither answers -> the suite runs on SQLite with the embedded broker, and still passes.
# With PostgreSQL, the policy matrix and REST API tests also run on SQLite, alongside.
#
# Knobs: HUB_TEST_DB_NAME (default hub_test), HUB_TEST_REDIS_DB (default 15), HUB_TEST_WORKERS
#   (pytest-xdist workers of the whole suite, default: the number of cores),
# HUB_TEST_POSTGRES=off / HUB_TEST_REDIS=off (run as if absent), HUB_TEST_SQLITE_PASS=off,
# TEST_DATABASE_URL / TEST_REDIS_URL set beforehand are used as they are.
# Extra arguments go to pytest (`bash scripts/test.sh -k cli`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

started=$SECONDS
step() { echo "==> $* ($((SECONDS - started)) s)"; }

ensure_venv requirements-dev.txt

# The browser tests drive Debian's Chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "installing Debian's chromium for the browser tests"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq chromium >/dev/null
    else
        echo "error: the browser tests need /usr/bin/chromium. Install it first:" >&2
        echo "         sudo apt-get install chromium" >&2
        exit 1
    fi
fi

# Tests get an instance folder of their own: a `make run` worker on instance/ must never
# pick up the suite's broker messages.
HUB_INSTANCE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hub-test-instance.XXXXXX")"
export HUB_INSTANCE_DIR
sqlite_pid=""
cleanup() {
    if [ -n "$sqlite_pid" ]; then kill "$sqlite_pid" 2>/dev/null || true; fi
    rm -rf "$HUB_INSTANCE_DIR"
}
trap cleanup EXIT

find_service() {  # find_service NAME ARGS... -> prints the URL; 0 found, 3 absent, else fail
    .venv/bin/python scripts/test_services.py "$@"
}

if [ -n "${TEST_DATABASE_URL:-}" ]; then
    step "database: TEST_DATABASE_URL from the environment"
elif [ "${HUB_TEST_POSTGRES:-auto}" = off ]; then
    step "database: SQLite (HUB_TEST_POSTGRES=off)"
elif url="$(find_service postgres 127.0.0.1 5432 "${HUB_TEST_DB_NAME:-hub_test}")"; then
    export TEST_DATABASE_URL="$url"
    step "database: PostgreSQL, fresh database $TEST_DATABASE_URL"
else
    status=$?
    [ "$status" = 3 ] || exit 1
    step "database: SQLite (nothing listens on 127.0.0.1:5432)"
fi

if [ -n "${TEST_REDIS_URL:-}" ]; then
    step "redis: TEST_REDIS_URL from the environment"
elif [ "${HUB_TEST_REDIS:-auto}" = off ]; then
    step "redis: none, embedded broker (HUB_TEST_REDIS=off)"
elif url="$(find_service redis 127.0.0.1 6379 "${HUB_TEST_REDIS_DB:-15}")"; then
    export TEST_REDIS_URL="$url"
    step "redis: $TEST_REDIS_URL"
else
    status=$?
    [ "$status" = 3 ] || exit 1
    step "redis: none, embedded broker (nothing listens on 127.0.0.1:6379)"
fi

PYTEST=(.venv/bin/python -m pytest -q -ra --durations=10)

# With PostgreSQL, the SQLite path is proven alongside: the policy matrix and the REST API
# (where the SQL differs by dialect) run on SQLite with the embedded broker, in a second process
# on the second core while the whole suite runs on PostgreSQL. Running the whole suite twice
# would double the time; migrations already check both databases in the main pass.
case "${TEST_DATABASE_URL:-}" in
    postgres*)
        shopt -s nullglob
        sqlite_subset=(tests/test_policy_matrix.py tests/test_api_*.py)
        shopt -u nullglob
        if [ "${HUB_TEST_SQLITE_PASS:-on}" != off ] && [ "${#sqlite_subset[@]}" -gt 0 ]; then
            sqlite_log="$HUB_INSTANCE_DIR/sqlite-pass.log"
            step "pytest on SQLite in the background: ${sqlite_subset[*]}"
            (
                export HUB_INSTANCE_DIR="$HUB_INSTANCE_DIR/sqlite-pass"
                mkdir -p "$HUB_INSTANCE_DIR"
                exec env -u TEST_DATABASE_URL -u TEST_REDIS_URL "${PYTEST[@]}" -p no:cacheprovider \
                    "${sqlite_subset[@]}" "$@"
            ) > "$sqlite_log" 2>&1 &
            sqlite_pid=$!
        fi
        ;;
esac

# The whole suite runs in one pytest-xdist worker per core, each on a database of its own
# (tests/conftest.py makes hub_test_gw0, hub_test_gw1, ...); a file's tests stay on one worker so
# that module fixtures (a browser's hub server, a policy world) are built once.
workers="${HUB_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}"
step "pytest, the whole suite${TEST_DATABASE_URL:+ on PostgreSQL}, $workers workers"
main_log="$HUB_INSTANCE_DIR/main-pass.log"
set +e
"${PYTEST[@]}" -n "$workers" --dist loadfile tests "$@" 2>&1 | tee "$main_log"
main_status=${PIPESTATUS[0]}
set -e

if [ -n "$sqlite_pid" ]; then
    set +e
    wait "$sqlite_pid"
    sqlite_status=$?
    set -e
    [ "$sqlite_status" = 5 ] && sqlite_status=0  # extra pytest arguments deselected it all
    step "pytest on SQLite (${sqlite_subset[*]}) said"
    cat "$sqlite_log"
    if [ "$sqlite_status" != 0 ]; then
        echo "==> FAILED on SQLite (exit $sqlite_status)" >&2
        [ "$main_status" = 0 ] && main_status=$sqlite_status
    fi
    # The whole suite's closing line comes last, where CI and people look.
    echo "==> the whole suite${TEST_DATABASE_URL:+ on PostgreSQL}:"
    tail -n 1 "$main_log"
fi

if [ "$main_status" = 0 ]; then
    step "all tests passed"
fi
exit "$main_status"
