#!/usr/bin/env bash
# CALL okra_verify_pending (README "Scheduled verification"), which commits
# and so cannot run inside pgTAP's transaction: due and not-due payments,
# per-payment errors and faults that do not stop the run, backoff, stale
# marking, two overlapping runs checking each payment once (by the
# sandbox's counters), a cancel mid-run keeping the chunks it committed
# and taking effect within a second, and the pause after a 429.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_KEY:?}" "${OKRA_SANDBOX_PORT:?}"
db=okra_pending
trap 'ctl POST reset >/dev/null 2>&1; psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }
# new_pending N: N pending payments made in the sandbox, tracked by the ledger
new_pending() {
	local i id
	for i in $(seq 1 "$1"); do
		id=$(ctl POST payments '{"status": "pending", "amount": 5000}' | jq -r .payment.id)
		q "SELECT okra_track('$id')" >/dev/null
	done
}
# verifies: how many pay/verify requests the sandbox has answered
verifies() { ctl GET counters | jq '[.requests["/v2/pay/verify"] // {} | .[]] | add // 0'; }
reset_ledger() { q "TRUNCATE okra_payments, okra_api_calls, okra_status_changes, okra_verification_runs"; }

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null || exit 1

# -- due and not due; an unknown payment (OK006), a proxy's 502 page (OK010)
#    and an answer that is not JSON (OK011) fail on their own, and the run
#    goes on
q "SELECT okra_track(id) FROM unnest(array['64a00000000000000000000a', '64a00000000000000000000b',
	'64a00000000000000000000c', '64a0000000000000000000ff', '64a000000000000000000001',
	'64a000000000000000000012', '64a00000000000000000000d']) AS id" >/dev/null
q "UPDATE okra_payments SET next_check_at = now() + interval '1 hour' WHERE payment_id = '64a00000000000000000000d'"
ctl POST faults '{"kind": "html", "payment_id": "64a00000000000000000000b"}' >/dev/null
ctl POST faults '{"kind": "status", "status": 200, "body": "<p>maintenance</p>", "payment_id": "64a00000000000000000000c"}' >/dev/null
out=$(psql -AtqX -d $db -c "CALL okra_verify_pending()" 2>&1)
check "the run reports its summary ($out)" \
	'[[ $out == *"6 checked (3 changed, 0 unchanged, 3 failed), 0 rate limited, 0 stale"* ]]'
check "the payment not yet due was not checked" \
	'[ "$(q "SELECT check_count FROM okra_payments WHERE payment_id = '"'64a00000000000000000000d'"'")" = 0 ]'
check "each due payment was sent once" '[ "$(verifies)" = 6 ]'
errors=$(q "SELECT string_agg(payment_id || '=' || split_part(last_error, ':', 1) || '/' || failed_checks, ' ' ORDER BY payment_id)
	FROM okra_payments WHERE last_error IS NOT NULL")
check "each failure is the payment's own: $errors" \
	'[ "$errors" = "64a00000000000000000000b=OK010/1 64a00000000000000000000c=OK011/1 64a0000000000000000000ff=OK006/1" ]'
check "a failed check is due again in 1 minute" \
	'[ "$(q "SELECT bool_and(next_check_at - last_call BETWEEN interval '"'59 s'"' AND interval '"'61 s'"')
		FROM (SELECT p.next_check_at, max(c.called_at + c.duration_ms * interval '"'1 ms'"') AS last_call
			FROM okra_payments p JOIN okra_api_calls c USING (payment_id)
			WHERE p.last_error IS NOT NULL GROUP BY 1, p.payment_id) AS f")" = t ]'
check "failed calls are in okra_api_calls with their SQLSTATE" \
	'[ "$(q "SELECT string_agg(sqlstate, '"','"' ORDER BY sqlstate) FROM okra_api_calls WHERE sqlstate IS NOT NULL")" = "OK006,OK010,OK011" ]'
