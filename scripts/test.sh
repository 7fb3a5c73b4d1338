#!/usr/bin/env bash
# Runs every test: Rust unit + integration tests (store on SQLite and
# PostgreSQL), then the end-to-end suite in which the unmodified Python
# `mlflow` client drives `kiln server` on each backend.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo build"
cargo build --locked -p kiln
echo "== cargo test"
cargo test --locked --workspace

echo "== end-to-end: mlflow client against kiln server (sqlite + postgres)"
export KILN_BIN="${CARGO_TARGET_DIR:-target}/debug/kiln"
.venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
