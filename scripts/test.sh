#!/usr/bin/env bash
# Runs the whole Sextant test suite from a fresh clone:
#   1. prepares the real-SDK test clients (Python venv in .venv, npm packages in
#      tests/sdk/node/node_modules) when missing or out of date;
#   2. pass 1: `cargo test --workspace` with SEXTANT_TEST_PG_URL unset, so everything runs
#      on SQLite (tests that exist only for PostgreSQL pass without running);
#   3. pass 2: every test target that has a PostgreSQL mode again, with SEXTANT_TEST_PG_URL
#      set (one fresh database per test): the end-to-end tests (tests/it), the executable's
#      cli, durability, alerts_durability, hostile, overload and release_gate tests, the
#      storage conformance suite and the unit tests (among them the storage's PostgreSQL
#      ones); the local PostgreSQL cluster is started first if it is not running;
#   4. the console's browser tests (tests/browser, node --test with playwright-core and
#      Debian's chromium).
#
# Environment:
#   SEXTANT_TEST_PG_URL  the PostgreSQL server of pass 2, the one variable every test
#                        reads (default postgres://postgres@127.0.0.1:5432/postgres)
#   SEXTANT_SKIP_PG=1  skip pass 2 (e.g. on a machine without PostgreSQL)
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
PG_URL=${SEXTANT_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ensure_postgres() {
  if pg_isready -q -d "$PG_URL"; then return 0; fi
  say "PostgreSQL is not running; starting the local cluster"
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do
    if pg_isready -q -d "$PG_URL"; then return 0; fi
    sleep 0.2
  done
  echo "PostgreSQL did not become ready" >&2
  return 1
}
if [[ "${SEXTANT_SKIP_PG:-0}" != 1 ]]; then
  ensure_postgres
fi

# --- Rust ---------------------------------------------------------------------------
# Both passes run even if the first fails, so one run shows every failure.
failed=()
say "pass 1: cargo test --workspace on SQLite (SEXTANT_TEST_PG_URL unset)"
env -u SEXTANT_TEST_PG_URL cargo test --workspace --no-fail-fast \
  || failed+=("cargo test --workspace (SQLite)")

if [[ "${SEXTANT_SKIP_PG:-0}" != 1 ]]; then
  say "pass 2: the tests with a PostgreSQL mode, on PostgreSQL ($PG_URL)"
  # `--lib` takes in the storage unit tests that use PostgreSQL; the other libraries' unit
  # tests come along (a few seconds) because building them alone would recompile.
  SEXTANT_TEST_PG_URL="$PG_URL" cargo test --workspace --no-fail-fast --lib \
    --test it --test cli --test durability --test alerts_durability --test hostile \
    --test overload --test release_gate --test conformance \
    || failed+=("tests on PostgreSQL")
else
  say "SEXTANT_SKIP_PG=1: skipping pass 2 (PostgreSQL)"
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
