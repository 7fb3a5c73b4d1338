#!/usr/bin/env bash
# bench/ui: Kiln's web UI vs mlflow server's UI on the same data (see README.md).
#
#   bench/ui/run.sh [bench.mjs flags: --runs N --points N --reps N --only kiln|mlflow]
#
# 1. builds kiln in release mode (skip with SKIP_BUILD=1; KILN_BIN overrides the binary),
# 2. makes sure a Python venv with mlflow==3.17.2 exists (VENV, default <repo>/.venv),
# 3. installs Playwright from tests/ui's lockfile (npm ci; Chromium is Debian's),
# 4. runs bench.mjs, writing JSON to bench/ui/results.json unless --json-out is given.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
MLFLOW_VERSION="3.17.2"

chromium="${KILN_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
    echo "bench/ui: Chromium not found at $chromium (apt-get install -y chromium, or set KILN_CHROMIUM)" >&2
    exit 1
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
KILN_BIN="${KILN_BIN:-$TARGET_DIR/release/kiln}"
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    echo "==> cargo build --release -p kiln"
    cargo build --release -p kiln
fi

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

(
    cd "$ROOT/tests/ui"
    stamp=node_modules/.kiln-lock-$(sha256sum package-lock.json | cut -c1-16)
    if [[ ! -f "$stamp" ]]; then
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
        touch "$stamp"
    fi
)

export KILN_CHROMIUM="$chromium"
echo "==> node bench/ui/bench.mjs --kiln-bin $KILN_BIN --mlflow-bin $VENV/bin/mlflow $*"
exec node "$HERE/bench.mjs" --kiln-bin "$KILN_BIN" --mlflow-bin "$VENV/bin/mlflow" "$@"
