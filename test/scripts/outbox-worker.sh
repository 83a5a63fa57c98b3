#!/usr/bin/env bash
# The outbox worker (okra preloaded; README "Refunds after commit"), in a
# throwaway cluster of its own:
#   - a commit wakes it (its poll interval is a minute here);
#   - the journal keeps a synchronous refund whose transaction rolled back,
#     and one that Okra refused;
#   - fast shutdown is not held up by a transfer in flight, and after the
#     restart that request is resolved and executed once;
#   - the crash test: 1,000 queued refunds across 200 payments; 300 of the
#     requests get a transient 503 that executed nothing and 100 more are
#     executed with the answer lost; the worker is killed with SIGKILL and later the
#     whole server stopped with -m immediate mid-run; after the restarts
#     every request ends final, the sandbox executed each refund exactly
#     once, and the ledger matches the sandbox payment by payment.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_SANDBOX_KEY:?}" "${OKRA_TEST_DIR:?}"
work=$(mktemp -d /tmp/okra-worker.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
bindir=$(pg_config --bindir)
trap 'okra_stop_cluster "$work"; [ -n "${OB_PID:-}" ] && kill "$OB_PID"; rm -rf "$work"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
fail() { echo "FAIL: $*"; tail -30 "$work/server.log"; exit 1; }

okra_start_sandbox OB "$work/sandbox.log" --key "$OKRA_SANDBOX_KEY" --seed test/sandbox/seed-test.json \
	--wallet 100000000000 || fail "okra-sandbox"
# OKRA_OUTBOX_ASYNC=1 (outbox-worker-async.sh): the whole server commits
# asynchronously, which okra's own commits before sending must override
okra_preloaded_cluster "$work" "$OB" "synchronous_commit = $([ -n "${OKRA_OUTBOX_ASYNC:-}" ] && echo off || echo on)" "okra.outbox_poll_interval = '60s'" \
	"okra.outbox_trust_idempotency_key = on" "okra.request_timeout = '2s'" "okra.connect_timeout = '1s'" ||
	fail "the server did not start"
port=$OKRA_CLUSTER_PORT
p() { psql -X -h "$work" -p "$port" -U postgres -d postgres -AtqX "$@" 2>&1; }
ctl() { test/sandbox/ctl "$OB" "$@"; }
pgctl() { su postgres -s /bin/sh -c "$bindir/pg_ctl -D '$work/data' -l '$work/server.log' -w $*" >/dev/null; }
new_payment() { ctl POST payments "{\"status\": \"success\", \"amount\": $1}" | jq -r .payment.id; }
wait_final() {	# wait_final SECONDS: until no request is left to do
	local i
	for i in $(seq 1 $(($1 * 4))); do
		[ "$(p -c "SELECT count(*) FROM okra_outbox_requests WHERE state NOT IN ('succeeded', 'failed')")" = 0 ] && return 0
		sleep 0.25
	done
	return 1
}
p -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" >/dev/null || fail "CREATE EXTENSION"

health=$(p -c "SELECT worker_running, preloaded, key_configured, worker_database FROM okra_outbox_health()")
check "okra_outbox_health: the worker runs, a key is configured ($health)" '[ "$health" = "t|t|t|postgres" ]'
check "and the key is nowhere in it" '! p -c "SELECT okra_outbox_health()::text" | grep -q "$OKRA_SANDBOX_KEY"'

# -- a commit wakes the worker
p1=$(new_payment 100000)
p -c "SELECT okra_verify('$p1')" >/dev/null
t0=$(date +%s%N)
r=$(p -c "SELECT okra_refund_after_commit('$p1', 100)")
st=$(p -c "SELECT okra_outbox_wait($r, '10 s')")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a committed refund is sent at once, not at the next poll a minute later ($st in $ms ms)" \
	'[ "$st" = succeeded ] && [ "$ms" -lt 3000 ]'

# -- the journal
p -c "BEGIN" -c "SELECT okra_refund('$p1', 200)" -c "ROLLBACK" >/dev/null
p -c "SELECT okra_refund('64a00000000000000000000a', 100)" >/dev/null	# OK003 from Okra
sleep 1
journal=$(p -c "SELECT string_agg(endpoint || ' ' || payment_id || ' ' || amount || ' ' || coalesce(sqlstate, 'ok'), ', ' ORDER BY journal_id) FROM okra_journal")
check "the journal keeps a refund whose transaction rolled back, and one Okra refused ($journal)" \
	'[ "$journal" = "pay/refund $p1 200 ok, pay/refund 64a00000000000000000000a 100 OK003" ]'
check "while the rolled-back refund is gone from okra_refunds" \
	'[ "$(p -c "SELECT count(*) FROM okra_refunds WHERE amount = 200")" = 0 ]'

# -- fast shutdown with a transfer in flight
ctl POST faults '{"kind": "hang", "ms": 30000, "route": "pay/refund"}' >/dev/null
r=$(p -c "SELECT okra_refund_after_commit('$p1', 300)")
sleep 0.5
t0=$(date +%s%N)
pgctl "-m fast stop"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "fast shutdown is not held up by the transfer in flight (${ms} ms)" '[ "$ms" -lt 5000 ]'
pgctl start
p -c "ALTER SYSTEM SET okra.outbox_poll_interval = '250ms'" -c "SELECT pg_reload_conf()" >/dev/null
wait_final 30
check "after the restart that request is resolved and executed once" \
	'[ "$(p -c "SELECT state FROM okra_outbox_requests WHERE request_id = $r")" = succeeded ] &&
	 [ "$(ctl GET counters | jq --arg p "$p1" ".refunds[\$p].amounts | map(select(. == 300)) | length")" = 1 ]'

# -- the crash test
ctl POST reset >/dev/null
ctl POST config '{"latency_ms": 30}' >/dev/null
p -c "TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls, okra_outbox_requests, okra_journal" >/dev/null
for _ in $(seq 1 200); do new_payment 1000; done >"$work/payments"
p -c "SELECT count(okra_track(id)) FROM unnest(string_to_array('$(tr '\n' ' ' <"$work/payments" | sed 's/ $//')', ' ')) AS id" >/dev/null
p -c "UPDATE okra_payments SET amount = 1000, status = 'success', terminal = true, outcome = 'succeeded'" >/dev/null
ctl POST faults '{"kind": "timeout503", "route": "pay/refund", "count": 300}' >/dev/null
ctl POST faults '{"kind": "after_drop", "route": "pay/refund", "count": 100}' >/dev/null
p -c "SELECT count(okra_refund_after_commit(payment_id, 100)) FROM okra_payments, generate_series(1, 5)" >/dev/null
sleep 1.5
wpid=$(p -c "SELECT worker_pid FROM okra_outbox_health()")
kill -9 "$wpid"
sleep 3
done_before=$(p -c "SELECT count(*) FROM okra_outbox_requests WHERE state IN ('succeeded', 'failed')")
su postgres -s /bin/sh -c "$bindir/pg_ctl -D '$work/data' -m immediate stop" >/dev/null
pgctl start
echo "# killed the worker (pid $wpid), then the server with $done_before of 1000 final; restarted"
wait_final 120 || echo "# not final after 120 s: $(p -c "SELECT state, count(*) FROM okra_outbox_requests GROUP BY 1")"
check "every request ended final, all succeeded" \
	'[ "$(p -c "SELECT string_agg(state || '"' '"' || n, '"','"') FROM (SELECT state, count(*) AS n FROM okra_outbox_requests GROUP BY 1) s")" = "succeeded 1000" ]'
ctl GET counters | jq -r '.refunds | to_entries[] | "\(.key) \(.value.count) \(.value.total)"' | sort >"$work/sandbox.txt"
p -c "SELECT payment_id || ' ' || count(*) || ' ' || sum(amount) FROM okra_refunds GROUP BY payment_id ORDER BY 1" >"$work/ledger.txt"
check "the sandbox executed each refund exactly once: 5 of 100 for each of the 200 payments" \
	'[ "$(awk '"'"'$2 == 5 && $3 == 500'"'"' "$work/sandbox.txt" | wc -l)" = 200 ] && [ "$(wc -l <"$work/sandbox.txt")" = 200 ]'
check "the ledger matches the sandbox payment by payment (count and sum)" 'diff "$work/sandbox.txt" "$work/ledger.txt" >/dev/null'
check "each succeeded request names its own refund" \
	'[ "$(p -c "SELECT count(DISTINCT o.refund_id) FROM okra_outbox_requests o JOIN okra_refunds r USING (refund_id)")" = 1000 ]'
faults=$(ctl GET counters | jq .faults_fired)
check "the faults fired (${faults} of 400)" '[ "$faults" = 400 ]'
[ $fails -eq 0 ]
