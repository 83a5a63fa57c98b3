#!/usr/bin/env bash
# The README demo (test/demo.sql) tells a local refusal from Okra's: its
# step 5, a third refund the ledger refuses before sending anything, says
# so, and never "okra said" (issue 10, item 13).  Runs the demo against its
# own okra-sandbox with the demo seed, and checks the sandbox's counters.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_KEY:?}"
db=okra_demo_notice
work=$(mktemp -d)
trap '[ -n "${DN_PID:-}" ] && kill "$DN_PID" 2>/dev/null; rm -rf "$work"; psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

# the demo's seed, under the key the test cluster already reads
okra_start_sandbox DN "$work/sandbox.log" --key "$OKRA_SANDBOX_KEY" --seed test/sandbox/seed-demo.json || exit 1
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
psql -qX -d $db -c "CREATE EXTENSION okra" >/dev/null || exit 1

out=$(PGOPTIONS="-c okra.base_url=http://127.0.0.1:$DN/v2" psql -X -v ON_ERROR_STOP=1 -d $db -f test/demo.sql 2>&1)
rc=$?
check "the demo runs to the end (rc $rc)" '[ $rc -eq 0 ]'
notice=$(grep 'NOTICE:.*already refunded' <<<"$out" | head -1)
check "step 5 says the ledger refused it and nothing was sent ($notice)" \
	'[[ $notice == *"refused by okra'"'"'s ledger, nothing sent: payment \"5f88ebf63103d912f1d4baca\" is already refunded in full (SQLSTATE OK001)"* ]]'
check "no NOTICE says \"okra said\" for it" '! grep -qi "okra said" <<<"$out"'
counters=$(ctl "$DN" GET counters)
check "the sandbox carried out the two refunds of steps 3 and 4 only" \
	'[ "$(jq -c ".refunds[\"5f88ebf63103d912f1d4baca\"].amounts" <<<"$counters")" = "[2500,7500]" ]'
check "and was sent three refunds (steps 3, 4 and 6), none for step 5" \
	'[ "$(jq "[.requests[\"/v2/pay/refund\"] // {} | .[]] | add" <<<"$counters")" = 3 ]'

[ $fails -eq 0 ]
