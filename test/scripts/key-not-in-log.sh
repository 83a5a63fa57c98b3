#!/usr/bin/env bash
# The secret key never reaches the server log: with log_statement = 'all'
# and log_error_verbosity = 'verbose', every kind of call (successes, each
# Okra rejection, lost answers, key file errors, a group-readable key file,
# a cancel) leaves statements and errors in the log, and neither key appears
# in any of it.  Also: okra-sandbox run with -vv never logs the key it
# receives (test/sandbox/README.md, "--verbose").
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

fail() { echo "FAIL: $*"; exit 1; }
: "${OKRA_SANDBOX_KEY:?}" "${OKRA_SANDBOX_KEY2:?}" "${OKRA_TEST_DIR:?}" "${OKRA_SANDBOX_PORT:?}"

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	[ -n "${SPY_PID:-}" ] && kill "$SPY_PID" 2>/dev/null
	psql -qX -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_error_verbosity" \
		-c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	psql -qX -c "DROP DATABASE IF EXISTS okra_keylog" -c "DROP ROLE IF EXISTS okra_keylog_app" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

marker="okra-log-marker-$$-$RANDOM"
log=$(okra_find_server_log) || fail "cannot find the server log"
echo "server log: $log"
start=$(($(wc -l <"$log") + 1))

psql -qX -v ON_ERROR_STOP=1 <<SQL
ALTER SYSTEM SET log_statement = 'all';
ALTER SYSTEM SET log_error_verbosity = 'verbose';
SELECT pg_reload_conf();
CREATE DATABASE okra_keylog;
CREATE ROLE okra_keylog_app;
SQL
sleep 0.3

ctl POST reset >/dev/null
# key files that must not leak either: two lines, an open one (WARNING)
printf '%s\nsecond line\n' "$OKRA_SANDBOX_KEY" >"$work/two-lines.key"
install -m 644 "$OKRA_TEST_DIR/okra.key" "$work/open.key"
chown postgres:postgres "$work"/*.key
chmod 600 "$work/two-lines.key"

psql -X -d okra_keylog -v ON_ERROR_STOP=0 >"$work/psql.out" 2>&1 <<SQL
CREATE EXTENSION okra;
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_refund(text, bigint, text, text) TO okra_keylog_app;
SELECT 'positive-control-$marker';
-- successes
SELECT * FROM okra_verify('64a000000000000000000001');
SELECT * FROM okra_refund('64a000000000000000000001', 100, 'log test');
SELECT * FROM okra_cancel('64a00000000000000000000c');
SELECT okra_request('pay/list', '{"limit": 2}');
-- Okra's rejections
SELECT okra_refund('64a00000000000000000000e');
SELECT okra_verify('64a0000000000000000000ff');
SELECT okra_request('pay/link/create', '{}');
-- the wrong key, another merchant's key
SET okra.api_key_file = '$OKRA_TEST_DIR/wrong.key';
SELECT okra_verify('64a000000000000000000001');
SET okra.api_key_file = '$OKRA_TEST_DIR/key2.key';
SELECT okra_verify('64a000000000000000000001');
-- key files that are unusable, or readable by others
SET okra.api_key_file = '$work/two-lines.key';
SELECT okra_verify('64a000000000000000000001');
SET okra.api_key_file = '$work/open.key';
SELECT okra_verify('64a000000000000000000001');
RESET okra.api_key_file;
-- lost and broken answers
\! ctl POST faults '{"kind": "after_status", "route": "pay/refund"}' >/dev/null
SELECT okra_refund('64a000000000000000000009', 100);
\! ctl POST faults '{"kind": "after_drop"}' >/dev/null
SELECT okra_refund('64a000000000000000000009', 100);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "not json"}' >/dev/null
SELECT okra_verify('64a000000000000000000001');
\! ctl POST faults '{"kind": "status", "status": 401, "body": "{\"status\":\"error\",\"message\":\"Invalid or missing secret key.\"}"}' >/dev/null
SELECT okra_verify('64a000000000000000000001');
-- not sent
SET okra.base_url = 'http://127.0.0.1:1/v2';
SELECT okra_verify('64a000000000000000000001');
RESET okra.base_url;
-- a cancel by statement_timeout
\! ctl POST faults '{"kind": "delay", "ms": 3000}' >/dev/null
SET statement_timeout = '300ms';
SELECT okra_verify('64a000000000000000000001');
RESET statement_timeout;
-- the same as an ordinary role
SET ROLE okra_keylog_app;
SELECT okra_verify('64a000000000000000000001');
SELECT okra_refund('64a000000000000000000008', 1, 'as app');
SELECT okra_verify('64a0000000000000000000ff');
SELECT current_setting('okra.api_key_file');
RESET ROLE;
SQL
sleep 0.5
tail -n +"$start" "$log" >"$work/log.out"

# the log did get what was run (otherwise this test proves nothing)
grep -qF "positive-control-$marker" "$work/log.out" || fail "log_statement did not log the statements"
for want in "okra_verify('64a000000000000000000001')" "Payment not found." "Invalid or missing secret key." \
	"OK007" "OK010" "OK011" "08001" "55000" "57014" "Okra API key file is readable by group or others" \
	"Okra API key file is not a single line of text" "must be superuser or have privileges of pg_read_all_settings"; do
	grep -qF -- "$want" "$work/log.out" || { sed 's/^/    log: /' "$work/log.out" | tail -80; fail "the log lacks \"$want\""; }
done
# ... and never a key
for k in "$OKRA_SANDBOX_KEY" "$OKRA_SANDBOX_KEY2"; do
	if grep -nF -- "$k" "$work/log.out" "$work/psql.out"; then
		fail "a secret key appears in the server log or the client's output"
	fi
done
# the whole log, not just this run's part
if grep -lF -- "$OKRA_SANDBOX_KEY" "$log"; then fail "the key appears somewhere in the server log"; fi
echo "ok: $(wc -l <"$work/log.out") log lines, no key"

# okra-sandbox -vv: one log line per request, bodies included, never the key
okra_start_sandbox SPY "$work/spy.log" -vv --key "$OKRA_SANDBOX_KEY" --seed test/sandbox/seed-test.json
psql -qX -d okra_keylog >/dev/null 2>&1 <<SQL || true
SET okra.base_url = 'http://127.0.0.1:$SPY/v2';
SELECT okra_verify('64a000000000000000000001');
SELECT okra_refund('64a000000000000000000001', 100);
SET okra.api_key_file = '$OKRA_TEST_DIR/wrong.key';
SELECT okra_verify('64a000000000000000000001');
SQL
sleep 0.3
grep -q "pay/verify" "$work/spy.log" || { cat "$work/spy.log"; fail "okra-sandbox -vv logged no request"; }
if grep -nF -e "$OKRA_SANDBOX_KEY" -e "sk_test_not_a_key" "$work/spy.log"; then
	fail "okra-sandbox -vv logged a key"
fi
echo "ok: okra-sandbox -vv logged $(wc -l <"$work/spy.log") lines, no key"
