#!/usr/bin/env bash
# The upgrade test (README "Upgrading"), as root: what an operator does.
#
#   1. Builds an earlier okra from its commit and installs it (make install)
#      in a throwaway cluster with okra and pg_cron preloaded; fills its
#      ledger over real HTTP: verified payments, a refund, a refund whose
#      answer was lost (an unknown outcome in the journal), a queued outbox
#      refund (kept queued by a 429), a pg_cron schedule and a run.
#   2. Upgrades the package: dpkg -i the .deb of this version (built by
#      test/package.sh).  ALTER EXTENSION UPDATE must refuse while the
#      server still runs the old library; after the restart, until the
#      update, the new library must refuse to call Okra (55000, naming the
#      command) and its worker must leave the queued refund alone.
#   3. ALTER EXTENSION okra UPDATE: the okra objects equal a fresh install's
#      (test/upgrade/catalog.sql, zero differences), the ledger and the
#      journal carried over, the queued refund keeps the Idempotency-Key
#      the earlier version sent and is sent exactly once, the unknown one
#      blocks further refunds of its payment, the pg_cron job works.
#   4. The pgTAP suites against the upgraded database.
#
# bash test/upgrade.sh DEBDIR FROM: DEBDIR holds postgresql-15-okra_*.deb;
# FROM is the earlier version (0.1.0, 0.2.0 or 0.3.0).  Prints one "ok"/"FAIL" line per
# check and "RESULT suite=upgrade-from-FROM passed=N failed=N".  Leaves this
# version's package installed (also when it fails).
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

OLD_VERSION=${2:-0.1.0}
# each release's commit (CHANGELOG), and what its server needs so that
# its outbox worker serves the test's database
case $OLD_VERSION in
0.1.0)
	OLD_COMMIT=737d225
	old_conf=("okra.outbox_database = 'okra_up'") ;;
0.2.0)
	OLD_COMMIT=d40852b
	old_conf=() ;;
0.3.0)
	OLD_COMMIT=eb72542
	old_conf=() ;;
*)
	echo "test/upgrade.sh: no earlier version $OLD_VERSION" >&2; exit 2 ;;
