#!/usr/bin/env bash
# Without okra in shared_preload_libraries nothing can journal a
# money-moving call, so okra_refund, okra_cancel and okra_request to such an
# endpoint are refused (55000) with nothing sent, and the hint says what to
# do; okra_verify still works; only a superuser may set
# okra.allow_unjournaled, which lets them through.  Runs its own throwaway
# cluster without okra preloaded.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}" "${OKRA_TEST_DIR:?}"
fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -20 "$work/server.log"; exit 1; }
work=$(mktemp -d /tmp/okra-unjournaled.XXXXXX)
chown postgres:postgres "$work"
chmod 700 "$work"
trap 'okra_stop_cluster "$work"; rm -rf "$work"; ctl POST reset >/dev/null 2>&1' EXIT
okra_preloaded_cluster "$work" "$OKRA_SANDBOX_PORT" "shared_preload_libraries = ''" ||
	fail "the server did not start"
port=$OKRA_CLUSTER_PORT
ctl POST reset >/dev/null

p() { psql -X -h "$work" -p "$port" -U postgres -d postgres -AtqX "$@" 2>&1; }
p -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" -c "CREATE ROLE app LOGIN" \
	-c "GRANT EXECUTE ON FUNCTION okra_refund(text, bigint, text, text) TO app" >/dev/null || fail "setup"
requests() { ctl GET counters | jq --arg r "$1" '[.requests["/v2/" + $r] // {} | .[]] | add // 0'; }
pay=64a000000000000000000004

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
out=$(p -v VERBOSITY=verbose -c "SELECT okra_refund('$pay', 100)")
check "okra_refund is refused with 55000 when okra is not preloaded" \
	'[[ $out == *"ERROR:  55000: Okra API request \"pay/refund\" cannot be journaled"* && $out == *"okra is not in shared_preload_libraries. Nothing was sent to Okra."* && $out == *"HINT:  Add okra to shared_preload_libraries"* ]]'
out=$(p -v VERBOSITY=sqlstate -c "SELECT okra_cancel('64a00000000000000000000a')")
check "so is okra_cancel ($out)" '[ "$out" = "ERROR:  55000" ]'
out=$(p -v VERBOSITY=sqlstate -c "SELECT okra_request('pay/cancel', '{\"payment_id\": \"64a00000000000000000000a\"}')")
check "and okra_request to an endpoint that moves money ($out)" '[ "$out" = "ERROR:  55000" ]'
check "nothing reached the sandbox" '[ "$(requests pay/refund)" = 0 ] && [ "$(requests pay/cancel)" = 0 ]'
out=$(p -c "SELECT status FROM okra_verify('$pay')")
check "okra_verify, which moves nothing, works ($out)" '[ "$out" = success ]'
out=$(p -U app -v VERBOSITY=sqlstate -c "SET okra.allow_unjournaled = on" -c "SELECT okra_refund('$pay', 100)" -c "SET okra.allow_unjournaled = on")
check "an ordinary role cannot set okra.allow_unjournaled, before or after the library loads" \
	'[[ $out == *"ERROR:  55000"* && $out == *"ERROR:  42501"* ]] && [ "$(requests pay/refund)" = 0 ]'
out=$(p -c "SET okra.allow_unjournaled = on" -c "SELECT amount FROM okra_refund('$pay', 100)")
check "a superuser's okra.allow_unjournaled lets the refund go, once ($out)" \
	'[ "$out" = 100 ] && [ "$(requests pay/refund)" = 1 ]'
out=$(p -v VERBOSITY=sqlstate -c "SET okra.allow_unjournaled = on" \
	-c "SELECT okra_initiate_payment('64d0000000000000000000c1', 100, reference => 'order-unjournaled')" 2>&1)
check "but never an initiate with a reference: only the journal makes it once ($out)" \
	'[ "$out" = "ERROR:  55000" ] && [ "$(requests pay/initiate)" = 0 ]'
out=$(p -c "SET okra.allow_unjournaled = on" -c "SELECT amount FROM okra_initiate_payment('64d0000000000000000000c1', 100)")
check "without a reference it goes ($out)" '[ "$out" = 100 ] && [ "$(requests pay/initiate)" = 1 ]'

echo "$fails failed"
[ "$fails" -eq 0 ]
