#!/usr/bin/env bash
# Concurrent refunds of one payment are serialised by the ledger's lock:
# sessions that start while another refund of the payment is in flight wait
# for it, then see what it did and are refused locally (OK001, OK002) with
# nothing sent.  The proof is okra-sandbox's counters: as many refund
# requests reached it as refunds it executed.  Without the lock every
# session would send its request and Okra would be the one to refuse.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
db=okra_concurrency
failures=0
check() { # check OK|FAIL TEXT
	if [ "$1" = ok ]; then echo "ok   $2"; else echo "FAIL $2"; failures=$((failures + 1)); fi
}
cleanup() {
	ctl POST reset >/dev/null 2>&1
	psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
}
trap cleanup EXIT

ctl POST reset >/dev/null
psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
psql -qX -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL' || exit 1
CREATE EXTENSION okra;
-- one refund attempt: 'ok' or the SQLSTATE, and whether anything was sent
CREATE FUNCTION try_refund(p text, a bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	dt text;
BEGIN
	PERFORM okra_refund(p, a);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, dt = PG_EXCEPTION_DETAIL;
	RETURN st || CASE WHEN dt LIKE '%Nothing was sent to Okra.' THEN ' local' ELSE ' okra' END;
END $$;
-- the ledger learns the payments' amounts
SELECT okra_verify('64a000000000000000000001'), okra_verify('64a000000000000000000002'),
       okra_verify('64a000000000000000000003');
SQL

# run_refunds N PAYMENT AMOUNT: N sessions at once; prints their results, sorted
run_refunds() {
	local n=$1 payment=$2 amount=$3 i dir
	dir=$(mktemp -d)
	for i in $(seq 1 "$n"); do
		psql -AtqX -d $db -c "SELECT try_refund('$payment', $amount)" >"$dir/$i" 2>&1 &
	done
	wait
	cat "$dir"/* | sort | uniq -c | sed 's/^ *//'
	rm -rf "$dir"
}
# refund_requests PAYMENT: pay/refund requests the sandbox received, and the
# refunds it executed for the payment ("requests executed total")
refund_requests() {
	ctl GET counters | python3 -c '
import json, sys
c = json.load(sys.stdin)
req = sum(c["requests"].get("/v2/pay/refund", {}).values())
r = c["refunds"].get(sys.argv[1], {"count": 0, "total": 0})
print(req, r["count"], r["total"])' "$1"
}

# 1. two full refunds at once; the first is slow (1.5 s at the sandbox)
ctl POST faults '{"kind": "delay", "ms": 1500, "route": "pay/refund"}' >/dev/null
t0=$(date +%s.%N)
out=$(run_refunds 2 64a000000000000000000001 NULL)
t1=$(date +%s.%N)
read -r req executed total < <(refund_requests 64a000000000000000000001)
echo "two full refunds: $(tr '\n' ';' <<<"$out") requests=$req executed=$executed total=$total"
[ "$out" = "$(printf '1 OK001 local\n1 ok')" ] && check ok "two full refunds at once: one refunds, the other is refused locally (OK001)" ||
	check fail "two full refunds at once: want one ok and one local OK001, got: $out"
[ "$req" = 1 ] && [ "$executed" = 1 ] && [ "$total" = 10000 ] &&
	check ok "the sandbox received one refund request and executed it (10000 kobo)" ||
	check fail "the sandbox received $req refund requests and executed $executed ($total kobo); want 1 and 1 (10000)"
python3 -c "import sys; sys.exit(0 if $t1 - $t0 >= 1.4 else 1)" &&
	check ok "the second waited for the first to finish ($(python3 -c "print(round($t1 - $t0, 2))") s)" ||
	check fail "the second did not wait for the first ($(python3 -c "print(round($t1 - $t0, 2))") s)"

# 2. eight sessions each refunding 3000 of 25000 (8 x 3000 = 24000 fits)
#    and eight refunding 3000 of 10000 (only three fit)
ctl POST config '{"latency_ms": 30}' >/dev/null
out=$(run_refunds 8 64a000000000000000000002 3000)
read -r req2 executed total < <(refund_requests 64a000000000000000000002)
[ "$out" = "8 ok" ] && [ "$executed" = 8 ] && [ "$total" = 24000 ] &&
	check ok "eight partial refunds that fit: all eight executed, 24000 kobo" ||
	check fail "eight partial refunds that fit: $out; executed $executed ($total kobo)"
out=$(run_refunds 8 64a000000000000000000003 20000)
read -r req3 executed total < <(refund_requests 64a000000000000000000003)
echo "eight refunds of 20000 of 50000: $(tr '\n' ';' <<<"$out") executed=$executed total=$total requests=$((req3 - req2))"
[ "$out" = "$(printf '6 OK002 local\n2 ok')" ] && check ok "eight refunds of 20000 from 50000: two refund, six are refused locally (OK002)" ||
	check fail "eight refunds of 20000 from 50000: want 2 ok and 6 local OK002, got: $out"
[ "$executed" = 2 ] && [ "$total" = 40000 ] && [ $((req3 - req2)) = 2 ] &&
	check ok "the sandbox received exactly the two refund requests it executed (40000 kobo)" ||
	check fail "the sandbox received $((req3 - req2)) requests and executed $executed ($total kobo); want 2 and 2 (40000)"

# 3. the ledger agrees with the sandbox
ledger=$(psql -AtqX -d $db -c "SELECT string_agg(payment_id || '=' || refunded_amount, ' ' ORDER BY payment_id)
	FROM okra_payments WHERE refunded_amount > 0")
[ "$ledger" = "64a000000000000000000001=10000 64a000000000000000000002=24000 64a000000000000000000003=40000" ] &&
	check ok "okra_payments.refunded_amount matches what the sandbox executed" ||
	check fail "okra_payments.refunded_amount: $ledger"

[ $failures -eq 0 ]
