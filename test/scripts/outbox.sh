#!/usr/bin/env bash
# Refunds after commit without the worker (README "Refunds after commit"),
# in a cluster of its own without okra preloaded:
# CALL okra_outbox_run() sends what committed transactions queued, by the
# sandbox's counters: a rollback sends nothing, a commit sends exactly once;
# Okra's refusal is final; a connection failure is retried; an unknown
# outcome is checked with pay/verify and then sent again only when that is
# safe (a full refund, a cancel still pending, or a partial refund with
# okra.outbox_trust_idempotency_key), else left for okra_outbox_resolve;
# eight sessions queueing refunds of the same payments never exceed them.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}" "${OKRA_TEST_DIR:?}"
db=okra_outbox
# a cluster of its own without okra preloaded: no worker sends the outbox
work=$(mktemp -d /tmp/okra-outbox.XXXXXX)
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
executed() { ctl GET counters | jq -r --arg p "$1" '.refunds[$p] // {count: 0, total: 0} | "\(.count) \(.total)"'; }
requests() { ctl GET counters | jq --arg r "$1" '[.requests["/v2/" + $r] // {} | .[]] | add // 0'; }
state() { q "SELECT state FROM okra_outbox_requests WHERE request_id = $1"; }
due_now() { q "UPDATE okra_outbox_requests SET next_attempt_at = now() WHERE state IN ('queued', 'unknown') AND next_attempt_at IS NOT NULL" >/dev/null; }
new_payment() { ctl POST payments "{\"status\": \"success\", \"amount\": $1}" | jq -r .payment.id; }

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null
p1=$(new_payment 10000)
q "SELECT okra_verify('$p1')" >/dev/null

# -- 0. without preload, queueing says that nothing will send it by itself
out=$(psql -qX -d $db -c "BEGIN" -c "SELECT okra_refund_after_commit('$p1', 1)" -c "ROLLBACK" 2>&1)
check "queueing warns that no okra worker sends this database's outbox" \
	'[[ $out == *"WARNING:  no okra worker sends the outbox of database \"$db\""* && $out == *"CALL okra_outbox_run()"* ]]'
export PGOPTIONS="-c client_min_messages=error"

# -- 1. a rollback sends nothing; a commit sends exactly once
psql -qX -d $db -c "BEGIN" -c "SELECT okra_refund_after_commit('$p1', 1000)" -c "ROLLBACK" >/dev/null
run >/dev/null
check "a refund queued in a transaction that rolled back is never sent" '[ "$(executed "$p1")" = "0 0" ] && [ "$(requests pay/refund)" = 0 ]'
r=$(q "SELECT okra_refund_after_commit('$p1', 1000, 'after commit')")
check "committed, it waits for the sender: nothing sent yet" '[ "$(executed "$p1")" = "0 0" ] && [ "$(state "$r")" = queued ]'
run >/dev/null
check "okra_outbox_run sends it once ($(executed "$p1"))" '[ "$(executed "$p1")" = "1 1000" ] && [ "$(state "$r")" = succeeded ]'
check "okra_outbox_wait returns its final state" '[ "$(q "SELECT okra_outbox_wait($r, '"'1 s'"')")" = succeeded ]'
check "the ledger has the refund, requested by the role that queued it" \
	'[ "$(q "SELECT r.amount || '"' '"' || r.requested_by FROM okra_refunds r JOIN okra_outbox_requests o USING (refund_id) WHERE o.request_id = $r")" = "1000 $(q "SELECT current_user")" ]'
run >/dev/null
check "another run sends nothing more" '[ "$(requests pay/refund)" = 1 ]'
out=$(psql -qX -d $db -c "BEGIN" -c "CALL okra_outbox_run()" 2>&1)
check "okra_outbox_run refuses to run inside a transaction block" '[[ $out == *"cannot run inside a transaction block"* ]]'

