#!/usr/bin/env bash
# `make run`: the whole hub on one machine, embedded defaults (SQLite under instance/, a
# filesystem Celery broker), demo data, a worker with its beat, and the web hub on
# http://127.0.0.1:5000. Ctrl-C stops everything it started.
#
# DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis as usual; HUB_PORT changes the port.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

ensure_venv requirements.txt

HOST="${HUB_HOST:-127.0.0.1}"
PORT="${HUB_PORT:-5000}"
INSTANCE_DIR="${HUB_INSTANCE_DIR:-$PWD/instance}"
mkdir -p "$INSTANCE_DIR"
export HUB_CONFIG="${HUB_CONFIG:-development}"

echo "==> migrating the database"
.venv/bin/flask --app hub db upgrade
echo "==> demo data and the default warning lists"
.venv/bin/flask --app hub demo

# Job control gives each background process its own process group, so the terminal's Ctrl-C
# reaches only this script, and the trap below stops each group (worker pool children included).
set -m
pids=()

stop_all() {
    trap - INT TERM EXIT
    set +m  # no job-status chatter while stopping
    echo
    echo "==> stopping the web hub and the worker"
    local pid alive
    # The group leaders first: Celery's warm shutdown stops its own pool and beat, and finishes
    # the task at hand. Whatever is left after ten seconds is ended with its whole group.
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 20); do
        alive=0
        for pid in "${pids[@]}"; do
            kill -0 -- "-$pid" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for pid in "${pids[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    echo "==> stopped"
}
# Ctrl-C is how one stops the hub: a clean stop, not a failure.
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

echo "==> starting the Celery worker (embedded broker, with beat)"
.venv/bin/celery -A workers.worker worker --beat --loglevel INFO --concurrency 2 \
    --hostname "hub@%h" --schedule "$INSTANCE_DIR/celerybeat-schedule" </dev/null &
pids+=("$!")

echo "==> starting the web hub on http://$HOST:$PORT (Ctrl-C stops both)"
.venv/bin/flask --app hub run --host "$HOST" --port "$PORT" </dev/null &
pids+=("$!")

# Either process ending on its own (a port in use, a crash) ends the other one too.
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "==> a process stopped (exit $status)" >&2
exit "$status"
