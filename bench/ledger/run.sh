#!/usr/bin/env bash
# bench/ledger/run.sh: the ledger at size, and what recording costs a call.
#
#   bash bench/ledger/run.sh            # as root on Debian 12, from the checkout
#
# Builds and installs okra, starts a throwaway PostgreSQL 15 (pg_virtualenv)
# and okra-sandbox, fills the ledger with PAYMENTS payments, REFUNDS refunds
# and CALLS API calls (bench/ledger/generate.sql), then measures, in the same
# run:
#   1. each report query, ROUNDS times: the median and the slowest, in ms;
#   2. okra_verify against the sandbox with the ledger at that size, in
#      alternating rounds of N calls: recording as shipped, and recording
#      replaced by an empty function (the baseline); the ratio of their
#      per-call times is the cost of recording.  Each round is measured
#      twice: with pgbench, one call per transaction (default
#      synchronous_commit, so recording adds a WAL flush per call), and in
#      one transaction (a DO loop), where only the writes themselves count.
#      The calls go to 1000 payments in turn (each one's row is updated
#      once per 1000 calls, as in life, not 2000 times in one transaction);
#   3. the ledger write alone: okra_ledger_record called N times on
#      prepared answers, per call.
# Writes the table to bench/out/ledger.txt.  Environment: PAYMENTS
# [1000000], REFUNDS [200000], CALLS [5000000], ROUNDS [5], N [2000].
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"	# ctl
if [ "${1:-}" != --inside ]; then
	okra_install_packages >/dev/null
	okra_build >/dev/null
	mkdir -p bench/out
	exec pg_virtualenv -t -v 15 -o shared_buffers=1GB -o work_mem=64MB -o max_wal_size=8GB \
		-o checkpoint_timeout=30min -o synchronous_commit=off bash ${BENCH_TRACE:+-x} "$0" --inside
fi

PAYMENTS=${PAYMENTS:-1000000} REFUNDS=${REFUNDS:-200000} CALLS=${CALLS:-5000000}
ROUNDS=${ROUNDS:-5} N=${N:-2000}
work=$(mktemp -d)
chmod 755 "$work"
trap '[ -n "${SB_PID:-}" ] && kill "$SB_PID"; rm -rf "$work"' EXIT
okra_start_sandbox SB "$work/sandbox.log" -q --key sk_test_bench --seed test/sandbox/seed-test.json
echo sk_test_bench >"$work/okra.key"
chown postgres "$work/okra.key"
chmod 600 "$work/okra.key"
okra_configure "http://127.0.0.1:$SB/v2" "$work/okra.key"
psql -qX -c 'CREATE DATABASE okra_bench'
export PGDATABASE=okra_bench
psql -qX -c 'CREATE EXTENSION okra' >/dev/null

echo "generating $PAYMENTS payments, $REFUNDS refunds, $CALLS calls..." >&2
t0=$(date +%s)
psql -qX -v payments="$PAYMENTS" -v refunds="$REFUNDS" -v calls="$CALLS" -f bench/ledger/generate.sql >/dev/null
gen_s=$(( $(date +%s) - t0 ))
sizes=$(psql -AtqX -c "SELECT string_agg(format('%s %s rows, %s', c.relname, c.reltuples::bigint,
	pg_size_pretty(pg_total_relation_size(c.oid))), E'\n' ORDER BY c.relname)
	FROM pg_class c WHERE c.relname IN ('okra_payments', 'okra_refunds', 'okra_status_changes', 'okra_api_calls')")

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maximum() { printf '%s\n' "$@" | sort -g | tail -n 1; }
# time_ms SQL: ROUNDS runs of SQL, "median max" in ms (server-side, EXPLAIN ANALYZE)
time_ms() {
	local i t all=()
	for i in $(seq 1 "$ROUNDS"); do
		t=$(psql -AtqX -c "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) $1" |
			python3 -c 'import json,sys; p=json.load(sys.stdin)[0]; print(p["Planning Time"] + p["Execution Time"])')
		all+=("$t")
	done
	printf '%.1f %.1f\n' "$(median "${all[@]}")" "$(maximum "${all[@]}")"
}
some_payment=$(psql -AtqX -c "SELECT payment_id FROM okra_refunds ORDER BY refund_id OFFSET 1000 LIMIT 1")
queries=(
	"SELECT * FROM okra_daily_summary"
	"SELECT * FROM okra_daily_summary(current_date - 30, current_date)"
	"SELECT * FROM okra_refundable WHERE payment_id = '$some_payment'"
	"SELECT count(*), sum(remaining) FROM okra_refundable"
	"SELECT * FROM okra_pending ORDER BY age DESC LIMIT 100"
	"SELECT count(*) FROM okra_pending"
	"SELECT * FROM okra_call_stats"
	"SELECT * FROM okra_api_calls WHERE payment_id = '$some_payment' ORDER BY called_at DESC LIMIT 20"
)
report=()
for q in "${queries[@]}"; do
	read -r med max < <(time_ms "$q")
	report+=("$(printf '%9s %9s  %s' "$med" "$max" "$q")")
