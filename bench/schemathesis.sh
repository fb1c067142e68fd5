#!/usr/bin/env bash
# Property-based API fuzzing with schemathesis against the committed OpenAPI document: a
# server on a fresh SQLite database, a signed-in business and a tester, and three checks —
# no 5xx, every response matches its documented schema, every status is documented. The
# optional integrations are configured (pointing at a closed local port), so their routes are
# exercised instead of answering 503 "not configured".
# Loopback only; bounded by --max-examples per operation. Usage:
#   bench/schemathesis.sh [max_examples_per_operation=40]
# Needs python3 (creates a virtualenv under target/ with schemathesis from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${1:-40}
venv="$(realpath -m "${CARGO_TARGET_DIR:-target}")/schemathesis-venv"
[ -x "$venv/bin/st" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install -q schemathesis; }
cargo build -q -p openscouter-server --bin openscouter
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
env DATABASE_URL="sqlite://$WORK/db.sqlite" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
  OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
  OPENSCOUTER_RATE_LIMIT_INGEST=1000000000 OPENSCOUTER_RATE_LIMIT_WEBHOOK=1000000000 \
  OPENSCOUTER_CRON_SECRET=fuzz-cron-secret-fuzz-cron-secret OPENSCOUTER_WEBHOOK_SECRET=fuzz-webhook-secret \
  OPENSCOUTER_TELEGRAM_API_BASE=http://127.0.0.1:9 OPENSCOUTER_TELEGRAM_BOT_TOKEN=1:fuzz \
  OPENSCOUTER_TELEGRAM_BOT_USERNAME=FuzzBot OPENSCOUTER_STRIPE_API_BASE=http://127.0.0.1:9 \
  OPENSCOUTER_STRIPE_SECRET_KEY=sk_test_fuzz OPENSCOUTER_STRIPE_WEBHOOK_SECRET=whsec_fuzz \
  target/debug/openscouter serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")
TOKEN=$(python3 - "$URL" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
body = json.dumps({"email": "fuzz@example.com", "password": "correct horse battery", "fullName": "Fuzz",
                   "role": "business", "organizationName": "Fuzz Ltd"}).encode()
req = urllib.request.Request(url + "/api/auth/signup", body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["data"]["accessToken"])
PY
)
"$venv/bin/st" run "$URL/api/openapi.json" --url "$URL" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --generation-with-security-parameters false \
  --max-examples "$MAX" --workers 2 "${@:2}"
