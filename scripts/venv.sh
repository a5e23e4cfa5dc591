# Sourced by run.sh and test.sh: create .venv and keep it in step with the requirements files.
#
#   ensure_venv requirements.txt        # what the hub needs to run
#   ensure_venv requirements-dev.txt    # plus what the tests need
#
# The project itself is installed editable, so the `hub` console script exists and points at
# this work tree. pip runs only when a requirements file or pyproject.toml changed since the last
# successful install (a stamp in .venv records their hash), so repeated runs start at once.

VENV_DIR="${VENV_DIR:-.venv}"

ensure_venv() {
    local requirements="$1"
    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "error: $python not found; install Python 3.11 or newer (or set PYTHON=/path/to/python3)" >&2
        return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: Python 3.11 or newer is needed; $python is $("$python" --version 2>&1)" >&2
        return 1
    fi
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        echo "==> creating $VENV_DIR"
        "$python" -m venv "$VENV_DIR"
    fi

    local stamp="$VENV_DIR/.installed-${requirements%.txt}"
    local wanted
    wanted="$(cat requirements.txt "$requirements" pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        return 0
    fi
    echo "==> installing $requirements into $VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements"
    # The build backend's chatter (editable-install notices) is noise here; errors still show.
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps -e . 2>/dev/null \
        || "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-deps -e .
    echo "$wanted" > "$stamp"
}
