#!/usr/bin/env bash
# Splits a release binary's line tables into a separate file (decision in docs/decisions.md):
# BIN keeps its symbols (backtraces name every function) and loses its DWARF; BIN.debug holds
# the DWARF, and BIN points at it by `.gnu_debuglink`, so a backtrace shows file:line whenever
# BIN.debug sits beside BIN (or under /usr/lib/debug). Ship BIN; keep BIN.debug with the release.
#   cargo build --release && deploy/split-debug.sh [BIN=target/release/openscouter]
# Needs objcopy (binutils).
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/release/openscouter}
[ -f "$bin" ] || { echo "no binary at $bin (cargo build --release first)" >&2; exit 1; }
objcopy --only-keep-debug "$bin" "$bin.debug"
objcopy --strip-debug --add-gnu-debuglink="$bin.debug" "$bin"
ls -l "$bin" "$bin.debug"
