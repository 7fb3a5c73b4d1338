#!/usr/bin/env bash
# Runs every test: Rust unit + integration tests (store on SQLite and
# PostgreSQL, the training pipeline, tuning), then the end-to-end suite in
# which the unmodified Python `mlflow` client drives `kiln server` on each
# backend (and `kiln train` logs to it and to a real `mlflow server`), then the
# web UI in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# LightGBM's build needs CMake >= 3.28 (from PyPI into .tools/ when the system's is older).
eval "$(bash scripts/setup-build.sh --env 2>/dev/null)"

target="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== cargo build (with the S3/GCS/Azure artifact stores, for the S3 test)"
cargo build --locked -p kiln --features cloud
cp "$target/debug/kiln" "$target/debug/kiln-cloud"
echo "== cargo build"
cargo build --locked -p kiln
echo "== cargo test"
cargo test --locked --workspace

echo "== end-to-end: mlflow client against kiln server (sqlite + postgres, S3 artifacts via moto)"
export KILN_BIN="$target/debug/kiln"
export KILN_BIN_CLOUD="$target/debug/kiln-cloud"
.venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider

echo "== web UI: Playwright in headless Chromium against kiln server"
bash tests/ui/run.sh
