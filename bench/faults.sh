#!/usr/bin/env bash
# Faults against the real binary (bench/faults.py does the work):
#  pg     a private PostgreSQL (initdb + pg_ctl on a free port in a temp dir; CI's shared
#         cluster is untouched) stopped for FAULT_PG_DOWN_S (12) s and started again while
#         testers stream: 503 + Retry-After only, no acknowledged item lost or doubled, every
#         client acknowledged again within 5 s of the database's return, same process;
#  redis  two API nodes on that PostgreSQL sharing a private redis-server, which is killed and
#         restarted: limits fall back to each node's bucket and revocation to the 5 s cache TTL
#         (decisions 105-106), with a metric and a log line, and both recover;
#  full   SQLite on a small tmpfs that fills up while testers stream (needs root to mount;
#         skipped with a reason otherwise): 503 "Storage is full" + Retry-After, reads served,
#         writes resume once the volume grows, PRAGMA integrity_check ok, nothing lost.
# Usage: bench/faults.sh [pg] [redis] [full]      (default: all three)
#        BIN=target/debug/openscouter bench/faults.sh   # skip the release build
# Needs python3, PostgreSQL server binaries (initdb, pg_ctl, psql), redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/openscouter}
[ "$BIN" = target/release/openscouter ] && cargo build --release -q -p openscouter-server --bin openscouter
WORK=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT; echo "work dir: $WORK"
python3 bench/faults.py "$BIN" "$WORK" "$@"
