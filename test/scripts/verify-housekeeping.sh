#!/usr/bin/env bash
# Scheduled verification keeps no dead weight (issue 10, item 13): a
# tracked id Okra answers OK006 ("Payment not found.") is marked stale
# after that first definite answer instead of being re-checked until
# okra.stale_after; a run that found nothing to do leaves no row in
# okra_verification_runs; okra_prune_api_calls prunes old runs with the
# calls, but not a 429 pause still in force.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_KEY:?}" "${OKRA_SANDBOX_PORT:?}"
db=okra_housekeeping
trap 'ctl POST reset >/dev/null 2>&1; psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }
verifies() { ctl GET counters | jq '[.requests["/v2/pay/verify"] // {} | .[]] | add // 0'; }

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null || exit 1

# -- OK006: marked after the first definite answer
q "SELECT okra_track('64a0000000000000000000ff'), okra_track('64a00000000000000000000a')" >/dev/null
out=$(psql -AtqX -d $db -c "CALL okra_verify_pending()" 2>&1)
check "the run checks both ($out)" '[[ $out == *"2 checked (1 changed, 0 unchanged, 1 failed)"* ]]'
row=$(q "SELECT stale_at IS NOT NULL, next_check_at IS NULL, failed_checks, last_error
	FROM okra_pending WHERE payment_id = '64a0000000000000000000ff'")
check "the id Okra does not know is stale at once, with no next check ($row)" '[[ $row == "t|t|1|OK006: "* ]]'
check "its last_error says why it is no longer checked" \
	'[[ $row == *"Payment not found."*"does not exist; it is no longer checked on schedule"* ]]'
check "the pending payment is due again as usual" \
	'[ "$(q "SELECT stale_at IS NULL AND next_check_at IS NOT NULL FROM okra_payments WHERE payment_id = '"'64a00000000000000000000a'"'")" = t ]'
# an hour later: whatever has a next check is due
q "UPDATE okra_payments SET next_check_at = next_check_at - interval '1 hour' WHERE next_check_at IS NOT NULL" >/dev/null
before=$(verifies)
psql -qX -d $db -c "CALL okra_verify_pending()" >/dev/null 2>&1
check "the next run does not ask Okra about it again" '[ $(( $(verifies) - before )) = 1 ]'
check "okra_verify still checks it by hand (OK006)" \
	'[[ $(q "SELECT okra_verify('"'64a0000000000000000000ff'"')") == *"Payment not found."* ]]'

# -- a run with nothing to do leaves no row; a run that did something does
q "TRUNCATE okra_verification_runs" >/dev/null
q "UPDATE okra_payments SET next_check_at = now() + interval '1 hour' WHERE NOT terminal AND stale_at IS NULL" >/dev/null
out=$(psql -AtqX -d $db -c "CALL okra_verify_pending()" -c "CALL okra_verify_pending()" 2>&1)
check "runs with nothing due still say so ($(tr '\n' ' ' <<<"$out"))" '[[ $out == *"0 checked (0 changed"* ]]'
check "but leave no row in okra_verification_runs" '[ "$(q "SELECT count(*) FROM okra_verification_runs")" = 0 ]'
q "UPDATE okra_payments SET next_check_at = now() WHERE payment_id = '64a00000000000000000000a'" >/dev/null
psql -qX -d $db -c "CALL okra_verify_pending()" >/dev/null 2>&1
check "a run that checked a payment keeps its row" \
	'[ "$(q "SELECT count(*) || '"' '"' || sum(checked) FROM okra_verification_runs WHERE finished_at IS NOT NULL")" = "1 1" ]'

# -- pruning: old runs go with old calls; a pause in force stays
q "INSERT INTO okra_verification_runs (started_at, finished_at, max_payments, concurrency, checked, role)
	VALUES (now() - interval '100 days', now() - interval '100 days', 500, 8, 3, 'old'),
	       (now() - interval '100 days', now() - interval '100 days', 500, 8, 0, 'paused')" >/dev/null
q "UPDATE okra_verification_runs SET paused_until = now() + interval '30 seconds', rate_limited = 1 WHERE role = 'paused'" >/dev/null
q "UPDATE okra_api_calls SET called_at = now() - interval '100 days'
	WHERE call_id = (SELECT min(call_id) FROM okra_api_calls)" >/dev/null
check "okra_prune_api_calls() still returns the calls it deleted" '[ "$(q "SELECT okra_prune_api_calls()")" = 1 ]'
check "and deleted the run older than 90 days, not the recent one nor a pause in force" \
	'[ "$(q "SELECT count(*) FILTER (WHERE role = '"'old'"') || '"' '"' || count(*) FILTER (WHERE role = '"'paused'"') || '"' '"' || count(*) FROM okra_verification_runs")" = "0 1 2" ]'

[ $fails -eq 0 ]
