#!/usr/bin/env bash
# sigil-audit verify-proof over EVERY published RFC 6962 proof case: exit 0
# exactly when the case's wantErr is false.
set -uo pipefail
BIN=${SIGIL_BIN:?}; V=${SIGIL_VECTORS_DIR:?}/merkle
n=0; bad=0
while read -r want f; do
  kind=inclusion; case $f in */consistency/*) kind=consistency;; esac
  "$BIN/sigil-audit" verify-proof $kind "$f" >/dev/null 2>&1; rc=$?
  n=$((n+1))
  if [[ $want == True && $rc == 0 ]]; then echo "FAIL accepted a bad proof: $f"; bad=$((bad+1)); fi
  if [[ $want == False && $rc != 0 ]]; then echo "FAIL rejected a good proof (exit $rc): $f"; bad=$((bad+1)); fi
  if [[ $want == True && $rc != 1 ]]; then echo "FAIL exit $rc (want 1) on $f"; bad=$((bad+1)); fi
done < <(python3 - "$V" <<'PY'
import json, os, sys
for sub in ("inclusion", "consistency"):
    for root, _, files in sorted(os.walk(os.path.join(sys.argv[1], sub))):
        for f in sorted(files):
            if f.endswith(".json"):
                p = os.path.join(root, f)
                print(json.load(open(p))["wantErr"], p)
PY
)
echo "$n proof cases, $bad failures"
[[ $n -ge 190 && $bad == 0 ]]
