#!/usr/bin/env bash
# Integration tests of sigil-ceremony: real sigil-node / sigil-coordinator
# processes over mTLS, real SoftHSM tokens, everything made by
# `sigil-ceremony init`.
#
#   tests/integration/ceremony.sh CASE BIN_DIR SCRIPTS_DIR
#
# CASE: init_keygen_sign | bad_approvals | halt_resume | refresh_retire | lifecycle_refused
set -uo pipefail

case_=${1:?case} BIN=${2:?bin dir} SCRIPTS=${3:?scripts dir}
C=$BIN/sigil-ceremony
T=$(mktemp -d /tmp/sigil-ceremony-test.XXXXXX)
pass=0 failed=0
cleanup() {
  for d in "$T"/*/; do [[ -f $d/cluster.json ]] && "$SCRIPTS/cluster" down "$d" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
# expect_ok DESC CMD...: exit 0
expect_ok() {
  local d=$1; shift
  if "$@" >"$T/out" 2>"$T/err"; then ok "$d"; else bad "$d (exit $?): $(tail -3 "$T/err")"; fi
}
# expect_refused DESC TEXT CMD...: non-zero exit and TEXT in stderr
expect_refused() {
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

init_cluster() { # DIR ID OFFICERS
  "$C" --cluster "$1" init --id "$2" -n 3 -t 2 --officers "$3" -k 2 \
    --wallet 'alice=hot-*' --admin ops >"$T/init.out" 2>"$T/init.err" ||
    { cat "$T/init.err"; bad "init $2"; done_; }
}
start() { "$SCRIPTS/cluster" start "$1" 2>"$T/start.err" || { cat "$T/start.err"; bad "start"; done_; }; }
client() { # DIR ARGS...: sigil-client as wallet/alice
  local d=$1; shift
  "$BIN/sigil-client" --target "127.0.0.1:$(sed -n 's/^coord=//p' "$d/ports")" \
    --ca "$d/pki/ca.pem" --cert "$d/pki/wallet-alice.pem" --key "$d/pki/wallet-alice.key" "$@"
}
approved_keygen() { # DIR KEY SCHEME: propose, two approvals, keygen
  local d=$1 k=$2 s=$3
  "$C" --cluster "$d" propose keygen "$k" --scheme "$s" --threshold 2 --out "$T/$k.stmt" >/dev/null &&
    "$C" --cluster "$d" approve "$T/$k.stmt" --officer carol --out "$T/$k.c" --yes >/dev/null &&
    "$C" --cluster "$d" approve "$T/$k.stmt" --officer dave --out "$T/$k.d" --yes >/dev/null &&
    "$C" --cluster "$d" keygen "$T/$k.stmt" --approval "$T/$k.c" --approval "$T/$k.d"
}
halted() { "$C" --cluster "$1" --json status --officer erin 2>/dev/null | grep -q '"halted":true'; }

# Ed25519 signature check with the openssl CLI (shares no code with Sigil)
verify_ed25519() { # JSON line from sigil-client --json sign
  local pk sig msg
  pk=$(sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p' <<<"$1")
  sig=$(sed -n 's/.*"signature":"\([0-9a-f]*\)".*/\1/p' <<<"$1")
  msg=$(sed -n 's/.*"message":"\([0-9a-f]*\)".*/\1/p' <<<"$1")
  { printf '302a300506032b6570032100'; printf %s "$pk"; } | xxd -r -p >"$T/pk.der"
  xxd -r -p <<<"$sig" >"$T/sig.bin"
  xxd -r -p <<<"$msg" >"$T/msg.bin"
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$T/pk.der" -rawin -in "$T/msg.bin" \
    -sigfile "$T/sig.bin" >/dev/null 2>&1
}


approve2() { # DIR STMT PREFIX: carol and dave approve
  "$C" --cluster "$1" approve "$2" --officer carol --out "$3.c" --yes >/dev/null &&
    "$C" --cluster "$1" approve "$2" --officer dave --out "$3.d" --yes >/dev/null
}
approved_lc() { # DIR OP KEY [--json]: propose, two approvals, run (refresh | retire)
  local d=$1 op=$2 k=$3 j=()
  [[ ${4:-} == --json ]] && j=(--json)
  rm -f "$T/$op-$k.stmt" "$T/$op-$k.c" "$T/$op-$k.d"
  "$C" --cluster "$d" propose "$op" "$k" --out "$T/$op-$k.stmt" >/dev/null &&
    approve2 "$d" "$T/$op-$k.stmt" "$T/$op-$k" &&
    "$C" --cluster "$d" "${j[@]}" "$op" "$T/$op-$k.stmt" --approval "$T/$op-$k.c" --approval "$T/$op-$k.d" --yes
}
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2"; }
# hex of a sealed blob's middle 48 bytes (the key file's tail is the blob)
blob_hex() { tail -c 80 "$1" | head -c 48 | xxd -p | tr -d '\n'; }
# whether any file under DIR contains the hex string
anywhere() { # DIR HEX
  local f
  while IFS= read -r -d '' f; do
    xxd -p "$f" | tr -d '\n' | grep -qF "$2" && { echo "$f"; return 0; }
  done < <(find "$1" -type f -print0)
  return 1
}
keyfiles() { ls "$1"/node*/state/keys/ 2>/dev/null | sort | tr '\n' ' '; }