# -- 2. Okra's refusal is final
pend=64a00000000000000000000a	# pending: not refundable
q "SELECT okra_verify('$pend')" >/dev/null
r=$(q "SELECT okra_refund_after_commit('$pend', 100)")
run >/dev/null; due_now; run >/dev/null
check "a refund Okra refuses (OK003) fails and is never sent again" \
	'[ "$(q "SELECT state || '"' '"' || sqlstate || '"' '"' || attempts FROM okra_outbox_requests WHERE request_id = $r")" = "failed OK003 1" ] && [ "$(requests pay/refund)" = 2 ]'

# -- 3. a connection failure surely sent nothing: retried
r=$(q "SELECT okra_refund_after_commit('$p1', 500)")
psql -qX -d $db -c "SET okra.base_url = 'http://127.0.0.1:1/v2'" -c "CALL okra_outbox_run()" >/dev/null 2>&1
check "a connection failure (08001) queues it again, with a backoff" \
	'[ "$(q "SELECT state || '"' '"' || sqlstate || '"' '"' || (next_attempt_at > now()) FROM okra_outbox_requests WHERE request_id = $r")" = "queued 08001 true" ]'
due_now; run >/dev/null
check "and the next run sends it, once ($(executed "$p1"))" '[ "$(state "$r")" = succeeded ] && [ "$(executed "$p1")" = "2 1500" ]'

# -- 4. the answer lost: a partial refund cannot be told apart
ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
r=$(q "SELECT okra_refund_after_commit('$p1', 700)")
run >/dev/null
check "a refund whose answer was lost is unknown (it did happen: $(executed "$p1"))" \
	'[ "$(state "$r")" = unknown ] && [ "$(executed "$p1")" = "3 2200" ]'
sent=$(requests pay/refund)
due_now; run >/dev/null
check "checking it asks pay/verify and does not send it again" \
	'[ "$(requests pay/refund)" = "$sent" ] && [ "$(q "SELECT state || '"' '"' || (next_attempt_at IS NULL) FROM okra_outbox_requests WHERE request_id = $r")" = "unknown true" ]'
check "okra_outbox shows it needs a person" '[ "$(q "SELECT need_a_person FROM okra_outbox WHERE state = '"'unknown'"'")" = 1 ]'
q "SELECT okra_outbox_resolve($r, 'succeeded', 'seen in the Okra dashboard')" >/dev/null
check "okra_outbox_resolve settles it, and the guard counts it as refunded" \
	'[ "$(state "$r")" = succeeded ] && [ "$(q "SELECT refunded_amount FROM okra_payments WHERE payment_id = '"'$p1'"'")" = 2200 ]'

# -- 4b. libcurl never resends it on another pooled connection: one session
#     sends four refunds at once (four connections kept), then one whose
#     connection the sandbox drops after doing it
p3=$(new_payment 10000)
q "SELECT okra_verify('$p3')" >/dev/null
replays=$(ctl GET counters | jq .idempotent_replays)
out=$(psql -AtqX -d $db 2>&1 <<SQL
SELECT okra_refund_after_commit('$p3', 100) FROM generate_series(1, 4);
CALL okra_outbox_run();
\! ctl POST faults '{"kind": "after_drop", "route": "pay/refund", "payment_id": "$p3"}' >/dev/null
SELECT okra_refund_after_commit('$p3', 200);
CALL okra_outbox_run();
SELECT state FROM okra_outbox_requests WHERE payment_id = '$p3' AND amount = 200;
SQL
)
check "with pooled connections at hand, a dropped refund is unknown, executed once and never resent ($(executed "$p3"), $(tail -1 <<<"$out"))" \
	'[ "$(tail -1 <<<"$out")" = unknown ] && [ "$(executed "$p3")" = "5 600" ] && [ "$(ctl GET counters | jq .idempotent_replays)" = "$replays" ]'
q "SELECT okra_outbox_resolve(request_id, 'succeeded') FROM okra_outbox_requests WHERE payment_id = '$p3' AND state = 'unknown'" >/dev/null