done

# recording vs the empty baseline, alternating, N verifies per round
psql -AtqX -c "SELECT pg_get_functiondef('okra_ledger_record'::regproc)" >"$work/record.sql"
sed -n '1,/^AS \$function\$/p' "$work/record.sql" | sed '$d' >"$work/noop.sql"
printf 'AS $function$ BEGIN END $function$;\n' >>"$work/noop.sql"
echo ';' >>"$work/record.sql"
# 1000 payments at the sandbox for the calls to go round
for i in $(seq 1 1000); do
	printf '{"id": "64d%021x", "status": "success", "amount": 5000}\n' "$i"
done | while read -r p; do ctl "$SB" POST payments "$p" >/dev/null; done
psql -qX -c "CREATE TABLE bench_ids AS SELECT i, '64d' || lpad(to_hex(i), 21, '0') AS id FROM generate_series(1, 1000) i" -c "ALTER TABLE bench_ids ADD PRIMARY KEY (i)"
printf '%s\n' '\set n random(1, 1000)' \
	"SELECT status FROM okra_verify('64d' || lpad(to_hex(:n), 21, '0'));" >"$work/verify.pgbench"
pgbench_round() { # per-call microseconds, one call per transaction
	pgbench -n -c 1 -t "$N" -f "$work/verify.pgbench" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | awk '{ print 1e6 / $1 }'
}
loop_round() { # per-call microseconds, N calls in one transaction
	psql -AtqX -c "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
		FOR k IN 1..$N LOOP PERFORM okra_verify(id) FROM bench_ids WHERE i = 1 + k % 1000; END LOOP;
		RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - t0) * 1e6 / $N; END \$\$" 2>&1 |
		sed -n 's/^NOTICE: *//p'
}
with=() without=() with_tx=() without_tx=()
pgbench_round >/dev/null	# warm-up: every payment seen once, caches
for i in $(seq 1 "$ROUNDS"); do
	with+=("$(pgbench_round)") with_tx+=("$(loop_round)")
	psql -qX -f "$work/noop.sql" >/dev/null
	without+=("$(pgbench_round)") without_tx+=("$(loop_round)")
	psql -qX -f "$work/record.sql" >/dev/null
done
w=$(median "${with[@]}") wo=$(median "${without[@]}")
wt=$(median "${with_tx[@]}") wot=$(median "${without_tx[@]}")

# the ledger write alone, on a prepared answer
write_us=$(psql -AtqX -c "CREATE TEMP TABLE answers AS SELECT i, (okra_verify(id)).* FROM bench_ids; ALTER TABLE answers ADD PRIMARY KEY (i);
	DO \$\$ DECLARE p okra_payment; t0 timestamptz := clock_timestamp(); BEGIN
	FOR k IN 1..$N LOOP
		SELECT payment_id, status, amount, currency, customer_id, link_url, response_status, env, checked_at, response
		  INTO p FROM answers WHERE i = 1 + k % 1000;
		PERFORM okra_ledger_record('pay/verify', format('{\"payment_id\": \"%s\"}', p.payment_id),
			200, now(), now(), 'bench', p, NULL, false, p.response); END LOOP;
	RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - t0) * 1e6 / $N; END \$\$" 2>&1 | sed -n 's/^NOTICE: *//p')

{
	echo "okra ledger at size"
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine:  $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), PostgreSQL $(psql -AtqX -c 'SHOW server_version')"
	echo "data:     generated in ${gen_s}s"
	sed 's/^/          /' <<<"$sizes"
	echo
	echo "report queries, $ROUNDS runs each (planning + execution, ms):"
	echo "   median       max  query"
	printf '%s\n' "${report[@]}"
	echo
	echo "okra_verify against okra-sandbox, $ROUNDS alternating rounds of $N calls (median per call):"
	echo "  one call per transaction (pgbench -c 1, synchronous_commit on):"
	printf '    with recording     %8.1f us  (rounds: %s)\n' "$w" "$(printf '%.0f ' "${with[@]}")"
	printf '    empty recorder     %8.1f us  (rounds: %s)\n' "$wo" "$(printf '%.0f ' "${without[@]}")"
	printf '    ratio with/without %8.2f\n' "$(python3 -c "print($w / $wo)")"
	echo "  $N calls in one transaction:"
	printf '    with recording     %8.1f us  (rounds: %s)\n' "$wt" "$(printf '%.0f ' "${with_tx[@]}")"
	printf '    empty recorder     %8.1f us  (rounds: %s)\n' "$wot" "$(printf '%.0f ' "${without_tx[@]}")"
	printf '    ratio with/without %8.2f\n' "$(python3 -c "print($wt / $wot)")"
	printf '  ledger write alone   %8.1f us  (okra_ledger_record on prepared answers, one transaction)\n' "$write_us"
} | tee bench/out/ledger.txt
