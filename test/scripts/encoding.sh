#!/usr/bin/env bash
# A database whose encoding is not UTF-8 (LATIN1): text goes to Okra as
# UTF-8 and comes back converted; and an answer holding a character LATIN1
# lacks (a naira sign, Yoruba diacritics in a customer's name) still ends
# as a row or one of the README's SQLSTATEs -- an Okra rejection keeps its
# OK0xx, a refund's unusable answer is OK011 with the "verify first" hint --
# never a bare 22P05 conversion error after the money moved.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"

db=okra_latin1
fails=0
check() {	# check DESCRIPTION WANT GOT
	if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: want \"$2\", got \"$3\""; fails=$((fails + 1)); fi
}
trap 'psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" \
	-c "CREATE DATABASE $db ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || exit 1
psql -qX -v ON_ERROR_STOP=1 -d $db -c "CREATE EXTENSION okra" >/dev/null || exit 1
export PGCLIENTENCODING=UTF8
q() { psql -AtqX -d $db -c "$1" 2>&1; }
# state(sql): the SQLSTATE sql raises, "no error", and the hint
state() {
	q "DO \$x\$ DECLARE s text; h text; BEGIN EXECUTE \$q\$$1\$q\$;
		RAISE NOTICE 'state=no error';
	EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, h = PG_EXCEPTION_HINT;
		RAISE NOTICE 'state=% hint=%', s, h; END \$x\$" | sed -n 's/^NOTICE:  state=//p'
}

ctl POST reset >/dev/null
# LATIN1 text goes out as UTF-8, and comes back
check "a LATIN1 reason comes back intact" "naïve é" "$(q "SELECT reason FROM okra_refund('64a000000000000000000001', 10, 'naïve é')")"
check "and Okra received it as UTF-8" '"naïve é"' "$(ctl GET state | jq -c '[.owners[].refunds[] | select(.payment == "64a000000000000000000001") | .reason][0]')"

# the same through the outbox (CALL okra_outbox_run)
q "SELECT okra_refund_after_commit('64a000000000000000000004', 10, 'café à')" >/dev/null
q "CALL okra_outbox_run()" >/dev/null
check "an outbox refund's LATIN1 reason reached Okra as UTF-8" '"café à"' "$(ctl GET state | jq -c '[.owners[].refunds[] | select(.payment == "64a000000000000000000004") | .reason][0]')"

# a rejection whose message LATIN1 cannot hold keeps its SQLSTATE
ctl POST faults '{"kind": "status", "status": 400, "route": "pay/refund", "body": "{\"status\":\"error\",\"message\":\"Duplicate request. This payment has already been refunded (₦100).\",\"data\":{\"refund\":{}}}"}' >/dev/null
check "an OK001 rejection with a naira sign stays OK001" "OK001 hint=" "$(state "SELECT okra_refund('64a000000000000000000002')")"
ctl POST faults '{"kind": "status", "status": 400, "body": "{\"status\":\"error\",\"message\":\"Payment not found ₦.\"}"}' >/dev/null
check "an OK006 rejection with a naira sign stays OK006" "OK006 hint=" "$(state "SELECT okra_verify('64a0000000000000000000ff')")"

# a refund executed, and its answer names the customer in Yoruba: the real
# sandbox refund, with the customer's name changed by an after_status fault
body=$(curl -s -H "Authorization: Bearer $OKRA_SANDBOX_KEY" -d '{"payment_id":"64a000000000000000000003","amount":100}' \
	"http://127.0.0.1:$OKRA_SANDBOX_PORT/v2/pay/refund" | jq -c '.data.refund_payment.data.customer.name = "Ọlájùmọ̀kẹ́ Àdìsá"')
fault=$(jq -cn --arg b "$body" '{kind: "after_status", status: 200, route: "pay/refund", body: $b}')
ctl POST faults "$fault" >/dev/null
got=$(state "SELECT okra_refund('64a000000000000000000003', 200)")
case $got in
	"no error") echo "ok   a refund whose answer LATIN1 cannot hold: returned" ;;
	OK011\ hint=*okra_journal_resolve*) echo "ok   a refund whose answer LATIN1 cannot hold: OK011 with the hint that it may have happened and what settles it" ;;
	*) echo "FAIL a refund that executed, whose answer LATIN1 cannot hold: want the row or OK011 with the okra_journal_resolve hint, got \"$got\""; fails=$((fails + 1)) ;;
esac
check "the refund behind that answer executed (once, after the one made directly)" "2" "$(ctl GET counters | jq -c '.refunds["64a000000000000000000003"].count')"

ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":1,\"currency\":\"NGN\",\"status\":\"success\",\"customer\":\"Ọ̀kọ́\"}}}"}' >/dev/null
got=$(state "SELECT okra_verify('64a000000000000000000001')")
case $got in
	"no error"|OK011*) echo "ok   a verify answer LATIN1 cannot hold: $got" ;;
	*) echo "FAIL a verify answer LATIN1 cannot hold: want the row or OK011, got \"$got\""; fails=$((fails + 1)) ;;
esac

[ $fails -eq 0 ]
