#!/usr/bin/env bash
# Neural Canvas developer entry point.
#   ./dev.sh app    set everything up, then start the app on http://localhost:8501
#   ./dev.sh test   set everything up (including Debian's chromium), then run the whole test suite
# Both create and reuse a virtual environment in .venv; nothing is installed globally
# except Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${NEURAL_CANVAS_VENV:-.venv}"
PY="$VENV/bin/python"

setup_python() {
  if [ ! -x "$PY" ]; then
    echo "==> creating virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    echo "==> installing Neural Canvas and its dependencies (first run takes a few minutes)"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -e ".[test]"
    touch "$VENV/.installed"
  fi
}

build_canvas() {
  # The canvas's JavaScript, when missing or older than its sources (Node from PyPI when
  # no suitable node is on the PATH).
  "$PY" -m builder.ui.canvas_build
}

setup_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  echo "==> installing Debian's chromium for the browser tests"
  local sudo=""
  if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
}

case "${1:-}" in
  app)
    setup_python
    build_canvas
    shift
    exec "$PY" -m streamlit run app.py "$@"
    ;;
  test)
    setup_python
    build_canvas
    setup_chromium
    shift
    set +e
    "$PY" -m pytest -n 2 "$@"
    rc=$?
    set -e
    # pytest exits 5 when it collected no test; that is a failure of the suite, not a pass.
    exit $rc
    ;;
  *)
    echo "usage: ./dev.sh app | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
