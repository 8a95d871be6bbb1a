#!/usr/bin/env bash
# Installs what is needed (first time), then serves Marquee on the demo catalog at http://127.0.0.1:7860.
# The first start builds the demo catalog's index (progress bar); later starts reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. scripts/setup.sh
exec python app.py "$@"
