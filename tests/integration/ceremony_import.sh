#!/usr/bin/env bash
# Integration tests of `sigil-ceremony import` (issue 6): real sigil-node /
# sigil-coordinator processes over mTLS, real SoftHSM tokens made by
# `sigil-ceremony init`, the coordinator's audit log in its own token.
#
#   tests/integration/ceremony_import.sh CASE BIN_DIR SCRIPTS_DIR
#
# CASE: import_sign | import_refused | backup_restore | backup_restore_ecdsa | lifecycle
set -uo pipefail

case_=${1:?case} BIN=${2:?bin dir} SCRIPTS=${3:?scripts dir}
C=$BIN/sigil-ceremony
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sigil-import-test.XXXXXX)
pass=0 failed=0
cleanup() {
  for d in "$T"/*/; do [[ -f $d/cluster.json ]] && "$SCRIPTS/cluster" down "$d" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
expect_ok() {
  local d=$1; shift
  if "$@" >"$T/out" 2>"$T/err"; then ok "$d"; else bad "$d (exit $?): $(tail -3 "$T/err")"; fi
}
expect_refused() { # DESC TEXT CMD...: non-zero exit and TEXT in stderr
  local d=$1 want=$2; shift 2
  if "$@" >"$T/out" 2>"$T/err"; then
    bad "$d: accepted, should be refused"
  elif grep -qF -- "$want" "$T/err"; then
    ok "$d"
  else
    bad "$d: refused without '$want': $(tail -2 "$T/err")"
  fi
}
done_() {
  echo "$pass passed, $failed failed"
  ((failed == 0 && pass > 0))
  exit $?
}

# init (which configures the coordinator's audit log), then start everything
setup() { # DIR ID
  local d=$1
  "$C" --cluster "$d" init --id "$2" -n 3 -t 2 --officers carol,dave,erin -k 2 \
    --wallet 'alice=*' --admin ops >"$T/init.out" 2>"$T/init.err" ||
    { cat "$T/init.err"; bad "init"; done_; }
  "$SCRIPTS/cluster" start "$d" 2>"$T/start.err" || { cat "$T/start.err"; bad "start"; done_; }
}
client() { # DIR ARGS...: sigil-client as wallet/alice
  local d=$1; shift
  "$BIN/sigil-client" --target "127.0.0.1:$(sed -n 's/^coord=//p' "$d/ports")" \
    --ca "$d/pki/ca.pem" --cert "$d/pki/wallet-alice.pem" --key "$d/pki/wallet-alice.key" "$@"
}
approve2() { # DIR STMT PREFIX: carol and dave approve
  "$C" --cluster "$1" approve "$2" --officer carol --out "$3.c" --yes >/dev/null &&
    "$C" --cluster "$1" approve "$2" --officer dave --out "$3.d" --yes >/dev/null
}
# The public key of a private key file, computed independently (PyNaCl for
# the RFC 8032 seed, python-ecdsa for secp256k1): SCHEME FILE
pubkey_of() {
  $PY - "$1" "$2" <<'EOF'
import sys
scheme, f = sys.argv[1], open(sys.argv[2]).read().strip()
sk = bytes.fromhex(f)
if scheme == "frost-ed25519":
    import nacl.signing
    print(nacl.signing.SigningKey(sk).verify_key.encode().hex())
else:
    from ecdsa import SECP256k1, SigningKey
    vk = SigningKey.from_string(sk, curve=SECP256k1).get_verifying_key()
    c = vk.to_string("compressed")
    print(c[1:].hex() if scheme == "frost-bip340" else c.hex())
EOF
}
newkey() { $PY -c 'import os; print(os.urandom(32).hex())' >"$1"; }
# a secp256k1 key whose public key has an ODD y (BIP-340 must negate it)
newkey_odd() {
  $PY - >"$1" <<'EOF'
import os
from ecdsa import SECP256k1, SigningKey
while True:
    sk = os.urandom(32)
    try:
        if SigningKey.from_string(sk, curve=SECP256k1).get_verifying_key().to_string("compressed")[0] == 3:
            break
    except Exception:
        pass
print(sk.hex())
EOF
}
node_keys() { ls "$1"/node*/state/keys/ 2>/dev/null | grep -c "^$2\.key$"; }

