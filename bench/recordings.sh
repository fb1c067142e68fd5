#!/usr/bin/env bash
# The committed browser recordings (crates/server/tests/browser/fixtures/*.ndjson) analysed by
# this checkout's engine and by the engine at another revision (default 0951c40, before the
# #16 rules), in the same run: frustration score, critical moments and findings per recording,
# then recall and false findings against the *.expected.json beside them.
#   bench/recordings.sh [REV=0951c40]
#   bench/recordings.sh -          # this checkout only (bench/smoke.sh: no second build)
# The other revision is built in a temporary worktree with its own target directory (a full
# debug build: minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-0951c40}
fixtures="$PWD/crates/server/tests/browser/fixtures"
if [ "$rev" != - ]; then
  old="$(mktemp -d)/openscouter-$rev"
  git worktree add -q --detach "$old" "$rev"
  trap 'git worktree remove --force "$old"' EXIT
fi

summarise() { # label, checkout dir, target dir
  local label=$1 dir=$2 target=$3 out
  out=$(mktemp -d)
  (cd "$dir" && CARGO_TARGET_DIR=$target cargo build -q -p openscouter-server)
  for f in "$fixtures"/*.ndjson; do
    "$target/debug/openscouter" analyze --input "$f" > "$out/$(basename "$f" .ndjson).json"
  done
  python3 - "$label" "$fixtures" "$out" <<'PY'
import json, pathlib, sys
label, fixtures, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
found = defects = false = 0
for res in sorted(out.glob("*.json")):
    a = json.loads(res.read_text())
    want = {f["criterion"] for f in json.loads((fixtures / (res.stem + ".expected.json")).read_text())["findings"]}
    got = [(f.get("wcag") or {}).get("criterion", "") for f in a["findings"]]
    moments = [m["severity"] + "/" + m["type"] for m in a["insights"]["criticalMoments"]]
    defects += bool(want)
    found += bool(want) and want <= set(got)
    false += len(got) - len(want & set(got))  # a second finding on a criterion counts too
    score = a["insights"]["overallFrustrationScore"]
    print(f"{label:8} {res.stem:24} frustration {score:.2f}  moments {moments}  findings {got}  expected {sorted(want)}")
print(f"{label:8} recall {found}/{defects}, false findings {false}")
PY
}
[ "$rev" = - ] || summarise "$rev" "$old" "${CARGO_TARGET_DIR:-$PWD/target}/recordings-$rev"
summarise now "$PWD" "${CARGO_TARGET_DIR:-$PWD/target}"
