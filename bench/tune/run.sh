#!/usr/bin/env bash
# bench/tune: Kiln's samplers vs Optuna's (same machine, same run). See README.md.
# Usage: bash bench/tune/run.sh [--quick] [--only quality|overhead|distributed]
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${KILN_TUNE_BENCH_VENV:-/tmp/venv-kiln-tune-bench}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r bench/tune/requirements.txt
cargo build --release -q -p kiln-tune --example tune_bench
target="${CARGO_TARGET_DIR:-target}"
cd bench/tune
"$venv/bin/python" bench.py --kiln-bench "../../$target/release/examples/tune_bench" "$@"
