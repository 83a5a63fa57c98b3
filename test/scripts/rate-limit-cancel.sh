#!/usr/bin/env bash
# A cancelled wait gives its rate-limit turn back (issue 10, item 7): under
# okra.rate_limit_per_minute = 60, one session runs 300 okra_verify calls
# with statement_timeout = 5ms, nearly all cancelled while they wait for a
# turn; then a normal okra_verify completes within 5 s.  Before the fix
# every cancelled wait kept its turn, so the next free turn was 300 turns
# (5 minutes) ahead.  Checked with okra preloaded (turns in shared memory:
# the next call is another session's) and without (each backend's own
# turns: the next call is the same session's).  Runs its own throwaway
# clusters.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_SANDBOX_PORT:?}" "${OKRA_TEST_DIR:?}"
LIMIT=60	# a turn a second
BOUND=5		# seconds the normal call may take
fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -20 "$work/server.log"; exit 1; }
work=$(mktemp -d /tmp/okra-rlcancel.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
trap 'okra_stop_cluster "$work"; rm -rf "$work"' EXIT

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
now() { date +%s.%N; }
secs() { python3 -c "print(round($2 - $1, 2))"; }
within() { python3 -c "import sys; sys.exit(0 if $1 < $BOUND else 1)"; }

# the loop: 300 calls in one session, each cancelled after 5 ms
{
	echo "SET statement_timeout = '5ms';"
	for _ in $(seq 1 300); do echo "SELECT okra_verify('64a000000000000000000001') IS NOT NULL;"; done
	echo "RESET statement_timeout;"
} >"$work/loop.sql"
chmod 644 "$work/loop.sql"

for mode in preloaded local; do
	if [ "$mode" = preloaded ]; then
		okra_preloaded_cluster "$work" "$OKRA_SANDBOX_PORT" "okra.rate_limit_per_minute = $LIMIT" ||
			fail "the server did not start"
	else
		# a later line wins: the same cluster setup without preloading
		okra_preloaded_cluster "$work" "$OKRA_SANDBOX_PORT" "okra.rate_limit_per_minute = $LIMIT" \
			"shared_preload_libraries = ''" || fail "the server did not start"
	fi
	port=$OKRA_CLUSTER_PORT
	p() { psql -X -h "$work" -p "$port" -U postgres -d postgres -AtqX "$@" 2>&1; }
	p -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" >/dev/null || fail "CREATE EXTENSION ($mode)"
	echo "-- $mode"

	# one session: the loop, then (same backend) a normal call, timed by the
	# shell; statement_timeout = 60s keeps a failure from hanging the suite
	t0=$(now)
	p -f "$work/loop.sql" \
		-c "\\! date +%s.%N >$work/t1" \
		-c "SET statement_timeout = '60s'" \
		-c "SELECT 'same-session ' || status FROM okra_verify('64a000000000000000000001')" \
		-c "\\! date +%s.%N >$work/t2" >"$work/loop.out"
	t1=$(cat "$work/t1" 2>/dev/null || echo 0)
	t2=$(cat "$work/t2" 2>/dev/null || echo 0)
	cancelled=$(grep -c "canceling statement due to statement timeout" "$work/loop.out")
	echo "the loop took $(secs "$t0" "$t1") s; $cancelled of 300 calls cancelled"
	check "$mode: the loop's calls were cancelled ($cancelled of 300; at $LIMIT a minute, nearly all while waiting)" \
		'[ "$cancelled" -ge 250 ]'
	check "$mode: then a normal call in the same session took $(secs "$t1" "$t2") s (under $BOUND s)" \
		'grep -q "^same-session success$" "$work/loop.out" && within "$(secs "$t1" "$t2")"'

	if [ "$mode" = preloaded ]; then
		# the turns are the cluster's: another session right after another loop
		p -f "$work/loop.sql" >/dev/null
		t1=$(now)
		out=$(p -c "SET statement_timeout = '60s'" -c "SELECT status FROM okra_verify('64a000000000000000000001')")
		t2=$(now)
		check "$mode: after another loop, a call in another session took $(secs "$t1" "$t2") s ($out)" \
			'[ "$out" = success ] && within "$(secs "$t1" "$t2")"'
	fi
	okra_stop_cluster "$work"
	rm -rf "${work:?}/data" "$work/server.log"
done
[ $fails -eq 0 ]
