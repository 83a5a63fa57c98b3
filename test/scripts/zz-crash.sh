#!/usr/bin/env bash
# A backend killed (SIGKILL) in the middle of a refund: the server restarts,
# the refund was executed exactly once (a crash is no rollback and no
# retry), its journal intent survived with no outcome, so the next refund
# is refused (OK012) until it is settled, and okra works again.  Runs last (zz-): the
# restart resets every connection.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
fail() { echo "FAIL: $*"; exit 1; }

db=okra_crash
psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || fail "createdb"
psql -qX -v ON_ERROR_STOP=1 -d $db -c "CREATE EXTENSION okra" >/dev/null || fail "create extension"
ctl POST reset >/dev/null
ctl POST faults '{"kind": "after_hang", "ms": 3000, "route": "pay/refund"}' >/dev/null

psql -qX -d $db -c "SELECT okra_refund('64a000000000000000000004', 4321)" >/dev/null 2>&1 &
client=$!
pid=""
for i in $(seq 1 100); do
	pid=$(psql -AtqX -d $db -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT okra_refund%' AND state = 'active'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || fail "the refunding backend never showed up"
sleep 0.3
kill -9 "$pid" || fail "kill -9 $pid"
wait $client 2>/dev/null
echo "killed backend $pid"

for i in $(seq 1 100); do
	psql -AtqX -d $db -c "SELECT 1" >/dev/null 2>&1 && break
	sleep 0.1
done
psql -AtqX -d $db -c "SELECT 1" >/dev/null 2>&1 || fail "the server did not come back"
echo "server back after crash recovery"

count=$(ctl GET counters | jq -c '.refunds["64a000000000000000000004"]')
[ "$count" = '{"count":1,"total":4321,"amounts":[4321]}' ] || fail "the sandbox executed $count"
out=$(psql -AtqX -d $db -c "SELECT status FROM okra_verify('64a000000000000000000004')" 2>&1)
[ "$out" = success ] || fail "okra_verify after the restart said: $out"
# the crash left the refund's journal intent with no outcome: refused
# until a person settles it
out=$(psql -AtqX -d $db -v VERBOSITY=sqlstate -c "SELECT amount FROM okra_refund('64a000000000000000000004')" 2>&1)
[ "$out" = "ERROR:  OK012" ] || fail "a refund after the crash should be refused (OK012) until settled, said: $out"
jid=$(psql -AtqX -d $db -c "SELECT journal_id FROM okra_journal WHERE payment_id = '64a000000000000000000004' AND outcome IS NULL")
[ -n "$jid" ] || fail "no journal intent without outcome for the killed refund"
psql -qX -d $db -c "SELECT okra_journal_resolve($jid, 'succeeded')" >/dev/null || fail "resolve"
out=$(psql -AtqX -d $db -c "SELECT amount FROM okra_refund('64a000000000000000000004')" 2>&1)
[ "$out" = $((100000 - 4321)) ] || fail "the remaining refund after settling said: $out"
psql -qX -c "DROP DATABASE $db" >/dev/null 2>&1
echo "ok: executed once, and okra works after the restart"
