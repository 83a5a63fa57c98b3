#!/usr/bin/env bash
# The README's test command: every suite of okra, from nothing.
#
# Installs what is missing (apt-get), builds the extension and okra-sandbox,
# builds the Debian package from the release archive (test/package.sh) and
# runs the upgrade test from each earlier release (test/upgrade.sh: okra
# 0.1.0, 0.2.0, then 0.3.0, with a ledger, the package upgrade, ALTER EXTENSION
# UPDATE), which leaves the package
# installed.  Then runs okra-sandbox's own suite and the extension's suites
# against the installed package: pg_regress, the isolation specs, pgTAP and the scripted tests
# inside a throwaway PostgreSQL cluster (pg_virtualenv), the TAP tests
# (standbys, crashes), and the README's demo.  Prints "N passed, N failed"
# last and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

results=$(mktemp)
debs=$(mktemp -d /tmp/okra-debs.XXXXXX)
trap 'rm -rf "$results" "$debs"' EXIT
started=$SECONDS

echo "== packages"
okra_install_packages || { echo "could not install packages"; echo "0 passed, 1 failed"; exit 1; }
echo "== build"
if ! { make -s && make -s sandbox && make -s -C examples/webhook-receiver; }; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== Debian package (test/package.sh)"
t0=$SECONDS
if bash test/package.sh "$debs"; then
	echo "RESULT suite=package passed=1 failed=0" | tee -a "$results"
else
	echo "RESULT suite=package passed=0 failed=1" | tee -a "$results"
fi
echo "package: $((SECONDS - t0)) s"

# okra's files from earlier installs (make install of other versions) would
# show in pg_available_extension_versions: the packages start clean
rm -f "$(pg_config --sharedir)"/extension/okra.control "$(pg_config --sharedir)"/extension/okra--*.sql

for from in 0.1.0 0.2.0 0.3.0; do
	echo "== upgrade test from $from (test/upgrade.sh)"
	t0=$SECONDS
	bash test/upgrade.sh "$debs" "$from" 2>&1 | tee -a "$results"
	echo "upgrade from $from: $((SECONDS - t0)) s"
done

# the suites below test the installed package; without one, a source build
if ls "$debs"/*.deb >/dev/null 2>&1; then
	dpkg -i "$debs"/*.deb >/dev/null || { echo "dpkg -i failed"; echo "0 passed, 1 failed"; exit 1; }
else
	okra_build || { echo "make install failed"; echo "0 passed, 1 failed"; exit 1; }
fi

echo "== okra-sandbox suite"
bash test/sandbox/tests/run.sh 2>&1 | tee -a "$results"

echo "== extension suites (throwaway PostgreSQL 15)"
pg_virtualenv -t -v 15 -o "shared_preload_libraries=pg_cron,okra" -o "cron.database_name=postgres" -o "cron.use_background_workers=on" -o "max_worker_processes=16" \
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
# package, upgrade-from-0.1.0, -0.2.0, -0.3.0, sandbox, regress,
# isolation, pgtap, scripts, tap and demo each print one RESULT line; a
# missing line is a runner that crashed.
expected_suites=11
if [ "$suites" -lt "$expected_suites" ]; then
	echo "only $suites of $expected_suites suites reported a result"
	failed=$((failed + expected_suites - suites))
fi
echo
grep '^RESULT suite=' "$results"
echo "total: $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
