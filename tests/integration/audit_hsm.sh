#!/usr/bin/env bash
# Checkpoints signed by an Ed25519 key inside a real SoftHSM token: the key
# is made by sigil-hsm provision, the writer process signs through PKCS#11,
# and the auditor verifies with the verifier key built from the token's
# public key (never having the private key).
set -uo pipefail
BIN=${SIGIL_BIN:?}; TBIN=${SIGIL_TEST_BIN:?}; SRC=${SIGIL_SRC:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
eval "$("$SRC/scripts/softhsm-token" "$T/hsm" coord)" || exit 1
"$BIN/sigil-hsm" provision --token coord --pin-file "$T/hsm/coord.pin" --label sigil-audit >/dev/null || exit 1
pk=$("$BIN/sigil-hsm" pubkey --token coord --pin-file "$T/hsm/coord.pin" --label sigil-audit) || exit 1
"$BIN/sigil-audit" vkey --name sigil.test/audit --pubkey "$pk" > "$T/audit.pub" || exit 1
"$TBIN/audit_writer" write "$T/log" "pkcs11:coord:sigil-audit:$T/hsm/coord.pin" 4 200 > "$T/acks" || exit 1
[[ $(grep -c '^ack ' "$T/acks") == 800 ]] || { echo "FAIL: acks"; exit 1; }
"$BIN/sigil-audit" verify --log "$T/log" --key "$T/audit.pub" || { echo "FAIL: verify with the token's key"; exit 1; }
"$BIN/sigil-audit" keygen --name sigil.test/audit --out "$T/other" >/dev/null
"$BIN/sigil-audit" verify --log "$T/log" --key "$T/other.pub"; rc=$?
[[ $rc == 7 ]] || { echo "FAIL: another key accepted (exit $rc)"; exit 1; }
"$TBIN/audit_writer" write "$T/log" "pkcs11:coord:no-such-key:$T/hsm/coord.pin" 1 1; rc=$?
[[ $rc == 2 ]] || { echo "FAIL: missing token key not refused (exit $rc)"; exit 1; }
echo "PKCS#11-signed checkpoints verify"
