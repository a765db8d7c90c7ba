#!/usr/bin/env bash
# Benchmark Bugsink (a peer Sentry-compatible server) with `sextant-bench`.
#
# Installs Bugsink from PyPI into a venv in a temp dir (never in the repo), sets up its
# "singleserver" production layout on SQLite (gunicorn for HTTP plus the snappea
# background worker that digests events), creates a team and project to get a DSN, then
# runs `sextant-bench` against 127.0.0.1 only, counting stored rows of Bugsink's
# events_event table with sqlite3 and sampling RSS/CPU of gunicorn and snappea with all
# their children. Stops everything it started on exit.
#
# Usage: bench/bugsink.sh [--events N] [--concurrency C] [--port P] [--workers W]
#          [--e2e-timeout 1800s] [--venv DIR] [--sextant BIN] [--keep] [--out FILE]
#          [-- extra sextant-bench args]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVENTS=10000
CONCURRENCY=8
PORT=8765
# gunicorn's usual advice is 2 × cores + 1 workers.
WORKERS=$(( $(nproc) * 2 + 1 ))
# Bugsink digests events in a Python background worker, much slower than it acks them;
# the wait for every accepted event to be stored needs far more than the 300 s default.
E2E_TIMEOUT=1800s
VENV=""
SEXTANT=""
KEEP=0
OUT=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --e2e-timeout) E2E_TIMEOUT=$2; shift 2 ;;
    --venv) VENV=$2; shift 2 ;;          # reuse a venv that already has bugsink
    --sextant) SEXTANT=$2; shift 2 ;;    # a sextant binary (default: build release)
    --keep) KEEP=1; shift ;;             # keep the temp dir (DB, logs) for inspection
    --out) OUT=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done

command -v sqlite3 >/dev/null || { echo "needs the sqlite3 CLI (apt-get install sqlite3)" >&2; exit 1; }

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
# The script works inside its temp dir, so paths given relative to here must be absolute.
SEXTANT=$(realpath "$SEXTANT")
[[ -n "$OUT" ]] && OUT=$(realpath -m "$OUT")
[[ -n "$VENV" ]] && VENV=$(realpath "$VENV")

WORK=$(mktemp -d /tmp/bugsink-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ $KEEP == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [[ -z "$VENV" ]]; then
  VENV="$WORK/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet bugsink
fi
VERSION=$("$VENV/bin/bugsink-show-version")
echo "Bugsink $VERSION in $WORK (port $PORT, $WORKERS gunicorn workers)" >&2

DATA="$WORK/data"
mkdir -p "$DATA"
cd "$WORK"
"$VENV/bin/bugsink-create-conf" --template=singleserver --host=127.0.0.1 --base-dir="$DATA" \
  --output-file=bugsink_conf.py >/dev/null
# The singleserver template expects nginx with TLS in front; here gunicorn is reached
# directly over plain HTTP on loopback. Ingest quotas (1,000 events per 5 minutes by
# default) and event-count retention would discard or evict benchmark events, so both
# are lifted: the benchmark measures ingestion, not quota enforcement.
cat >>bugsink_conf.py <<EOF

# --- sextant-bench overrides ---
BUGSINK["BASE_URL"] = "http://127.0.0.1:$PORT"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECURE_PROXY_SSL_HEADER = None
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
USE_X_REAL_IP = False
for _k in ["MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR",
           "MAX_EVENTS_PER_PROJECT_PER_MONTH", "MAX_EVENTS_PER_5_MINUTES",
           "MAX_EVENTS_PER_HOUR", "MAX_EVENTS_PER_MONTH"]:
    BUGSINK[_k] = 10**12
EOF
export PYTHONPATH="$WORK" DJANGO_SETTINGS_MODULE=bugsink_conf
MANAGE="$VENV/bin/bugsink-manage"
"$MANAGE" migrate --no-input >"$WORK/migrate.log"
"$MANAGE" migrate snappea --database=snappea --no-input >>"$WORK/migrate.log"
DJANGO_SUPERUSER_PASSWORD=bench-only-password "$MANAGE" createsuperuser --no-input \
  --username admin@example.org --email admin@example.org >/dev/null
DSN=$("$MANAGE" shell -c '
from teams.models import Team
from projects.models import Project
team = Team.objects.create(name="bench")
project = Project.objects.create(team=team, name="bench", slug="bench",
                                 retention_max_event_count=10**9)
print(project.dsn)
' | tail -n 1)
echo "DSN: $DSN" >&2

"$VENV/bin/gunicorn" --bind="127.0.0.1:$PORT" --workers="$WORKERS" \
  --error-logfile "$WORK/gunicorn.log" bugsink.wsgi &
GUNICORN=$!
PIDS+=("$GUNICORN")
"$VENV/bin/bugsink-runsnappea" >"$WORK/snappea.log" 2>&1 &
SNAPPEA=$!
PIDS+=("$SNAPPEA")

for _ in $(seq 300); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { echo "Bugsink did not start; see $WORK/gunicorn.log" >&2; KEEP=1; exit 1; }
# Let gunicorn's workers finish importing Django so idle RSS is idle.
sleep 3

OUT=${OUT:-"$ROOT/bench/results/bugsink-sqlite-$(date -u +%Y%m%dT%H%M%SZ).json"}
mkdir -p "$(dirname "$OUT")"
status=0
"$BENCH" --dsn "$DSN" --events "$EVENTS" --concurrency "$CONCURRENCY" \
  --label "bugsink-$VERSION-sqlite" --e2e-timeout "$E2E_TIMEOUT" \
  --count-cmd "sqlite3 -cmd '.timeout 5000' '$DATA/db.sqlite3' 'select count(*) from events_event'" \
  --server-pid "$GUNICORN" --server-pid "$SNAPPEA" --server-pid-tree \
  --json "$OUT" "${EXTRA[@]}" || status=$?
if grep -q -i "error\|traceback" "$WORK/snappea.log" 2>/dev/null; then
  echo "snappea log has errors (tail):" >&2
  grep -i -m 5 "error\|traceback" "$WORK/snappea.log" >&2 || true
fi
exit $status
