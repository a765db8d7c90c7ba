#!/usr/bin/env bash
# Benchmark Sextant with `sextant-bench`.
#
# Builds the release binary, starts `sextant serve` on 127.0.0.1 with a fresh temp data
# dir (embedded SQLite) or a given PostgreSQL URL, creates a read-only API token, runs
# `sextant-bench` with end-to-end counting through the issue API, time-to-visible via
# the event endpoint and RSS/CPU sampling of the server process, reads ack → visible
# under load from the server's metrics, writes the JSON result under bench/results/, and
# stops the server.
#
# Usage: bench/run-sextant.sh [--postgres URL] [--events N] [--concurrency C] [--port P]
#          [--sextant BIN] [--keep] [--out FILE] [-- extra sextant-bench args]
#
# With --postgres, use an empty database (e.g. `createdb sextant_bench`): the bench
# subtracts a baseline, but earlier runs' rows still make the database bigger.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVENTS=10000
CONCURRENCY=8
PORT=9310
POSTGRES=""
SEXTANT=""
KEEP=0
OUT=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --postgres) POSTGRES=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --sextant) SEXTANT=$2; shift 2 ;;   # use this binary instead of building release
    --keep) KEEP=1; shift ;;            # keep the data dir and server log
    --out) OUT=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done

if [[ -z "$SEXTANT" ]]; then
  (cd "$ROOT" && cargo build --release -p sextant -p sextant-bench)
  SEXTANT="$ROOT/target/release/sextant"
fi
# The load generator: beside the server binary, else built from this checkout.
BENCH="$(dirname "$SEXTANT")/sextant-bench"
if [[ ! -x "$BENCH" ]]; then
  (cd "$ROOT" && cargo build --release -p sextant-bench)
  BENCH="$ROOT/target/release/sextant-bench"
fi
SEXTANT=$(realpath "$SEXTANT")

WORK=$(mktemp -d /tmp/sextant-bench.XXXXXX)
SERVER=""
cleanup() {
  if [[ -n "$SERVER" ]]; then
    # SIGTERM lets the server drain its inbox and exit cleanly.
    kill -TERM "$SERVER" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER" 2>/dev/null || true
  fi
  if [[ $KEEP == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The same global flags for serve and the admin commands, so they share one database
# and print DSNs with the port actually served.
GLOBAL=(--public-url "http://127.0.0.1:$PORT")
if [[ -n "$POSTGRES" ]]; then
  GLOBAL+=(--database-url "$POSTGRES")
  BACKEND=postgres
else
  GLOBAL+=(--data-dir "$WORK/data")
  BACKEND=sqlite
fi

"$SEXTANT" "${GLOBAL[@]}" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" || {
  echo "sextant serve did not come up:" >&2; cat "$WORK/server.log" >&2; exit 1; }

DSN=$("$SEXTANT" "${GLOBAL[@]}" project list --json |
  python3 -c 'import json,sys; print(next(p["dsn"] for p in json.load(sys.stdin) if p["slug"] == "default"))')
TOKEN=$("$SEXTANT" "${GLOBAL[@]}" token create --scope read --label bench --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "Sextant ($BACKEND) on 127.0.0.1:$PORT, DSN $DSN" >&2

OUT=${OUT:-"$ROOT/bench/results/sextant-$BACKEND-$(date -u +%Y%m%dT%H%M%SZ).json"}
OUT=$(realpath -m "$OUT")
mkdir -p "$(dirname "$OUT")"
status=0
SEXTANT_BENCH_API_TOKEN="$TOKEN" "$BENCH" --dsn "$DSN" --events "$EVENTS" \
  --concurrency "$CONCURRENCY" --label "sextant-$("$SEXTANT" --version | cut -d' ' -f2)-$BACKEND" \
  --server-pid "$SERVER" --json "$OUT" "${EXTRA[@]}" || status=$?
# Ack → visible under load: the server's histogram of inbox commit → processed commit
# over the whole run, printed and added to the result file.
if curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt" && [[ -f "$OUT" ]]; then
  python3 - "$WORK/metrics.txt" "$OUT" <<'PY'
import json, re, sys
name = "sextant_processing_latency_seconds"
buckets, count = {}, 0
for line in open(sys.argv[1]):
    m = re.match(name + r'_bucket\{le="([^"]+)"\} (\d+)', line)
    if m and m.group(1) != "+Inf":
        buckets[m.group(1)] = int(m.group(2))
    m = re.match(name + r"_count (\d+)", line)
    if m:
        count = int(m.group(1))
if count:
    shares = {le: round(100.0 * n / count, 1) for le, n in buckets.items()}
    print("  under load  ack → visible, share within: " + ", ".join(
        f"{le} s {share}%" for le, share in shares.items() if float(le) >= 0.05))
    with open(sys.argv[2]) as f:
        result = json.load(f)
    result["server_processing_latency"] = {"count": count, "percent_within_s": shares}
    with open(sys.argv[2], "w") as f:
        json.dump(result, f, indent=2)
PY
fi
if grep -E -q " (ERROR|WARN) " "$WORK/server.log"; then
  echo "server log warnings/errors (first 10):" >&2
  grep -E -m 10 " (ERROR|WARN) " "$WORK/server.log" >&2 || true
fi
exit $status
