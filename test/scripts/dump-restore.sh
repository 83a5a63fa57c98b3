#!/usr/bin/env bash
# pg_dump keeps the ledger: a database with okra_payments, okra_refunds,
# okra_status_changes and okra_api_calls rows is dumped and restored into a
# new database; every row comes back identical, and the restored ledger goes
# on (new rows get new ids, not ones already used).
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
psql -qX -v ON_ERROR_STOP=1 -d $src >/dev/null <<'SQL' || fail "could not make the ledger"
CREATE EXTENSION okra;
SELECT okra_verify('64a000000000000000000001');
SELECT okra_verify('64a00000000000000000000a');
SELECT okra_cancel('64a00000000000000000000c');
SELECT okra_verify((okra_refund('64a000000000000000000001', 2500, 'dump me')).refund_payment_id);
SELECT okra_request('pay/list', '{}');
SQL

# digest DB: one line per ledger table, its row count and an md5 of its rows
digest() {
	psql -AtqX -d "$1" -c "
	SELECT 'okra_payments ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, '|' ORDER BY payment_id), '')) FROM okra_payments t
	UNION ALL SELECT 'okra_refunds ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, '|' ORDER BY refund_id), '')) FROM okra_refunds t
	UNION ALL SELECT 'okra_status_changes ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, '|' ORDER BY change_id), '')) FROM okra_status_changes t
	UNION ALL SELECT 'okra_api_calls ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, '|' ORDER BY call_id), '')) FROM okra_api_calls t"
}
before=$(digest $src)
echo "$before"
pg_dump -Fc -d $src -f "$work/okra.dump" || fail "pg_dump"
psql -qX -c "CREATE DATABASE $dst" >/dev/null || exit 1
pg_restore -d $dst "$work/okra.dump" 2>"$work/restore.err" || { cat "$work/restore.err"; fail "pg_restore"; }
after=$(digest $dst)
[ "$before" = "$after" ] || { echo "$after"; fail "the restored ledger differs"; }
grep -q 'okra_api_calls 6 ' <<<"$after" && grep -q 'okra_refunds 1 ' <<<"$after" ||
	fail "the ledger did not hold what was recorded"
echo "ok   every ledger row survives pg_dump and pg_restore"

next=$(psql -AtqX -d $dst -v ON_ERROR_STOP=1 -c "SELECT (okra_verify('64a000000000000000000002')).status IS NOT NULL" \
	-c "SELECT max(call_id) = (SELECT max(call_id) FROM okra_api_calls WHERE endpoint = 'pay/verify') AND count(*) = 7 FROM okra_api_calls" \
	-c "SELECT count(*) FROM okra_status_changes") || fail "the restored database cannot record"
[ "$next" = "$(printf 't\nt\n5')" ] || fail "after restore, a new call: $next"
echo "ok   the restored ledger records new calls with new ids"
