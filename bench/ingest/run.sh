#!/usr/bin/env bash
# Ingest benchmark: Kiln (release build) against pandas and pyarrow, same machine, same run.
#   bash bench/ingest/run.sh [--rows N] [--runs N]
# Environment: VENV (default /tmp/venv-ingest), DATA (default /tmp/kiln-ingest-data).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-/tmp/venv-ingest}"
data="${DATA:-/tmp/kiln-ingest-data}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r "$here/requirements.txt"

(cd "$root" && cargo build --release -q -p kiln-data --example ingest)
kiln="$root/target/release/examples/ingest"

# Every process gets the same 2 CPUs (the targets are stated for 2 cores).
pin=""
if [ "$(nproc)" -gt 2 ] && command -v taskset >/dev/null; then
  pin="0,1"
fi
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), pinned to: ${pin:-all (2)}"
"$venv/bin/python" -c 'import numpy, pandas, pyarrow; print(f"numpy {numpy.__version__}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}")'
exec "$venv/bin/python" "$here/bench.py" --kiln "$kiln" --data "$data" --taskset "$pin" "$@"
