#!/usr/bin/env bash
# okra.rate_limit_per_minute holds for the whole cluster when okra is
# preloaded: four sessions verifying as fast as they can and a scheduled
# run (okra_verify_pending) with work waiting, against an
# okra-sandbox whose own limit (a sliding 60 s window, answering 429
# beyond) is the same, get no 429 at all and still use at least 90% of the
# allowed rate.  Cancel and statement_timeout work while a call waits for
# its turn.  Runs its own throwaway cluster with shared_preload_libraries.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_SANDBOX_KEY:?}" "${OKRA_TEST_DIR:?}"
LIMIT=${OKRA_RATE_TEST_LIMIT:-120}	# per minute, ours and the sandbox's
SECONDS_RUN=${OKRA_RATE_TEST_SECONDS:-15}
SESSIONS=4
fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -20 "$work/server.log"; exit 1; }
work=$(mktemp -d /tmp/okra-rate.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
trap 'okra_stop_cluster "$work"; [ -n "${RL_PID:-}" ] && kill "$RL_PID"; rm -rf "$work"' EXIT

okra_start_sandbox RL "$work/sandbox.log" --key "$OKRA_SANDBOX_KEY" --seed test/sandbox/seed-test.json \
	--rate-limit "$LIMIT" || fail "okra-sandbox"
okra_preloaded_cluster "$work" "$RL" "okra.rate_limit_per_minute = $LIMIT" || fail "the server did not start"
port=$OKRA_CLUSTER_PORT
p() { psql -X -h "$work" -p "$port" -U postgres -d postgres -AtqX "$@" 2>&1; }
p -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" >/dev/null || fail "CREATE EXTENSION"

# each session: verify until the time is up; print "calls 429s"
hammer="DO \$\$ DECLARE n int := 0; r int := 0; t_end timestamptz := clock_timestamp() + interval '$SECONDS_RUN s';
BEGIN
	WHILE clock_timestamp() < t_end LOOP
		BEGIN
			PERFORM okra_verify('64a000000000000000000001');
			n := n + 1;
		EXCEPTION WHEN SQLSTATE 'OK008' THEN r := r + 1;
		END;
	END LOOP;
	RAISE NOTICE 'RESULT % %', n, r;
END \$\$"
# pending payments for the scheduled run, which the time limit cuts short
for _ in $(seq 1 40); do
	id=$(test/sandbox/ctl "$RL" POST payments '{"status": "pending", "amount": 100}' | jq -r .payment.id)
	p -c "SELECT okra_track('$id')" >/dev/null
done
t0=$(date +%s.%N)
pids=()
for i in $(seq 1 $SESSIONS); do
	p -c "$hammer" >"$work/s$i.out" &
	pids+=($!)
done
p -c "SET statement_timeout = '${SECONDS_RUN}s'" -c "CALL okra_verify_pending(1000, 1)" >"$work/run.out" &
pids+=($!)
wait "${pids[@]}"
t1=$(date +%s.%N)
batch=$(p -c "SELECT sum(checked) FROM okra_verification_runs")
read -r calls r429 < <(cat "$work"/s*.out | sed -n 's/.*RESULT \([0-9]*\) \([0-9]*\).*/\1 \2/p' |
	awk '{ c += $1; r += $2 } END { print c + 0, r + 0 }')
counted=$(curl -s "http://127.0.0.1:$RL/_sandbox/counters" | python3 -c '
import json, sys
c = json.load(sys.stdin)["requests"].get("/v2/pay/verify", {})
print(c.get("200", 0), c.get("429", 0))')
read -r ok200 sb429 <<<"$counted"
allowed=$(python3 -c "print(($t1 - $t0) * $LIMIT / 60)")
echo "$SESSIONS sessions and a scheduled run ($batch payments checked) for $(python3 -c "print(round($t1 - $t0, 1))") s at $LIMIT/min: $calls calls, $r429 answered 429; the sandbox counted $ok200 OK and $sb429 429s; allowed about $(python3 -c "print(round($allowed, 1))")"
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
check "no request was over Okra's limit (0 answers 429)" '[ "$r429" = 0 ] && [ "$sb429" = 0 ]'
check "the scheduled run shared the budget and committed what it checked" '[ "${batch:-0}" -ge 2 ]'
check "at least 90% of the allowed rate was used ($ok200 of about $(python3 -c "print(round($allowed))"))" \
	"python3 -c 'import sys; sys.exit(0 if $ok200 >= 0.9 * $allowed else 1)'"
check "and no more than allowed (plus the one already waiting at the start)" \
	"python3 -c 'import sys; sys.exit(0 if $ok200 <= $allowed + 1 else 1)'"
# a call waiting for its turn is cancelled by statement_timeout: first take
# the next ten slots, then time out in the eleventh's wait
out=$(p -c "SET statement_timeout = '300ms'" -c "SELECT okra_verify('64a000000000000000000001') FROM generate_series(1, 10)")
check "statement_timeout stops a call that waits for its turn ($(tr '\n' ' ' <<<"$out"))" \
	'[[ $out == *"canceling statement due to statement timeout"* ]]'
[ $fails -eq 0 ]