case $case_ in
import_sign)
  A=$T/a timing=
  setup "$A" alpha
  for s in frost-ed25519 frost-secp256k1 frost-bip340 ecdsa; do
    K=$T/$s.key k=imp-${s#frost-}
    if [[ $s == frost-bip340 ]]; then newkey_odd "$K"; else newkey "$K"; fi
    orig=$(pubkey_of $s "$K")
    # the proposer never touches the secret: the statement binds the public key
    "$C" --cluster "$A" propose import "$k" --scheme $s --threshold 2 --public-key "$orig" \
      --out "$T/$s.stmt" >/dev/null && approve2 "$A" "$T/$s.stmt" "$T/$s" ||
      { bad "$s: propose/approve"; continue; }
    extra=(); [[ $s == frost-ed25519 ]] && extra=(--save-request "$T/req.bin")
    [[ $s == frost-secp256k1 ]] && extra=(--wipe-input)
    t0=$(date +%s%N)
    if "$C" --cluster "$A" --json import "$T/$s.stmt" --key-file "$K" --approval "$T/$s.c" \
      --approval "$T/$s.d" --yes "${extra[@]}" >"$T/out" 2>"$T/err"; then
      timing+=" $s $((($(date +%s%N) - t0) / 1000000)) ms;"
      ok "$s: imported ($(cat "$T/out"))"
    else
      bad "$s: import: $(tail -3 "$T/err")"; continue
    fi
    grep -q "\"public_key\":\"$orig\"" "$T/out" && ok "$s: registered public key = the original key's" ||
      bad "$s: public key differs from $orig"
    [[ $(node_keys "$A" "$k") == 3 ]] && ok "$s: a sealed share on each of the 3 nodes" || bad "$s: node key files"
    : >"$T/sigs"
    for i in 1 2 3 4 5; do
      if [[ $s == frost-bip340 || $s == ecdsa ]]; then
        client "$A" --json sign "$k" --digest "$(printf 'm%s' $i | sha256sum | cut -c1-64)" >>"$T/sigs"
      else
        client "$A" --json sign "$k" --message "imported $i" >>"$T/sigs"
      fi
    done
    [[ $(grep -c "\"public_key\":\"$orig\"" "$T/sigs") == 5 ]] &&
      "$SCRIPTS/verify-signatures" "$T/sigs" >/dev/null &&
      ok "$s: 5 threshold signatures verify under the ORIGINAL public key (independent verifier)$([[ $s == frost-bip340 ]] && echo ", key with odd y")" ||
      bad "$s: signatures: $(cat "$T/sigs")"
  done
  echo "# sigil-ceremony import (2-of-3, checks + split + 3 dealings signed in the officer token + nodes): $timing"
  # the ed25519 signature also with PyNaCl directly against the seed's key
  line=$(client "$A" --json sign imp-ed25519 --message 'seed check')
  $PY - "$line" "$T/frost-ed25519.key" <<'EOF' && ok "Ed25519: PyNaCl verifies with SigningKey(seed).verify_key" || bad "PyNaCl"
import json, sys, nacl.signing
j = json.loads(sys.argv[1])
vk = nacl.signing.SigningKey(bytes.fromhex(open(sys.argv[2]).read().strip())).verify_key
vk.verify(bytes.fromhex(j["message"]), bytes.fromhex(j["signature"]))
EOF
  [[ ! -e $T/frost-secp256k1.key ]] && ok "--wipe-input removed the key file" || bad "key file still there"
  [[ -e $T/frost-bip340.key ]] && grep -q "destroy it now" "$T/err" && ok "without --wipe-input the operator is told to destroy the file" ||
    bad "no destroy advice"

  # what the coordinator received (and relayed) holds no share and no key in
  # clear: no 32-byte window w of the request has w*G equal to any node's
  # verifying share Y_i = s_i*G or the group key (checked with libsodium via
  # PyNaCl); the same check finds a share planted in a copy (control)
  $PY - "$T/req.bin" "$A/coord/state/keys.json" "$T/frost-ed25519.key" <<'EOF' >"$T/scan" 2>&1
import hashlib, json, sys
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp as base, crypto_core_ed25519_scalar_reduce as red
req = open(sys.argv[1], "rb").read()
k = [k for k in json.load(open(sys.argv[2]))["keys"] if k["key_id"] == "imp-ed25519"][0]
pkg = bytes.fromhex(k["public_package"])
n = int.from_bytes(pkg[6:10], "big")
off = 14 + 32 * n
targets = {pkg[off + 32 * i: off + 32 * (i + 1)] for i in range(n)}
targets.add(bytes.fromhex(k["public_key"]))
L = 2**252 + 27742317777372353535851937790883648493
def scan(buf):
    hits = 0
    for i in range(len(buf) - 31):
        w = buf[i:i + 32]
        if int.from_bytes(w, "little") >= L or not any(w):
            continue
        try:
            if base(w) in targets:
                hits += 1
        except Exception:
            pass
    return hits
seed = bytes.fromhex(open(sys.argv[3]).read().strip())
h = bytearray(hashlib.sha512(seed).digest()[:32]); h[0] &= 248; h[31] &= 127; h[31] |= 64
s = red(bytes(h) + bytes(32))
clean, planted = scan(req), scan(req[:100] + s + req[100:])
print("request bytes %d, windows with a share or key in clear: %d; planted copy: %d" % (len(req), clean, planted))
print("seed in request:", seed in req)
sys.exit(0 if clean == 0 and planted == 1 and seed not in req and len(targets) == 4 else 1)
EOF
  [[ $? == 0 ]] && ok "the coordinator's traffic holds no share in clear ($(head -1 "$T/scan"))" ||
    bad "share scan: $(cat "$T/scan")"

  # audit: the coordinator's log records each import with the approving
  # officers and the statement's SHA-256; the nodes record the installation
  "$SCRIPTS/cluster" stop-coord "$A"
  "$BIN/sigil-audit" verify --log "$A/coord/audit" --key "$A/coord/audit.pub" >"$T/v" 2>&1 &&
    ok "coordinator audit log verifies ($(tail -1 "$T/v"))" || bad "audit verify: $(cat "$T/v")"
  "$BIN/sigil-audit" show --log "$A/coord/audit" --type ceremony >"$T/show" 2>&1
  [[ $(grep -c 'request=import-registered approvals=carol,dave' "$T/show") == 4 ]] &&
    ok "coordinator log: 4 import records naming the approvers carol,dave" || bad "audit: $(cat "$T/show")"
  d=$($PY -c "import json,hashlib,sys; print(hashlib.sha256(bytes.fromhex(json.load(open(sys.argv[1]))['statement'])).hexdigest())" "$T/frost-ed25519.stmt")
  grep -q "digest=$d" "$T/show" && ok "the record carries the statement's SHA-256" || bad "statement digest $d not in log"
  for i in 1 2 3; do
    "$BIN/sigil-audit" show --log "$A/node$i/state/audit" --type ceremony 2>/dev/null | grep -c 'import-installed approvals=carol,dave dealer=carol'
  done | tr '\n' ' ' | grep -q '^4 4 4 $' && ok "each node's log records its 4 share installations" || bad "node logs"
  ;;

import_refused)
  A=$T/a B=$T/b
  setup "$A" alpha
  "$C" --cluster "$B" init --id beta -n 3 -t 2 --officers carol,mallory,dave -k 2 >/dev/null 2>&1
  K=$T/k.hex
  newkey "$K"
  S=$T/s.stmt
  "$C" --cluster "$A" propose import cold --scheme frost-ed25519 --threshold 2 --key-file "$K" --out "$S" >/dev/null
  approve2 "$A" "$S" "$T/a"
  "$C" --cluster "$B" propose import cold --scheme frost-ed25519 --threshold 2 --key-file "$K" --out "$T/b.stmt" >/dev/null
  approve2 "$B" "$T/b.stmt" "$T/b"
  imp() { "$C" --cluster "$A" import "$@" --yes; }
  for mode in local server; do
    x=(); [[ $mode == server ]] && x=(--skip-local-check)
    expect_refused "$mode: too few approvals" "too few approvals" imp "$S" --key-file "$K" --approval "$T/a.c" "${x[@]}"
    expect_refused "$mode: duplicate approvals" "same officer" \
      imp "$S" --key-file "$K" --approval "$T/a.c" --approval "$T/a.c" "${x[@]}"
    sed 's/"officer": "dave"/"officer": "mallory"/' "$T/a.d" >"$T/am"
    expect_refused "$mode: an approval by a foreign officer" "officer" \
      imp "$S" --key-file "$K" --approval "$T/a.c" --approval "$T/am" "${x[@]}"
    expect_refused "$mode: approvals signed with another cluster's officer keys" "does not verify" \
      imp "$T/b.stmt" --key-file "$K" --approval "$T/b.c" --approval "$T/b.d" "${x[@]}" --officer carol
  done
  # the nodes check the approvals themselves: statement sent straight past a
  # coordinator that would accept anything is not possible over mTLS, so the
  # node's own check is covered by tests/unit (dealing) and the node refusal
  # messages below
  sed 's/"threshold": 2/"threshold": 3/' "$S" >"$T/alt.stmt"
  expect_refused "approve refuses altered import parameters" "do not match" \
    "$C" --cluster "$A" approve "$T/alt.stmt" --officer erin --out "$T/x" --yes
  expect_refused "import refuses altered import parameters" "matching parameters" \
    imp "$T/alt.stmt" --key-file "$K" --approval "$T/a.c" --approval "$T/a.d"
  newkey "$T/other.hex"
  expect_refused "a key file holding another key than the approved one" "does not hold the approved key" \
    imp "$S" --key-file "$T/other.hex" --approval "$T/a.c" --approval "$T/a.d"
  "$C" --cluster "$A" propose import cold --scheme frost-ed25519 --threshold 2 --key-file "$K" --expires 2 --out "$T/e.stmt" >/dev/null
  approve2 "$A" "$T/e.stmt" "$T/e"
  sleep 3
  expect_refused "server: expired statement" "expired" \
    imp "$T/e.stmt" --key-file "$K" --approval "$T/e.c" --approval "$T/e.d" --skip-local-check
  # a node dealt a share that does not match the commitments refuses it; the
  # other nodes keep nothing and the key is not registered
  expect_refused "node 2 refuses a share that fails the Feldman check" "does not match the dealer's commitments" \
    env SIGIL_TEST_CORRUPT_SHARE_FOR=2 "$C" --cluster "$A" import "$S" --key-file "$K" --approval "$T/a.c" --approval "$T/a.d" --yes
  grep -q "not registered\|nothing registered" "$T/err" && ok "the tampered import is not registered" || bad "$(cat "$T/err")"
  keys=$(client "$A" --json keys 2>&1)
  [[ $keys != *cold* ]] && ok "no key listed after every refusal" || bad "keys: $keys"
  [[ $(node_keys "$A" cold) == 0 ]] && ok "no node stored a share (staged shares dropped on abort)" || bad "node key files exist"
  expect_refused "the statement of the aborted import cannot be replayed" "used before" \
    imp "$S" --key-file "$K" --approval "$T/a.c" --approval "$T/a.d"
  # a fresh statement with k good approvals then imports the key once
  "$C" --cluster "$A" propose import cold --scheme frost-ed25519 --threshold 2 --key-file "$K" --out "$T/s2.stmt" >/dev/null
  approve2 "$A" "$T/s2.stmt" "$T/s2"
  expect_ok "a fresh approved statement imports" imp "$T/s2.stmt" --key-file "$K" --approval "$T/s2.c" --approval "$T/s2.d"
  expect_refused "a replayed import is refused" "exists" \
    imp "$T/s2.stmt" --key-file "$K" --approval "$T/s2.c" --approval "$T/s2.d"
  line=$(client "$A" --json sign cold --message after)
  [[ $line == *"\"public_key\":\"$(pubkey_of frost-ed25519 "$K")\""* ]] && "$SCRIPTS/verify-signatures" <<<"$line" >/dev/null &&
    ok "signs under the original key after the refusals" || bad "sign: $line"
  "$SCRIPTS/cluster" stop-coord "$A"
  "$BIN/sigil-audit" show --log "$A/coord/audit" --type ceremony >"$T/show" 2>&1
  nref=$(grep -c 'request=import-refused' "$T/show")
  ((nref >= 6)) && grep -q 'Feldman' "$T/show" &&
    ok "the coordinator's log records the $nref server-side refusals (with the reason)" ||
    bad "refusals in log: $nref: $(cat "$T/show")"
  ;;
