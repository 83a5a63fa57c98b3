#!/usr/bin/env bash
# An ordinary role cannot send the key elsewhere by setting okra.base_url or
# okra.api_key_file before the library is loaded (when they are still
# placeholders), neither with SET nor with ALTER ROLE ... SET. A second
# okra-sandbox plays the attacker's server: it must receive no request.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

work=$(mktemp -d)
trap '[ -n "${SPY_PID:-}" ] && kill "$SPY_PID" 2>/dev/null; rm -rf "$work"; psql -qX -c "DROP ROLE IF EXISTS okra_spy_app" >/dev/null 2>&1 || true' EXIT
okra_start_sandbox SPY "$work/spy.log" --key "$OKRA_SANDBOX_KEY"

db=okra_placeholder
psql -qX -v ON_ERROR_STOP=1 <<SQL
DROP DATABASE IF EXISTS $db;
CREATE DATABASE $db;
\c $db
CREATE EXTENSION okra;
DROP ROLE IF EXISTS okra_spy_app;
CREATE ROLE okra_spy_app LOGIN PASSWORD 'okra_spy_app';
GRANT EXECUTE ON FUNCTION okra_verify(text) TO okra_spy_app;
SQL

spy_requests() {
	test/sandbox/ctl "$SPY" GET counters | jq '[.requests[]? | to_entries[] | .value] | add // 0'
}
fail() { echo "FAIL: $*"; exit 1; }

# 1. SET in a fresh session, before any okra call loads the library.
out=$(PGUSER=okra_spy_app PGPASSWORD=okra_spy_app psql -qX -d $db -At 2>&1 <<SQL
SET okra.base_url = 'http://127.0.0.1:$SPY/v2';
SET okra.api_key_file = '$OKRA_TEST_DIR/key2.key';
SELECT status FROM okra_verify('64a000000000000000000001');
SHOW okra.base_url;
SQL
) || true
echo "$out"
[ "$(spy_requests)" = "0" ] || fail "the spy received a request after SET"
# PostgreSQL discards the unprivileged values with a WARNING when okra
# defines its settings; the call goes where the superuser configured it.
echo "$out" | grep -q "^success$" || fail "the call did not reach the configured sandbox"
echo "$out" | grep -q 'permission denied to set parameter "okra.base_url"' || fail "no warning for okra.base_url"
echo "$out" | grep -q 'permission denied to set parameter "okra.api_key_file"' || fail "no warning for okra.api_key_file"
echo "$out" | grep -q "127.0.0.1:$SPY" && fail "the placeholder value survived loading the library"

# 2. ALTER ROLE ... SET by the role itself, then a new session.
PGUSER=okra_spy_app PGPASSWORD=okra_spy_app psql -qX -d $db -c "ALTER ROLE okra_spy_app SET okra.base_url = 'http://127.0.0.1:$SPY/v2'" 2>&1 || true
out=$(PGUSER=okra_spy_app PGPASSWORD=okra_spy_app psql -qX -d $db -At -c "SELECT status FROM okra_verify('64a000000000000000000001')" 2>&1) || true
echo "$out"
echo "$out" | grep -q "^success$" || fail "the call did not reach the configured sandbox"
[ "$(spy_requests)" = "0" ] || fail "the spy received a request after ALTER ROLE SET"

psql -qX -c "DROP DATABASE $db" >/dev/null
echo "ok: no request reached the spy"
