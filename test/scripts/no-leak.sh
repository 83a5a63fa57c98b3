#!/usr/bin/env bash
# No memory leak on any path: one backend makes thousands of calls of each
# kind (a success, an Okra rejection, a non-JSON answer, an oversized answer,
# a connection reset, a refused connection, a missing key file, a bad
# argument) and its resident size must stay flat after a warm-up
# (house style section 7: "loop 1,000 failing calls and watch backend RSS").
# The reading is RssAnon, the backend's private memory: VmRSS also counts
# the shared buffers it touches, which grow with every ledger row written.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
N=${OKRA_LEAK_LOOPS:-1000}
LIMIT_KB=${OKRA_LEAK_LIMIT_KB:-1024}

ctl POST reset >/dev/null
db=okra_leak
trap 'psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; ctl DELETE faults >/dev/null 2>&1' EXIT
psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
psql -qX -v ON_ERROR_STOP=1 -d $db -c "CREATE EXTENSION okra" >/dev/null || exit 1

# one session; the faults are armed for every call of the loops (count)
out=$(psql -AtqX -v ON_ERROR_STOP=1 -d $db 2>&1 <<SQL
CREATE FUNCTION rss_kb() RETURNS int LANGUAGE sql AS
	\$\$ SELECT substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s*(\d+)')::int \$\$;
CREATE FUNCTION hammer(n int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	dummy record;
BEGIN
	FOR i IN 1..n LOOP
		PERFORM okra_verify('64a000000000000000000001');
		BEGIN PERFORM okra_verify('64a0000000000000000000ff'); EXCEPTION WHEN SQLSTATE 'OK006' THEN NULL; END;
		BEGIN PERFORM okra_verify('bad'); EXCEPTION WHEN SQLSTATE '22023' THEN NULL; END;
		BEGIN PERFORM okra_request('pay/link/create', '{"amount": 1}'); EXCEPTION WHEN SQLSTATE 'OK009' THEN NULL; END;
		PERFORM set_config('okra.base_url', 'http://127.0.0.1:1/v2', true);
		BEGIN PERFORM okra_verify('64a000000000000000000001'); EXCEPTION WHEN SQLSTATE '08001' THEN NULL; END;
		PERFORM set_config('okra.base_url', current_setting('okra_leak.url'), true);
		PERFORM set_config('okra.api_key_file', '/nonexistent/okra.key', true);
		BEGIN PERFORM okra_verify('64a000000000000000000001'); EXCEPTION WHEN SQLSTATE '55000' THEN NULL; END;
		PERFORM set_config('okra.api_key_file', current_setting('okra_leak.key'), true);
	END LOOP;
END \$\$;
-- the faulty answers: non-JSON, oversized, reset; each route its own fault
CREATE FUNCTION hammer_faults(n int) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
	FOR i IN 1..n LOOP
		BEGIN PERFORM okra_request('pay/list'); EXCEPTION WHEN SQLSTATE 'OK011' THEN NULL; END;
		BEGIN PERFORM okra_request('pay/get/id', '{"payment_id": "64a000000000000000000001"}');
			EXCEPTION WHEN SQLSTATE 'OK011' THEN NULL; END;
		BEGIN PERFORM okra_cancel('64a00000000000000000000a'); EXCEPTION WHEN SQLSTATE 'OK010' THEN NULL; END;
	END LOOP;
END \$\$;
LOAD 'okra';
SELECT set_config('okra_leak.url', current_setting('okra.base_url'), false) IS NULL;
SELECT set_config('okra_leak.key', current_setting('okra.api_key_file'), false) IS NULL;
SET okra.max_response_size = '4kB';
\! ctl POST faults '{"kind": "status", "status": 200, "body": "<html>not json</html>", "route": "pay/list", "count": 1000000}' >/dev/null
\! ctl POST faults '{"kind": "size", "bytes": 8000, "route": "pay/get/id", "count": 1000000}' >/dev/null
\! ctl POST faults '{"kind": "reset", "route": "pay/cancel", "count": 1000000}' >/dev/null
SELECT hammer(200), hammer_faults(200);
SELECT 'before=' || rss_kb();
SELECT hammer($N), hammer_faults($N);
SELECT 'after=' || rss_kb();
SQL
)
rc=$?
echo "$out" | grep -v '^$' | tail -5
[ $rc -eq 0 ] || { echo "FAIL: the session failed"; exit 1; }
before=$(sed -n 's/^before=//p' <<<"$out")
after=$(sed -n 's/^after=//p' <<<"$out")
[ -n "$before" ] && [ -n "$after" ] || { echo "FAIL: no RSS readings"; exit 1; }
growth=$((after - before))
echo "backend RssAnon: ${before} kB -> ${after} kB after $N rounds of 10 calls (growth ${growth} kB, limit ${LIMIT_KB} kB)"
[ $growth -le $LIMIT_KB ] || { echo "FAIL: backend memory grows by ${growth} kB"; exit 1; }
echo "ok"
