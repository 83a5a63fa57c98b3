#!/usr/bin/env bash
# The extension's suites, run by test/run-all.sh inside pg_virtualenv (PGHOST,
# PGUSER... point at a throwaway cluster). Starts okra-sandbox over HTTP and
# HTTPS, configures okra against it, runs pg_regress, the isolation specs, pgTAP and the scripted
# tests, and prints one "RESULT suite=..." line per suite.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

work=$(mktemp -d /tmp/okra-test.XXXXXX)
chmod 755 "$work"
cleanup() {
	[ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null
	[ -n "${SBTLS_PID:-}" ] && kill "$SBTLS_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

okra_test_fixtures "$work" || { echo "RESULT suite=setup passed=0 failed=1"; exit 1; }
okra_configure "http://127.0.0.1:$SB/v2" "$work/okra.key" || { echo "RESULT suite=setup passed=0 failed=1"; exit 1; }

# pg_regress_suite NAME TARGET DIFFS: run make TARGET (pg_regress or the
# isolation tester), print its output (and DIFFS when it failed) and one
# RESULT line for suite NAME
pg_regress_suite() {
	local name=$1 target=$2 diffs=$3 rc=0 passed failed
	make -s "$target" >"$work/$name.out" 2>&1 || rc=1
	cat "$work/$name.out"
	passed=$(grep -cE '^(ok [0-9]+|test .*\.\.\. ok)' "$work/$name.out")
	failed=$(grep -cE '^(not ok [0-9]+|test .*\.\.\. FAILED)' "$work/$name.out")
	if [ $rc -ne 0 ]; then
		[ -f "$diffs" ] && cat "$diffs"
		[ "$failed" -eq 0 ] && failed=1
	fi
	echo "RESULT suite=$name passed=$passed failed=$failed"
}

echo "-- pg_regress"
pg_regress_suite regress regresscheck regression.diffs

echo "-- isolation specs"
pg_regress_suite isolation isolationcheck output_iso/regression.diffs
# its database's okra worker would take one of max_worker_processes' places,
# which pg_cron's jobs need (test/scripts/cron.sh)
dropdb --if-exists isolation_regression

echo "-- pgTAP"
okra_run_pgtap okra_tap "$work/tap.out"
cat "$work/tap.out"
tests=$PGTAP_TESTS fails=$PGTAP_FAILS
[ "$PGTAP_RC" -ne 0 ] && [ "$fails" -eq 0 ] && fails=1
echo "RESULT suite=pgtap passed=$(( tests - fails < 0 ? 0 : tests - fails )) failed=$fails"

echo "-- scripted tests"
sp=0 sf=0
for t in test/scripts/*.sh; do
	[ -e "$t" ] || continue
	if bash "$t" >"$work/script.out" 2>&1; then
		sp=$((sp + 1)); echo "ok   $t"
	else
		sf=$((sf + 1)); echo "FAIL $t"; sed 's/^/    /' "$work/script.out"
	fi
done
echo "RESULT suite=scripts passed=$sp failed=$sf"