case $case_ in
init_keygen_sign)
  A=$T/a
  t0=$(date +%s%N)
  init_cluster "$A" alpha carol,dave,erin
  ok "init made a cluster"
  for f in cluster.json coord/coord.json node1/node.conf node3/node.conf pki/ca.pem pki/node-2.pem \
    pki/officer-erin.pem pki/wallet-alice.pem pki/admin-ops.pem hsm/node1/softhsm2.conf \
    officers/carol/softhsm2.conf; do
    [[ -s $A/$f ]] || bad "missing $f"
  done
  # the CA key lives only in the officers' CA token: no ca.key, and no private
  # key file anywhere in the cluster is the CA's
  [[ -z $(find "$A" -name 'ca.key') ]] && ok "no ca.key file in the cluster" || bad "a ca.key exists"
  capub=$(openssl x509 -in "$A/pki/ca.pem" -noout -pubkey)
  hit=
  while IFS= read -r -d '' f; do
    [[ $(openssl pkey -in "$f" -pubout 2>/dev/null) == "$capub" ]] && hit+=" $f"
  done < <(find "$A" -name '*.key' -print0)
  [[ -z $hit && -n $capub ]] && ok "no key file in the cluster holds the CA key" || bad "CA key in a file:$hit"
  [[ -s $A/officers/ca/softhsm2.conf && -d $A/officers/ca/tokens &&
    $(stat -c %a "$A/officers/ca/sigil-ca.pin") == 600 ]] &&
    ok "officers' CA token in officers/ca (PIN file 0600)" || bad "CA token layout"
  grep -q '"token": "sigil-ca"' "$A/cluster.json" && grep -q 'CA key: inside the officers' "$T/init.out" &&
    ok "cluster.json and init's output name the CA token" || bad "CA token not recorded/announced"
  openssl x509 -in "$A/pki/ca.pem" -noout -text | grep -q 'Signature Algorithm: ecdsa-with-SHA256' &&
    openssl verify -CAfile "$A/pki/ca.pem" "$A/pki/ca.pem" >/dev/null &&
    ok "self-signed CA certificate (ecdsa-with-SHA256, signed in the token) verifies" || bad "CA cert"
  openssl verify -CAfile "$A/pki/ca.pem" "$A/pki/node-1.pem" >/dev/null &&
    ok "node 1 certificate (signed in the CA token) verifies with openssl" || bad "node-1 chain"
  expect_refused "an officer named ca is refused (officers/ca is the CA token)" "reserved" \
    "$C" --cluster "$T/x" init --id x -n 2 -t 2 --officers carol,ca -k 2
  openssl x509 -in "$A/pki/node-2.pem" -noout -ext subjectAltName | grep -q 'URI:sigil://node/2' &&
    ok "node 2 certificate carries SAN sigil://node/2" || bad "node SAN"
  openssl x509 -in "$A/pki/officer-dave.pem" -noout -ext subjectAltName | grep -q 'URI:sigil://officer/dave' &&
    ok "officer certificate SAN" || bad "officer SAN"
  openssl verify -CAfile "$A/pki/ca.pem" "$A/pki/coordinator.pem" >/dev/null && ok "chain verifies" || bad "chain"
  openssl x509 -in "$A/pki/coordinator.pem" -noout -checkend $((364 * 86400)) >/dev/null &&
    ! openssl x509 -in "$A/pki/coordinator.pem" -noout -checkend $((366 * 86400)) >/dev/null &&
    ok "certificates expire after 365 days" || bad "expiry"
  grep -q '"keygen_approvals": true' "$A/coord/coord.json" && ok "coordinator requires keygen approvals" || bad "keygen_approvals"

  # re-running init refuses and changes nothing
  sum=$(cat "$A"/cluster.json "$A"/pki/*.pem "$A"/coord/coord.json | sha256sum)
  expect_refused "re-init refused" "already holds a cluster" \
    "$C" --cluster "$A" init --id alpha -n 3 -t 2 --officers carol,dave,erin
  expect_refused "re-init with an unknown --replace item refused" "only cert:IDENTITY" \
    "$C" --cluster "$A" init --replace tokens
  expect_refused "--replace of a certificate that does not exist refused" "does not exist" \
    "$C" --cluster "$A" init --replace cert:node/9
  [[ $(cat "$A"/cluster.json "$A"/pki/*.pem "$A"/coord/coord.json | sha256sum) == "$sum" ]] &&
    ok "refused re-inits changed nothing" || bad "a refused re-init changed files"
  old=$(sha256sum <"$A/pki/node-3.pem")
  expect_ok "--replace cert:node/3" "$C" --cluster "$A" init --replace cert:node/3
  [[ $(sha256sum <"$A/pki/node-3.pem") != "$old" ]] &&
    openssl verify -CAfile "$A/pki/ca.pem" "$A/pki/node-3.pem" >/dev/null &&
    ok "node 3 certificate reissued by the same CA" || bad "replace"
  # reissuing needs the officers' CA token: refused without its PIN file,
  # and refused with another cluster's CA token; nothing changes
  old=$(sha256sum <"$A/pki/node-3.pem")
  mv "$A/officers/ca/sigil-ca.pin" "$T/ca.pin"
  expect_refused "--replace without the CA token's PIN refused" "CA token" \
    "$C" --cluster "$A" init --replace cert:node/3
  mv "$T/ca.pin" "$A/officers/ca/sigil-ca.pin"
  "$C" --cluster "$T/f" init --id foreign -n 2 -t 1 --officers carol -k 1 >/dev/null 2>&1 ||
    bad "init foreign"
  mv "$A/officers/ca" "$T/ca.mine" && cp -a "$T/f/officers/ca" "$A/officers/ca" &&
    sed -i "s|$T/f/officers/ca|$A/officers/ca|" "$A/officers/ca/softhsm2.conf"
  expect_refused "--replace with another cluster's CA token refused" "values disagree" \
    "$C" --cluster "$A" init --replace cert:node/3
  rm -rf "$A/officers/ca" && mv "$T/ca.mine" "$A/officers/ca"
  [[ $(sha256sum <"$A/pki/node-3.pem") == "$old" ]] &&
    ok "refused reissues left node 3's certificate alone" || bad "refused reissue changed node-3.pem"

  start "$A"
  ok "3 nodes and the coordinator started from init's output"
  out=$(approved_keygen "$A" hot-ed frost-ed25519 2>"$T/err") && ok "approved keygen: $out" ||
    bad "keygen: $(cat "$T/err")"
  line=$(client "$A" --json sign hot-ed --message 'ceremony test' 2>"$T/err")
  [[ $line == *'"signature"'* ]] && ok "sign through sigil-client" || bad "sign: $(cat "$T/err")"
  verify_ed25519 "$line" && ok "signature verifies with openssl (independent)" || bad "openssl verify"
  t1=$(date +%s%N)
  echo "# init + start + approved keygen + sign: $(((t1 - t0) / 1000000)) ms"
  ;;

bad_approvals)
  A=$T/a B=$T/b
  init_cluster "$A" alpha carol,dave,erin
  init_cluster "$B" beta carol,mallory,dave # a foreign cluster, same officer names
  start "$A"
  S=$T/k1.stmt
  "$C" --cluster "$A" propose keygen hot-k1 --scheme frost-ed25519 --threshold 2 --out "$S" >/dev/null
  "$C" --cluster "$A" approve "$S" --officer carol --out "$T/c" --yes >/dev/null
  "$C" --cluster "$A" approve "$S" --officer dave --out "$T/d" --yes >/dev/null
  # foreign approvals: cluster B's officers over cluster A's statement
  expect_refused "approve refuses another cluster's statement" "is for cluster \"alpha\"" \
    "$C" --cluster "$B" approve "$S" --officer carol --out "$T/x" --yes
  "$C" --cluster "$B" propose keygen hot-k1 --scheme frost-ed25519 --threshold 2 --out "$T/b.stmt" >/dev/null
  "$C" --cluster "$B" approve "$T/b.stmt" --officer carol --out "$T/bc" --yes >/dev/null
  "$C" --cluster "$B" approve "$T/b.stmt" --officer mallory --out "$T/bm" --yes >/dev/null
  "$C" --cluster "$B" approve "$T/b.stmt" --officer dave --out "$T/bd" --yes >/dev/null
  expect_refused "approve: not confirmed" "not confirmed" \
    bash -c "echo no | '$C' --cluster '$A' approve '$S' --officer erin --out '$T/e'"
  [[ ! -e $T/e ]] && ok "unconfirmed approval wrote nothing" || bad "unconfirmed approval written"

  for mode in local server; do
    x=(); [[ $mode == server ]] && x=(--skip-local-check)
    expect_refused "$mode: too few approvals" "too few approvals" \
      "$C" --cluster "$A" keygen "$S" --approval "$T/c" "${x[@]}"
    expect_refused "$mode: duplicate approvals" "same officer" \
      "$C" --cluster "$A" keygen "$S" --approval "$T/c" --approval "$T/c" "${x[@]}"
    # mallory is an officer of B only: her approval (of a copy of A's statement) is foreign
    sed "s/\"officer\": \"dave\"/\"officer\": \"mallory\"/" "$T/d" >"$T/dm"
    expect_refused "$mode: approval by a foreign officer" "officer" \
      "$C" --cluster "$A" keygen "$S" --approval "$T/c" --approval "$T/dm" "${x[@]}"
    # B's carol and dave signed with B's tokens: wrong keys for A
    expect_refused "$mode: approvals signed with another cluster's officer keys" "does not verify" \
      "$C" --cluster "$A" keygen "$T/b.stmt" --approval "$T/bc" --approval "$T/bd" "${x[@]}"
  done
  expect_refused "an approval of another statement" "different statement" \
    "$C" --cluster "$A" keygen "$S" --approval "$T/c" --approval "$T/bd"
  # a statement for cluster beta signed with A's officer tokens (an officer
  # tricked with a doctored cluster.json): A's coordinator refuses the cluster
  mkdir -p "$T/fake"
  sed 's/"cluster_id": "alpha"/"cluster_id": "beta"/' "$A/cluster.json" >"$T/fake/cluster.json"
  "$C" --cluster "$T/fake" propose keygen hot-k1 --scheme frost-ed25519 --threshold 2 --out "$T/f.stmt" >/dev/null
  for o in carol dave; do
    "$C" --cluster "$T/fake" approve "$T/f.stmt" --officer $o --out "$T/f$o" --yes \
      --token-conf "$A/officers/$o/softhsm2.conf" --pin-file "$A/officers/$o/officer-$o.pin" >/dev/null
  done
  expect_refused "local: a statement of another cluster" "another action, cluster" \
    "$C" --cluster "$A" keygen "$T/f.stmt" --approval "$T/fcarol" --approval "$T/fdave"
  expect_refused "server: a statement of another cluster" "another action, cluster" \
    "$C" --cluster "$A" keygen "$T/f.stmt" --approval "$T/fcarol" --approval "$T/fdave" --skip-local-check
  # altered parameters: threshold changed in the file after signing
  sed 's/"threshold": 2/"threshold": 3/' "$S" >"$T/alt.stmt"
  expect_refused "approve refuses altered parameters" "do not match" \
    "$C" --cluster "$A" approve "$T/alt.stmt" --officer erin --out "$T/e2" --yes
  expect_refused "keygen refuses altered parameters" "matching parameters" \
    "$C" --cluster "$A" keygen "$T/alt.stmt" --approval "$T/c" --approval "$T/d" --skip-local-check
  # expired
  "$C" --cluster "$A" propose keygen hot-k2 --scheme frost-ed25519 --threshold 2 --expires 2 --out "$T/x.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/x.stmt" --officer carol --out "$T/xc" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/x.stmt" --officer dave --out "$T/xd" --yes >/dev/null
  sleep 3
  expect_refused "approve refuses an expired statement" "expired" \
    "$C" --cluster "$A" approve "$T/x.stmt" --officer erin --out "$T/xe" --yes
  expect_refused "local: expired statement" "expired" \
    "$C" --cluster "$A" keygen "$T/x.stmt" --approval "$T/xc" --approval "$T/xd"
  expect_refused "server: expired statement" "expired" \
    "$C" --cluster "$A" keygen "$T/x.stmt" --approval "$T/xc" --approval "$T/xd" --skip-local-check
  # nothing changed: no key exists, and the refused statement still works once
  keys=$(client "$A" --json keys 2>&1)
  [[ $keys != *hot-k1* && $keys != *hot-k2* ]] && ok "no key was created by refused attempts" || bad "keys: $keys"
  expect_ok "the same statement with k valid approvals is accepted" \
    "$C" --cluster "$A" keygen "$S" --approval "$T/c" --approval "$T/d"
  expect_refused "replayed keygen refused" "exists" \
    "$C" --cluster "$A" keygen "$S" --approval "$T/c" --approval "$T/d"
  ;;

halt_resume)
  A=$T/a
  init_cluster "$A" alpha carol,dave,erin
  start "$A"
  approved_keygen "$A" hot-ed frost-ed25519 >/dev/null 2>"$T/err" || { cat "$T/err"; bad keygen; done_; }
  expect_ok "sign before halt" client "$A" sign hot-ed --message one
  R=$T/r.stmt
  "$C" --cluster "$A" propose resume --out "$R" >/dev/null
  "$C" --cluster "$A" approve "$R" --officer carol --out "$T/rc" --yes >/dev/null
  "$C" --cluster "$A" approve "$R" --officer dave --out "$T/rd" --yes >/dev/null
  expect_refused "resume when not halted" "not halted" \
    "$C" --cluster "$A" resume "$R" --approval "$T/rc" --approval "$T/rd"
  expect_ok "halt by one officer (erin)" "$C" --cluster "$A" halt --officer erin --reason test
  halted "$A" && ok "status: halted" || bad "not halted"
  expect_refused "sign refused while halted" "halt" client "$A" sign hot-ed --message two
  expect_refused "resume with one approval refused" "too few approvals" \
    "$C" --cluster "$A" resume "$R" --approval "$T/rc"
  expect_refused "server: resume with one approval refused" "too few approvals" \
    "$C" --cluster "$A" resume "$R" --approval "$T/rc" --skip-local-check
  halted "$A" && ok "still halted after refused resumes" || bad "resumed by a refused resume"
  expect_ok "resume with 2 of 3 approvals" "$C" --cluster "$A" resume "$R" --approval "$T/rc" --approval "$T/rd"
  halted "$A" && bad "still halted" || ok "status: running"
  expect_ok "sign after resume" client "$A" sign hot-ed --message three
  expect_ok "halt again" "$C" --cluster "$A" halt --officer carol
  expect_refused "replayed resume statement refused" "used before" \
    "$C" --cluster "$A" resume "$R" --approval "$T/rc" --approval "$T/rd"
  halted "$A" && ok "still halted after the replay" || bad "replay resumed"
  epoch=$("$C" --cluster "$A" --json status --officer dave | sed -n 's/.*"halt_epoch":\([0-9]*\).*/\1/p')
  "$C" --cluster "$A" propose resume --epoch "$epoch" --out "$T/r2.stmt" >/dev/null
  "$C" --cluster "$A" approve "$T/r2.stmt" --officer dave --out "$T/r2d" --yes >/dev/null
  "$C" --cluster "$A" approve "$T/r2.stmt" --officer erin --out "$T/r2e" --yes >/dev/null
  expect_ok "resume with a fresh statement bound to epoch $epoch" \
    "$C" --cluster "$A" --json resume "$T/r2.stmt" --approval "$T/r2e" --approval "$T/r2d"
  grep -q '"nodes_ok":3' "$T/out" && ok "all 3 nodes resumed" || bad "nodes: $(cat "$T/out")"
  expect_ok "sign after the second resume" client "$A" sign hot-ed --message four
  ;;
refresh_retire)
  A=$T/a
  init_cluster "$A" alpha carol,dave,erin
  start "$A"
  approved_keygen "$A" hot-ed frost-ed25519 >/dev/null 2>"$T/err" || { cat "$T/err"; bad keygen; done_; }
  approved_keygen "$A" hot-ec ecdsa >/dev/null 2>"$T/err" || { cat "$T/err"; bad "ecdsa keygen"; done_; }
  l0=$(client "$A" --json sign hot-ed --message 'before refresh' 2>"$T/err")
  verify_ed25519 "$l0" && ok "Ed25519 signature before refresh verifies (openssl)" || bad "sign before: $l0 $(cat "$T/err")"
  pk0=$(field public_key "$l0")
  d=$(printf 'tx before' | sha256sum | cut -c1-64)
  e0=$(client "$A" --json sign hot-ec --digest "$d" 2>"$T/err")
  "$SCRIPTS/verify-signatures" <<<"$e0" >/dev/null && ok "ECDSA signature before refresh verifies (python-ecdsa)" ||
    bad "ecdsa before: $e0 $(cat "$T/err")"
  epk0=$(field public_key "$e0")
  cp "$A/node1/state/keys/hot-ed.key" "$T/old1.key"
  cp "$A/node1/state/keys/hot-ec.key" "$T/old1ec.key"

  t0=$(date +%s%N)
  out=$(approved_lc "$A" refresh hot-ed 2>"$T/err") && ok "refresh hot-ed: $out" || bad "refresh hot-ed: $(cat "$T/err")"
  t1=$(date +%s%N)
  [[ $out == *"share version 1 -> 2"*"$pk0 unchanged"* ]] && ok "same public key, share version 2" || bad "refresh output: $out"
  out=$(approved_lc "$A" refresh hot-ec --json 2>"$T/err") && ok "refresh hot-ec (DKLs23, new OT setup), --json: $out" ||
    bad "refresh hot-ec: $(cat "$T/err")"
  [[ $(jq -r '"\(.old_share_version) \(.share_version) \(.public_key)"' <<<"$out") == "1 2 $(jq -r .public_key <<<"$e0")" ]] &&
    ok "--json: one object with the versions and the unchanged public key" || bad "json: $out"
  grep -q 'refreshing the shares of hot-ec' "$T/err" && ok "progress on stderr" || bad "no progress line"
  t2=$(date +%s%N)
  echo "# propose + 2 approvals + refresh, 2-of-3: Ed25519 $(((t1 - t0) / 1000000)) ms, ECDSA (DKLs23) $(((t2 - t1) / 1000000)) ms"
  [[ $(keyfiles "$A") != *.pending* && $(keyfiles "$A") != *.old* ]] && ok "no pending or old key file left on any node" ||
    bad "key files: $(keyfiles "$A")"
  cmp -s "$T/old1.key" "$A/node1/state/keys/hot-ed.key" && bad "node 1 key file unchanged" || ok "node 1 sealed a new share"
  l1=$(client "$A" --json sign hot-ed --message 'after refresh' 2>"$T/err")
  verify_ed25519 "$l1" && [[ $(field public_key "$l1") == "$pk0" ]] &&
    ok "Ed25519 after refresh: same public key, verifies (openssl)" || bad "sign after: $l1 $(cat "$T/err")"
  d=$(printf 'tx after' | sha256sum | cut -c1-64)
  e1=$(client "$A" --json sign hot-ec --digest "$d" 2>"$T/err")
  "$SCRIPTS/verify-signatures" <<<"$e1" >/dev/null && [[ $(field public_key "$e1") == "$epk0" ]] &&
    ok "ECDSA after refresh: same public key, verifies (python-ecdsa)" || bad "ecdsa after: $e1 $(cat "$T/err")"
  v=$(client "$A" --json pubkey hot-ed 2>&1)
  [[ $(field share_version "$v") == 2 ]] && ok "GetPublicKey: share_version 2" || bad "pubkey: $v"

  # the old share does not work with the new ones: node 1 restored from a
  # copy of its old state, node 3 down -> the only quorum {1,2} mixes an old
  # and a new share: no signature comes out
  for k in hot-ed hot-ec; do
    cp "$A/node1/state/keys/$k.key" "$T/new1-$k.key"
  done
  "$SCRIPTS/cluster" kill-node "$A" 1
  "$SCRIPTS/cluster" kill-node "$A" 3
  cp "$T/old1.key" "$A/node1/state/keys/hot-ed.key"
  cp "$T/old1ec.key" "$A/node1/state/keys/hot-ec.key"
  "$SCRIPTS/cluster" start-node "$A" 1 2>/dev/null
  expect_refused "Ed25519: an old share with a new one yields no signature" "failed" \
    client "$A" sign hot-ed --message 'old and new'
  expect_refused "ECDSA: an old share with a new one yields no signature" "failed" \
    client "$A" sign hot-ec --digest "$d"
  "$SCRIPTS/cluster" kill-node "$A" 1
  cp "$T/new1-hot-ed.key" "$A/node1/state/keys/hot-ed.key"
  cp "$T/new1-hot-ec.key" "$A/node1/state/keys/hot-ec.key"
  "$SCRIPTS/cluster" start-node "$A" 1 2>/dev/null
  expect_ok "with node 1's new share restored, {1,2} sign again" client "$A" sign hot-ed --message 'new and new'
  "$SCRIPTS/cluster" start-node "$A" 3 2>"$T/err" || bad "node 3 restart: $(cat "$T/err")"
  h=$(blob_hex "$T/old1.key")
  # (the restored copy of the old state was overwritten above)
  f=$(anywhere "$A/node1/state" "$h") && bad "old sealed share bytes still in $f" ||
    ok "node 1 holds no byte sequence of its old sealed share"

  out=$(approved_lc "$A" retire hot-ed 2>"$T/err") && ok "retire hot-ed: $out" || bad "retire: $(cat "$T/err")"
  [[ $out == *"destroyed on 3 of 3 nodes"* ]] && ok "all 3 nodes destroyed their share" || bad "retire output: $out"
  expect_refused "Sign with the retired key refused" "retired" client "$A" sign hot-ed --message 'after retire'
  files=$(keyfiles "$A")
  [[ $files != *hot-ed.key* && $files != *hot-ed.old* && $files != *hot-ed.pending* && $files == *hot-ed.retired* ]] &&
    ok "no share file of hot-ed on any node (tombstones only): $files" || bad "files: $files"
  leak=""
  for i in 1 2 3; do
    h=$(blob_hex "$T/new1-hot-ed.key")
    [[ $i != 1 ]] && h=""
    [[ -n $h ]] && f=$(anywhere "$A/node$i/state" "$h") && leak="$leak $f"
  done
  [[ -z $leak ]] && ok "the retired share's sealed bytes are on no node's disk" || bad "share bytes left in:$leak"
  v=$(client "$A" --json pubkey hot-ed 2>&1)
  [[ $(field public_key "$v") == "$pk0" && $(field state "$v") == 3 ]] &&
    ok "GetPublicKey still answers: same public key, state RETIRED" || bad "pubkey after retire: $v"
  client "$A" --json keys 2>&1 | grep -q '"key_id":"hot-ed"' && ok "ListKeys still lists hot-ed" || bad "ListKeys"
  expect_ok "the other key (hot-ec) still signs" client "$A" sign hot-ec --digest "$d"
  expect_refused "keygen cannot reuse the retired id" "exists" approved_keygen "$A" hot-ed frost-ed25519

  # audit: the coordinator's log and the nodes' logs, read offline (stopped)
  "$SCRIPTS/cluster" down "$A" 2>/dev/null
  expect_ok "the coordinator's audit log verifies offline (sigil-audit verify)" \
    "$BIN/sigil-audit" verify --log "$A/coord/audit" --key "$A/coord/audit.pub"
  "$BIN/sigil-audit" show --log "$A/coord/audit" >"$T/audit.txt" 2>&1
  grep -q 'refresh approved by carol,dave' "$T/audit.txt" && grep -q 'refresh done: share version 1 -> 2' "$T/audit.txt" &&
    ok "coordinator audit: refresh approvals (officers, statement hash) and outcome" || bad "audit: $(cat "$T/audit.txt" | tail -5)"
  grep -q 'retire approved by carol,dave' "$T/audit.txt" && grep -q 'retired: shares destroyed on 3 of 3' "$T/audit.txt" &&
    ok "coordinator audit: retire approvals and outcome" || bad "audit retire"
  grep 'refresh done' "$T/audit.txt" | grep -q "digest=$(xxd -p -c 64 <(jq -r .statement "$T/refresh-hot-ed.stmt" | xxd -r -p | sha256sum | cut -c1-64 | xxd -r -p))" &&
    ok "the refresh record carries the SHA-256 of the approved statement" || bad "statement hash not in record"
  nl=0
  for i in 1 2 3; do
    "$BIN/sigil-audit" verify --log "$A/node$i/state/audit" --key "$A/node$i/audit.pub" >/dev/null 2>&1 ||
      bad "node $i log does not verify with the verifier key init wrote"
    "$BIN/sigil-audit" show --log "$A/node$i/state/audit" >"$T/node.txt" 2>&1
    [[ $(grep -c 'refresh: share version 1 -> 2' "$T/node.txt") == 2 ]] &&
      grep -q 'retire: share version 2 destroyed; approvals=carol,dave' "$T/node.txt" && nl=$((nl + 1)) ||
      bad "node $i log lacks its share changes"
  done
  ((nl == 3)) && ok "every node's log records its two refreshes and the retirement"
  ;;

