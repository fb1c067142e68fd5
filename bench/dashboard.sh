#!/usr/bin/env bash
# Server time of the dashboard's pages on a 100-session study (#15's target: under 100 ms).
# Seeds a study of 100 analysed, confirmed sessions with its report through the real router,
# then loads the studies list, the study page and a session page 50 times each and prints the
# median, p95 and max of the pages' own Server-Timing (auth, rate limit, queries, rendering).
# SQLite always; PostgreSQL too when OPENSCOUTER_TEST_POSTGRES_URL is set.
#   bench/dashboard.sh            # release build (what the note reports)
#   PROFILE=debug bench/dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
[ "${PROFILE:-release}" = release ] && profile=(--release)
cargo test "${profile[@]}" -q -p openscouter-server --test api dashboard::page_times -- --ignored --nocapture 2>&1 \
  | grep -E "median|test result"
