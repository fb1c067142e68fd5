# Shared by the bench scripts: build the release binary and start one server on a fresh
# SQLite database in a temp dir, with limits high enough never to reject. Sets WORK, PID, URL.
# Extra environment for the server can be passed as arguments: start_server VAR=value …
# BIN=path/to/openscouter uses that binary instead of building the release one (bench/smoke.sh
# passes the debug build the tests made).
BIN=${BIN:-target/release/openscouter}
start_server() {
  [ "$BIN" = target/release/openscouter ] && cargo build --release -q -p openscouter-server --bin openscouter
  WORK=$(mktemp -d)
  trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
  env DATABASE_URL="sqlite://$WORK/db.sqlite" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
    OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
    OPENSCOUTER_RATE_LIMIT_INGEST=1000000000 "$@" \
    "$BIN" serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
  PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")
  [ -n "$URL" ] || { echo "server did not start:" >&2; cat "$WORK/err" >&2; exit 1; }
}