backup_restore)
  A=$T/a
  setup "$A" alpha
  K=$T/k.hex
  newkey "$K"
  orig=$(pubkey_of frost-ed25519 "$K")
  "$C" --cluster "$A" propose import hot-ed --scheme frost-ed25519 --threshold 2 --key-file "$K" --out "$T/i.stmt" >/dev/null
  approve2 "$A" "$T/i.stmt" "$T/i"
  expect_ok "imported a key to back up" "$C" --cluster "$A" import "$T/i.stmt" --key-file "$K" --approval "$T/i.c" --approval "$T/i.d" --yes
  for o in carol dave erin; do
    expect_ok "backup key of $o made in $o's token" "$C" --cluster "$A" backup-key --officer $o
  done
  "$C" --cluster "$A" propose backup hot-ed --out "$T/b.stmt" >/dev/null
  approve2 "$A" "$T/b.stmt" "$T/b"
  expect_refused "backup with one approval refused" "too few approvals" \
    "$C" --cluster "$A" backup "$T/b.stmt" --approval "$T/b.c" --out "$T/x.backup" --skip-local-check
  [[ ! -e $T/x.backup ]] && ok "the refused backup wrote nothing" || bad "x.backup exists"
  t0=$(date +%s%N)
  expect_ok "backup of hot-ed (2 approvals)" "$C" --cluster "$A" backup "$T/b.stmt" --approval "$T/b.c" --approval "$T/b.d" --out "$T/hot-ed.backup"
  echo "# backup of a 2-of-3 key (3 sections, 3 RSA-3072 pieces each): $((($(date +%s%N) - t0) / 1000000)) ms"
  # the backup file holds no share and no piece in clear: no 32-byte window
  # w with w*G equal to a verifying share (of the key or of any officer piece)
  $PY - "$T/hot-ed.backup" "$A/coord/state/keys.json" <<'EOF' >"$T/scan" 2>&1
