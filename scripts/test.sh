#!/usr/bin/env bash
# Runs the whole Sextant test suite from a fresh clone:
#   1. prepares the real-SDK test clients (Python venv in .venv, npm packages in
#      tests/sdk/node/node_modules) when missing or out of date;
#   2. `cargo test --workspace` (unit tests, storage conformance, SQLite end-to-end tests);
#   3. the end-to-end, CLI, crash-durability and overload tests again against PostgreSQL (one fresh
#      database per test),
#      starting the local PostgreSQL cluster first if it is not running;
#   4. the console's browser tests (tests/browser, node --test with playwright-core and
#      Debian's chromium).
#
# Environment:
#   SEXTANT_PG_URL   PostgreSQL server for step 3 and for the storage conformance tests
#                    (default postgres://postgres@127.0.0.1:5432/postgres)
#   SEXTANT_SKIP_PG=1  skip step 3 (e.g. on a machine without PostgreSQL)
#   SEXTANT_SKIP_BROWSER=1  skip step 4
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf '\n==> %s\n' "$*"; }

# --- Python SDK clients -------------------------------------------------------------
REQ=tests/sdk/python/requirements.txt
STAMP=.venv/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]]; then
  say "creating .venv with $(python3 --version) and installing $REQ"
  python3 -m venv .venv
  .venv/bin/pip install --disable-pip-version-check --no-input -q -r "$REQ"
  echo "$want" >"$STAMP"
fi
export SEXTANT_PYTHON="$ROOT/.venv/bin/python"

# --- Node SDK clients ---------------------------------------------------------------
NODE_DIR=tests/sdk/node
if [[ ! -f "$NODE_DIR/node_modules/.package-lock.json" \
   || "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]]; then
  say "npm ci in $NODE_DIR (node $(node --version))"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
SEXTANT_NODE=$(command -v node)
export SEXTANT_NODE

# --- PostgreSQL ---------------------------------------------------------------------
PG_URL=${SEXTANT_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  say "PostgreSQL is not running; starting the local cluster"
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do
    if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
    sleep 0.2
  done
  echo "PostgreSQL did not become ready" >&2
  return 1
}
if [[ "${SEXTANT_SKIP_PG:-0}" != 1 ]]; then
  ensure_postgres
  # Read by the storage conformance tests.
  export SEXTANT_TEST_PG_URL="$PG_URL"
fi

# --- Rust ---------------------------------------------------------------------------
# Both passes run even if the first fails, so one run shows every failure.
failed=()
say "cargo test --workspace (SQLite end-to-end, unit and storage conformance tests)"
cargo test --workspace --no-fail-fast || failed+=("cargo test --workspace")

if [[ "${SEXTANT_SKIP_PG:-0}" != 1 ]]; then
  say "end-to-end tests against PostgreSQL ($PG_URL)"
  SEXTANT_DATABASE_URL="$PG_URL" cargo test --workspace --test it --test cli --test durability --test overload --test release_gate --no-fail-fast \
    || failed+=("end-to-end tests on PostgreSQL")
else
  say "SEXTANT_SKIP_PG=1: skipping the PostgreSQL end-to-end pass"
fi

# --- Browser tests of the console -----------------------------------------------------
# playwright-core drives Debian's chromium (.ci/run installs it); no browser download.
BROWSER_DIR=tests/browser
if [[ "${SEXTANT_SKIP_BROWSER:-0}" != 1 ]]; then
  if [[ ! -f "$BROWSER_DIR/node_modules/.package-lock.json" \
     || "$BROWSER_DIR/package-lock.json" -nt "$BROWSER_DIR/node_modules/.package-lock.json" ]]; then
    say "npm ci in $BROWSER_DIR"
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  say "browser tests (chromium, screenshots in test-artifacts/)"
  cargo build -p sextant --quiet \
    && (cd "$BROWSER_DIR" && SEXTANT_BIN="$ROOT/target/debug/sextant" npm test) \
    || failed+=("browser tests")
else
  say "SEXTANT_SKIP_BROWSER=1: skipping the browser tests"
fi

if ((${#failed[@]})); then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "all tests passed"
