#!/usr/bin/env bash
# The synchronous money-moving calls and the journal (README "The journal"),
# by the sandbox's counters: a read-only transaction sends nothing; a
# refund cut short by statement_timeout, pg_cancel_backend or
# pg_terminate_backend after Okra carried it out ends as OK010 (or FATAL),
# leaves a journal entry whose outcome is unknown, and a retry is refused
# (OK012) with nothing sent until okra_journal_resolve settles it; a
# refund whose transaction rolls back stays journaled.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}"
db=okra_journal
cleanup() {
	ctl POST reset >/dev/null 2>&1
	psql -qX -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_copy" >/dev/null 2>&1
}
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }
# the SQLSTATE of a statement that failed, or "ok"
state_of() {
	local s
	s=$(psql -AtqX -d $db -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate "$@" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p' | tail -1)
	echo "${s:-ok}"
}
executed() { ctl GET counters | jq -r --arg p "$1" '.refunds[$p].count // 0'; }
requests() { ctl GET counters | jq --arg r "$1" '[.requests["/v2/" + $r] // {} | .[]] | add // 0'; }
new_payment() { ctl POST payments "{\"status\": \"success\", \"amount\": $1}" | jq -r .payment.id; }
ms() { date +%s%3N; }

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_copy" \
	-c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null
p1=$(new_payment 10000)
q "SELECT okra_verify('$p1')" >/dev/null

# -- issue 10 item 1: nothing is sent where the ledger cannot be written
for call in "okra_cancel('$p1')" "okra_refund('$p1', 100)" "okra_verify('$p1')" \
	"okra_request('pay/cancel', '{\"payment_id\": \"$p1\"}')"; do
	s=$(state_of -c "BEGIN READ ONLY" -c "SELECT $call")
	check "BEGIN READ ONLY; SELECT $call: 25006" '[ "$s" = 25006 ]'
	s=$(state_of -c "SET default_transaction_read_only = on" -c "SELECT $call")
	check "default_transaction_read_only; SELECT $call: 25006" '[ "$s" = 25006 ]'
done
msg=$(psql -AtqX -d $db -c "BEGIN READ ONLY" -c "SELECT okra_cancel('$p1')" 2>&1)
check "the message says nothing was sent, and hints at a read-write transaction" \
	'[[ $msg == *"cannot call okra_cancel in a read-only transaction"* && $msg == *"Nothing was sent to Okra."* && $msg == *"read-write transaction"* ]]'
check "the sandbox got no cancel, refund or verify" \
	'[ "$(requests pay/cancel)" = 0 ] && [ "$(requests pay/refund)" = 0 ] && [ "$(requests pay/verify)" = 1 ]'

# -- a refund is journaled: intent before, outcome after
q "SELECT okra_refund('$p1', 100)" >/dev/null
check "a refund leaves one journal entry, succeeded, with its refund id" \
	'[ "$(q "SELECT count(*) || '"' '"' || min(outcome) || '"' '"' || (min(refund_id) IS NOT NULL) FROM okra_journal WHERE payment_id = '"'$p1'"'")" = "1 succeeded true" ]'
psql -qX -d $db -c "BEGIN" -c "SELECT okra_refund('$p1', 200)" -c "ROLLBACK" >/dev/null 2>&1
sleep 0.2
check "a refund whose transaction rolled back is still journaled as succeeded" \
	'[ "$(q "SELECT count(*) FROM okra_journal WHERE payment_id = '"'$p1'"' AND amount = 200 AND outcome = '"'succeeded'"'")" = 1 ]'

# -- issue 10 item 2: statement_timeout after Okra carried out a partial refund
p2=$(new_payment 10000)
q "SELECT okra_verify('$p2')" >/dev/null
ctl POST faults "{\"kind\": \"after_hang\", \"ms\": 5000, \"route\": \"pay/refund\", \"payment_id\": \"$p2\"}" >/dev/null
t0=$(ms)
out=$(psql -AtqX -d $db -v VERBOSITY=verbose -c "SET statement_timeout = '1s'" -c "SELECT okra_refund('$p2', 500)" 2>&1)
t1=$(ms)
check "statement_timeout mid-refund ends the call within a second of the timeout ($((t1 - t0)) ms)" '[ $((t1 - t0)) -lt 2500 ]'
check "and raises OK010, outcome unknown, naming the timeout" \
	'[[ $out == *"ERROR:  OK010"* && $out == *"statement timeout"* ]]'
check "the refund happened once at the sandbox" '[ "$(executed "$p2")" = 1 ]'
sleep 0.2
jid=$(q "SELECT journal_id FROM okra_journal WHERE payment_id = '$p2' AND outcome = 'unknown' AND sqlstate = 'OK010'")
check "the journal has it as unknown (OK010), although the caller's transaction rolled back" '[ -n "$jid" ]'
out=$(psql -AtqX -d $db -v VERBOSITY=verbose -c "SELECT okra_refund('$p2', 500)" 2>&1)
check "retrying the same refund is refused with OK012, naming the journal entry" \
	'[[ $out == *"ERROR:  OK012"* && $out == *"okra_journal_resolve($jid"* && $out == *"Nothing was sent to Okra."* ]]'
s=$(state_of -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT okra_refund('$p2', 100)")
check "so is any refund of that payment, at any isolation level ($s)" '[ "$s" = OK012 ]'
s=$(state_of -c "SELECT okra_refund_after_commit('$p2', 100)")
check "and queueing one after commit ($s)" '[ "$s" = OK012 ]'
check "the sandbox's counters show exactly one refund" '[ "$(executed "$p2")" = 1 ] && [ "$(requests pay/refund)" = 3 ]'
s=$(state_of -c "SELECT okra_journal_resolve($jid, 'maybe')")
check "okra_journal_resolve takes succeeded or failed only" '[ "$s" = 22023 ]'
q "SELECT okra_journal_resolve($jid, 'succeeded', 'seen on the Okra dashboard')" >/dev/null
check "settled as succeeded, the amount counts as refunded" \
	'[ "$(q "SELECT refunded_amount FROM okra_payments WHERE payment_id = '"'$p2'"'")" = 500 ]'
s=$(state_of -c "SELECT okra_journal_resolve($jid, 'failed')")
check "an entry is settled once" '[ "$s" = 55000 ]'
q "SELECT okra_refund('$p2', 500)" >/dev/null
check "then the next refund goes, once" '[ "$(executed "$p2")" = 2 ]'

# -- the same with pg_cancel_backend
p3=$(new_payment 10000)
q "SELECT okra_verify('$p3')" >/dev/null
ctl POST faults "{\"kind\": \"after_hang\", \"ms\": 5000, \"route\": \"pay/refund\", \"payment_id\": \"$p3\"}" >/dev/null
psql -AtqX -d $db -v VERBOSITY=verbose -c "SELECT okra_refund('$p3', 700)" >"$db.cancel.out" 2>&1 &
bg=$!
sleep 0.5
t0=$(ms)
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT okra_refund(''$p3''%'" >/dev/null
wait $bg
t1=$(ms)
out=$(cat "$db.cancel.out"); rm -f "$db.cancel.out"
check "pg_cancel_backend mid-refund ends the call within a second ($((t1 - t0)) ms), with OK010" \
	'[ $((t1 - t0)) -lt 1000 ] && [[ $out == *"ERROR:  OK010"* && $out == *"canceling statement due to user request"* ]]'
sleep 0.2
s=$(state_of -c "SELECT okra_refund('$p3', 700)")
check "and a retry is refused ($s), one refund at the sandbox" '[ "$s" = OK012 ] && [ "$(executed "$p3")" = 1 ]'

# -- issue 10 item 3: FATAL mid-refund
p4=$(new_payment 10000)
q "SELECT okra_verify('$p4')" >/dev/null
ctl POST faults "{\"kind\": \"after_hang\", \"ms\": 5000, \"route\": \"pay/refund\", \"payment_id\": \"$p4\"}" >/dev/null
psql -AtqX -d $db -c "SELECT okra_refund('$p4', 900)" >/dev/null 2>&1 &
bg=$!
sleep 0.5
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT okra_refund(''$p4''%'" >/dev/null
wait $bg
sleep 0.3
check "pg_terminate_backend mid-refund leaves the journal entry, unknown (57P01)" \
	'[ "$(q "SELECT outcome || '"' '"' || sqlstate FROM okra_journal WHERE payment_id = '"'$p4'"'")" = "unknown 57P01" ]'
s=$(state_of -c "SELECT okra_refund('$p4', 900)")
check "and a retry is refused ($s), one refund at the sandbox" '[ "$s" = OK012 ] && [ "$(executed "$p4")" = 1 ]'

# -- a refund Okra refuses is journaled as failed, and does not block
pend=64a00000000000000000000a	# pending: not refundable
q "SELECT okra_verify('$pend')" >/dev/null
q "SELECT okra_refund('$pend', 100)" >/dev/null
sleep 0.2
check "a refund Okra refused is journaled as failed (OK003)" \
	'[ "$(q "SELECT outcome || '"' '"' || sqlstate FROM okra_journal WHERE payment_id = '"'$pend'"'")" = "failed OK003" ]'

# -- REPEATABLE READ: a snapshot older than a refund queued (and sent) by
# another session does not hide it from the guard
p5=$(new_payment 10000)
q "SELECT okra_verify('$p5')" >/dev/null
# the queued refund stays in flight (reserved) while the other session looks
ctl POST faults "{\"kind\": \"hang\", \"ms\": 3000, \"route\": \"pay/refund\", \"payment_id\": \"$p5\"}" >/dev/null
psql -AtqX -d $db -v VERBOSITY=verbose -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
	-c "SELECT count(*) FROM okra_payments" -c "SELECT pg_sleep(1.5)" \
	-c "SELECT okra_refund('$p5', 6000)" >"$db.rr.out" 2>&1 &
bg=$!
sleep 0.5
r=$(q "SELECT okra_refund_after_commit('$p5', 6000)")
wait $bg
out=$(cat "$db.rr.out"); rm -f "$db.rr.out"
check "under REPEATABLE READ the guard sees a refund queued after the snapshot (OK002)" \
	'[[ $out == *"ERROR:  OK002"*"6000 of 10000 kobo refunded or queued"* ]]'
check "the other session's refund was not sent" '[ "$(executed "$p5")" = 0 ]'

# -- a long message of multibyte characters is cut at a character boundary:
# the journal dumps and restores
long=$(printf 'Ọ̀kọ́ %.0s' $(seq 1 80))
ctl POST faults "$(jq -cn --arg m "$long" '{kind: "status", status: 400, route: "pay/refund",
	body: ({status: "error", message: $m} | tostring)}')" >/dev/null
q "SELECT okra_refund('$p1', 1)" >/dev/null
sleep 0.2
check "the refused refund's long message is journaled, cut to 255 bytes or fewer" \
	'[ "$(q "SELECT octet_length(message) BETWEEN 200 AND 255 FROM okra_journal WHERE sqlstate = '"'OK009'"'")" = t ]'
psql -qX -c "CREATE DATABASE ${db}_copy TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
out=$(pg_dump -d $db | psql -qX -v ON_ERROR_STOP=1 -d ${db}_copy 2>&1)
check "pg_dump | psql restores okra_journal whole ($(echo "$out" | grep -c ERROR) errors)" \
	'[ "$(psql -AtqX -d ${db}_copy -c "SELECT count(*) FROM okra_journal")" = "$(q "SELECT count(*) FROM okra_journal")" ] && [[ $out != *"invalid byte sequence"* ]]'

# -- the health function counts what needs a person
check "okra_outbox_health shows two journal entries to settle" \
	'[ "$(q "SELECT journal_unsettled FROM okra_outbox_health()")" = 2 ]'

echo "$fails failed"
[ "$fails" -eq 0 ]
