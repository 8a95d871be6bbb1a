#!/usr/bin/env bash
# Installs what is needed (first time), then runs the whole test suite. No network is used by tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. scripts/setup.sh
exec python -m pytest -q "$@"
