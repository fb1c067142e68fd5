#!/usr/bin/env bash
# Every bench script once in smoke mode: tiny sizes, a second or two each, against the debug
# build the tests made; no figure is asserted, but a script that stops (a changed API, a
# renamed field, a missing binary) fails the run. CI calls it after the tests (.ci/run).
# PostgreSQL parts run when OPENSCOUTER_TEST_POSTGRES_URL is set. bench/schemathesis.sh has
# its own CI step. Needs wrk and python3.
#   bench/smoke.sh                       # builds the debug binary and example if needed
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
export BIN="$target/debug/openscouter"
cargo build -q -p openscouter-server --bin openscouter --example ingest_ceiling --example recording_ceiling

failed=()
run() { # name, command...
  local name=$1; shift
  printf '\n=== bench smoke: %s\n' "$name"
  local start=$SECONDS
  if "$@"; then
    echo "--- $name: ok ($((SECONDS - start)) s)"
  else
    echo "--- $name: FAILED ($((SECONDS - start)) s)" >&2
    failed+=("$name")
  fi
}

run load.sh bench/load.sh 1 4 1
run ingest.sh env CEILING_ROWS=2000 bench/ingest.sh 100 2 1
run pipeline.sh bench/pipeline.sh 1 3
run stripe_webhooks.sh bench/stripe_webhooks.sh 30 2 1
run abuse.sh env ABUSE_BIN="$BIN" ABUSE_SECONDS=1 ABUSE_REQUESTS=200 bench/abuse.sh 20 10
run flow.sh env BENCH_POSTGRES_URL="${OPENSCOUTER_TEST_POSTGRES_URL:-}" bench/flow.sh 3 1
run dashboard.sh env PROFILE=debug bench/dashboard.sh
run recordings.sh bench/recordings.sh -
soak_out=$(mktemp -d)
run soak.sh env SOAK_CAPACITY_S=2 SOAK_SAMPLE_S=2 SOAK_CYCLE_S=1 bench/soak.sh 4 sqlite "$soak_out"
if [ -n "${OPENSCOUTER_TEST_POSTGRES_URL:-}" ]; then
  run "soak.sh postgres" env SOAK_CAPACITY_S=2 SOAK_SAMPLE_S=2 SOAK_CYCLE_S=1 bench/soak.sh 4 postgres "$soak_out"
fi
rm -rf "$soak_out"
run screen.sh bench/screen.sh 1 0.25

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: bench scripts that stopped: ${failed[*]}" >&2
  exit 1
fi
echo "every bench script ran"