import json, sys
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp as base
b = json.load(open(sys.argv[1]))
k = json.load(open(sys.argv[2]))["keys"][0]
pkg = bytes.fromhex(k["public_package"]); n = int.from_bytes(pkg[6:10], "big"); off = 14 + 32 * n
targets = {pkg[off + 32 * i: off + 32 * (i + 1)] for i in range(n)} | {bytes.fromhex(k["public_key"])}
L = 2**252 + 27742317777372353535851937790883648493
blob = b"".join(bytes.fromhex(s["section"]) for s in b["sections"])
# the pieces' commitments V_j: every 32-byte window that decodes is a candidate target too
hits = 0
for i in range(len(blob) - 31):
    w = blob[i:i + 32]
    if int.from_bytes(w, "little") >= L or not any(w):
        continue
    try:
        p = base(w)
    except Exception:
        continue
    if p in targets or p in blob:
        hits += 1
print("backup bytes %d, windows holding a share or piece in clear: %d" % (len(blob), hits))
sys.exit(1 if hits else 0)
EOF
  [[ $? == 0 ]] && ok "$(cat "$T/scan")" || bad "scan: $(cat "$T/scan")"

  # destroy node 3: state and token gone
  "$SCRIPTS/cluster" stop-node "$A" 3
  rm -rf "$A"/node3/state/* "$A/hsm/node3/tokens"
  expect_ok "replace-node 3: new token and identity key" "$C" --cluster "$A" replace-node 3
  "$SCRIPTS/cluster" down "$A"
  "$SCRIPTS/cluster" start "$A" 2>"$T/start.err" || { cat "$T/start.err"; bad start; done_; }
  "$SCRIPTS/cluster" stop-node "$A" 1
  expect_refused "node 3 holds no share: {2,3} cannot sign" "" client "$A" sign hot-ed --message before
  "$SCRIPTS/cluster" start-node "$A" 1 2>/dev/null
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.backup" --out "$T/r.stmt" >/dev/null
  sed 's/"node": 3/"node": 2/' "$T/r.stmt" >"$T/ralt.stmt"
  expect_refused "approve refuses a restore statement whose node was altered" "do not match" \
    "$C" --cluster "$A" approve "$T/ralt.stmt" --officer dave --out "$T/ralt.d" --yes
  "$C" --cluster "$A" approve "$T/r.stmt" --officer dave --out "$T/r.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r.stmt" --officer erin --out "$T/r.e" --yes >/dev/null
  expect_ok "dave decrypts his piece in his token, re-encrypted to node 3" \
    "$C" --cluster "$A" restore-piece "$T/r.stmt" --backup "$T/hot-ed.backup" --officer dave --out "$T/d.piece"
  expect_ok "erin likewise" \
    "$C" --cluster "$A" restore-piece "$T/r.stmt" --backup "$T/hot-ed.backup" --officer erin --out "$T/e.piece"
  expect_refused "local: restore with fewer than k pieces refused" "2 needed" \
    "$C" --cluster "$A" restore "$T/r.stmt" --backup "$T/hot-ed.backup" --approval "$T/r.d" --approval "$T/r.e" --piece "$T/d.piece"
  expect_refused "local: restore with the same piece twice refused" "repeats an officer" \
    "$C" --cluster "$A" restore "$T/r.stmt" --backup "$T/hot-ed.backup" --approval "$T/r.d" --approval "$T/r.e" --piece "$T/d.piece" --piece "$T/d.piece"
  expect_refused "node: the same piece twice refused" "repeats an officer" \
    "$C" --cluster "$A" restore "$T/r.stmt" --backup "$T/hot-ed.backup" --approval "$T/r.d" --approval "$T/r.e" --piece "$T/d.piece" --piece "$T/d.piece" --skip-local-check
  [[ $(node_keys "$A" hot-ed) == 2 ]] && ok "refused restores stored nothing on node 3" || bad "node 3 has a key"
  # a fresh statement (the refused ones burned theirs)
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.backup" --out "$T/r2.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/r2.stmt" --officer dave --out "$T/r2.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r2.stmt" --officer erin --out "$T/r2.e" --yes >/dev/null
  expect_refused "node: fewer than k pieces refused" "2 needed" \
    "$C" --cluster "$A" restore "$T/r2.stmt" --backup "$T/hot-ed.backup" --approval "$T/r2.d" --approval "$T/r2.e" --piece "$T/d.piece" --skip-local-check
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.backup" --out "$T/r2.stmt2" >/dev/null
  rm -f "$T/r2.d" "$T/r2.e"
  "$C" --cluster "$A" approve "$T/r2.stmt2" --officer dave --out "$T/r2.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r2.stmt2" --officer erin --out "$T/r2.e" --yes >/dev/null
  mv "$T/r2.stmt2" "$T/r2.stmt"
  expect_refused "restore with one approval refused" "too few approvals" \
    "$C" --cluster "$A" restore "$T/r2.stmt" --backup "$T/hot-ed.backup" --approval "$T/r2.d" --piece "$T/d.piece" --piece "$T/e.piece" --skip-local-check
  expect_refused "pieces made for another restore statement refused by the node" "another statement" \
    "$C" --cluster "$A" restore "$T/r2.stmt" --backup "$T/hot-ed.backup" --approval "$T/r2.d" --approval "$T/r2.e" --piece "$T/d.piece" --piece "$T/e.piece"
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.backup" --out "$T/r3.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/r3.stmt" --officer dave --out "$T/r3.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r3.stmt" --officer erin --out "$T/r3.e" --yes >/dev/null
  "$C" --cluster "$A" restore-piece "$T/r3.stmt" --backup "$T/hot-ed.backup" --officer dave --out "$T/d3.piece" >/dev/null
  "$C" --cluster "$A" restore-piece "$T/r3.stmt" --backup "$T/hot-ed.backup" --officer erin --out "$T/e3.piece" >/dev/null
  t0=$(date +%s%N)
  expect_ok "restore onto the fresh node 3 with 2 pieces" \
    "$C" --cluster "$A" restore "$T/r3.stmt" --backup "$T/hot-ed.backup" --approval "$T/r3.d" --approval "$T/r3.e" --piece "$T/d3.piece" --piece "$T/e3.piece"
  echo "# restore (2 pieces, node combines and seals): $((($(date +%s%N) - t0) / 1000000)) ms"
  [[ $(node_keys "$A" hot-ed) == 3 ]] && ok "node 3 holds a sealed share again" || bad "node 3 key file"
  "$SCRIPTS/cluster" stop-node "$A" 1
  : >"$T/sigs"
  for i in 1 2 3; do client "$A" --json sign hot-ed --message "after restore $i" >>"$T/sigs"; done
  [[ $(grep -c '"signers":\[2,3\]' "$T/sigs") == 3 && $(grep -c "\"public_key\":\"$orig\"" "$T/sigs") == 3 ]] &&
    "$SCRIPTS/verify-signatures" "$T/sigs" >/dev/null &&
    ok "nodes {2,3} sign with the restored share; verifies under the original key" || bad "sign: $(cat "$T/sigs")"
  # after a refresh the old backup is stale (refused before any approval is
  # used); a new backup restores share version 2
  "$SCRIPTS/cluster" start-node "$A" 1 2>/dev/null
  "$C" --cluster "$A" propose refresh hot-ed --out "$T/rf.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/rf.stmt" --officer carol --out "$T/rf.c" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/rf.stmt" --officer erin --out "$T/rf.e" --yes >/dev/null
  expect_ok "refresh of hot-ed (share version 2)" "$C" --cluster "$A" refresh "$T/rf.stmt" --approval "$T/rf.c" --approval "$T/rf.e" --yes
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.backup" --out "$T/r4.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/r4.stmt" --officer dave --out "$T/r4.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r4.stmt" --officer erin --out "$T/r4.e" --yes >/dev/null
  expect_refused "a backup taken before a refresh is refused (stale share version)" "refreshed after this backup" \
    "$C" --cluster "$A" restore "$T/r4.stmt" --backup "$T/hot-ed.backup" --approval "$T/r4.d" --approval "$T/r4.e" --piece "$T/d3.piece" --piece "$T/e3.piece"
  "$C" --cluster "$A" propose backup hot-ed --out "$T/b2.stmt" >/dev/null
  approve2 "$A" "$T/b2.stmt" "$T/b2"
  expect_ok "new backup after the refresh" "$C" --cluster "$A" backup "$T/b2.stmt" --approval "$T/b2.c" --approval "$T/b2.d" --out "$T/hot-ed.v2.backup"
  "$SCRIPTS/cluster" stop-node "$A" 3
  rm -rf "$A"/node3/state/* "$A/hsm/node3/tokens"
  "$C" --cluster "$A" replace-node 3 >/dev/null
  "$SCRIPTS/cluster" down "$A"
  "$SCRIPTS/cluster" start "$A" 2>"$T/start.err" || { cat "$T/start.err"; bad start; done_; }
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.v2.backup" --out "$T/r5.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/r5.stmt" --officer carol --out "$T/r5.c" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r5.stmt" --officer erin --out "$T/r5.e" --yes >/dev/null
  "$C" --cluster "$A" restore-piece "$T/r5.stmt" --backup "$T/hot-ed.v2.backup" --officer carol --out "$T/c5.piece" >/dev/null
  "$C" --cluster "$A" restore-piece "$T/r5.stmt" --backup "$T/hot-ed.v2.backup" --officer erin --out "$T/e5.piece" >/dev/null
  expect_ok "node 3 destroyed again, restored from the post-refresh backup" \
    "$C" --cluster "$A" restore "$T/r5.stmt" --backup "$T/hot-ed.v2.backup" --approval "$T/r5.c" --approval "$T/r5.e" --piece "$T/c5.piece" --piece "$T/e5.piece"
  "$SCRIPTS/cluster" stop-node "$A" 2
  line=$(client "$A" --json sign hot-ed --message "after refresh and restore")
  [[ $line == *'"signers":[1,3]'* && $line == *"\"public_key\":\"$orig\""* ]] && "$SCRIPTS/verify-signatures" <<<"$line" >/dev/null &&
    ok "nodes {1,3} sign with the restored version-2 share under the original key" || bad "sign v2: $line"
  "$SCRIPTS/cluster" stop-coord "$A"
  "$BIN/sigil-audit" show --log "$A/coord/audit" --type ceremony >"$T/show" 2>&1
  grep -q 'request=backup-exported approvals=carol,dave' "$T/show" && grep -q 'request=restore-installed approvals=dave,erin' "$T/show" &&
    grep -q 'request=restore-refused' "$T/show" && grep -q 'request=backup-refused' "$T/show" &&
    ok "coordinator log: backup, restore and their refusals with the approving officers" || bad "audit: $(cat "$T/show")"
  "$BIN/sigil-audit" show --log "$A/node3/state/audit" --type ceremony 2>/dev/null | grep -q 'restore-installed approvals=carol,erin pieces=carol,erin' &&
    ok "node 3's log records the restored share and whose pieces" || bad "node 3 log"
  ;;
backup_restore_ecdsa)
  # an ECDSA (DKLs23) key: the backup holds x_i only; restore re-makes the
  # pairwise OT state between ALL share holders (the old state with the
  # destroyed node is replaced on the other nodes too)
  A=$T/a
  setup "$A" ecb
  dig() { printf 'ecb %s' "$1" | sha256sum | cut -c1-64; }
  for k in hot-ec ec-b; do
    "$C" --cluster "$A" propose keygen $k --scheme ecdsa --threshold 2 --out "$T/$k.kg" >/dev/null
    approve2 "$A" "$T/$k.kg" "$T/$k.kg"
    expect_ok "keygen $k (ECDSA 2-of-3, 2 approvals)" "$C" --cluster "$A" keygen "$T/$k.kg" --approval "$T/$k.kg.c" --approval "$T/$k.kg.d"
  done
  l0=$(client "$A" --json sign hot-ec --digest "$(dig 0)")
  pk=$(sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p' <<<"$l0")
  [[ -n $pk ]] && "$SCRIPTS/verify-signatures" <<<"$l0" >/dev/null && ok "hot-ec signs before the backup (python-ecdsa)" || bad "sign 0: $l0"
  for o in carol dave erin; do
    "$C" --cluster "$A" backup-key --officer $o >/dev/null 2>&1 || bad "backup-key $o"
  done
  for k in hot-ec ec-b; do
    "$C" --cluster "$A" propose backup $k --out "$T/$k.b" >/dev/null
    approve2 "$A" "$T/$k.b" "$T/$k.b"
    expect_ok "backup of ECDSA key $k (x_i split 2-of-3 to the officers; no OT state)" \
      "$C" --cluster "$A" backup "$T/$k.b" --approval "$T/$k.b.c" --approval "$T/$k.b.d" --out "$T/$k.backup"
    [[ $k == hot-ec ]] && { echo "# ceremony backup output:"; sed 's/^/#   /' "$T/err" "$T/out"; }
  done
  # destroy node 3: state and token
  "$SCRIPTS/cluster" stop-node "$A" 3
  rm -rf "$A"/node3/state/* "$A/hsm/node3/tokens"
  "$C" --cluster "$A" replace-node 3 >/dev/null 2>"$T/err" || bad "replace-node: $(tail -2 "$T/err")"
  "$SCRIPTS/cluster" down "$A"
  "$SCRIPTS/cluster" start "$A" 2>"$T/start.err" || { cat "$T/start.err"; bad start; done_; }
  cp "$A/node1/state/keys/hot-ec.key" "$T/n1.key"; cp "$A/node2/state/keys/hot-ec.key" "$T/n2.key"
  unchanged() { cmp -s "$T/n1.key" "$A/node1/state/keys/hot-ec.key" && cmp -s "$T/n2.key" "$A/node2/state/keys/hot-ec.key" &&
    [[ ! -e $A/node3/state/keys/hot-ec.key ]] && ! ls "$A"/node*/state/keys/ | grep -q pending; }
  restore_prep() { # STMT OFFICER OFFICER: propose, approve (STMT.OFFICER), pieces (STMT.OFFICER.piece)
    "$C" --cluster "$A" propose restore hot-ec --node 3 --backup "$T/hot-ec.backup" --out "$1" >/dev/null
    for o in $2 $3; do
      "$C" --cluster "$A" approve "$1" --officer $o --out "$1.$o" --yes >/dev/null &&
        "$C" --cluster "$A" restore-piece "$1" --backup "$T/hot-ec.backup" --officer $o --out "$1.$o.piece" >/dev/null 2>"$T/err" ||
        bad "approve / restore-piece $o: $(tail -2 "$T/err")"
    done
  }
  restore_prep "$T/r" dave erin
  expect_refused "restore with one approval refused (by the coordinator)" "too few approvals" \
    "$C" --cluster "$A" restore "$T/r" --backup "$T/hot-ec.backup" --approval "$T/r.dave" --piece "$T/r.dave.piece" --piece "$T/r.erin.piece" --skip-local-check
  # wrong key: ec-b's backup relabelled as hot-ec's (the officers approve what it says)
  $PY -c 'import json,sys; b=json.load(open(sys.argv[1])); b["key_id"]="hot-ec"; json.dump(b,open(sys.argv[2],"w"))' \
    "$T/ec-b.backup" "$T/forged.backup"
  "$C" --cluster "$A" propose restore hot-ec --node 3 --backup "$T/forged.backup" --out "$T/w.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/w.stmt" --officer dave --out "$T/w.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/w.stmt" --officer erin --out "$T/w.e" --yes >/dev/null
  expect_refused "restore from another key's backup section refused" "for another key" \
    "$C" --cluster "$A" restore "$T/w.stmt" --backup "$T/forged.backup" --approval "$T/w.d" --approval "$T/w.e" --piece "$T/r.dave.piece" --piece "$T/r.erin.piece" --skip-local-check
  # a tampered piece: one byte of erin's piece flipped
  $PY - "$T/r.erin.piece" "$T/bad.piece" <<'EOF2'
