#!/usr/bin/env bash
# The README's test command: every suite of okra, from nothing.
#
# Installs what is missing (apt-get), builds and installs the extension and
# okra-sandbox, runs okra-sandbox's own suite, then runs the extension's
# suites (pg_regress, pgTAP, scripted) inside a throwaway PostgreSQL cluster
# (pg_virtualenv) against local okra-sandbox instances. Prints
# "N passed, N failed" last and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "== packages"
okra_install_packages || { echo "could not install packages"; echo "0 passed, 1 failed"; exit 1; }
echo "== build"
if ! okra_build; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== okra-sandbox suite"
bash test/sandbox/tests/run.sh 2>&1 | tee -a "$results"

echo "== extension suites (throwaway PostgreSQL 15)"
pg_virtualenv -t -v 15 -o "shared_preload_libraries=pg_cron,okra" -o "cron.database_name=postgres" -o "cron.use_background_workers=on" \
	bash test/run-pg.sh 2>&1 | tee -a "$results"

echo "== TAP tests (PostgreSQL::Test::Cluster: standbys, crashes, restarts)"
bash test/run-tap.sh 2>&1 | tee -a "$results"

echo "== the README's demo (demo.sh)"
if bash demo.sh >"$results.demo" 2>&1 && grep -q '^== carry on' "$results.demo"; then
	echo "RESULT suite=demo passed=1 failed=0" | tee -a "$results"
else
	cat "$results.demo"
	echo "RESULT suite=demo passed=0 failed=1" | tee -a "$results"
fi
rm -f "$results.demo"

read -r passed failed suites < <(awk -F'[ =]' '/^RESULT suite=/ { p += $5; f += $7; n++ }
	END { print p + 0, f + 0, n + 0 }' "$results")
# sandbox, regress, pgtap, scripts, tap and demo each print one RESULT
# line; a missing line is a runner that crashed.
expected_suites=6
if [ "$suites" -lt "$expected_suites" ]; then
	echo "only $suites of $expected_suites suites reported a result"
	failed=$((failed + expected_suites - suites))
fi
echo
grep '^RESULT suite=' "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
