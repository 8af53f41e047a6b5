#!/usr/bin/env bash
# The PostgreSQL backend against a real server started on loopback: schema
# creation and migration, a writer role that can only INSERT (and SELECT),
# triggers rejecting UPDATE/DELETE/TRUNCATE for everyone, batched group
# commits from concurrent writers, strict verification through libpq, and
# detection of what an INSERT-only attacker can still do (forged rows).
set -uo pipefail
BIN=${SIGIL_BIN:?}; TBIN=${SIGIL_TEST_BIN:?}; SRC=${SIGIL_SRC:?}
A=$BIN/sigil-audit
T=$(mktemp -d); chmod 755 "$T"
PGDIR=$T/pg
cleanup() { "$SRC/scripts/pg-test-server" stop "$PGDIR" || true; rm -rf "$T"; }
trap cleanup EXIT
ADMIN=$("$SRC/scripts/pg-test-server" start "$PGDIR") || exit 1
WRITER="${ADMIN/user=postgres/user=sigil_writer}"
fail=0
expect() {
  local want=$1 what=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [[ $rc != "$want" ]]; then echo "FAIL $what: exit $rc, want $want"; cat "$T/out" "$T/err"; fail=1
  else echo "ok   $what (exit $rc) $(head -c 160 "$T/err" | tr '\n' ' ')"; fi
}
psql_as() { local who=$1; shift; psql "${ADMIN/user=postgres/user=$who}" -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_as postgres -c "CREATE ROLE sigil_writer LOGIN" || exit 1
$A keygen --name sigil.test/audit --out "$T/k" >/dev/null
expect 0 "pg-init" $A pg-init --db "$ADMIN" --writer-role sigil_writer
expect 0 "pg-init again (migration is idempotent)" $A pg-init --db "$ADMIN" --writer-role sigil_writer
expect 0 "writer: 4 threads x 300 appends" $TBIN/audit_writer write "$WRITER" "$T/k.key" 4 300
n=$(grep -c '^ack ' "$T/out"); [[ $n == 1200 ]] || { echo "FAIL $n acks"; fail=1; }
expect 0 "writer: reopen and append more" $TBIN/audit_writer write "$WRITER" "$T/k.key" 2 50
expect 0 "verify through libpq" $A verify --log "$WRITER" --key "$T/k.pub"
grep -q "1300 entries" "$T/out" || { echo "FAIL entry count: $(cat "$T/out")"; fail=1; }
expect 0 "prove inclusion from postgres" $A prove inclusion --log "$WRITER" --index 1234 --out "$T/p.json"
expect 0 "verify-proof" $A verify-proof inclusion "$T/p.json"
# kill -9 of a PostgreSQL writer under load loses no acknowledged entry.
$TBIN/audit_writer write "$WRITER" "$T/k.key" 8 0 > "$T/acks9" 2>/dev/null &
pid=$!; sleep 1.5; kill -9 $pid; wait $pid 2>/dev/null
max=$(awk '/^ack /{if ($2>m) m=$2} END{print m+0}' "$T/acks9"); acks=$(grep -c '^ack ' "$T/acks9")
for i in 1 2 3 4 5 6 7 8 9 10; do  # the server drops the dead session's lock shortly
  $TBIN/audit_writer open "$WRITER" "$T/k.key" 2>/dev/null && break; sleep 0.5
done
expect 0 "verify after kill -9 ($acks acknowledged, max seq $max)" $A verify --log "$WRITER" --key "$T/k.pub"
n=$(sed -n 's/.*ok: \([0-9]*\) entries.*/\1/p' "$T/out")
[[ $acks -gt 50 && $n -gt $max ]] || { echo "FAIL kill -9: $acks acks, max seq $max, log has $n entries"; fail=1; }
# The writer role cannot alter history.
for sql in "UPDATE sigil_audit_entries SET entry = entry WHERE seq = 5" \
           "DELETE FROM sigil_audit_entries WHERE seq = 5" \
           "TRUNCATE sigil_audit_entries" \
           "DELETE FROM sigil_audit_checkpoints" \
           "UPDATE sigil_audit_checkpoints SET note = note" \
           "ALTER TABLE sigil_audit_entries DISABLE TRIGGER ALL" \
           "DROP TRIGGER sigil_audit_entries_no_change ON sigil_audit_entries" \
           "DROP TABLE sigil_audit_entries" \
           "CREATE TABLE sigil_audit_entries2 AS SELECT 1"; do
  expect 3 "writer role refused: $sql" bash -c "psql '$WRITER' -v ON_ERROR_STOP=1 -qAt -c \"$sql\"; r=\$?; [ \$r = 0 ] && exit 0; exit 3"
done
# Even the owner (superuser) hits the triggers for UPDATE, DELETE, TRUNCATE.
for sql in "UPDATE sigil_audit_entries SET entry = entry WHERE seq = 5" \
           "DELETE FROM sigil_audit_entries WHERE seq = 5" "TRUNCATE sigil_audit_entries"; do
  expect 3 "trigger rejects for the owner too: $sql" bash -c "psql '$ADMIN' -v ON_ERROR_STOP=1 -qAt -c \"$sql\"; r=\$?; [ \$r = 0 ] && exit 0; exit 3"
done
grep -q "append-only" "$T/err" || { echo "FAIL trigger message"; fail=1; }
expect 0 "log still verifies" $A verify --log "$WRITER" --key "$T/k.pub"
# What INSERT alone allows is detected: a forged entry is not covered by a
# signed checkpoint; a forged checkpoint does not carry the log's signature.
last=$(psql_as postgres -c "SELECT max(seq) FROM sigil_audit_entries")
ent=$(psql_as postgres -c "SELECT encode(entry,'hex') FROM sigil_audit_entries WHERE seq = $last")
forged=$(python3 -c 'import sys; b=bytearray.fromhex(sys.argv[1]); b[1:9]=(int(sys.argv[2])+1).to_bytes(8,"big"); print(b.hex())' "$ent" "$last")
psql_as sigil_writer -c "INSERT INTO sigil_audit_entries (seq, entry) VALUES ($last + 1, decode('$forged','hex'))" || fail=1
expect 11 "verify: forged row by the writer role" $A verify --log "$WRITER" --key "$T/k.pub"
psql_as sigil_writer -c "INSERT INTO sigil_audit_checkpoints (size, note) VALUES ($last + 2, E'sigil.test/audit\n$((last + 2))\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 sigil.test/audit AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n')" || fail=1
expect 7 "verify: forged checkpoint row" $A verify --log "$WRITER" --key "$T/k.pub"
expect 3 "writer refuses to open a log with a forged checkpoint" $TBIN/audit_writer open "$WRITER" "$T/k.key"
exit $fail
