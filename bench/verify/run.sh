#!/usr/bin/env bash
# bench/verify/run.sh: what a verification costs, one at a time and in
# scheduled batches, and whether a backend's memory stays flat.
#
#   bash bench/verify/run.sh            # as root on Debian 12, from the checkout
#
# Builds and installs okra, installs plpython3u if missing, starts a
# throwaway PostgreSQL 15 (pg_virtualenv) and okra-sandbox seeded with
# PENDING pending payments, then measures in the same run:
#   1. per call, from one backend, ROUNDS alternating rounds of N calls
#      each: okra_verify; okra_verify with its ledger recording replaced by
#      an empty function (bench only, in a database of its own); the plain C
#      libcurl client bench/verify/client.c over one keep-alive connection
#      (the ceiling); and the same call written in plpython3u with urllib
#      (what people write otherwise).  At the sandbox's 0 ms latency, and
#      again (N/10 calls) at 5 ms;
#   2. batch throughput: CALL okra_verify_pending over the PENDING payments
#      with the sandbox answering after 50 ms, at concurrency 1 (over
#      PENDING/10 of them: all would take PENDING * 50 ms), 8, 32 and 64,
#      next to the ideal, concurrency / latency;
#   3. memory: one backend's RssAnon before and after CALLS okra_verify
#      calls, and after RUNS scheduled runs of 100 payments each.
# Writes the table to bench/out/verify.txt.  Environment: PENDING [10000],
# N [5000], ROUNDS [5], CALLS [100000], RUNS [100].
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
if [ "${1:-}" != --inside ]; then
	OKRA_PACKAGES="$OKRA_PACKAGES postgresql-plpython3-15" okra_install_packages >/dev/null
	okra_build >/dev/null
	mkdir -p bench/out
	gcc -O2 -Wall -Wextra -Werror -o bench/out/verify-client bench/verify/client.c \
		$(pkg-config --cflags --libs libcurl)
	exec pg_virtualenv -t -v 15 -o shared_buffers=512MB -o max_wal_size=4GB \
		bash ${BENCH_TRACE:+-x} "$0" --inside
fi

PENDING=${PENDING:-10000} N=${N:-5000} ROUNDS=${ROUNDS:-5} CALLS=${CALLS:-100000} RUNS=${RUNS:-100}
work=$(mktemp -d)
chmod 755 "$work"
trap '[ -n "${SB_PID:-}" ] && kill "$SB_PID"; rm -rf "$work"' EXIT
out=bench/out/verify.txt
key=sk_test_okra_bench
printf '%s\n' "$key" >"$work/okra.key"
chown postgres "$work/okra.key"
chmod 600 "$work/okra.key"

# payment i is 65b followed by i in 21 hex digits
python3 -c "
import json
print(json.dumps({'payments': [{'id': '65b%021x' % i, 'status': 'pending', 'amount': 1000}
                               for i in range($PENDING)]}))" >"$work/seed.json"
