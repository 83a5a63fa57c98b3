#!/usr/bin/env bash
# Initiates and payouts after commit (README "Collecting payments"), in a cluster of its
# own without okra preloaded, sent by CALL okra_outbox_run(), by the
# sandbox's counters: a rollback sends nothing, a commit sends exactly once
# and records the payment; a reference queues one request, whichever call
# comes again; an unknown outcome is never resent and holds the reference
# until a person settles it; a lease that ran out while Okra answered
# neither loses the payment nor sends it twice.
# (okra_initiate_payment meeting these requests: test/pgtap/initiate-after-commit.sql)
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}" "${OKRA_TEST_DIR:?}"
db=okra_outbox_initiate
work=$(mktemp -d /tmp/okra-outbox-initiate.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
okra_preloaded_cluster "$work" "$OKRA_SANDBOX_PORT" "shared_preload_libraries = ''" ||
	{ echo "FAIL: the server did not start"; exit 1; }
export PGHOST=$work PGPORT=$OKRA_CLUSTER_PORT PGUSER=postgres PGDATABASE=postgres
cleanup() {
	ctl POST reset >/dev/null 2>&1
	okra_stop_cluster "$work"
	rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }
run() { psql -qX -d $db -c "CALL okra_outbox_run()" 2>&1; }
initiates() { ctl GET counters | jq '[.requests["/v2/pay/initiate"] // {} | .[]] | add // 0'; }
row() { q "SELECT concat_ws(' ', state, coalesce(sqlstate, '-'), next_attempt_at IS NULL, created_id IS NOT NULL) FROM okra_outbox_requests WHERE request_id = $1"; }
acct=64d0000000000000000000a1

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null
export PGOPTIONS="-c client_min_messages=error"

# -- 1. checked as okra_initiate_payment checks, before anything is queued
out=$(q "SELECT okra_initiate_payment_after_commit('$acct', 0)")
check "amount 0 is refused (22023) ($out)" '[[ $out == *"invalid amount: 0"* ]]'
out=$(q "SELECT okra_initiate_payment_after_commit('$acct', 100, reference => '')")
check "an empty reference is refused ($out)" '[[ $out == *"invalid reference"* ]]'
out=$(psql -AtqX -d $db -c "BEGIN READ ONLY" -c "SELECT okra_initiate_payment_after_commit('$acct', 100)" 2>&1)
check "in a read-only transaction: 25006" '[[ $out == *"cannot call okra_initiate_payment_after_commit in a read-only transaction"* ]]'
check "nothing was queued" '[ "$(q "SELECT count(*) FROM okra_outbox_requests")" = 0 ]'

# -- 2. a rollback sends nothing; a commit sends exactly once
psql -qX -d $db -c "BEGIN" -c "SELECT okra_initiate_payment_after_commit('$acct', 700, reference => 'order-1')" -c "ROLLBACK" >/dev/null
run >/dev/null
check "queued in a transaction that rolled back: never sent" '[ "$(initiates)" = 0 ]'
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 700, reference => 'order-1')")
check "committed, it waits for the sender" '[ "$(initiates)" = 0 ] && [ "$(row "$r")" = "queued - f f" ]'
check "the same reference again returns the same request, and queues nothing" \
	'[ "$(q "SELECT okra_initiate_payment_after_commit('"'$acct'"', 999, reference => '"'order-1'"')")" = "$r" ] && [ "$(q "SELECT count(*) FROM okra_outbox_requests")" = 1 ]'
run >/dev/null
check "okra_outbox_run sends it once" '[ "$(initiates)" = 1 ] && [ "$(row "$r")" = "succeeded - t t" ]'
pay=$(q "SELECT created_id FROM okra_outbox_requests WHERE request_id = $r")
check "the payment is in the ledger, due a check, with its initiation and reference" \
	'[ "$(q "SELECT p.status || '"' '"' || p.amount || '"' '"' || (p.next_check_at IS NOT NULL) || '"' '"' || i.reference FROM okra_payments p JOIN okra_initiations i USING (payment_id) WHERE payment_id = '"'$pay'"'")" = "initialize 700 true order-1" ]'
run >/dev/null
check "another run sends nothing more" '[ "$(initiates)" = 1 ]'
check "after it was sent, the reference still returns the request, and nothing is sent" \
	'[ "$(q "SELECT okra_initiate_payment_after_commit('"'$acct'"', 700, reference => '"'order-1'"')")" = "$r" ] && [ "$(initiates)" = 1 ]'

