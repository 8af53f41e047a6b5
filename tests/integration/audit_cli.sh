#!/usr/bin/env bash
# sigil-audit end to end on real logs written by a separate process: verify,
# prove + verify-proof, show filters, cross-check (good and both kinds of
# mismatch), and the exit codes of a tampered log.
set -uo pipefail
BIN=${SIGIL_BIN:?}; TBIN=${SIGIL_TEST_BIN:?}
A=$BIN/sigil-audit
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect WANT_EXIT DESCRIPTION CMD...
  local want=$1 what=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [[ $rc != "$want" ]]; then echo "FAIL $what: exit $rc, want $want"; cat "$T/out" "$T/err"; fail=1
  else echo "ok   $what (exit $rc) $(head -c 200 "$T/err")"; fi
}
$A keygen --name sigil.test/audit --out "$T/k" >/dev/null || exit 1
$TBIN/audit_writer cluster "$T/k.key" "$T/c" "$T/n1" "$T/n2" "$T/n3" 40 || exit 1
for l in c n1 n2 n3; do expect 0 "verify $l" $A verify --log "$T/$l" --key "$T/k.pub"; done
expect 0 "prove inclusion" $A prove inclusion --log "$T/c" --index 17 --out "$T/inc.json"
expect 0 "verify-proof inclusion" $A verify-proof inclusion "$T/inc.json"
python3 - "$T/inc.json" "$T/inc-bad.json" <<'PY'
import json,sys; d=json.load(open(sys.argv[1])); d["leafIdx"]=16; json.dump(d,open(sys.argv[2],"w"))
PY
expect 1 "verify-proof inclusion, wrong index" $A verify-proof inclusion "$T/inc-bad.json"
expect 0 "prove consistency" $A prove consistency --log "$T/c" --old 13 --new 40 --out "$T/con.json"
expect 0 "verify-proof consistency" $A verify-proof consistency "$T/con.json"
python3 - "$T/con.json" "$T/con-bad.json" <<'PY'
import json,sys; d=json.load(open(sys.argv[1])); d["size1"]=12; json.dump(d,open(sys.argv[2],"w"))
PY
expect 1 "verify-proof consistency, wrong size" $A verify-proof consistency "$T/con-bad.json"
expect 2 "prove inclusion beyond the log" $A prove inclusion --log "$T/c" --index 40
expect 0 "show --type sign --json" $A show --log "$T/c" --type sign --json
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/out")
[[ $n == 40 ]] || { echo "FAIL show returned $n entries, want 40"; fail=1; }
expect 0 "show --actor" $A show --log "$T/c" --actor CN=wallet-3
n=$(wc -l < "$T/out"); [[ $n == 8 ]] || { echo "FAIL show --actor: $n lines, want 8"; fail=1; }
expect 0 "show --key --until" $A show --log "$T/n2" --key 0a1b2c3d --until 1
[[ ! -s $T/out ]] || { echo "FAIL show --until 1 printed entries"; fail=1; }
expect 0 "cross-check" $A cross-check --central "$T/c" --node "$T/n1" --node "$T/n2" --node "$T/n3" --threshold 2
expect 12 "cross-check, node 3 log missing" $A cross-check --central "$T/c" --node "$T/n1" --node "$T/n2" --threshold 2
grep -q "missing parties: 3" "$T/err" || { echo "FAIL missing party not named"; fail=1; }
expect 0 "cross-check, threshold 1 without node 3" $A cross-check --central "$T/c" --node "$T/n1" --node "$T/n2" --threshold 1
mkdir "$T/d"; $TBIN/audit_writer cluster "$T/k.key" "$T/d/c" "$T/d/n1" "$T/d/n2" "$T/d/n3" 10 drop-share || exit 1
expect 12 "cross-check, a dropped share" $A cross-check --central "$T/d/c" --node "$T/d/n1" --node "$T/d/n2" --node "$T/d/n3" --threshold 2
grep -q "entry index 3 (seq 3)" "$T/err" || { echo "FAIL dropped share not located"; fail=1; }
mkdir "$T/e"; $TBIN/audit_writer cluster "$T/k.key" "$T/e/c" "$T/e/n1" "$T/e/n2" "$T/e/n3" 10 extra-share || exit 1
expect 12 "cross-check, share without signature" $A cross-check --central "$T/e/c" --node "$T/e/n1" --node "$T/e/n2" --node "$T/e/n3"
grep -q "no signature entry in the central log" "$T/err" || { echo "FAIL unbacked share not named"; fail=1; }
# tampered copies
cp -r "$T/c" "$T/t1"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[100]^=0x40; open(p,"wb").write(b)' "$T/t1/entries.log"
expect 4 "verify, flipped byte" $A verify --log "$T/t1" --key "$T/k.pub"
cp -r "$T/c" "$T/t2"; truncate -s 2000 "$T/t2/entries.log"
expect 4 "verify, truncated mid-record" $A verify --log "$T/t2" --key "$T/k.pub"
# A checkpoint kept by the auditor catches a log cut back together with its
# last stored checkpoints.
expect 0 "checkpoint (save the latest)" $A checkpoint --log "$T/c" --out "$T/saved.note"
grep -q '^sigil.test/audit$' "$T/saved.note" && grep -q '^40$' "$T/saved.note" || { echo "FAIL saved note"; fail=1; }
expect 0 "verify with the saved checkpoint" $A verify --log "$T/c" --key "$T/k.pub" --checkpoint "$T/saved.note"
mkdir "$T/cut"; python3 - "$T/c" "$T/cut" 20 <<'PY'
import sys, struct
src, dst, keep = sys.argv[1], sys.argv[2], int(sys.argv[3])
def frames(b):
    o = 0
    while o < len(b):
        n = struct.unpack(">I", b[o:o+4])[0]; yield b[o:o+4+n+8]; o += 4 + n + 8
e = list(frames(open(src + "/entries.log", "rb").read()))
open(dst + "/entries.log", "wb").write(b"".join(e[:keep]))
open(dst + "/checkpoints.log", "wb").write(b"")  # drop every stored checkpoint
PY
expect 11 "verify a cut-back log without saved checkpoint (uncovered)" $A verify --log "$T/cut" --key "$T/k.pub"
expect 10 "verify a cut-back log with the saved checkpoint" $A verify --log "$T/cut" --key "$T/k.pub" --checkpoint "$T/saved.note"
grep -q "saved checkpoint #0 signs size 40 but the log holds only 20" "$T/err" || { echo "FAIL message"; fail=1; }
$A keygen --name sigil.test/audit --out "$T/other" >/dev/null
expect 7 "verify, wrong trusted key" $A verify --log "$T/c" --key "$T/other.pub"
expect 2 "verify, no key" $A verify --log "$T/c"
for c in verify checkpoint prove verify-proof cross-check show keygen vkey pg-init; do expect 0 "$c --help" $A $c --help; done
expect 0 "--help" $A --help
expect 2 "unknown command" $A frobnicate
exit $fail
