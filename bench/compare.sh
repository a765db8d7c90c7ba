#!/usr/bin/env bash
# Compare Sextant builds in interleaved runs of bench/run-sextant.sh.
#
# A virtual machine's speed drifts within minutes, so one run of each build says little:
# this runs every build once per round, round after round, and prints one line per run
# with the figures that matter for a change: end-to-end and accepted events/s, server
# CPU per event, the generator's CPU per request (a gauge of the host's speed at that
# moment), p99 ack latency, and peak RSS and PSS (with several processes, as on
# PostgreSQL, compare PSS: RSS counts shared memory once per process; PSS is sampled once
# a second, so it needs runs of a few seconds). Compare builds within a round, and look
# for a difference that holds in every round.
#
# Usage: bench/compare.sh [--rounds N] [--events N] [--concurrency C] [--postgres URL]
#          BIN_A BIN_B [BIN …]
#
# With --postgres, the database is dropped and created again before every run (it must
# be one that can be dropped, e.g. sextant_bench), and PostgreSQL's processes are counted
# in the CPU, RSS and PSS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=3
EVENTS=8000
CONCURRENCY=8
POSTGRES=""
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --postgres) POSTGRES=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 64 ;;
    *) BINS+=("$(realpath "$1")"); shift ;;
  esac
done
if [[ ${#BINS[@]} -lt 2 ]]; then
  echo "usage: bench/compare.sh [--rounds N] [--events N] [--concurrency C] [--postgres URL] BIN_A BIN_B [BIN …]" >&2
  exit 64
fi

if [[ -n "$POSTGRES" ]]; then
  PG_ADMIN="${POSTGRES%/*}/postgres"
  PG_NAME=${POSTGRES##*/}
  # The server's own answer, so any version or cluster layout works.
  PG_PID=$(head -1 "$(psql -At "$PG_ADMIN" -c 'SHOW data_directory')/postmaster.pid")
fi

OUT=$(mktemp -d /tmp/sextant-compare.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
printf '%-5s %-40s %8s %8s %9s %11s %8s %8s %8s\n' round binary e2e/s acc/s "cpu ms" "client ms" "p99 ms" "rss MiB" "pss MiB"
for round in $(seq "$ROUNDS"); do
  for i in "${!BINS[@]}"; do
    bin=${BINS[$i]}
    result="$OUT/$round-$i.json"
    args=(--sextant "$bin" --events "$EVENTS" --concurrency "$CONCURRENCY" --out "$result")
    extra=(--visibility-poll-ms 1)
    if [[ -n "$POSTGRES" ]]; then
      psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_NAME" -c "CREATE DATABASE $PG_NAME"
      args+=(--postgres "$POSTGRES")
      extra+=(--server-pid "$PG_PID" --server-pid-tree)
    fi
    "$ROOT/bench/run-sextant.sh" "${args[@]}" -- "${extra[@]}" >"$OUT/$round-$i.log" 2>&1 || {
      echo "run $round of $bin failed:" >&2; tail -20 "$OUT/$round-$i.log" >&2; exit 1; }
    python3 - "$result" "$round" "$bin" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
load, server = d["load"], d["server"]
print("%-5s %-40s %8.0f %8.0f %9.3f %11.3f %8.1f %8.0f %8.0f" % (
    sys.argv[2], sys.argv[3][-40:], d["end_to_end"]["events_per_s"], load["accepted_per_s"],
    server["cpu_ms_per_accepted_event"], load["client_cpu_ms_per_request"],
    load["ack_latency_ms"]["p99"], server["peak_rss_kib"] / 1024,
    server.get("peak_pss_kib", 0) / 1024))
PY
  done
done
