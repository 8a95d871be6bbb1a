#!/usr/bin/env bash
# Installs what is needed (first time), then runs the whole test suite. No network is used by tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's chromium with Playwright (never Playwright's own browser download).
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
    echo "Installing chromium for the browser tests (apt-get)..."
    $sudo apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null \
      || echo "warning: could not install chromium; the browser tests will be skipped" >&2
  else
    echo "warning: no apt-get and no /usr/bin/chromium; the browser tests will be skipped" >&2
  fi
fi
# The database and rate-limit tests start throw-away servers from Debian's PostgreSQL and Redis
# (in CI a test fails, never skips, when they cannot start).
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
    echo "Installing PostgreSQL and Redis for the database tests (apt-get)..."
    $sudo apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql redis-server >/dev/null \
      || echo "warning: could not install postgresql/redis-server; their tests will fail in CI" >&2
  else
    echo "warning: no apt-get and no PostgreSQL/Redis; their tests will fail in CI" >&2
  fi
fi
# shellcheck disable=SC1091
. scripts/setup.sh
exec python -m pytest -q "$@"
