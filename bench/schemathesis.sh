#!/usr/bin/env bash
# Property-based API fuzzing with schemathesis against the committed OpenAPI document: a
# server on a fresh SQLite database with every optional integration configured (Telegram pointing at a
# closed local port, Stripe at a fake one, so their routes are exercised instead of answering 503 "not configured"),
# fixtures created through the API first (bench/schemathesis_hooks.py: an admin, businesses,
# eligible testers, API and OAuth tokens, launched studies, sessions in each status, findings),
# then every operation called with the credentials its security requirement names and with
# real ids, plus the stateful phase over the document's links. Three checks: no 5xx, every
# response matches its documented schema, every status is documented.
# Loopback only; bounded by --max-examples per operation. Usage:
#   bench/schemathesis.sh [max_examples_per_operation=40] [extra schemathesis options…]
# Exits non-zero on any failure, on any "authentication failed" warning (an operation that
# answered only 401/403 was never fuzzed past its front door) and on a panic in the server's
# log. FUZZ_SERVER_LOG=path keeps the server's log.
# Needs python3 (creates a virtualenv under target/ with schemathesis, pinned, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${1:-40}
SCHEMATHESIS_VERSION=4.32.5
venv="$(realpath -m "${CARGO_TARGET_DIR:-target}")/schemathesis-venv"
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
cargo build -q -p openscouter-server --bin openscouter
bin="$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug/openscouter"
WORK=$(mktemp -d)
PID=
STRIPE_PID=
trap '[ -n "$PID" ] && { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; }
  [ -n "$STRIPE_PID" ] && { kill $STRIPE_PID 2>/dev/null || true; wait $STRIPE_PID 2>/dev/null || true; }
  rm -rf "$WORK"' EXIT
# A fake Stripe API on a local port: checkout, Connect, transfers and payouts answer, so studies
# are paid and launched and the billing routes run to their end.
"$venv/bin/python" bench/schemathesis_hooks.py fake-stripe "$WORK/stripe.port" &
STRIPE_PID=$!
for _ in $(seq 100); do [ -s "$WORK/stripe.port" ] && break; sleep 0.1; done
export DATABASE_URL="sqlite://$WORK/db.sqlite" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
  OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
  OPENSCOUTER_RATE_LIMIT_INGEST=1000000000 OPENSCOUTER_RATE_LIMIT_WEBHOOK=1000000000 \
  OPENSCOUTER_CRON_SECRET=fuzz-cron-secret-fuzz-cron-secret OPENSCOUTER_WEBHOOK_SECRET=fuzz-webhook-secret \
  OPENSCOUTER_TELEGRAM_API_BASE=http://127.0.0.1:9 OPENSCOUTER_TELEGRAM_BOT_TOKEN=1:fuzz \
  OPENSCOUTER_TELEGRAM_BOT_USERNAME=FuzzBot OPENSCOUTER_STRIPE_API_BASE=http://127.0.0.1:$(cat "$WORK/stripe.port") \
  OPENSCOUTER_STRIPE_SECRET_KEY=sk_test_fuzz OPENSCOUTER_STRIPE_WEBHOOK_SECRET=whsec_fuzz
ADMIN=admin@fuzz.example.com
OPENSCOUTER_ADMIN_PASSWORD="correct horse battery" "$bin" admin create-user --email "$ADMIN" --role admin \
  --full-name "Fuzz admin" > "$WORK/admin" 2>&1 || { cat "$WORK/admin" >&2; exit 1; }
"$bin" serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")
"$venv/bin/python" bench/schemathesis_hooks.py setup "$URL" "$ADMIN" "$WORK/state.json"
set +e
# Run from the scratch folder: schemathesis keeps its cache (.schemathesis/) in the working
# directory, which must not be the checkout.
bench="$PWD/bench"
(cd "$WORK" && PYTHONPATH="$bench" SCHEMATHESIS_HOOKS=schemathesis_hooks FUZZ_STATE="$WORK/state.json" \
  "$venv/bin/st" --config-file "$bench/schemathesis.toml" run "$URL/api/openapi.json" --url "$URL" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --generation-with-security-parameters false \
  --max-examples "$MAX" --workers "${FUZZ_WORKERS:-2}" "${@:2}") 2>&1 | tee "$WORK/report"
rc=${PIPESTATUS[0]}
set -e
cat "$WORK/state.json.stats" 2>/dev/null || true
cp "$WORK/err" "${FUZZ_SERVER_LOG:-/dev/null}" 2>/dev/null || true
if grep -q "panicked" "$WORK/err"; then
  grep -B2 -A8 "panicked" "$WORK/err" >&2
  echo "FAIL: the server panicked during the run (a worker or background task: no 5xx shows it)" >&2
  exit 1
fi
if grep -qi "authentication failed" "$WORK/report"; then
  echo "FAIL: some operations answered only 401/403 (see the warning above)" >&2
  exit 1
fi
exit "$rc"