esac
suite=upgrade-from-$OLD_VERSION
NEW_VERSION=$(sed -n "s/^default_version = '\(.*\)'/\1/p" okra.control)
PGMAJOR=$(pg_config --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
debdir=${1:-}
deb=$(ls -v "$debdir"/postgresql-"$PGMAJOR"-okra_"$NEW_VERSION"-*_*.deb 2>/dev/null | grep -v dbgsym | tail -1)
if [ -z "$deb" ]; then
	echo "FAIL no postgresql-$PGMAJOR-okra $NEW_VERSION package in \"$debdir\" (test/package.sh makes one)"
	echo "RESULT suite=$suite passed=0 failed=1"
	exit 1
fi

work=$(mktemp -d /tmp/okra-upgrade.XXXXXX)
chmod 755 "$work"
passed=0 failed=0
started=$SECONDS
cleanup() {
	okra_stop_cluster "$work/c"
	# never leave the earlier version installed
	dpkg --verify "postgresql-$PGMAJOR-okra" >/dev/null 2>&1 || dpkg -i "$deb" >/dev/null 2>&1
	for p in "${SB_PID:-}" "${SBTLS_PID:-}" "${FILL_PID:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

check() {
	if eval "$2"; then
		passed=$((passed + 1)); echo "ok   $1"
	else
		failed=$((failed + 1)); echo "FAIL $1"
	fi
}
# a step without which the rest means nothing
abort() {
	echo "FAIL $*"
	echo "RESULT suite=$suite passed=$passed failed=$((failed + 1))"
	exit 1
}
q() { psql -AtqX -v ON_ERROR_STOP=1 -d okra_up "$@"; }
# the SQLSTATE, message and hint of a statement that must fail
err() { psql -AtqX -d okra_up -v VERBOSITY=verbose -c "$1" 2>&1 >/dev/null || true; }

# 1. okra 0.1.0, from its commit
echo "-- okra $OLD_VERSION from commit $OLD_COMMIT"
mkdir "$work/old"
git archive "$OLD_COMMIT" | tar -x -C "$work/old" ||
	abort "commit $OLD_COMMIT is not in this clone (a shallow clone?)"
make -C "$work/old" -s >"$work/old.log" 2>&1 && make -C "$work/old" -s install >>"$work/old.log" 2>&1 ||
	{ cat "$work/old.log"; abort "okra $OLD_VERSION does not build"; }

okra_test_fixtures "$work" || abort "test fixtures"
# the ledger is filled against a sandbox of its own: the pgTAP suites
# expect theirs untouched
okra_start_sandbox FILL "$work/fill.log" --key "$OKRA_SANDBOX_KEY" --seed test/sandbox/seed-demo.json ||
	abort "okra-sandbox"
mkdir "$work/c" && chown postgres "$work/c"
okra_preloaded_cluster "$work/c" "$FILL" "shared_preload_libraries = 'pg_cron,okra'" \
	"cron.database_name = 'okra_up'" "okra.outbox_poll_interval = '1s'" "${old_conf[@]}" ||
	abort "the $OLD_VERSION server did not start"
# (trust authentication: the password the pgTAP suites pass to dblink is
# not checked)
export PGHOST=$work/c PGPORT=$OKRA_CLUSTER_PORT PGUSER=postgres PGDATABASE=postgres PGPASSWORD=postgres
pgctl() { su postgres -s /bin/sh -c "$(pg_config --bindir)/pg_ctl -D '$work/c/data' -l '$work/c/server.log' -w $1" >/dev/null; }
fill() { test/sandbox/ctl "$FILL" "$@" >/dev/null; }

paid=5f88ebf63103d912f1d4baca	# 10000, success
lost=5f88ebf63103d912f1d4bace	# 50000, completed
createdb okra_up || abort "createdb"
# (0.1.0's outbox worker starts in its database at server start)
pgctl restart || abort "restarting the $OLD_VERSION server"
q >/dev/null <<SQL || abort "filling the $OLD_VERSION ledger"
CREATE EXTENSION pg_cron;
CREATE EXTENSION okra;
SELECT okra_verify('$paid');
SELECT okra_verify('5f88ebf63103d912f1d4bacb');
SELECT okra_verify('5f88ebf63103d912f1d4bacd');
SELECT okra_verify('$lost');
SELECT okra_refund('$paid', 2500, 'damaged goods');
SELECT okra_schedule_verification('*/30 * * * *', 100);
CALL okra_verify_pending(10);
SQL
# a refund carried out whose answer is lost: OK010, an unknown outcome
fill POST faults "{\"kind\": \"after_drop\", \"route\": \"pay/refund\", \"payment_id\": \"$lost\"}"
e=$(err "SELECT okra_refund('$lost', 1000)")
grep -q "^ERROR:  OK010" <<<"$e" || abort "the refund whose answer is lost said: $e"
# a queued refund the worker tried once: Okra said 429, so it waits
fill POST faults "{\"kind\": \"status\", \"status\": 429, \"route\": \"pay/refund\", \"payment_id\": \"$paid\"}"
q -c "SELECT okra_refund_after_commit('$paid', 5000, 'returned')" >/dev/null || abort "queueing a refund"
for _ in $(seq 1 100); do
	[ "$(q -c "SELECT attempts > 0 AND state = 'queued' FROM okra_outbox_requests WHERE amount = 5000")" = t ] && break
	sleep 0.1
done
check "the $OLD_VERSION worker tried the queued refund once, and it waits" \
	'[ "$(q -c "SELECT attempts, state FROM okra_outbox_requests WHERE amount = 5000")" = "1|queued" ]'
# the README's grants, as a DBA made them on 0.1.0: the update keeps them,
# also on the objects it has to recreate
grants="GRANT EXECUTE ON FUNCTION okra_verify(text), okra_refund(text, bigint, text, text) TO okra_up_app;
GRANT SELECT ON okra_payments, okra_refunds, okra_status_changes, okra_api_calls,
	okra_verification_runs, okra_outbox_requests, okra_journal, okra_outbox,
	okra_daily_summary, okra_refundable, okra_pending, okra_call_stats TO okra_up_reader;
GRANT EXECUTE ON FUNCTION okra_daily_summary(date, date), okra_outbox_health() TO okra_up_reader;"
q -c "CREATE ROLE okra_up_app" -c "CREATE ROLE okra_up_reader" -c "$grants" >/dev/null || abort "the README's grants"
check "the $OLD_VERSION install is $OLD_VERSION" '[ "$(q -c "SELECT extversion FROM pg_extension WHERE extname = '\''okra'\''")" = "$OLD_VERSION" ]'
# the columns both versions have, in a stable order
ledger="SELECT 'payment', payment_id, status, amount::text FROM okra_payments
	UNION ALL SELECT 'refund', refund_id, payment_id, amount::text FROM okra_refunds
	UNION ALL SELECT 'outbox', request_id::text, payment_id, amount::text || ' ' || state FROM okra_outbox_requests
	UNION ALL SELECT 'call', call_id::text, endpoint, md5(response::text) FROM okra_api_calls
	UNION ALL SELECT 'change', change_id::text, object_id, new_status FROM okra_status_changes
	UNION ALL SELECT 'runs', run_id::text, checked::text, '' FROM okra_verification_runs
	ORDER BY 1, 2, 3"
q -c "$ledger" >"$work/ledger.before" || abort "reading the ledger"
check "a refund is queued" 'grep -qx "outbox|[0-9]*|$paid|5000 queued" "$work/ledger.before"'
# the Idempotency-Key it was sent with: 0.1.0 derived it (okra-<system
# identifier>-<database>-<request>), later versions store it
if [ "$OLD_VERSION" = 0.1.0 ]; then
	sysid=$(su postgres -s /bin/sh -c "$(pg_config --bindir)/pg_controldata -D '$work/c/data'" | sed -n 's/^Database system identifier: *//p')
	key=$(q -c "SELECT format('okra-%s-%s-%s', '$sysid', d.oid, r.request_id)
		FROM okra_outbox_requests r, pg_database d WHERE d.datname = current_database() AND r.amount = 5000")
else
	key=$(q -c "SELECT idempotency_key FROM okra_outbox_requests WHERE amount = 5000")
fi
journal="SELECT payment_id || ' ' || amount || ' ' || coalesce(sqlstate, '-') FROM okra_journal
	WHERE endpoint = 'pay/refund' ORDER BY journal_id"
for _ in $(seq 1 50); do
	[ "$(q -c "$journal" | wc -l)" -ge 2 ] && break
	sleep 0.1
done
check "the $OLD_VERSION journal has both refunds" \
	'[ "$(q -c "$journal" | tr "\n" ,)" = "$paid 2500 -,$lost 1000 OK010," ]'

# 2. the package upgrade, under the running server, then the restart
echo "-- package upgrade to $NEW_VERSION"
t0=$SECONDS
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; abort "dpkg -i $deb"; }
echo "installed $(basename "$deb") in $((SECONDS - t0)) s"
check "the installed files are the package's" 'dpkg --verify "postgresql-$PGMAJOR-okra"'
# the operator forgot the restart: the update refuses, nothing changes
e=$(err "ALTER EXTENSION okra UPDATE")
check "before the restart, ALTER EXTENSION okra UPDATE refuses" \
	'grep -q "^ERROR:  55000: the okra library was installed after the server started" <<<"$e" &&
	 grep -q "HINT:  Restart the server, then run ALTER EXTENSION okra UPDATE." <<<"$e" &&
	 [ "$(q -c "SELECT extversion FROM pg_extension WHERE extname = '\''okra'\''")" = "$OLD_VERSION" ] || { echo "$e"; false; }'
sleep 1	# the library file's time has whole seconds: restart in a later one
pgctl restart || abort "the server did not start with the $NEW_VERSION library"
# due now: only the version check keeps the worker from sending it
q -c "UPDATE okra_outbox_requests SET next_attempt_at = now() WHERE amount = 5000" >/dev/null

e=$(err "SELECT okra_verify('$paid')")
check "before UPDATE, okra_verify refuses with 55000 and names the command" \
	'grep -q "^ERROR:  55000: extension \"okra\" is version $OLD_VERSION in this database, but its library is version $NEW_VERSION" <<<"$e" && grep -q "ALTER EXTENSION okra UPDATE" <<<"$e"'
e=$(err "SELECT okra_refund('$paid', 100)")
check "before UPDATE, okra_refund refuses with 55000" 'grep -q "^ERROR:  55000:" <<<"$e"'
for _ in $(seq 1 50); do
	grep -q "okra worker for database \"okra_up\" waits" "$work/c/server.log" && break
	sleep 0.1
done
check "the worker says why it waits" \
	'grep -q "okra worker for database \"okra_up\" waits: extension \"okra\" is version $OLD_VERSION" "$work/c/server.log"'
sleep 2	# two of its polls
check "before UPDATE, nothing more reached the sandbox" \
	'[ "$(test/sandbox/ctl "$FILL" GET counters | jq -c ".refunds[\"$paid\"].amounts")" = "[2500]" ]'
check "before UPDATE, the queued refund stays queued" \
	'[ "$(q -c "SELECT state FROM okra_outbox_requests WHERE amount = 5000")" = queued ]'

# 3. ALTER EXTENSION okra UPDATE
echo "-- ALTER EXTENSION okra UPDATE"
t0=$SECONDS
q -c "ALTER EXTENSION okra UPDATE" || abort "ALTER EXTENSION okra UPDATE"
echo "updated in $((SECONDS - t0)) s"
check "the extension is $NEW_VERSION" '[ "$(q -c "SELECT extversion FROM pg_extension WHERE extname = '\''okra'\''")" = "$NEW_VERSION" ]'
q -c "$ledger" >"$work/ledger.after.all"
grep -v '^outbox|' "$work/ledger.before" >"$work/ledger.before.rest"
grep -v '^outbox|' "$work/ledger.after.all" >"$work/ledger.after.rest"
# (the queued refund may already be in the ledger: every old row is kept)
check "the ledger carried over" '[ -s "$work/ledger.before.rest" ] && [ -z "$(comm -23 "$work/ledger.before.rest" "$work/ledger.after.rest")" ]'

