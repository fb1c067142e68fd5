#!/usr/bin/env bash
# Soak: mixed traffic at half the measured capacity for a while, on SQLite or PostgreSQL,
# sampling the server every 10 s (RSS, open fds, requests/s, p50/p99, errors, analyses,
# webhook deliveries) into a CSV; bench/plot_svg.py draws it. bench/soak.py drives it
# (ingestion from many sessions, API reads, dashboard pages, analyses and their webhooks to a
# local receiver; see its docstring).
# Usage: bench/soak.sh [duration_s=600] [sqlite|postgres] [out_dir=bench/results]
#   PostgreSQL: a fresh database on BENCH_POSTGRES_URL / OPENSCOUTER_TEST_POSTGRES_URL
#   (created and dropped). BIN=target/debug/openscouter skips the release build.
#   SOAK_CAPACITY_S, SOAK_LOAD, SOAK_THREADS, SOAK_SAMPLE_S, SOAK_CYCLE_S tune bench/soak.py.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
STORE=${2:-sqlite}
OUT_DIR=${3:-bench/results}
BIN=${BIN:-target/release/openscouter}
[ "$BIN" = target/release/openscouter ] && cargo build --release -q -p openscouter-server --bin openscouter
WORK=$(mktemp -d)
DB=""
PG=${BENCH_POSTGRES_URL:-${OPENSCOUTER_TEST_POSTGRES_URL:-}}
cleanup() {
  kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true
  [ -n "$DB" ] && psql "$PG" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ARENAS=""
case "$STORE" in
  # The binary's allocator is mimalloc (decision 236), which MALLOC_ARENA_MAX does not touch;
  # SOAK_ARENAS=MALLOC_ARENA_MAX=2 still passes it, for a binary built with glibc's malloc.
  sqlite) URL_DB="sqlite://$WORK/db.sqlite"; ARENAS=${SOAK_ARENAS-} ;;
  postgres)
    [ -n "$PG" ] || { echo "soak on postgres needs BENCH_POSTGRES_URL or OPENSCOUTER_TEST_POSTGRES_URL" >&2; exit 1; }
    DB="soak_$$"
    psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
    URL_DB="${PG%/*}/$DB" ;;
  *) echo "store: sqlite or postgres" >&2; exit 1 ;;
esac
env $ARENAS DATABASE_URL="$URL_DB" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
  OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
  OPENSCOUTER_RATE_LIMIT_INGEST=1000000000 OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE=true \
  "$BIN" serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")
[ -n "$URL" ] || { echo "server did not start:" >&2; cat "$WORK/err" >&2; exit 1; }
mkdir -p "$OUT_DIR"
CSV="$OUT_DIR/soak-$STORE.csv"
echo "soak: $DURATION s on $STORE, $(basename "$BIN") ($BIN), $(nproc) cores${ARENAS:+, $ARENAS}; CSV $CSV"
python3 bench/soak.py "$URL" "$PID" "$DURATION" "$CSV"
python3 bench/plot_svg.py "$OUT_DIR/soak-$STORE.svg" "Soak on $STORE: ${DURATION} s at half capacity" "$CSV"
echo "plot: $OUT_DIR/soak-$STORE.svg"
ERRS=$(grep -c -E 'ERROR|panicked' "$WORK/err" || true)
echo "server log: $ERRS ERROR/panic lines"
grep -E 'ERROR|panicked' "$WORK/err" | head -5 | cut -c1-300 || true
