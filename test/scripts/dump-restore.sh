#!/usr/bin/env bash
# pg_dump keeps the ledger: a database with rows in every ledger table
# (payments, refunds, status changes, calls, the journal, initiations,
# payouts, payment links, authorizations, bulk files and their rows,
# webhook events) is
# dumped and restored into a new database; every row comes back identical,
# and the restored ledger goes on (new rows get new ids, not ones already
# used).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
src=okra_dump_src dst=okra_dump_dst
work=$(mktemp -d)
chmod 777 "$work"
cleanup() {
	psql -qX -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src" >/dev/null || exit 1
psql -qX -v ON_ERROR_STOP=1 -v dir="$OKRA_TEST_DIR" -v token="$OKRA_WEBHOOK_TOKEN" -d $src >/dev/null <<'SQL' || fail "could not make the ledger"
CREATE EXTENSION okra;
SELECT okra_verify('64a000000000000000000001');
SELECT okra_verify('64a00000000000000000000a');
SELECT okra_cancel('64a00000000000000000000c');
SELECT okra_verify((okra_refund('64a000000000000000000001', 2500, 'dump me')).refund_payment_id);
SELECT okra_request('pay/list', '{}');
SELECT okra_initiate_payment('64d0000000000000000000a1', 4000, reference => 'dump-1');
SELECT okra_payout(1000, '64e000000000000000000001', reference => 'dump-2');
SELECT okra_create_payment_link('Dump me', 5000);
SELECT okra_initiate_authorized_payment('652000000000000000000001', 1000, 1000, '2027-01-01', schedule_interval => 'monthly');
SELECT okra_bulk_initiate(ARRAY[ROW('64d0000000000000000000a1', '64d0000000000000000000c1', 300, 'NGN', NULL)]::okra_bulk_payment[]);
SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 600, reference => 'dump-3');
SELECT okra_outbox_wait(max(request_id), '20 seconds') FROM okra_outbox_requests;
SELECT set_config('okra.webhook_token_file', :'dir' || '/webhook.key', false);
SELECT okra_webhook('{"payment_id": "64a000000000000000000001", "event_id": "dump"}', 'Bearer ' || :'token');
SQL

# digest DB: one line per ledger table (every table the extension marks for
# pg_dump), its row count and an md5 of its rows
digest() {
	local t
	for t in $(psql -AtqX -d "$1" -c "SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS x(oid)
			JOIN pg_class c ON c.oid = x.oid WHERE e.extname = 'okra' AND c.relkind = 'r' ORDER BY 1"); do
		psql -AtqX -d "$1" -c "SELECT '$t ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM $t t"
	done
}
before=$(digest $src)
echo "$before"
pg_dump -Fc -d $src -f "$work/okra.dump" || fail "pg_dump"
psql -qX -c "CREATE DATABASE $dst" >/dev/null || exit 1
pg_restore -d $dst "$work/okra.dump" 2>"$work/restore.err" || { cat "$work/restore.err"; fail "pg_restore"; }
after=$(digest $dst)
[ "$before" = "$after" ] || { echo "$after"; fail "the restored ledger differs"; }
empty=$(grep ' 0 ' <<<"$after" | cut -d' ' -f1 | tr '\n' ' ')
[ "$empty" = "okra_verification_runs " ] && grep -q 'okra_api_calls 12 ' <<<"$after" ||
	fail "the ledger did not hold what was recorded (empty: $empty)"
echo "ok   every ledger row survives pg_dump and pg_restore"

next=$(psql -AtqX -d $dst -v ON_ERROR_STOP=1 -c "SELECT (okra_verify('64a000000000000000000002')).status IS NOT NULL" \
	-c "SELECT max(call_id) = (SELECT max(call_id) FROM okra_api_calls WHERE endpoint = 'pay/verify') AND count(*) = 13 FROM okra_api_calls" \
	-c "SELECT count(*) FROM okra_status_changes") || fail "the restored database cannot record"
[ "$next" = "$(printf 't\nt\n8')" ] || fail "after restore, a new call: $next"
echo "ok   the restored ledger records new calls with new ids"
