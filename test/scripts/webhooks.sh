#!/usr/bin/env bash
# Webhooks end to end (README "Webhooks"): okra-sandbox moves a payment and
# POSTs a webhook to the reference receiver (examples/webhook-receiver),
# which passes it to okra_webhook over a normal connection; the database's
# okra worker verifies the payment, and the ledger and the reports show it.
# Then: five copies of one event are one event and one verification; a
# wrong token is refused with nothing recorded or sent; a webhook that lies
# changes nothing; a flood of 10,000 webhooks naming 100 payments costs
# about 100 verifications and no 429 under the same rate limit as the
# sandbox's; bad bodies are refused and what is valid is kept.  Prints the
# latency from the sandbox's status change to the ledger row over 200
# payments (median, p99: bench/README.md has them); nothing asserts a time.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}" "${OKRA_TEST_DIR:?}" "${OKRA_WEBHOOK_TOKEN:?}"
db=okra_webhooks
rx=examples/webhook-receiver/okra-webhook-receiver
work=$(mktemp -d /tmp/okra-webhooks.XXXXXX)
chmod 755 "$work"
RX_PID=""
cleanup() {
	[ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null && wait "$RX_PID" 2>/dev/null
	ctl POST reset >/dev/null 2>&1
	psql -qX -c "ALTER SYSTEM RESET okra.rate_limit_per_minute" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
	psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }
# wait_for SQL VALUE [SECONDS]: until SQL answers VALUE
wait_for() {
	local i
	for i in $(seq 1 $((${3:-10} * 20))); do
		[ "$(q "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
verifies() { q "SELECT count(*) FROM okra_api_calls WHERE endpoint = 'pay/verify' AND payment_id = '$1'"; }
new_payment() { ctl POST payments "{\"status\": \"${2:-pending}\", \"amount\": $1}" | jq -r .payment.id; }
post() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OKRA_WEBHOOK_TOKEN" \
	-H 'Content-Type: application/json' "$@" "$URL"; }

[ -x "$rx" ] || make -s -C examples/webhook-receiver >/dev/null || { echo "FAIL the receiver does not build"; exit 1; }
ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
	-c "ALTER DATABASE $db SET okra.webhook_token_file = '$OKRA_TEST_DIR/webhook.key'" >/dev/null || exit 1
q "CREATE EXTENSION okra" >/dev/null

# the receiver, on a free port, with its own connection to the database
cat >"$work/rx.conf" <<EOF
listen_address = 127.0.0.1
port = 0
path = /okra/webhook
conninfo = host=${PGHOST:-localhost} port=${PGPORT:-5432} dbname=$db user=${PGUSER:-postgres}
threads = 4
EOF
"$rx" "$work/rx.conf" 2>"$work/rx.log" &
RX_PID=$!
for i in $(seq 1 100); do grep -q 'listening on' "$work/rx.log" && break; sleep 0.05; done
URL="http://127.0.0.1:$(sed -n 's/.*listening on 127.0.0.1 port \([0-9]*\),.*/\1/p' "$work/rx.log")/okra/webhook"
ctl POST webhooks "{\"url\": \"$URL\", \"token\": \"$OKRA_WEBHOOK_TOKEN\"}" >/dev/null

# -- 1. a status change reaches the ledger, through the worker
p=$(new_payment 5000)
ctl POST "payments/$p" '{"status": "success"}' >/dev/null
check "the sandbox's webhook reaches the ledger: the payment is verified success" \
	"wait_for \"SELECT status FROM okra_payments WHERE payment_id = '$p'\" success"
check "by one pay/verify, and one event kept" \
	'[ "$(verifies "$p")" = 1 ] && [ "$(q "SELECT count(*) FROM okra_webhook_events WHERE payment_ids = ARRAY['"'$p'"']")" = 1 ]'
check "okra_daily_summary shows it" \
	'[ "$(q "SELECT succeeded_amount FROM okra_daily_summary WHERE day = current_date AND currency = '"'NGN'"'")" = 5000 ]'

# -- 2. five copies of one event: one event, one verification
p=$(new_payment 6000)
ctl POST webhooks/faults "{\"kind\": \"duplicate\", \"copies\": 5, \"payment_id\": \"$p\"}" >/dev/null
ctl POST "payments/$p" '{"status": "success"}' >/dev/null
wait_for "SELECT status FROM okra_payments WHERE payment_id = '$p'" success
wait_for "SELECT sum(deliveries) FROM okra_webhook_events WHERE payment_ids = ARRAY['$p']" 5
check "five copies: one event with five deliveries, and one verification" \
	'[ "$(q "SELECT count(*) || '"' '"' || sum(deliveries) FROM okra_webhook_events WHERE payment_ids = ARRAY['"'$p'"']")" = "1 5" ] && [ "$(verifies "$p")" = 1 ]'

# -- 3. a wrong token: refused, nothing recorded, nothing sent
p=$(new_payment 7000)
ctl POST webhooks/faults "{\"kind\": \"wrong_token\", \"payment_id\": \"$p\"}" >/dev/null
ctl POST "payments/$p" '{"status": "success"}' >/dev/null
wait_for "SELECT 1" 1 1; sleep 1
check "a wrong token: the receiver answered 401" '[ "$(ctl GET webhooks | jq ".webhooks.counters.by_status[\"401\"] // 0")" -ge 1 ]'
check "nothing recorded, nothing sent to Okra" \
	'[ "$(q "SELECT count(*) FROM okra_payments WHERE payment_id = '"'$p'"'")" = 0 ] && [ "$(verifies "$p")" = 0 ]'

# -- 4. a lie changes nothing
p=$(new_payment 8000 failed)
q "SELECT okra_verify('$p')" >/dev/null
ctl POST webhooks/lie "{\"payment_id\": \"$p\", \"status\": \"success\"}" >/dev/null
wait_for "SELECT count(*) FROM okra_webhook_events WHERE payment_ids = ARRAY['$p']" 1
check "a webhook saying success for a failed payment: the ledger stays failed" \
	'[ "$(q "SELECT status FROM okra_payments WHERE payment_id = '"'$p'"'")" = failed ]'
p=$(new_payment 8100 failed)
ctl POST webhooks/lie "{\"payment_id\": \"$p\", \"status\": \"success\"}" >/dev/null
check "the same lie about a payment the ledger did not know: verified, and failed" \
	"wait_for \"SELECT status FROM okra_payments WHERE payment_id = '$p'\" failed"
check "with the lie kept as the event it was" \
	'[ "$(q "SELECT body::jsonb ->> '"'status'"' FROM okra_webhook_events WHERE payment_ids = ARRAY['"'$p'"']")" = success ]'

# -- 5. bad bodies are refused; what is valid is kept
check "malformed JSON: 400" '[ "$(post --data-binary "{\"payment_id\": ")" = 400 ]'
check "no body: 400" '[ "$(post --data-binary "")" = 400 ]'
check "an oversized body: 413 or 400" '[[ "$(post --data-binary "{\"pad\": \"$(head -c 70000 /dev/zero | tr "\0" x)\"}")" =~ ^(413|400)$ ]]'
check "a body that is not UTF-8: 400" '[ "$(printf "{\"payment_id\": \"\xff\xfe\"}" | post --data-binary @-)" = 400 ]'
p=$(new_payment 9000 success)
check "then a valid one is accepted (200)" '[ "$(post --data-binary "{\"payment_id\": \"$p\"}")" = 200 ]'
check "and verified" "wait_for \"SELECT status FROM okra_payments WHERE payment_id = '$p'\" success"

# -- 6. latency over 200 payments: from the sandbox's change to the ledger
ids=()
for i in $(seq 1 200); do ids+=("$(new_payment $((10000 + i)))"); done
for p in "${ids[@]}"; do ctl POST "payments/$p" '{"status": "success"}' >/dev/null; sleep 0.02; done
list=$(printf "'%s'," "${ids[@]}"); list=${list%,}
check "all 200 reach the ledger" "wait_for \"SELECT count(*) FROM okra_payments WHERE payment_id IN ($list) AND status = 'success'\" 200 30"
lat=$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ' ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1)
	FROM (SELECT extract(epoch FROM c.changed_at - (e.body::jsonb ->> 'created_at')::timestamptz) * 1000 AS ms
	        FROM okra_status_changes AS c JOIN okra_webhook_events AS e ON e.payment_ids = ARRAY[c.object_id]
	       WHERE c.object_id IN ($list) AND c.new_status = 'success') AS l")
# the baseline, in the same run: okra_verify of the same payments, called
# directly (the part of the path that is one pay/verify and its record)
base=$(q "DO \$\$ DECLARE t timestamptz; ms float8[] := '{}'; BEGIN
	FOR i IN 1..200 LOOP t := clock_timestamp();
		PERFORM okra_verify(p) FROM (SELECT payment_id AS p FROM okra_payments WHERE payment_id IN ($list) ORDER BY payment_id OFFSET i - 1 LIMIT 1) s;
		ms := ms || extract(epoch FROM clock_timestamp() - t) * 1000; END LOOP;
	RAISE NOTICE 'base % %', (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY m)::numeric, 1) FROM unnest(ms) m),
		(SELECT round(percentile_cont(0.99) WITHIN GROUP (ORDER BY m)::numeric, 1) FROM unnest(ms) m); END \$\$" 2>&1 | sed -n 's/.*base //p')
echo "latency, sandbox change to ledger row, 200 payments: median ${lat% *} ms, p99 ${lat#* } ms; okra_verify called directly: median ${base% *} ms, p99 ${base#* } ms"

# -- 7. a flood: 10,000 webhooks naming 100 payments, under one rate limit
ctl POST config '{"rate_limit": 600}' >/dev/null
psql -qX -c "ALTER SYSTEM SET okra.rate_limit_per_minute = 600" -c "SELECT pg_reload_conf()" >/dev/null
ctl POST webhooks '{"url": null}' >/dev/null
flood=()
for i in $(seq 1 100); do flood+=("$(new_payment $((20000 + i)) success)"); done
before=$(q "SELECT count(*) FROM okra_api_calls WHERE endpoint = 'pay/verify'")
python3 - "$URL" "$OKRA_WEBHOOK_TOKEN" "${flood[@]}" <<'PY'
import sys, json, threading, urllib.request
url, token, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 10000
def send(k):
    for j in range(k, n, 16):
        body = json.dumps({"callback_type": "PAYMENT", "callback_code": "SUCCESS", "event_id": "%024x" % j,
                           "payment_id": ids[j % len(ids)], "status": "success"}).encode()
        req = urllib.request.Request(url, data=body, headers={"Authorization": "Bearer " + token,
                                                             "Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
threads = [threading.Thread(target=send, args=(k,)) for k in range(16)]
for t in threads: t.start()
for t in threads: t.join()
PY
list=$(printf "'%s'," "${flood[@]}"); list=${list%,}
check "the flood's 100 payments are verified" "wait_for \"SELECT count(*) FROM okra_payments WHERE payment_id IN ($list) AND status = 'success'\" 100 60"
sleep 2
v=$((  $(q "SELECT count(*) FROM okra_api_calls WHERE endpoint = 'pay/verify'") - before ))
echo "flood: 10000 webhooks, 100 payments, $v verifications, $(q "SELECT count(*) FROM okra_webhook_events WHERE payment_ids <@ ARRAY[$list]") events"
check "about 100 verifications for 10,000 webhooks ($v)" '[ "$v" -ge 100 ] && [ "$v" -le 110 ]'
check "and no 429 from the sandbox" '[ "$(ctl GET counters | jq "[.requests[\"/v2/pay/verify\"][\"429\"] // 0] | add")" = 0 ]'

# -- 8. a flood naming payments still pending: within okra.webhook_window
# (5 s) one check each at once, and one more when the window is up
pend=()
for i in $(seq 1 20); do pend+=("$(new_payment $((30000 + i)))"); done
list=$(printf "'%s'," "${pend[@]}"); list=${list%,}
before=$(q "SELECT count(*) FROM okra_api_calls WHERE endpoint = 'pay/verify'")
python3 - "$URL" "$OKRA_WEBHOOK_TOKEN" "${pend[@]}" <<'PY'
import sys, json, threading, urllib.request
url, token, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 2000
def send(k):
    for j in range(k, n, 8):
        body = json.dumps({"payment_id": ids[j % len(ids)], "event_id": "p%d" % j, "status": "pending"}).encode()
        req = urllib.request.Request(url, data=body, headers={"Authorization": "Bearer " + token})
        urllib.request.urlopen(req).read()
threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
PY
sleep 7
v=$((  $(q "SELECT count(*) FROM okra_api_calls WHERE endpoint = 'pay/verify'") - before ))
echo "flood of pending payments: 2000 webhooks, 20 payments, $v verifications"
check "one check each at once and at most one more after the window ($v)" '[ "$v" -ge 20 ] && [ "$v" -le 40 ]'
check "and every one of them was checked" \
	'[ "$(q "SELECT count(*) FROM okra_payments WHERE payment_id IN ($list) AND last_checked_at IS NOT NULL")" = 20 ]'

[ $fails -eq 0 ]