# -- 3. an answer that was lost: unknown, never sent again, the reference blocked
ctl POST faults '{"kind": "after_drop", "route": "pay/initiate"}' >/dev/null
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 800, reference => 'order-3')")
run >/dev/null
before=$(initiates)
check "a lost answer (OK010) leaves it unknown and not due" '[ "$(row "$r")" = "unknown OK010 t f" ]'
run >/dev/null
check "it is never sent again" '[ "$(initiates)" = "$before" ]'
q "UPDATE okra_outbox_requests SET next_attempt_at = now() WHERE request_id = $r" >/dev/null
run >/dev/null
check "not even when someone makes it due by hand" '[ "$(initiates)" = "$before" ] && [ "$(row "$r")" = "unknown OK010 f f" ]'
q "UPDATE okra_outbox_requests SET next_attempt_at = NULL WHERE request_id = $r" >/dev/null
check "okra_initiate_payment_after_commit with its reference returns the same request" \
	'[ "$(q "SELECT okra_initiate_payment_after_commit('"'$acct'"', 800, reference => '"'order-3'"')")" = "$r" ]'
q "SELECT okra_outbox_resolve($r, 'succeeded', 'found it in the dashboard')" >/dev/null
check "settled as succeeded, the reference still returns it" \
	'[ "$(q "SELECT okra_initiate_payment_after_commit('"'$acct'"', 800, reference => '"'order-3'"')")" = "$r" ]'
ctl POST faults '{"kind": "after_drop", "route": "pay/initiate"}' >/dev/null
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 900, reference => 'order-4')")
run >/dev/null
q "SELECT okra_outbox_resolve($r, 'failed')" >/dev/null
r2=$(q "SELECT okra_initiate_payment_after_commit('$acct', 900, reference => 'order-4')")
check "settled as failed, the reference queues a new request" '[ -n "$r2" ] && [ "$r2" != "$r" ] && [ "$(row "$r2")" = "queued - f f" ]'
run >/dev/null
check "which is sent once" '[ "$(row "$r2")" = "succeeded - t t" ]'

# -- 4. a connection failure surely sent nothing: retried; Okra's refusal is final
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 400)")
psql -qX -d $db -c "SET okra.base_url = 'http://127.0.0.1:1/v2'" -c "CALL okra_outbox_run()" >/dev/null 2>&1
check "a connection failure (08001) queues it again, with a backoff" \
	'[ "$(q "SELECT state || '"' '"' || sqlstate || '"' '"' || (next_attempt_at > now()) FROM okra_outbox_requests WHERE request_id = $r")" = "queued 08001 true" ]'
q "UPDATE okra_outbox_requests SET next_attempt_at = now() WHERE request_id = $r" >/dev/null
before=$(initiates)
run >/dev/null
check "and then sent once" '[ "$(row "$r")" = "succeeded - t t" ] && [ "$(initiates)" = $((before + 1)) ]'
ctl POST faults '{"kind": "status", "status": 400, "route": "pay/initiate", "body": "{\"status\":\"error\",\"message\":\"Account is not eligible.\"}"}' >/dev/null
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 400, reference => 'order-5')")
run >/dev/null
check "Okra's refusal (OK009) fails it, never sent again" '[ "$(row "$r")" = "failed OK009 t f" ]'
r2=$(q "SELECT okra_initiate_payment_after_commit('$acct', 400, reference => 'order-5')")
check "and frees its reference" '[ -n "$r2" ] && [ "$r2" != "$r" ]'
q "DELETE FROM okra_outbox_requests WHERE request_id = $r2" >/dev/null

# -- 5. a lease that ran out: the sender that died is not resent; a late
# success is still recorded
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 500, reference => 'order-6')")
q "SELECT okra_outbox_claim(8, '1 millisecond')" >/dev/null
sleep 0.1
before=$(initiates)
run >/dev/null
check "a request whose sender's lease ran out becomes unknown, not sent again" \
	'[ "$(row "$r")" = "unknown - t f" ] && [ "$(initiates)" = "$before" ]'
