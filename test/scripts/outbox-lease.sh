#!/usr/bin/env bash
# The outbox when its claims run out (issue 11 item 2): the worker and
# CALL okra_outbox_run() both send, while five sessions eat the shared rate
# limit, so a batch's turns come later than its lease allows.  A request
# is started only while its claim outlasts the transfer, others go back to
# the queue, and each outcome is recorded as it arrives: every partial
# refund is POSTed once, carried out once, and ends succeeded with its
# refund id (none left unknown).  Runs its own preloaded cluster.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_SANDBOX_KEY:?}" "${OKRA_TEST_DIR:?}"
LIMIT=60	# per minute: one turn a second for everyone
fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -20 "$work/server.log"; exit 1; }
work=$(mktemp -d /tmp/okra-lease.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
trap 'okra_stop_cluster "$work"; [ -n "${LS_PID:-}" ] && kill "$LS_PID"; rm -rf "$work"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

okra_start_sandbox LS "$work/sandbox.log" --key "$OKRA_SANDBOX_KEY" --seed test/sandbox/seed-test.json ||
	fail "okra-sandbox"
okra_preloaded_cluster "$work" "$LS" "okra.rate_limit_per_minute = $LIMIT" "okra.request_timeout = '2s'" \
	"okra.connect_timeout = '1s'" "okra.outbox_poll_interval = '1s'" || fail "the server did not start"
port=$OKRA_CLUSTER_PORT
p() { psql -X -h "$work" -p "$port" -U postgres -d postgres -AtqX "$@" 2>&1; }
ctl() { test/sandbox/ctl "$LS" "$@"; }
p -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" >/dev/null || fail "CREATE EXTENSION"

ids=()
for i in $(seq 1 8); do
	ids+=("$(ctl POST payments '{"status": "success", "amount": 100000}' | jq -r .payment.id)")
done
for id in "${ids[@]}"; do p -c "SELECT okra_verify('$id')" >/dev/null; done

# five sessions eat the rate limit for 40 s
hammer="DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '40 s';
BEGIN
	WHILE clock_timestamp() < t_end LOOP
		PERFORM okra_verify('64a000000000000000000001');
	END LOOP;
END \$\$"
pids=()
for i in $(seq 1 5); do p -c "$hammer" >/dev/null & pids+=($!); done
sleep 1
# eight partial refunds, queued at once; the worker and okra_outbox_run send them
queue=(-c "BEGIN")
for id in "${ids[@]}"; do queue+=(-c "SELECT okra_refund_after_commit('$id', 1234)"); done
p "${queue[@]}" -c "COMMIT" >/dev/null
( for i in $(seq 1 30); do p -c "CALL okra_outbox_run()" >/dev/null; sleep 1; done ) & pids+=($!)
for i in $(seq 1 240); do
	left=$(p -c "SELECT count(*) FROM okra_outbox_requests WHERE state NOT IN ('succeeded', 'failed') AND NOT (state = 'unknown' AND next_attempt_at IS NULL)")
	[ "$left" = 0 ] && break
	sleep 0.5
done
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null

counters=$(ctl GET counters)
posted=$(echo "$counters" | jq '[.requests["/v2/pay/refund"] // {} | .[]] | add // 0')
once=$(for id in "${ids[@]}"; do echo "$counters" | jq -r --arg p "$id" '.refunds[$p].count // 0'; done | sort -u | tr '\n' ' ')
states=$(p -c "SELECT string_agg(state || CASE WHEN refund_id IS NULL THEN '' ELSE '+id' END, ' ' ORDER BY request_id) FROM okra_outbox_requests")
check "every refund POSTed once ($posted POSTs for 8)" '[ "$posted" = 8 ]'
check "and carried out once each (counts: $once)" '[ "$once" = "1 " ]'
check "every request succeeded with its refund id ($states)" \
	'[ "$states" = "$(printf "succeeded+id %.0s" $(seq 1 8) | sed "s/ $//")" ]'
check "no answer was dropped: the ledger has all 8 refunds" \
	'[ "$(p -c "SELECT count(*) FROM okra_refunds")" = 8 ]'

echo "$fails failed"
[ "$fails" -eq 0 ]