check "the pending payments that answered are due in 1 minute, the final one never" \
	'[ "$(q "SELECT string_agg(payment_id || '"'='"' || coalesce((next_check_at - last_checked_at)::text, '"'never'"'), '"' '"' ORDER BY payment_id)
		FROM okra_payments WHERE last_error IS NULL AND check_count > 0")" = "64a000000000000000000001=never 64a00000000000000000000a=00:01:00 64a000000000000000000012=00:01:00" ]'
q "UPDATE okra_payments SET next_check_at = now() WHERE payment_id = '64a00000000000000000000b'" >/dev/null
ctl POST faults '{"kind": "html", "payment_id": "64a00000000000000000000b"}' >/dev/null
psql -qX -d $db -c "CALL okra_verify_pending()" >/dev/null 2>&1
check "a second failure in a row waits 2 minutes" \
	'[ "$(q "SELECT failed_checks || '"' '"' || (next_check_at - now() BETWEEN interval '"'110 s'"' AND interval '"'121 s'"') FROM okra_payments WHERE payment_id = '"'64a00000000000000000000b'"'")" = "2 true" ]'

# -- stale: pending longer than okra.stale_after is marked, not sent
ctl POST reset >/dev/null
reset_ledger
q "SELECT okra_track('64a00000000000000000000a'), okra_track('64a00000000000000000000b')" >/dev/null
q "UPDATE okra_payments SET first_seen_at = now() - interval '3 days' WHERE payment_id = '64a00000000000000000000a'"
out=$(psql -AtqX -d $db -c "CALL okra_verify_pending()" 2>&1)
check "the old pending payment is marked stale ($out)" '[[ $out == *"1 checked"*"1 stale"* ]]'
check "and shows as stale in okra_pending, with no next check" \
	'[ "$(q "SELECT stale_at IS NOT NULL AND next_check_at IS NULL FROM okra_pending WHERE payment_id = '"'64a00000000000000000000a'"'")" = t ]'
check "it was never sent" '[ "$(verifies)" = 1 ]'
out=$(psql -AtqX -d $db -c "SET okra.stale_after = 0" -c "UPDATE okra_payments SET first_seen_at = now() - interval '30 days', next_check_at = now() WHERE payment_id = '64a00000000000000000000b'" -c "CALL okra_verify_pending()" 2>&1)
check "okra.stale_after = 0 never marks one stale" '[[ $out == *"1 checked"*"0 stale"* ]]'

# -- two overlapping runs: every payment checked exactly once
ctl POST reset >/dev/null
reset_ledger
new_pending 80
ctl POST config '{"latency_ms": 20}' >/dev/null
before=$(verifies)
psql -AtqX -d $db -c "CALL okra_verify_pending(500, 4)" >/dev/null 2>&1 &
a=$!
psql -AtqX -d $db -c "CALL okra_verify_pending(500, 4)" >/dev/null 2>&1 &
b=$!
wait $a $b
sent=$(( $(verifies) - before ))
check "two overlapping runs sent 80 verifies for 80 payments ($sent)" '[ "$sent" = 80 ]'
check "each payment was checked once" \
	'[ "$(q "SELECT count(*) FILTER (WHERE check_count = 1) || '"' '"' || max(check_count) FROM okra_payments")" = "80 1" ]'
check "both runs did some of the work" \
	'[ "$(q "SELECT count(*) FILTER (WHERE checked > 0) || '"' '"' || sum(checked) FROM okra_verification_runs")" = "2 80" ]'

