#!/usr/bin/env bash
# bench/journal/run.sh: what the journal costs a money-moving call.
#
#   bash bench/journal/run.sh            # as root on Debian 12, from the checkout
#
# Builds and installs okra, starts okra-sandbox (no added latency) and two
# throwaway PostgreSQL 15 clusters side by side: one with okra preloaded
# (every okra_refund waits for its intent to be committed by the database's
# okra worker, synchronous_commit = on, before it is sent), and the
# baseline without it (okra.allow_unjournaled = on: nothing journaled).
# Both run the same pgbench script, a 1-kobo okra_refund per transaction
# over 50 large payments, in ROUNDS alternating rounds of N transactions;
# per-call latencies come from pgbench's transaction log.  Prints the
# median and p95 of each, the difference of the medians (the journal's
# cost per call) and their ratio.  Environment: ROUNDS [3], N [500].
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"	# ctl
okra_install_packages >/dev/null
okra_build >/dev/null
ROUNDS=${ROUNDS:-3} N=${N:-500}
work=$(mktemp -d /tmp/okra-bench.XXXXXX)
chown postgres:postgres "$work"
chmod 711 "$work"
mkdir "$work/a" "$work/b" "$work/log"
chown postgres:postgres "$work/a" "$work/b" "$work/log"
cleanup() {
	okra_stop_cluster "$work/a"; okra_stop_cluster "$work/b"
	[ -n "${SB_PID:-}" ] && kill "$SB_PID"
	rm -rf "$work"
}
trap cleanup EXIT
okra_start_sandbox SB "$work/sandbox.log" -q --key sk_test_bench --seed test/sandbox/seed-test.json
export OKRA_SANDBOX_PORT=$SB OKRA_TEST_DIR=$work
echo sk_test_bench >"$work/okra.key"
chown postgres "$work/okra.key"
chmod 600 "$work/okra.key"

okra_preloaded_cluster "$work/a" "$SB" "max_connections = 20"
port_a=$OKRA_CLUSTER_PORT
okra_preloaded_cluster "$work/b" "$SB" "shared_preload_libraries = ''" "okra.allow_unjournaled = on" "max_connections = 20"
port_b=$OKRA_CLUSTER_PORT

ids=()
for i in $(seq 1 50); do
	ids+=("'$(ctl POST payments '{"status": "success", "amount": 1000000000}' | jq -r .payment.id)'")
done
list=$(IFS=,; echo "${ids[*]}")
for c in a b; do
	port_var=port_$c
	psql -qX -h "$work/$c" -p "${!port_var}" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION okra;
CREATE TABLE bench_payments (n int PRIMARY KEY, id text);
INSERT INTO bench_payments SELECT row_number() OVER (), id FROM unnest(ARRAY[$list]) AS id;
SQL
done
# the worker of cluster a serves postgres once okra is installed
for i in $(seq 1 100); do
	[ "$(psql -AtqX -h "$work/a" -p "$port_a" -U postgres -d postgres -c "SELECT worker_running FROM okra_outbox_health()")" = t ] && break
	sleep 0.1
done
psql -AtqX -h "$work/a" -p "$port_a" -U postgres -d postgres -c "SELECT okra_verify(id) FROM bench_payments" >/dev/null
psql -AtqX -h "$work/b" -p "$port_b" -U postgres -d postgres -c "SELECT okra_verify(id) FROM bench_payments" >/dev/null
cat >"$work/refund.sql" <<'SQL'
\set n random(1, 50)
SELECT amount FROM okra_refund((SELECT id FROM bench_payments WHERE n = :n), 1);
SQL
chmod 644 "$work/refund.sql"

run() {	# run CLUSTER ROUND: N refunds with pgbench, latencies (us) appended to $work/CLUSTER.lat
	local c=$1 port_var=port_$1
	su postgres -s /bin/sh -c "cd '$work/log' && '$(pg_config --bindir)/pgbench' -n -h '$work/$c' -p '${!port_var}' -U postgres \
		-t $N -f '$work/refund.sql' -l --log-prefix=$c$2 postgres" >"$work/pgbench.out" 2>&1 || { cat "$work/pgbench.out"; exit 1; }
	awk '{ print $3 }' "$work/log/$c$2".* >>"$work/$c.lat"
}
for r in $(seq 1 "$ROUNDS"); do
	run a "$r"; run b "$r"
done
stat() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%d %d %d\n", v[int((NR + 1) / 2)], v[int(NR * 0.95)], NR }'; }
read -r med_a p95_a n_a < <(stat "$work/a.lat")
read -r med_b p95_b n_b < <(stat "$work/b.lat")
unknown=$(psql -AtqX -h "$work/a" -p "$port_a" -U postgres -d postgres -c "SELECT count(*) FILTER (WHERE outcome IS DISTINCT FROM 'succeeded') || ' of ' || count(*) FROM okra_journal")
printf '%-44s %10s %10s %8s\n' "okra_refund, one per transaction" "median us" "p95 us" "calls"
printf '%-44s %10d %10d %8d\n' "journaled (okra preloaded)" "$med_a" "$p95_a" "$n_a"
printf '%-44s %10d %10d %8d\n' "baseline: unjournaled (not preloaded)" "$med_b" "$p95_b" "$n_b"
printf 'journal cost per call: %d us at the median (target: under 2000); ratio %s\n' \
	"$((med_a - med_b))" "$(awk -v a="$med_a" -v b="$med_b" 'BEGIN { printf "%.2f", a / b }')"
echo "journal entries not succeeded: $unknown"
