#!/usr/bin/env bash
# Installs what building Kiln needs on a fresh Debian machine, idempotently:
# a C/C++ toolchain with OpenMP, libclang (bindgen, for LightGBM's C API) and
# CMake >= 3.28 (LightGBM 4.7's minimum; Debian 12 ships 3.25, so it comes from
# PyPI into .tools/). Prints the `export` line that points cargo at that CMake.
#
#   source <(bash scripts/setup-build.sh --env)   # or: eval "$(bash scripts/setup-build.sh --env)"
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
# bindgen loads libclang at build time.
# (libclang itself: libclang-cpp, which other packages pull in, is not what bindgen loads.)
if [ -z "$(find /usr/lib /usr/local/lib \( -name 'libclang.so*' -o -name 'libclang-[0-9]*.so*' \) -print -quit 2>/dev/null)" ]; then
  need_apt+=(libclang-dev)
fi
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup-build: installing ${need_apt[*]} from apt" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup-build: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# CMake >= 3.28 for LightGBM: the system one if new enough, else PyPI's into .tools.
cmake_ok() {
  local v
  v=$("$1" --version 2>/dev/null | head -n1 | awk '{print $3}') || return 1
  [ -n "$v" ] && [ "$(printf '%s\n3.28\n' "$v" | sort -V | head -n1)" = "3.28" ]
}
CMAKE_BIN=""
if command -v cmake >/dev/null 2>&1 && cmake_ok cmake; then
  CMAKE_BIN=$(command -v cmake)
else
  if [ ! -x .tools/bin/cmake ] || ! cmake_ok .tools/bin/cmake; then
    echo "setup-build: installing cmake (>=3.28,<4) from PyPI into .tools" >&2
    python3 -m venv .tools >&2
    .tools/bin/python -m pip install -q 'cmake>=3.28,<4' >&2
  fi
  CMAKE_BIN="$PWD/.tools/bin/cmake"
fi
echo "setup-build: ok (cmake: $CMAKE_BIN)" >&2
if [ "${1:-}" = "--env" ]; then
  echo "export CMAKE=$CMAKE_BIN"
fi
