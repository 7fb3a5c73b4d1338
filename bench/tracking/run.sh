#!/usr/bin/env bash
# Kiln vs MLflow tracking-server benchmark.
#
#   bench/tracking/run.sh [bench.py flags...]
#
# 1. builds kiln in release mode (skip with SKIP_BUILD=1, e.g. for --only mlflow),
# 2. makes sure a Python venv with mlflow==3.17.2 exists (
#    <repo>/.venv, created with `pip install mlflow==3.17.2` if missing;
#    override with VENV=/path/to/venv),
# 3. runs bench.py, writing JSON to bench/tracking/results.json unless
#    --json-out is given.
#
# Examples:
#   bench/tracking/run.sh                          # both servers, 10,000 runs
#   bench/tracking/run.sh --runs 3000              # quicker
#   SKIP_BUILD=1 bench/tracking/run.sh --only mlflow
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

MLFLOW_VERSION="3.17.2"

# ---- 1. kiln release build -------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
KILN_BIN="${KILN_BIN:-$TARGET_DIR/release/kiln}"
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    echo "==> cargo build --release -p kiln"
    cargo build --release -p kiln
fi

# ---- 2. python venv with mlflow ---------------------------------------------
VENV="${VENV:-$ROOT/.venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import mlflow, sys; sys.exit(mlflow.__version__ != '$MLFLOW_VERSION')" 2>/dev/null \
   || [[ ! -x "$VENV/bin/mlflow" ]]; then
    echo "==> pip install mlflow==$MLFLOW_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet "mlflow==$MLFLOW_VERSION"
fi

# ---- 3. run ------------------------------------------------------------------
args=("$@")
have_json=0
for a in "${args[@]+"${args[@]}"}"; do
    [[ "$a" == --json-out || "$a" == --json-out=* ]] && have_json=1
done
if [[ $have_json == 0 ]]; then
    args+=(--json-out "$HERE/results.json")
fi

echo "==> $VENV/bin/python $HERE/bench.py --kiln-bin $KILN_BIN --mlflow-bin $VENV/bin/mlflow ${args[*]}"
exec "$VENV/bin/python" "$HERE/bench.py" \
    --kiln-bin "$KILN_BIN" --mlflow-bin "$VENV/bin/mlflow" "${args[@]}"
