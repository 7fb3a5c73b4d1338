#!/usr/bin/env bash
# bench/train: `kiln train` vs the equivalent pandas + lightgbm + mlflow script.
#
#   bench/train/run.sh [bench.py flags...]      e.g. --rows 200000 --repeat 1
#
# Builds kiln (release; SKIP_BUILD=1 to skip), makes a venv with bench/train/requirements.txt
# (VENV=/path to override; default /tmp/kiln-bench-train-venv), runs bench.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  eval "$(bash scripts/setup-build.sh --env)"
  cargo build --release -p kiln
fi
VENV="${VENV:-/tmp/kiln-bench-train-venv}"
stamp="$VENV/.req-$(sha256sum "$HERE/requirements.txt" | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
  touch "$stamp"
fi
exec "$VENV/bin/python" "$HERE/bench.py" --kiln "${CARGO_TARGET_DIR:-$ROOT/target}/release/kiln" "$@"