import json, sys
p = json.load(open(sys.argv[1])); h = bytearray(bytes.fromhex(p["piece"]))
h[len(h) // 2] ^= 1; p["piece"] = h.hex(); json.dump(p, open(sys.argv[2], "w"))
EOF2
  expect_refused "restore with a tampered piece refused by node 3" "restore refused: piece" \
    "$C" --cluster "$A" restore "$T/r" --backup "$T/hot-ec.backup" --approval "$T/r.dave" --approval "$T/r.erin" --piece "$T/r.dave.piece" --piece "$T/bad.piece"
  unchanged && ok "the refused restores changed nothing (nodes 1, 2 key files byte-identical; nothing on node 3; no .pending)" ||
    bad "state changed: $(ls "$A"/node*/state/keys/)"
  restore_prep "$T/r2" carol erin
  good=("$C" --cluster "$A" restore "$T/r2" --backup "$T/hot-ec.backup" --approval "$T/r2.carol" --approval "$T/r2.erin"
    --piece "$T/r2.carol.piece" --piece "$T/r2.erin.piece")
  "$SCRIPTS/cluster" kill-node "$A" 2
  expect_refused "a share holder down: refused before the approvals are used" "approvals stay usable" "${good[@]}"
  "$SCRIPTS/cluster" start-node "$A" 2 2>/dev/null
  unchanged && ok "... and changed nothing" || bad "state changed with node 2 down"
  expect_ok "node 2 back: the same statement restores hot-ec onto the replacement node 3 (x_3 from 2 pieces, new OT setup of all pairs)" \
    "${good[@]}"
  echo "# ceremony restore output:"; sed 's/^/#   /' "$T/err" "$T/out"
  [[ -e $A/node3/state/keys/hot-ec.key ]] && ok "node 3 holds a sealed share of hot-ec again" || bad "node 3 key file"
  ! cmp -s "$T/n1.key" "$A/node1/state/keys/hot-ec.key" && ! cmp -s "$T/n2.key" "$A/node2/state/keys/hot-ec.key" &&
    ok "nodes 1 and 2 replaced their sealed share (new OT state)" || bad "node 1/2 key files unchanged"
  old=$(tail -c 80 "$T/n1.key" | head -c 48 | xxd -p | tr -d '\n')
  cat "$A"/node1/state/keys/* | xxd -p | tr -d '\n' | grep -q "$old" && bad "node 1's old sealed share still on disk" ||
    ok "node 1's old sealed share (OT state with the destroyed node) is gone from its keys"
  ls "$A"/node*/state/keys/ | grep -q 'pending\|\.old' && bad "leftover .pending/.old" || ok "no .pending or .old file left"
  : >"$T/sigs"
  for q in "2 13" "1 23" "3 12"; do
    set -- $q
    "$SCRIPTS/cluster" kill-node "$A" $1
    for i in 1 2; do client "$A" --json sign hot-ec --digest "$(dig "$2.$i")" >>"$T/sigs" 2>"$T/err" || bad "sign {$2}: $(cat "$T/err")"; done
    "$SCRIPTS/cluster" start-node "$A" $1 2>/dev/null
  done
  for q in '1,3' '2,3' '1,2'; do
    [[ $(grep -c "\"signers\":\[$q\]" "$T/sigs") == 2 ]] || bad "signers [$q]: $(cat "$T/sigs")"
  done
  [[ $(grep -c "\"public_key\":\"$pk\"" "$T/sigs") == 6 ]] && "$SCRIPTS/verify-signatures" "$T/sigs" >/dev/null &&
    ok "{1,3}, {2,3} and {1,2} each sign twice after the restore; 6 signatures verify under the original key (python-ecdsa)" ||
    bad "signatures: $(cat "$T/sigs")"
  "$SCRIPTS/cluster" stop-coord "$A"
  "$BIN/sigil-audit" show --log "$A/coord/audit" --type ceremony >"$T/show" 2>&1
  grep -q 'request=restore-started all-nodes approvals=carol,erin' "$T/show" &&
    grep -q 'request=restore-installed approvals=carol,erin' "$T/show" &&
    [[ $(grep -c 'request=restore-refused' "$T/show") -ge 4 ]] &&
    ok "coordinator log: the restore (started, installed) and its 4 refusals" || bad "coordinator audit: $(grep restore "$T/show")"
  "$BIN/sigil-audit" show --log "$A/node3/state/audit" --type ceremony 2>/dev/null | grep -q 'restore-installed approvals=carol,erin pieces=carol,erin ot=new-all-pairs' &&
    ok "node 3's log records the restored share" || bad "node 3 log"
  for n in 1 2; do
    "$BIN/sigil-audit" show --log "$A/node$n/state/audit" --type ceremony 2>/dev/null | grep -q 'restore-ot-renewed node=3 approvals=carol,erin' &&
      ok "node $n's log records its renewed OT state with node 3" || bad "node $n log"
  done
  ;;
lifecycle)
  # issue 6's whole lifecycle, in its order, on one cluster: init -> keygen
  # -> sign -> refresh -> sign -> backup -> destroy a node -> restore ->
  # sign -> retire
  A=$T/a
  t0=$(date +%s%N)
  setup "$A" life
  lc() { # OP KEY: propose, carol + dave approve, run
    "$C" --cluster "$A" propose "$1" "$2" --out "$T/$1.stmt" >/dev/null &&
      approve2 "$A" "$T/$1.stmt" "$T/$1" &&
      "$C" --cluster "$A" "$1" "$T/$1.stmt" --approval "$T/$1.c" --approval "$T/$1.d" --yes
  }
  "$C" --cluster "$A" propose keygen hot-ed --scheme frost-ed25519 --threshold 2 --out "$T/kg.stmt" >/dev/null
  approve2 "$A" "$T/kg.stmt" "$T/kg"
  expect_ok "keygen hot-ed (2 of 3 officers)" \
    "$C" --cluster "$A" keygen "$T/kg.stmt" --approval "$T/kg.c" --approval "$T/kg.d"
  l1=$(client "$A" --json sign hot-ed --message "lifecycle 1")
  echo "# from nothing to the first signature (init + start + approved keygen + sign): $((($(date +%s%N) - t0) / 1000000)) ms"
  pk=$(sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p' <<<"$l1")
  "$SCRIPTS/verify-signatures" <<<"$l1" >/dev/null && ok "signature 1 verifies (PyNaCl)" || bad "sign 1: $l1"
  cp "$A/node1/state/keys/hot-ed.key" "$T/old1.key"
  expect_ok "refresh hot-ed (2 approvals)" lc refresh hot-ed
  cmp -s "$T/old1.key" "$A/node1/state/keys/hot-ed.key" && bad "node 1's sealed share did not change" ||
    ok "node 1's sealed share changed"
  l2=$(client "$A" --json sign hot-ed --message "lifecycle 2")
  [[ $(sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p' <<<"$l2") == "$pk" ]] &&
    "$SCRIPTS/verify-signatures" <<<"$l2" >/dev/null &&
    ok "signature 2 after the refresh verifies under the same public key" || bad "sign 2: $l2"
  for o in carol dave erin; do
    "$C" --cluster "$A" backup-key --officer $o >/dev/null 2>&1 || bad "backup-key $o"
  done
  "$C" --cluster "$A" propose backup hot-ed --out "$T/b.stmt" >/dev/null
  approve2 "$A" "$T/b.stmt" "$T/b"
  expect_ok "backup of the refreshed shares (2 approvals)" \
    "$C" --cluster "$A" backup "$T/b.stmt" --approval "$T/b.c" --approval "$T/b.d" --out "$T/hot-ed.backup"
  # destroy node 3: its state and its token
  "$SCRIPTS/cluster" stop-node "$A" 3
  rm -rf "$A"/node3/state/* "$A/hsm/node3/tokens"
  expect_ok "replace-node 3: new token and identity key" "$C" --cluster "$A" replace-node 3
  "$SCRIPTS/cluster" down "$A"
  "$SCRIPTS/cluster" start "$A" 2>"$T/start.err" || { cat "$T/start.err"; bad start; done_; }
  "$C" --cluster "$A" propose restore hot-ed --node 3 --backup "$T/hot-ed.backup" --out "$T/r.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/r.stmt" --officer dave --out "$T/r.d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r.stmt" --officer erin --out "$T/r.e" --yes >/dev/null
  for o in dave erin; do
    "$C" --cluster "$A" restore-piece "$T/r.stmt" --backup "$T/hot-ed.backup" --officer $o \
      --out "$T/$o.piece" >/dev/null 2>"$T/err" || bad "restore-piece $o: $(tail -2 "$T/err")"
  done
  expect_ok "restore onto the replacement node 3 (2 approvals, 2 pieces)" \
    "$C" --cluster "$A" restore "$T/r.stmt" --backup "$T/hot-ed.backup" --approval "$T/r.d" \
    --approval "$T/r.e" --piece "$T/dave.piece" --piece "$T/erin.piece"
  "$SCRIPTS/cluster" stop-node "$A" 1
  l3=$(client "$A" --json sign hot-ed --message "lifecycle 3")
  [[ $l3 == *'"signers":[2,3]'* && $(sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p' <<<"$l3") == "$pk" ]] &&
    "$SCRIPTS/verify-signatures" <<<"$l3" >/dev/null &&
    ok "signature 3 by {2, restored 3} verifies under the same public key" || bad "sign 3: $l3"
  "$SCRIPTS/cluster" start-node "$A" 1 2>/dev/null
  expect_ok "retire hot-ed (2 approvals)" lc retire hot-ed
  expect_refused "Sign with the retired key refused" "retired" client "$A" sign hot-ed --message "lifecycle 4"
  left=$(ls "$A"/node*/state/keys/ | grep -c '^hot-ed\.key$')
  ((left == 0)) && ok "no node holds a share file of hot-ed" || bad "$left share files left"
  client "$A" --json pubkey hot-ed 2>/dev/null | grep -q "$pk" &&
    ok "the public key still answers after retire" || bad "pubkey after retire"
  "$SCRIPTS/cluster" down "$A"
  "$BIN/sigil-audit" verify --log "$A/coord/audit" --key "$A/coord/audit.pub" >/dev/null 2>&1 &&
    ok "the coordinator's audit log of the whole lifecycle verifies" || bad "coordinator audit log"
  "$BIN/sigil-audit" show --log "$A/coord/audit" >"$T/show" 2>&1
  for w in keygen refresh backup restore retire; do
    grep -qi "$w" "$T/show" || bad "coordinator log has no $w record"
  done
  ok "the coordinator's log records keygen, refresh, backup, restore and retire"
  ;;
*) echo "unknown case $case_"; exit 2 ;;
esac
done_
