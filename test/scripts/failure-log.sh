#!/usr/bin/env bash
# A failed money-moving call takes its ledger rows with it, so it leaves one
# line in the server log at default settings: endpoint, payment id and
# SQLSTATE, never the key.  Read-only calls (pay/verify) leave none.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_KEY:?}"
db=okra_faillog
fail() { echo "FAIL: $*"; exit 1; }
trap 'ctl POST reset >/dev/null 2>&1; psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT

log=$(okra_find_server_log) || fail "cannot find the server log"
start=$(($(wc -l <"$log") + 1))
ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
psql -qX -d $db -c "CREATE EXTENSION okra" >/dev/null || exit 1
try() { psql -qX -d $db -c "$1" >/dev/null 2>&1; }
try "SELECT okra_refund('64a00000000000000000000e')"                # OK003
try "SELECT okra_cancel('64a000000000000000000001')"                # OK005
ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
try "SELECT okra_refund('64a000000000000000000002', 100)"           # OK010: it happened
try "SELECT okra_request('pay/link/create', '{\"amount\": 1}')"     # OK009, no payment id
try "SELECT okra_verify('64a0000000000000000000ff')"                # OK006, read-only
sleep 0.5
new=$(tail -n +"$start" "$log")

expect() { # expect TEXT
	grep -qF "$1" <<<"$new" && echo "ok   logged: $1" || fail "not in the log: $1"
}
expect 'Okra API request "pay/refund" for payment "64a00000000000000000000e" failed with SQLSTATE OK003'
expect 'Okra API request "pay/cancel" for payment "64a000000000000000000001" failed with SQLSTATE OK005'
expect 'Okra API request "pay/refund" for payment "64a000000000000000000002" failed with SQLSTATE OK010'
expect 'Okra API request "pay/link/create" for payment "(none)" failed with SQLSTATE OK009'
! grep -q 'Okra API request "pay/verify" for payment' <<<"$new" || fail "a failed pay/verify was logged as money-moving"
echo "ok   a failed pay/verify is not"
! grep -qF "$OKRA_SANDBOX_KEY" <<<"$new" || fail "the key is in the log"
echo "ok   the key is not in the log"
