#!/usr/bin/env bash
# The README's "Quick start against okra-sandbox", end to end, by the book:
# okra-sandbox with the demo seed and the README's key, the key in
# $PGDATA/okra.key named by a relative okra.api_key_file (ALTER SYSTEM),
# the README's grants to a non-superuser login role, and then, as that role,
# the README's three statements: verify -> refund -> verify the refund
# payment.  Checks each answer, and that the sandbox executed each refund
# exactly once.  The suite's cluster already preloads okra, as the README's
# shared_preload_libraries line and restart do.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

fail() { echo "FAIL: $*"; exit 1; }
db=okra_quickstart
app=okra_qs_app
work=$(mktemp -d)

old_url=$(psql -AtqX -c "LOAD 'okra'" -c "SHOW okra.base_url")
old_keyfile=$(psql -AtqX -c "LOAD 'okra'" -c "SHOW okra.api_key_file")
pgdata=$(psql -AtqX -c "SHOW data_directory")
cleanup() {
	[ -n "${QS_PID:-}" ] && kill "$QS_PID" 2>/dev/null
	psql -qX >/dev/null 2>&1 <<SQL || true
LOAD 'okra';
ALTER SYSTEM SET okra.base_url = '$old_url';
ALTER SYSTEM SET okra.api_key_file = '$old_keyfile';
SELECT pg_reload_conf();
DROP DATABASE IF EXISTS $db;
DROP ROLE IF EXISTS $app;
SQL
	rm -f "$pgdata/okra.key"
	rm -rf "$work"
}
trap cleanup EXIT

# README: test/sandbox/okra-sandbox --port 8089 --key sk_test_okra_sandbox --seed test/sandbox/seed-demo.json &
okra_start_sandbox QS "$work/sandbox.log" --key sk_test_okra_sandbox --seed test/sandbox/seed-demo.json
# README: echo sk_test_okra_sandbox > "$PGDATA/okra.key"; chmod 600 "$PGDATA/okra.key"
echo sk_test_okra_sandbox >"$pgdata/okra.key"
chown postgres:postgres "$pgdata/okra.key"
chmod 600 "$pgdata/okra.key"

psql -qX -v ON_ERROR_STOP=1 >/dev/null <<SQL
LOAD 'okra';
ALTER SYSTEM SET okra.base_url = 'http://127.0.0.1:$QS/v2';
ALTER SYSTEM SET okra.api_key_file = 'okra.key';
SELECT pg_reload_conf();
CREATE DATABASE $db;
CREATE ROLE $app LOGIN PASSWORD '$app';
SQL
psql -qX -v ON_ERROR_STOP=1 -d $db >/dev/null <<SQL
CREATE EXTENSION okra;
-- README "Granting roles", verbatim but for the role name
GRANT USAGE ON SCHEMA public TO $app;
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_cancel(text),
      okra_refund(text, bigint, text, text) TO $app;
SQL
sleep 0.3

as_app() { PGUSER=$app PGPASSWORD=$app psql -AtqX -F'|' -v ON_ERROR_STOP=1 -d $db -c "$1"; }

out=$(as_app "SELECT payment_id, status, amount, response_status FROM okra_verify('5f88ebf63103d912f1d4baca');")
echo "verify:  $out"
[ "$out" = "5f88ebf63103d912f1d4baca|success|10000|success" ] || fail "verify answered \"$out\""

out=$(as_app "SELECT refund_id, amount, status, wallet_balance FROM okra_refund('5f88ebf63103d912f1d4baca', 2500, 'damaged goods');")
echo "refund:  $out"
[[ $out =~ ^[0-9a-f]{24}\|2500\|initiated\|4997500$ ]] || fail "refund answered \"$out\""

out=$(as_app "SELECT status FROM okra_verify((okra_refund('5f88ebf63103d912f1d4baca')).refund_payment_id);")
echo "verify refund payment: $out"
[ "$out" = "initialize" ] || fail "verify of the refund payment answered \"$out\""

counters=$(test/sandbox/ctl "$QS" GET counters)
refunds=$(jq -c '.refunds["5f88ebf63103d912f1d4baca"]' <<<"$counters")
echo "sandbox: $refunds"
[ "$refunds" = '{"count":2,"total":10000,"amounts":[2500,7500]}' ] ||
	fail "the sandbox executed $refunds, expected 2500 then 7500, once each"

# the app role is not a superuser and cannot see the key file setting
out=$(as_app "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
[ "$out" = "f" ] || fail "the app role is a superuser"
# (once the library is loaded in the session: before that the settings are
# placeholders anyone can read, README "Install into an existing PostgreSQL")
if out=$(PGUSER=$app PGPASSWORD=$app psql -AtqX -v ON_ERROR_STOP=1 -d $db -c "SELECT okra_verify('5f88ebf63103d912f1d4baca') IS NOT NULL" \
	-c "SHOW okra.api_key_file" 2>&1); then
	fail "the app role can SHOW okra.api_key_file: $out"
fi
echo "$out" | grep -q "must be superuser or have privileges of pg_read_all_settings" || fail "SHOW okra.api_key_file said \"$out\""
echo "$out" | grep -qF sk_test_okra_sandbox && fail "the key appears in the app role's output"
# and the demo's other payments: cancel one, a refused refund
out=$(as_app "SELECT status FROM okra_cancel('5f88ebf63103d912f1d4bacb');")
[ "$out" = "cancelled" ] || fail "cancel answered \"$out\""
out=$(PGUSER=$app PGPASSWORD=$app psql -AtqX -d $db -v VERBOSITY=verbose \
	-c "SELECT okra_refund('5f88ebf63103d912f1d4bacd')" 2>&1 || true)
echo "$out" | grep -q "OK003: You cannot intiate a refund on a payment that is in progress or failed." ||
	fail "the refused refund said \"$out\""
echo "ok: the README quick start works for a non-superuser"