lifecycle_refused)
  A=$T/a B=$T/b
  init_cluster "$A" alpha carol,dave,erin
  init_cluster "$B" beta carol,mallory,dave
  start "$A"
  approved_keygen "$A" hot-ed frost-ed25519 >/dev/null 2>"$T/err" || { cat "$T/err"; bad keygen; done_; }
  sums() { sha256sum "$A"/node*/state/keys/* "$A/coord/state/keys.json" | sha256sum; }
  before=$(sums)
  S=$T/rf.stmt
  "$C" --cluster "$A" propose refresh hot-ed --out "$S" >/dev/null
  approve2 "$A" "$S" "$T/rf"
  "$C" --cluster "$B" propose refresh hot-ed --out "$T/b.stmt" >/dev/null
  approve2 "$B" "$T/b.stmt" "$T/b"
  for op in refresh retire; do
    [[ $op == retire ]] && { S=$T/rt.stmt; "$C" --cluster "$A" propose retire hot-ed --out "$S" >/dev/null; approve2 "$A" "$S" "$T/rt"; }
    P=${S%.stmt}
    for mode in local server; do
      x=(--yes); [[ $mode == server ]] && x+=(--skip-local-check)
      expect_refused "$op $mode: too few approvals" "too few approvals" "$C" --cluster "$A" $op "$S" --approval "$P.c" "${x[@]}"
      expect_refused "$op $mode: duplicate approvals" "same officer" "$C" --cluster "$A" $op "$S" --approval "$P.c" --approval "$P.c" "${x[@]}"
      sed "s/\"officer\": \"dave\"/\"officer\": \"mallory\"/" "$P.d" >"$P.m"
      expect_refused "$op $mode: foreign officer" "officer" "$C" --cluster "$A" $op "$S" --approval "$P.c" --approval "$P.m" "${x[@]}"
    done
    [[ $op == refresh ]] && expect_refused "$op: approvals by another cluster's officer keys" "does not verify" \
      "$C" --cluster "$A" refresh "$T/b.stmt" --approval "$T/b.c" --approval "$T/b.d" --yes --skip-local-check
    expect_refused "$op: unconfirmed (no --yes, wrong key id typed)" "not confirmed" \
      bash -c "echo nope | '$C' --cluster '$A' $op '$S' --approval '$P.c' --approval '$P.d'"
  done
  # a refresh statement cannot be used to retire (action is signed)
  expect_refused "a refresh statement does not retire" "not a retire statement" \
    "$C" --cluster "$A" retire "$T/rf.stmt" --approval "$T/rf.c" --approval "$T/rf.d" --yes --skip-local-check
  # expired
  "$C" --cluster "$A" propose refresh hot-ed --expires 2 --out "$T/x.stmt" >/dev/null
  approve2 "$A" "$T/x.stmt" "$T/x"
  sleep 3
  expect_refused "expired refresh statement (local)" "expired" "$C" --cluster "$A" refresh "$T/x.stmt" --approval "$T/x.c" --approval "$T/x.d" --yes
  expect_refused "expired refresh statement (server)" "expired" "$C" --cluster "$A" refresh "$T/x.stmt" --approval "$T/x.c" --approval "$T/x.d" --yes --skip-local-check
  [[ $(sums) == "$before" ]] && ok "refused refreshes/retires changed no key file and no registry entry" || bad "files changed"
  expect_ok "sign still works" client "$A" sign hot-ed --message still

  # a node down: refused before anything is consumed, nothing changes
  "$SCRIPTS/cluster" kill-node "$A" 3
  expect_refused "refresh with node 3 down refused" "unreachable" \
    "$C" --cluster "$A" refresh "$T/rf.stmt" --approval "$T/rf.c" --approval "$T/rf.d" --yes
  expect_refused "retire with node 3 down refused" "unreachable" \
    "$C" --cluster "$A" retire "$T/rt.stmt" --approval "$T/rt.c" --approval "$T/rt.d" --yes
  [[ $(sums) == "$before" ]] && ok "nothing changed while node 3 was down" || bad "files changed with node down"
  expect_ok "sign with nodes 1,2 while 3 is down" client "$A" sign hot-ed --message down
  "$SCRIPTS/cluster" start-node "$A" 3 2>/dev/null
  expect_ok "the same refresh statement works once node 3 is back" \
    "$C" --cluster "$A" refresh "$T/rf.stmt" --approval "$T/rf.c" --approval "$T/rf.d" --yes
  expect_refused "replayed refresh refused" "used before" \
    "$C" --cluster "$A" refresh "$T/rf.stmt" --approval "$T/rf.c" --approval "$T/rf.d" --yes
  expect_ok "sign after refresh" client "$A" sign hot-ed --message after
  expect_ok "retire" "$C" --cluster "$A" retire "$T/rt.stmt" --approval "$T/rt.c" --approval "$T/rt.d" --yes
  expect_refused "replayed retire refused" "used before" \
    "$C" --cluster "$A" retire "$T/rt.stmt" --approval "$T/rt.c" --approval "$T/rt.d" --yes
  expect_refused "refresh of a retired key refused" "retired" approved_lc "$A" refresh hot-ed
  expect_refused "sign refused after retire" "retired" client "$A" sign hot-ed --message gone
  ;;
*) echo "unknown case $case_"; exit 2 ;;
esac
done_
