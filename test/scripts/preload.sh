#!/usr/bin/env bash
# With shared_preload_libraries = 'okra' (the README's recommendation) the
# okra.* settings are real from the first statement of every session: an
# ordinary role's fresh session cannot read okra.api_key_file, cannot set
# okra.base_url, and a misspelt okra.* setting is refused; and okra works.
# Runs its own throwaway cluster (the suite's cluster does not preload okra).
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_SANDBOX_PORT:?}" "${OKRA_TEST_DIR:?}"
fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -20 "$work/server.log"; exit 1; }
work=$(mktemp -d /tmp/okra-preload.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
trap 'okra_stop_cluster "$work"; rm -rf "$work"' EXIT
okra_preloaded_cluster "$work" "$OKRA_SANDBOX_PORT" || fail "the server did not start"
port=$OKRA_CLUSTER_PORT

p() { psql -X -h "$work" -p "$port" -AtqX "$@" 2>&1; }
p -U postgres -d postgres -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" \
	-c "CREATE ROLE app LOGIN" -c "GRANT EXECUTE ON FUNCTION okra_verify(text) TO app" >/dev/null ||
	fail "setup"

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
# each in a fresh session of the ordinary role, before any okra call
out=$(p -U app -d postgres -c "SHOW okra.api_key_file")
check "a fresh session cannot SHOW okra.api_key_file ($out)" '[[ $out == *"must be superuser or have privileges of pg_read_all_settings"* ]]'
out=$(p -U app -d postgres -c "SELECT current_setting('okra.api_key_file')")
check "nor read it with current_setting()" '[[ $out == *"must be superuser"* ]]'
out=$(p -U app -d postgres -c "SELECT count(*) FROM pg_settings WHERE name = 'okra.api_key_file'")
check "nor see it in pg_settings ($out)" '[ "$out" = 0 ]'
out=$(p -U app -d postgres -c "SET okra.base_url = 'http://127.0.0.1:1/v2'")
check "nor set okra.base_url" '[[ $out == *"permission denied to set parameter \"okra.base_url\""* ]]'
out=$(p -U app -d postgres -c "SET okra.nonexistent = 'x'")
check "a misspelt okra.* setting is refused" '[[ $out == *"invalid configuration parameter name \"okra.nonexistent\""* ]]'
out=$(p -U app -d postgres -c "SELECT status FROM okra_verify('64a000000000000000000001')")
check "and okra works for it ($out)" '[ "$out" = success ]'
out=$(p -U app -d postgres -c "SELECT setting FROM pg_settings WHERE name = 'okra.request_timeout'")
check "the timeouts are ordinary settings it can see ($out)" '[ "$out" = 65000 ]'
if grep -qF "$(cat "$OKRA_TEST_DIR/okra.key")" "$work/server.log"; then echo "FAIL the key is in the server log"; fails=$((fails + 1)); fi
[ $fails -eq 0 ]