# -- a cancel mid-run: within a second, and the committed chunks stay
ctl POST config '{"latency_ms": 100}' >/dev/null
q "UPDATE okra_payments SET next_check_at = now()" >/dev/null
q "TRUNCATE okra_verification_runs" >/dev/null
psql -AtqX -d $db -c "CALL okra_verify_pending(500, 2)" >"$OKRA_TEST_DIR/cancel.out" 2>&1 &
run=$!
sleep 1.2
t0=$(date +%s%N)
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CALL okra_verify_pending%' AND pid <> pg_backend_pid()" >/dev/null
wait $run
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "the run was cancelled ($(cat "$OKRA_TEST_DIR/cancel.out"))" 'grep -q "canceling statement due to user request" "$OKRA_TEST_DIR/cancel.out"'
check "within a second of the cancel (${ms} ms)" '[ "$ms" -lt 1000 ]'
read -r run_checked ledger_checked < <(q "SELECT (SELECT checked FROM okra_verification_runs),
	(SELECT count(*) FROM okra_payments WHERE check_count = 2)" | tr '|' ' ')
check "its committed chunks stayed: $ledger_checked payments checked, as its row says ($run_checked)" \
	'[ "$ledger_checked" -gt 0 ] && [ "$ledger_checked" = "$run_checked" ] && [ "$ledger_checked" -lt 80 ]'
check "its row shows it did not finish" '[ "$(q "SELECT finished_at IS NULL FROM okra_verification_runs")" = t ]'

# -- a 429 stops the run and pauses scheduled work; nothing more is sent
ctl POST reset >/dev/null
reset_ledger
new_pending 20
ctl POST config '{"rate_limit": 5}' >/dev/null	# a fresh window: 5 allowed
before=$(verifies)
out=$(psql -AtqX -d $db -c "CALL okra_verify_pending(500, 1)" 2>&1)
check "the run stops at the first 429 ($(tr '\n' ' ' <<<"$out"))" \
	'[[ $out == *"5 checked (5 changed, 0 unchanged, 0 failed), 1 rate limited"* ]] && [[ $out == *"paused until"* ]]'
check "it sent only one request over the limit" '[ $(( $(verifies) - before )) = 6 ]'
check "rate-limited payments stay due, without an error or backoff" \
	'[ "$(q "SELECT count(*) FROM okra_payments WHERE check_count = 0 AND failed_checks = 0 AND next_check_at <= now()")" = 15 ]'
before=$(verifies)
out=$(psql -AtqX -d $db -c "CALL okra_verify_pending()" 2>&1)
check "the next run is paused and sends nothing ($out)" \
	'[[ $out == *"paused after Okra answered 429"* ]] && [ "$(verifies)" = "$before" ]'
check "paused runs are recorded" \
	'[ "$(q "SELECT count(*) FROM okra_verification_runs WHERE paused_until IS NOT NULL AND checked = 0")" = 1 ]'

# -- a role granted only the procedure (README "Granting roles") runs it
ctl POST reset >/dev/null
reset_ledger
q "SELECT okra_track('64a00000000000000000000a')" >/dev/null
psql -qX -c "DROP ROLE IF EXISTS okra_pending_app" -c "CREATE ROLE okra_pending_app" >/dev/null
q "GRANT USAGE ON SCHEMA public TO okra_pending_app; GRANT EXECUTE ON PROCEDURE okra_verify_pending(integer, integer) TO okra_pending_app" >/dev/null
out=$(psql -AtqX -d $db -c "SET ROLE okra_pending_app" -c "CALL okra_verify_pending()" -c "SELECT count(*) FROM okra_payments" 2>&1)
check "a role granted only okra_verify_pending runs it, and cannot read the ledger ($(tr '\n' ' ' <<<"$out"))" \
	'[[ $out == *"1 checked"* ]] && [[ $out == *"permission denied for table okra_payments"* ]]'
check "its run is recorded under its name" '[ "$(q "SELECT role FROM okra_verification_runs")" = okra_pending_app ]'
q "DROP OWNED BY okra_pending_app" >/dev/null
psql -qX -c "DROP ROLE okra_pending_app" >/dev/null

# -- argument checks, and the transaction block
out=$(q "CALL okra_verify_pending(0)")
check "max_payments 0 is refused" '[[ $out == *"invalid max_payments: 0"* ]]'
out=$(q "CALL okra_verify_pending(10, 1000)")
check "concurrency 1000 is refused" '[[ $out == *"invalid concurrency: 1000"* ]]'
out=$(psql -AtqX -d $db -c "BEGIN" -c "CALL okra_verify_pending()" 2>&1)
check "inside a transaction block it refuses, with SQLSTATE 2D000" \
	'[[ $out == *"cannot run inside a transaction block"* ]]'
[ $fails -eq 0 ]
