#!/usr/bin/env bash
# okra's TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster): restarts,
# crashes, standbys.  Each test makes its own clusters and okra-sandbox.
# PostgreSQL refuses to run as root, so as root they run as postgres, in a
# scratch directory.  Prints one "RESULT suite=tap ..." line.
set -uo pipefail
cd "$(dirname "$0")/.."
pgxs=$(dirname "$(pg_config --pgxs)")/..
work=$(mktemp -d /tmp/okra-tap.XXXXXX)
trap 'rm -rf "$work"' EXIT
run=()
if [ "$(id -u)" -eq 0 ]; then
	chown postgres:postgres "$work"
	run=(su postgres -s /bin/bash -c)
else
	run=(bash -c)
fi
"${run[@]}" "cd '$PWD' && TESTDIR='$work' PG_TEST_TIMEOUT_DEFAULT=60 PATH='$(pg_config --bindir):$PATH' PG_REGRESS='$pgxs/test/regress/pg_regress' \
	prove -I '$pgxs/test/perl' -I test/t ${PROVE_FLAGS:-} ${*:-test/t/*.pl}" 2>&1 | tee "$work/tap.out"
rc=${PIPESTATUS[0]}
[ -d "$work/tmp_check/log" ] && [ $rc -ne 0 ] && tail -n 30 "$work"/tmp_check/log/*.log
tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$work/tap.out")
fails=$(awk '/^Failed [0-9]+\/[0-9]+ subtests/ { split($2, a, "/"); n += a[1] } END { print n + 0 }' "$work/tap.out")
[ $rc -ne 0 ] && [ "$fails" -eq 0 ] && fails=1
echo "RESULT suite=tap passed=$(( ${tests:-0} - fails < 0 ? 0 : ${tests:-0} - fails )) failed=$fails"
[ "$fails" -eq 0 ]
