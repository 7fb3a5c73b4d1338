#!/usr/bin/env bash
# Installs what Kiln's tests need on a fresh Debian machine, idempotently:
# the build tools (scripts/setup-build.sh: C++ toolchain, libclang, CMake >= 3.28),
# PostgreSQL (started, listening on 127.0.0.1:5432), and a Python venv (.venv)
# with the unmodified `mlflow` client used as the judge.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
# Runs a command as the postgres system user (root: runuser; others: sudo).
as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

bash scripts/setup-build.sh

need_apt=()
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql postgresql-client)
# The UI's browser tests: Debian's Chromium, driven by Playwright from npm.
[ -x /usr/bin/chromium ] || need_apt+=(chromium chromium-driver)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from apt"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL at 127.0.0.1:5432 (trust auth for user postgres, database test).
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    echo "setup: starting PostgreSQL $ver"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  # A freshly installed cluster asks for passwords on TCP; the tests use trust auth as on these machines.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    hba=$(as_postgres psql -tAc 'show hba_file' 2>/dev/null || true)
    if [ -n "$hba" ]; then
      echo "setup: enabling trust auth for local TCP connections in $hba"
      $SUDO sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
      as_postgres psql -tAc 'select pg_reload_conf()' >/dev/null
    fi
  fi
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
  fi
fi

# The Python judge: the unmodified mlflow client from PyPI.
req=tests/e2e/requirements.txt
stamp=.venv/.kiln-req-$(sha256sum "$req" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: creating .venv with $(grep -v '^#' "$req" | tr '\n' ' ')"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req"
  touch "$stamp"
fi
echo "setup: ok"