for _ in $(seq 1 100); do
	[ "$(q -c "SELECT state FROM okra_outbox_requests WHERE amount = 5000")" = succeeded ] && break
	sleep 0.2
done
check "the queued refund is sent once the SQL objects are $NEW_VERSION" \
	'[ "$(q -c "SELECT state FROM okra_outbox_requests WHERE amount = 5000")" = succeeded ]'
check "the sandbox executed each refund exactly once" \
	'[ "$(test/sandbox/ctl "$FILL" GET counters | jq -c "[.refunds[\"$paid\"].amounts, .refunds[\"$lost\"].amounts]")" = "[[2500,5000],[1000]]" ]'
check "the queued refund kept the Idempotency-Key $OLD_VERSION sent ($key)" \
	'[[ $key == okra-?* ]] && [ "$(q -c "SELECT idempotency_key FROM okra_outbox_requests WHERE amount = 5000")" = "$key" ]'
check "the journal carried over: succeeded, and the lost answer unknown" \
	'[ "$(q -c "SELECT string_agg(payment_id || '\'' '\'' || outcome, '\'','\'' ORDER BY journal_id) FROM okra_journal WHERE endpoint = '\''pay/refund'\''")" = "$paid succeeded,$lost unknown" ]'
e=$(err "SELECT okra_refund('$lost', 100)")
check "the unknown refund blocks further refunds of its payment (OK012)" 'grep -q "^ERROR:  OK012:" <<<"$e"'
check "the ledger has both refunds" \
	'[ "$(q -c "SELECT count(*), sum(amount) FROM okra_refunds WHERE payment_id = '\''$paid'\''")" = "2|7500" ]'
