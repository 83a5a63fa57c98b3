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

echo "-- pg_regress"
if make -s regresscheck >"$work/regress.out" 2>&1; then rc=0; else rc=1; fi
cat "$work/regress.out"
passed=$(grep -cE '^(ok [0-9]+|test .*\.\.\. ok)' "$work/regress.out")
failed=$(grep -cE '^(not ok [0-9]+|test .*\.\.\. FAILED)' "$work/regress.out")
if [ $rc -ne 0 ]; then
	[ -f regression.diffs ] && cat regression.diffs
	[ "$failed" -eq 0 ] && failed=1
fi
echo "RESULT suite=regress passed=$passed failed=$failed"

echo "-- isolation specs"
if make -s isolationcheck >"$work/isolation.out" 2>&1; then rc=0; else rc=1; fi
cat "$work/isolation.out"
passed=$(grep -cE '^(ok [0-9]+|test .*\.\.\. ok)' "$work/isolation.out")
failed=$(grep -cE '^(not ok [0-9]+|test .*\.\.\. FAILED)' "$work/isolation.out")
if [ $rc -ne 0 ]; then
	[ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
	[ "$failed" -eq 0 ] && failed=1
fi
echo "RESULT suite=isolation passed=$passed failed=$failed"
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