late=$(q "SELECT jsonb_build_object('status', 'success', 'message', 'Payment succesfully initiated!', 'data', jsonb_build_object('payment', jsonb_build_object('id', '64a0000000000000000000e6', 'status', 'initialize', 'amount', 500, 'currency', 'NGN')))")
out=$(q "SELECT okra_outbox_finish($r, 1, 'send', NULL, NULL, 200, now(), now(), body::text, NULL, NULL, '$late', 10, false) FROM okra_outbox_requests WHERE request_id = $r")
check "its late answer still settles it ($out)" '[ "$out" = succeeded ] && [ "$(row "$r")" = "succeeded - t t" ]'
check "and records the payment and the initiation" \
	'[ "$(q "SELECT i.reference || '"' '"' || p.amount FROM okra_initiations i JOIN okra_payments p USING (payment_id) WHERE payment_id = '"'64a0000000000000000000e6'"'")" = "order-6 500" ]'
# a person settled it as failed, its reference was used again, then the
# late answer comes: both payments are recorded, the second charge flagged
r=$(q "SELECT okra_initiate_payment_after_commit('$acct', 500, reference => 'order-7')")
q "SELECT okra_outbox_claim(8, '1 millisecond')" >/dev/null
sleep 0.1
run >/dev/null
q "SELECT okra_outbox_resolve($r, 'failed')" >/dev/null
r2=$(q "SELECT okra_initiate_payment_after_commit('$acct', 500, reference => 'order-7')")
run >/dev/null
late=${late//64a0000000000000000000e6/64a0000000000000000000e7}
out=$(psql -AtqX -d $db -c "SET client_min_messages = warning" -c "SELECT okra_outbox_finish($r, 1, 'send', NULL, NULL, 200, now(), now(), body::text, NULL, NULL, '$late', 10, false) FROM okra_outbox_requests WHERE request_id = $r" 2>&1)
check "a late answer after its reference was used again is recorded, with a warning ($out)" \
	'[[ $out == *"WARNING:  okra outbox request $r: reference \"order-7\" was used again before this answer came"* && $out == *succeeded ]]'
check "both payments are in the ledger, the late one without the reference" \
	'[ "$(q "SELECT string_agg(coalesce(reference, '"'-'"'), '"' '"' ORDER BY initiated_at) FROM okra_initiations WHERE amount = 500 AND payment_id <> '"'64a0000000000000000000e6'"'")" = "order-7 -" ] && [ "$(q "SELECT count(*) FROM okra_payments WHERE payment_id = '"'64a0000000000000000000e7'"'")" = 1 ]'
check "and the late request says to look for the second charge" \
	'[[ "$(q "SELECT last_error FROM okra_outbox_requests WHERE request_id = $r")" == *"check with Okra for a second payment"* ]]'

# -- 6. payouts take the same path
payouts() { ctl GET counters | jq '[.requests["/v2/pay/payout"] // {} | .[]] | add // 0'; }
psql -qX -d $db -c "BEGIN" -c "SELECT okra_payout_after_commit(100, '64e000000000000000000001', reference => 'payout-1')" -c "ROLLBACK" >/dev/null
run >/dev/null
check "a payout queued in a transaction that rolled back: never sent" '[ "$(payouts)" = 0 ]'
out=$(q "SELECT okra_payout_after_commit(100, '64e000000000000000000001', nuban => '1329137339')")
check "checked as okra_payout checks (22023)" '[[ $out == *"not both"* ]] && [ "$(q "SELECT count(*) FROM okra_outbox_requests WHERE kind = '"'payout'"'")" = 0 ]'
r=$(q "SELECT okra_payout_after_commit(100, '64e000000000000000000001', reference => 'payout-1')")
check "the same reference again returns the same request" \
	'[ "$(q "SELECT okra_payout_after_commit(100, '"'64e000000000000000000001'"', reference => '"'payout-1'"')")" = "$r" ]'
run >/dev/null
check "okra_outbox_run pays it out once" '[ "$(payouts)" = 1 ] && [ "$(row "$r")" = "succeeded - t t" ]'
check "the payout is in the ledger with its reference, fee and 'issued' change" \
	'[ "$(q "SELECT p.reference || '"' '"' || p.fee || '"' '"' || c.outcome FROM okra_payouts p JOIN okra_status_changes c ON c.object_id = p.payout_id JOIN okra_outbox_requests o ON o.created_id = p.payout_id WHERE o.request_id = $r")" = "payout-1 10.75 issued" ]'
ctl POST faults '{"kind": "after_drop", "route": "pay/payout"}' >/dev/null
r=$(q "SELECT okra_payout_after_commit(100, '64e000000000000000000001', reference => 'payout-2')")
run >/dev/null; run >/dev/null
check "a payout whose answer was lost is unknown and never sent again" '[ "$(row "$r")" = "unknown OK010 t f" ] && [ "$(payouts)" = 2 ]'

[ $fails -eq 0 ]
