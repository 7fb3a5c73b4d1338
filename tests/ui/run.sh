#!/usr/bin/env bash
# Browser tests of Kiln's web UI: Playwright (from npm, pinned in package-lock.json)
# driving Debian's Chromium (/usr/bin/chromium, or KILN_CHROMIUM). The tests start
# their own `kiln server` (KILN_BIN, default target/debug/kiln) and fill it through
# the mlflow client of the repository's venv (KILN_UI_PYTHON, default .venv/bin/python).
# Screenshots land in tests/ui/screenshots/. Extra arguments go to `playwright test`.
#
# Without Chromium: under CI=true this fails; otherwise the tests are skipped loudly.
set -euo pipefail
cd "$(dirname "$0")"

chromium="${KILN_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  msg="Chromium not found at $chromium: the UI browser tests need it (apt-get install -y chromium chromium-driver, or set KILN_CHROMIUM)"
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: $msg" >&2
    exit 1
  fi
  echo "!!!!!!!! SKIPPING the UI browser tests: $msg !!!!!!!!" >&2
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "ERROR: npm is needed for the UI browser tests (apt-get install -y nodejs npm)" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "ERROR: Playwright 1.65 needs Node.js >= 20, found $(node --version 2>/dev/null || echo none) (Debian 12's nodejs is 18: use NodeSource's nodejs 20.x or actions/setup-node)" >&2
  exit 1
fi

export KILN_CHROMIUM="$chromium"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp=node_modules/.kiln-lock-$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f "$stamp" ]; then
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
exec npx playwright test "$@"