okra_start_sandbox SB "$work/sandbox.log" --key "$key" --seed "$work/seed.json" -q
url="http://127.0.0.1:$SB/v2"
okra_configure "$url" "$work/okra.key"
ctl() { test/sandbox/ctl "$SB" "$@" >/dev/null; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

setup_db() {
	createdb "$1"
	psql -qX -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<SQL
CREATE EXTENSION okra;
CREATE EXTENSION plpython3u;
CREATE FUNCTION pid(i int) RETURNS text IMMUTABLE LANGUAGE sql AS \$\$ SELECT '65b' || lpad(to_hex(i), 21, '0') \$\$;
-- n calls of fn to the payments in turn, in seconds (each row written at
-- most once per call of bench when n <= PENDING, as in life)
CREATE FUNCTION bench(fn text, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE format('SELECT count(%I(pid(i %% $PENDING))) FROM generate_series(1, \$1) AS i', fn) USING n;
	RETURN extract(epoch FROM clock_timestamp() - t0);
END \$\$;
-- okra_verify as a user would write it in plpython3u with urllib
CREATE FUNCTION py_verify(payment_id text) RETURNS jsonb LANGUAGE plpython3u AS \$py\$
import json, urllib.request
if 'key' not in GD:
    with open(plpy.execute("SELECT current_setting('okra.api_key_file') AS f")[0]['f']) as f:
        GD['key'] = f.read().strip()
    GD['url'] = plpy.execute("SELECT current_setting('okra.base_url') AS u")[0]['u']
req = urllib.request.Request(GD['url'] + '/pay/verify', method='POST',
                             data=json.dumps({'payment_id': payment_id}).encode(),
                             headers={'Content-Type': 'application/json',
                                      'Authorization': 'Bearer ' + GD['key']})
with urllib.request.urlopen(req, timeout=65) as r:
    return r.read().decode()
\$py\$;
SQL
}
setup_db bench
setup_db bench_stub
# bench only: the ledger write replaced by nothing, to see the rest of the call
psql -qX -v ON_ERROR_STOP=1 -d bench_stub -c "CREATE OR REPLACE FUNCTION okra_ledger_record(endpoint text,
	request text, http_status integer, started_at timestamptz, finished_at timestamptz, role name,
	payment okra_payment, refund okra_refund, full_refund boolean, response jsonb) RETURNS boolean
	LANGUAGE sql AS 'SELECT false'" >/dev/null
ids=$(python3 -c "print(' '.join('65b%021x' % i for i in range(1000)))")

# -- 1. per call
percall() {		# $1 calls per round; prints "okra stub c py" medians, us per call
	local n=$1 r
	: >"$work/okra" ; : >"$work/stub" ; : >"$work/c" ; : >"$work/py"
	psql -AtqX -d bench -c "SELECT bench('okra_verify', 200), bench('py_verify', 20)" >/dev/null	# warm up
	psql -AtqX -d bench_stub -c "SELECT bench('okra_verify', 200)" >/dev/null
	for r in $(seq 1 "$ROUNDS"); do
		psql -AtqX -d bench -c "SELECT bench('okra_verify', $n) * 1e6 / $n" >>"$work/okra"
		psql -AtqX -d bench_stub -c "SELECT bench('okra_verify', $n) * 1e6 / $n" >>"$work/stub"
		bench/out/verify-client "$url" "$work/okra.key" "$n" $ids | awk -v n="$n" '{ print $1 * 1e6 / n }' >>"$work/c"
		psql -AtqX -d bench -c "SELECT bench('py_verify', $n) * 1e6 / $n" >>"$work/py"
	done
	echo "$(median <"$work/okra") $(median <"$work/stub") $(median <"$work/c") $(median <"$work/py")"
}
echo "== per call, 0 ms latency ($ROUNDS rounds of $N)"
read -r ok0 st0 c0 py0 < <(percall "$N")
ctl POST config '{"latency_ms": 5}'
echo "== per call, 5 ms latency ($ROUNDS rounds of $((N / 10)))"
read -r ok5 st5 c5 py5 < <(percall $((N / 10)))

# -- 2. batch throughput at 50 ms
ctl POST config '{"latency_ms": 50}'
psql -qX -d bench -c "TRUNCATE okra_payments, okra_api_calls, okra_status_changes, okra_verification_runs" \
	-c "SELECT count(okra_track(pid(i))) FROM generate_series(0, $PENDING - 1) AS i" >/dev/null
batch_rows=""
for c in 1 8 32 64; do
	n=$PENDING
	[ "$c" = 1 ] && n=$((PENDING / 10))
	psql -qX -d bench -c "UPDATE okra_payments SET next_check_at = now() - interval '1 s'" -c "VACUUM okra_payments" >/dev/null
	echo "== batch: $n payments, concurrency $c"
	t0=$(date +%s.%N)
	psql -qX -d bench -c "SET client_min_messages = warning" -c "CALL okra_verify_pending($n, $c)"
	t1=$(date +%s.%N)
	checked=$(psql -AtqX -d bench -c "SELECT checked FROM okra_verification_runs ORDER BY run_id DESC LIMIT 1")
	batch_rows+=$(python3 -c "
t = $t1 - $t0; rate = $checked / t; ideal = $c / 0.050
print('| %d | %d | %.1f | %.0f | %.0f | %.2f |' % ($c, $checked, t, rate, ideal, rate / ideal))")$'\n'
done

# -- 3. memory of one backend
ctl POST config '{"latency_ms": 0}'
echo "== memory: $CALLS calls, then $RUNS runs"
mem=$(psql -AtqX -d bench 2>&1 <<SQL
SET client_min_messages = warning;
CREATE FUNCTION rss_kb() RETURNS int LANGUAGE sql AS
	\$\$ SELECT substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s*(\d+)')::int \$\$;
UPDATE okra_payments SET next_check_at = now() WHERE payment_id IN (SELECT pid(i) FROM generate_series(0, 99) AS i);
CALL okra_verify_pending(100, 8);
SELECT count(okra_verify(pid(i % $PENDING))) >= 0 FROM generate_series(1, 2000) AS i;
SELECT 'before=' || rss_kb();
$(for _ in $(seq 1 $((CALLS / 10000))); do echo "SELECT count(okra_verify(pid(i % $PENDING))) >= 0 FROM generate_series(1, 10000) AS i;"; done)
SELECT 'calls=' || rss_kb();
$(for _ in $(seq 1 "$RUNS"); do
	echo "UPDATE okra_payments SET next_check_at = now() WHERE payment_id IN (SELECT pid(i) FROM generate_series(0, 99) AS i);"
	echo "CALL okra_verify_pending(100, 8);"
done)
SELECT 'runs=' || rss_kb();
SQL
)
before=$(sed -n 's/^before=//p' <<<"$mem")
after_calls=$(sed -n 's/^calls=//p' <<<"$mem")
after_runs=$(sed -n 's/^runs=//p' <<<"$mem")
[ -n "$before" ] && [ -n "$after_runs" ] || { echo "$mem"; exit 2; }

{
	echo "# okra_verify: per call, batches, memory ($(date -u +%Y-%m-%d), $(nproc) cores)"
	echo
	echo "Per call, one backend, median of $ROUNDS rounds (µs per call; ratios are calls/s of okra_verify to the other):"
	echo
	echo "| sandbox latency | okra_verify | okra_verify, no ledger write | C libcurl keep-alive | plpython3u urllib | okra / C | okra no ledger / C | okra / plpython3u |"
	echo "|---|---|---|---|---|---|---|---|"
	python3 -c "
for lat, o, s, c, p in (('0 ms', $ok0, $st0, $c0, $py0), ('5 ms', $ok5, $st5, $c5, $py5)):
    print('| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.1f |' % (lat, o, s, c, p, c / o, c / s, p / o))"
	echo
	echo "Batch: CALL okra_verify_pending, sandbox latency 50 ms, $PENDING pending payments:"
	echo
	echo "| concurrency | payments | seconds | verified/s | ideal/s | of ideal |"
	echo "|---|---|---|---|---|---|"
	printf '%s' "$batch_rows"
	echo
	echo "Memory, one backend's RssAnon: $before kB after warm-up; $after_calls kB after $CALLS okra_verify calls ($((after_calls - before)) kB); $after_runs kB after $RUNS more scheduled runs of 100 payments ($((after_runs - after_calls)) kB)."
} | tee "$out"