# -- 5. the same with okra.outbox_trust_idempotency_key: sent again under its key
psql -qX -c "LOAD 'okra'" -c "ALTER SYSTEM SET okra.outbox_trust_idempotency_key = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
r=$(q "SELECT okra_refund_after_commit('$p1', 300)")
run >/dev/null; due_now; run >/dev/null; run >/dev/null
replays=$(ctl GET counters | jq .idempotent_replays)
check "trusting the key, the check sends it again and the sandbox replays the first answer (replays: $replays)" \
	'[ "$(state "$r")" = succeeded ] && [ "$replays" = 1 ] && [ "$(executed "$p1")" = "4 2500" ]'
psql -qX -c "LOAD 'okra'" -c "ALTER SYSTEM RESET okra.outbox_trust_idempotency_key" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

# -- 6. a full refund whose answer was lost: a repeat is safe anyway
p2=$(new_payment 4000)
q "SELECT okra_verify('$p2')" >/dev/null
ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
r=$(q "SELECT okra_refund_after_commit('$p2')")
run >/dev/null; due_now; run >/dev/null; run >/dev/null
check "an unknown full refund is sent again and settled, executed once ($(executed "$p2"))" \
	'[ "$(state "$r")" = succeeded ] && [ "$(executed "$p2")" = "1 4000" ] && [ "$(q "SELECT refund_id IS NOT NULL FROM okra_outbox_requests WHERE request_id = $r")" = t ]'

# -- 7. cancels, and a cancel whose answer was lost
r=$(q "SELECT okra_cancel_after_commit('64a00000000000000000000c')")
run >/dev/null
check "a cancel after commit" '[ "$(state "$r")" = succeeded ] && [ "$(q "SELECT status FROM okra_payments WHERE payment_id = '"'64a00000000000000000000c'"'")" = cancelled ]'
ctl POST faults '{"kind": "after_drop", "route": "pay/cancel"}' >/dev/null
r=$(q "SELECT okra_cancel_after_commit('64a00000000000000000000d')")
run >/dev/null; due_now; run >/dev/null
check "an unknown cancel is settled by pay/verify showing it cancelled, not sent again" \
	'[ "$(state "$r")" = succeeded ] && [ "$(requests pay/cancel)" = 2 ]'

# -- 8. eight sessions queueing refunds of the same payments at once
pa=$(new_payment 10000); pb=$(new_payment 10000)
q "SELECT okra_verify('$pa'), okra_verify('$pb')" >/dev/null
pids=()
for i in $(seq 1 8); do
	psql -AtqX -d $db >/dev/null 2>&1 <<SQL &
DO \$\$ BEGIN
	FOR k IN 1..3 LOOP
		BEGIN PERFORM okra_refund_after_commit('$pa', 1500); EXCEPTION WHEN SQLSTATE 'OK002' OR SQLSTATE 'OK001' THEN NULL; END;
		BEGIN PERFORM okra_refund_after_commit('$pb', 2500); EXCEPTION WHEN SQLSTATE 'OK002' OR SQLSTATE 'OK001' THEN NULL; END;
	END LOOP;
END \$\$;
SQL
	pids+=($!)
done
wait "${pids[@]}"
check "queued: 6 of 1500 and 4 of 2500, no more than each payment" \
	'[ "$(q "SELECT string_agg(n || '"'x'"' || a, '"' '"' ORDER BY a) FROM (SELECT amount AS a, count(*) AS n FROM okra_outbox_requests WHERE payment_id IN ('"'$pa'"', '"'$pb'"') GROUP BY amount) s")" = "6x1500 4x2500" ]'
run >/dev/null
check "sent, Okra executed exactly that ($(executed "$pa"), $(executed "$pb"))" \
	'[ "$(executed "$pa")" = "6 9000" ] && [ "$(executed "$pb")" = "4 10000" ] && [ "$(q "SELECT count(*) FROM okra_outbox_requests WHERE state <> '"'succeeded'"' AND payment_id IN ('"'$pa'"', '"'$pb'"')")" = 0 ]'
[ $fails -eq 0 ]
