#!/usr/bin/env bash
# The README's first command: installs the build tools if missing, builds Kiln
# (release) and runs `kiln quickstart` -- a real training run on a generated
# data set, tracked in ./kiln.db, with the leaderboard and the UI address printed.
# Extra arguments go to `kiln quickstart` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-build.sh --env)"
cargo run --release --locked -p kiln -- quickstart "$@"