job=$(q -c "SELECT command FROM cron.job WHERE jobname = 'okra-verify-pending'")
check "the $OLD_VERSION pg_cron job runs against $NEW_VERSION" '[ -n "$job" ] && q -c "$job" >/dev/null'

createdb okra_fresh && psql -qX -d okra_fresh -c "CREATE EXTENSION okra" -c "$grants" >/dev/null ||
	abort "a fresh $NEW_VERSION install"
psql -AtqX -d okra_up -f test/upgrade/catalog.sql >"$work/catalog.upgraded"
psql -AtqX -d okra_fresh -f test/upgrade/catalog.sql >"$work/catalog.fresh"
echo "$(wc -l <"$work/catalog.fresh") catalog lines compared"
check "the upgraded objects equal a fresh install's" \
	'[ -s "$work/catalog.fresh" ] && diff -u "$work/catalog.fresh" "$work/catalog.upgraded"'

# 4. the pgTAP suites, in the upgraded database, against their own sandbox
echo "-- pgTAP against the upgraded database"
q >/dev/null <<SQL || abort "emptying the upgraded ledger for pgTAP"
SELECT okra_unschedule_verification();
DO \$\$ DECLARE t regclass;
BEGIN
	FOR t IN SELECT objid::regclass FROM pg_depend
			  WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'okra')
				AND deptype = 'e' AND classid = 'pg_class'::regclass
				AND (SELECT relkind FROM pg_class WHERE oid = objid) = 'r'
	LOOP
		EXECUTE format('TRUNCATE %s CASCADE', t);
	END LOOP;
END \$\$;
SQL
okra_configure "http://127.0.0.1:$SB/v2" "$work/okra.key" || abort "pointing okra at the test sandbox"
t0=$SECONDS
okra_run_pgtap okra_up "$work/tap.out" existing
echo "pgTAP: $PGTAP_TESTS tests, $PGTAP_FAILS failed, $((SECONDS - t0)) s"
check "the pgTAP suites pass against the upgraded database" \
	'[ "$PGTAP_RC" -eq 0 ] && [ "$PGTAP_FAILS" -eq 0 ] && [ "$PGTAP_TESTS" -gt 0 ] || { grep -v "^ok" "$work/tap.out"; false; }'

echo "upgrade test: $((SECONDS - started)) s"
echo "RESULT suite=$suite passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
