#!/usr/bin/env bash
# okra_verify_pending holds no row lock while Okra answers: its claim is a
# lease committed before the chunk is sent.  An okra_refund of a payment in
# a chunk whose answer is slow goes at once, instead of waiting for the
# chunk (issue 11 item 9); and the claimed payment is not taken by a
# second run meanwhile.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}"
db=okra_verify_locks
cleanup() {
	ctl POST reset >/dev/null 2>&1
	psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
}
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }
ms() { date +%s%3N; }
new_payment() { ctl POST payments "{\"status\": \"success\", \"amount\": $1}" | jq -r .payment.id; }

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null
p=$(new_payment 10000)
q "SELECT okra_verify('$p')" >/dev/null
q "UPDATE okra_payments SET next_check_at = now() - interval '1 minute', terminal = false WHERE payment_id = '$p'" >/dev/null
ctl POST faults "{\"kind\": \"delay\", \"ms\": 3000, \"route\": \"pay/verify\", \"payment_id\": \"$p\"}" >/dev/null

psql -qX -d $db -c "CALL okra_verify_pending(10, 1)" >/dev/null 2>&1 &
bg=$!
sleep 0.7
t0=$(ms)
out=$(q "SELECT amount FROM okra_refund('$p', 100)")
t1=$(ms)
check "a refund of a payment whose check is in flight goes at once ($((t1 - t0)) ms, not ~3 s)" \
	'[ "$out" = 100 ] && [ $((t1 - t0)) -lt 1500 ]'
q "CALL okra_verify_pending(10, 1)" >/dev/null	# a second run meanwhile
wait $bg
check "the second run did not take the claimed payment: two verifies in all (setup, first run)" \
	'[ "$(ctl GET counters | jq '"'"'.requests["/v2/pay/verify"] | add'"'"')" = 2 ]'
check "the first run recorded its answer" \
	'[ "$(q "SELECT check_count FROM okra_payments WHERE payment_id = '"'$p'"'")" -ge 2 ]'

echo "$fails failed"
[ "$fails" -eq 0 ]
