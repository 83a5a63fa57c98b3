#!/usr/bin/env bash
# `make valgrind`: okra's backends under memcheck.
#
# Builds and installs the extension, initdbs a throwaway cluster in a temp
# directory and starts `postgres` itself under valgrind (every backend is a
# fork of it, so every backend is checked and writes its own vg.<pid>.log),
# starts okra-sandbox over HTTP and HTTPS and configures okra the way
# test/run-pg.sh does, then drives:
#
#   1. test/valgrind/workload.sql: one session that makes every kind of okra
#      call fail (Okra's rejections OK001-OK009, lost and broken answers
#      OK010/OK011, 08001, 22023, 55000, statement_timeout mid-transfer)
#      and succeed, OKRA_VG_N times each, catching every error, then exits;
#   2. pg_terminate_backend() of a session blocked in a request (HTTP and
#      HTTPS): the backend exits from inside the transfer loop;
#   3. the regular suites: pg_regress (make regresscheck) and pgTAP
#      (pg_prove test/pgtap), when they exist (OKRA_VG_SUITES=0 skips them).
#
# Then it stops the server (fast shutdown, so every process exits and runs
# its leak check) and test/valgrind/analyze.py reads every log: a leak or
# error with a frame in okra.so, or allocated by libcurl or json-c, is
# attributable to okra and fails the run. test/valgrind/okra.supp hides the
# known noise of PostgreSQL itself, libc and the TLS libraries.
#
# Before all that, a control: analyze.py must flag the synthetic records in
# test/valgrind/selftest/dirty.log and pass selftest/clean.log.
#
# Prints one line per check, then "RESULT suite=valgrind passed=N failed=M"
# and the elapsed time; exits non-zero when a check failed.
#
# Environment:
#   OKRA_VG_N=200        calls per failure kind in the workload
#   OKRA_VG_NSLOW=40     calls per kind that each wait for a timeout
#   OKRA_VG_NTLS=40      calls per kind that each make a fresh TLS handshake
#   OKRA_VG_SUITES=1     0: workload only
#   OKRA_VG_NO_BUILD=1   do not run make && make install first
#   OKRA_VG_KEEP=1       keep the work directory (cluster, logs) afterwards
#   OKRA_VG_LEAK_KINDS   memcheck's --show-leak-kinds (default definite,indirect)
#   OKRA_VG_EXTRA        more valgrind options (e.g. --gen-suppressions=all)
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
repo=$PWD
t_start=$(date +%s)

N=${OKRA_VG_N:-200}
NSLOW=${OKRA_VG_NSLOW:-40}
NTLS=${OKRA_VG_NTLS:-40}
LEAK_KINDS=${OKRA_VG_LEAK_KINDS:-definite,indirect}

passed=0
failed=0
check() {	# check ok|fail TEXT
	if [ "$1" = ok ]; then
		passed=$((passed + 1)); echo "ok   $2"
	else
		failed=$((failed + 1)); echo "FAIL $2"
	fi
}
elapsed() { echo $(( $(date +%s) - t_start )); }
finish() {
	echo "RESULT suite=valgrind passed=$passed failed=$failed"
	echo "elapsed: $(elapsed)s"
	[ "$failed" -eq 0 ]
	exit
}

if ! command -v valgrind >/dev/null; then
	echo "valgrind is not installed (apt-get install valgrind)"
	check fail "valgrind available"
	finish
fi

# ---- build and install -------------------------------------------------------
if [ -z "${OKRA_VG_NO_BUILD:-}" ]; then
	echo "== build"
	if ! okra_build; then
		check fail "build and install"
		finish
	fi
fi
PGBIN=$(pg_config --bindir)

# ---- control: the analysis must be able to fail --------------------------------
echo "== control: analyze.py on synthetic logs"
sel=$(python3 test/valgrind/analyze.py --src-dir src test/valgrind/selftest/dirty.log 2>&1)
sel_rc=$?
sel_n=$(grep -c '^---- .*attributable to okra' <<<"$sel")
sel_clean=$(python3 test/valgrind/analyze.py --src-dir src test/valgrind/selftest/clean.log 2>&1)
sel_clean_rc=$?
if [ "$sel_rc" -eq 1 ] && [ "$sel_n" -eq 3 ] && [ "$sel_clean_rc" -eq 0 ] &&
	! grep -q '^---- ' <<<"$sel_clean"; then
	check ok "control: the analysis flags an okra.so leak, a libcurl leak reached from okra and a json-c use-after-free, and passes PostgreSQL's own noise"
else
	echo "$sel"; echo "$sel_clean"
	check fail "control: the analysis flags the synthetic okra records (flagged $sel_n of 3, exit $sel_rc; clean log exit $sel_clean_rc)"
	finish
fi

# ---- work directory, keys, CA, sandboxes --------------------------------------
work=$(mktemp -d /tmp/okra-vg.XXXXXX)
chmod 755 "$work"
chown postgres:postgres "$work"	# the data directory and the socket live here
PM_PID=""
cleanup() {
	if [ -n "$PM_PID" ] && kill -0 "$PM_PID" 2>/dev/null; then
		kill -INT "$PM_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$PM_PID" 2>/dev/null || break; sleep 0.2; done
		kill -QUIT "$PM_PID" 2>/dev/null
	fi
	[ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null
	[ -n "${SBTLS_PID:-}" ] && kill "$SBTLS_PID" 2>/dev/null
	wait 2>/dev/null
	if [ -n "${OKRA_VG_KEEP:-}" ]; then
		echo "kept: $work (valgrind logs in $work/vg)"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

if ! okra_test_fixtures "$work"; then
	check fail "test CA, sandboxes and key files"
	finish
fi
# a port nobody listens on: bound, then released
closed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ---- the cluster, under valgrind ------------------------------------------------
echo "== cluster under valgrind"
mkdir -p "$work/vg"
chown postgres:postgres "$work/vg"
if ! runuser -u postgres -- "$PGBIN/initdb" -D "$work/data" -A trust -U postgres -E UTF8 \
	--locale=C.UTF-8 --no-sync >"$work/initdb.log" 2>&1; then
	cat "$work/initdb.log"
	check fail "initdb"
	finish
fi
port=$((50000 + $$ % 10000))
# like test/run-all.sh: okra preloaded (its launcher and workers run under
# valgrind too), and pg_cron only when a test uses it
preload="shared_preload_libraries = 'okra'"
if grep -rqil 'cron\.' test/sql test/pgtap test/scripts 2>/dev/null; then
	preload="shared_preload_libraries = 'pg_cron,okra'
cron.database_name = 'postgres'"
fi
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
max_connections = 30
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
autovacuum = off
log_line_prefix = '%m [%p] %b %a: '
log_disconnections = on
$preload
EOF
export PGHOST=$work PGPORT=$port PGUSER=postgres PGDATABASE=postgres
# the dblink sessions of the pgTAP files build a conninfo with a password;
# this cluster trusts local connections, so any value does
export PGPASSWORD=${PGPASSWORD:-unused}
vg_opts=(--trace-children=yes --leak-check=full "--show-leak-kinds=$LEAK_KINDS"
	--errors-for-leak-kinds=definite,indirect --num-callers=30
	"--suppressions=$repo/test/valgrind/okra.supp" "--log-file=$work/vg/vg.%p.log"
	--fullpath-after= ${OKRA_VG_EXTRA:-})
runuser -u postgres -- valgrind "${vg_opts[@]}" "$PGBIN/postgres" -D "$work/data" \
	>"$work/server.log" 2>&1 &
RUNUSER_PID=$!
for _ in $(seq 1 300); do
	"$PGBIN/pg_isready" -q && break
	kill -0 "$RUNUSER_PID" 2>/dev/null || break
	sleep 0.2
done
if ! "$PGBIN/pg_isready" -q; then
	cat "$work/server.log"
	check fail "postgres starts under valgrind"
	finish
fi
PM_PID=$(head -1 "$work/data/postmaster.pid")
echo "postmaster pid $PM_PID, up after $(elapsed)s"

if ! okra_configure "http://127.0.0.1:$SB/v2" "$work/okra.key"; then
	check fail "configure okra"
	finish
fi

# ---- 1. the error-path workload ---------------------------------------------------
echo "== workload: $N calls per kind ($NSLOW per timeout kind, $NTLS per TLS-handshake kind)"
t0=$(date +%s)
psql -X -v ON_ERROR_STOP=1 -v n="$N" -v nslow="$NSLOW" -v ntls="$NTLS" \
	-v sbtls="$SBTLS" -v closed="$closed_port" -v dir="$work" \
	-f test/valgrind/workload.sql >"$work/workload.out" 2>&1
wl_rc=$?
echo "workload took $(( $(date +%s) - t0 ))s"
wl_pid=$(sed -n 's/^VGPID //p' "$work/workload.out" | head -1)
if [ $wl_rc -ne 0 ]; then
	cat "$work/workload.out"
	check fail "workload ran to the end (psql exit $wl_rc)"
else
	check ok "workload ran to the end (backend pid $wl_pid)"
fi
while read -r verdict rest; do
	if [ "$verdict" = ok ]; then check ok "workload: $rest"; else check fail "workload: $rest"; fi
done < <(sed -n 's/^VGCHECK //p' "$work/workload.out")

# ---- 2. backend terminated in the middle of a request ------------------------------
echo "== pg_terminate_backend during a request"
# sandbox_faults URL METHOD [JSON]: the control API's faults, over HTTP or
# HTTPS (ctl speaks plain HTTP only)
sandbox_faults() {
	curl -sS --cacert "$OKRA_TEST_CA" -X "$2" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$1/_sandbox/faults" >/dev/null
}
terminate_case() {	# terminate_case LABEL SANDBOX-URL SETUP-SQL
	local label=$1 sburl=$2 setup=$3 out=$work/terminate.out victim="" i
	sandbox_faults "$sburl" POST '{"kind": "hang", "ms": 30000, "route": "pay/verify"}'
	psql -X -v ON_ERROR_STOP=1 -c "$setup" -c "SELECT okra_verify('64a000000000000000000001')" \
		>"$out" 2>&1 &
	local bg=$!
	for i in $(seq 1 150); do
		victim=$(psql -XAt -c "SELECT pid FROM pg_stat_activity
			WHERE query LIKE 'SELECT okra_verify%' AND wait_event_type = 'Extension'")
		[ -n "$victim" ] && break
		sleep 0.2
	done
	[ -n "$victim" ] && psql -XAtq -c "SELECT pg_terminate_backend($victim)" >/dev/null
	wait "$bg"
	sandbox_faults "$sburl" DELETE
	if [ -n "$victim" ] && grep -q 'terminating connection due to administrator command' "$out"; then
		check ok "terminate: $label (backend pid $victim exits from inside the transfer)"
	else
		sed 's/^/    /' "$out"
		check fail "terminate: $label (victim pid '${victim}')"
	fi
}
terminate_case "HTTP request waiting for its answer" "http://127.0.0.1:$SB" "SET client_min_messages = warning"
terminate_case "HTTPS request waiting for its answer" "https://127.0.0.1:$SBTLS" \
	"SELECT set_config('okra.base_url', 'https://127.0.0.1:$SBTLS/v2', false), set_config('okra.ca_file', '$work/ca.pem', false)"

# ---- 3. the regular suites --------------------------------------------------------
if [ "${OKRA_VG_SUITES:-1}" != 0 ]; then
	ctl POST reset >/dev/null
	curl -sS --cacert "$OKRA_TEST_CA" -X POST "https://127.0.0.1:$SBTLS/_sandbox/reset" >/dev/null
	if compgen -G "test/sql/*.sql" >/dev/null; then
		echo "== pg_regress (make regresscheck) under valgrind"
		t0=$(date +%s)
		# results and diffs go to the work directory, not the checkout
		mkdir -p "$work/regress"
		ln -s "$repo/expected" "$work/regress/expected"
		make -s regresscheck REGRESS_OPTS="--inputdir=test --outputdir=$work/regress --dbname=contrib_regression" \
			>"$work/regress.out" 2>&1
		rc=$?
		rp=$(grep -cE '^(ok [0-9]+|test .*\.\.\. ok)' "$work/regress.out")
		rf=$(grep -cE '^(not ok [0-9]+|test .*\.\.\. FAILED)' "$work/regress.out")
		echo "pg_regress took $(( $(date +%s) - t0 ))s: $rp passed, $rf failed (exit $rc)"
		if [ $rc -ne 0 ]; then
			sed 's/^/    /' "$work/regress.out" | tail -40
			[ -f "$work/regress/regression.diffs" ] && head -60 "$work/regress/regression.diffs" | sed 's/^/    /'
		fi
		if [ $((rp + rf)) -gt 0 ]; then
			check ok "pg_regress ran under valgrind ($rp tests passed, $rf failed: see above)"
		else
			sed 's/^/    /' "$work/regress.out"
			check fail "pg_regress ran under valgrind"
		fi
	fi
	if compgen -G "test/pgtap/*.sql" >/dev/null; then
		echo "== pgTAP (pg_prove test/pgtap) under valgrind"
		t0=$(date +%s)
		okra_run_pgtap okra_tap "$work/tap.out"
		tests=$PGTAP_TESTS fails=$PGTAP_FAILS rc=$PGTAP_RC
		echo "pg_prove took $(( $(date +%s) - t0 ))s: ${tests:-0} tests, $fails failed (exit $rc)"
		[ $rc -ne 0 ] && sed -n '/^Test Summary Report/,$p' "$work/tap.out" | sed 's/^/    /'
		if [ "$tests" -gt 0 ]; then
			check ok "pgTAP ran under valgrind (${tests} tests, $fails failed: see above)"
		else
			sed 's/^/    /' "$work/tap.out" | tail -40
			check fail "pgTAP ran under valgrind"
		fi
	fi
fi

# ---- stop, then read the logs -------------------------------------------------------
echo "== fast shutdown"
t0=$(date +%s)
kill -INT "$PM_PID"
for _ in $(seq 1 600); do kill -0 "$PM_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$PM_PID" 2>/dev/null; then
	check fail "server stopped within 120s"
else
	wait "$RUNUSER_PID" 2>/dev/null
	PM_PID=""
	echo "stopped in $(( $(date +%s) - t0 ))s"
fi
if grep -E 'terminated by signal|was terminated by|server process .* exited with exit code [^0]' "$work/server.log" |
	grep -v 'exit code 1)' >"$work/crashes"; [ -s "$work/crashes" ]; then
	sed 's/^/    /' "$work/crashes"
	check fail "no server process crashed"
else
	check ok "no server process crashed"
fi
if grep -q 'database system is shut down' "$work/server.log"; then
	check ok "clean shutdown"
else
	tail -20 "$work/server.log" | sed 's/^/    /'
	check fail "clean shutdown"
fi

if [ -n "$wl_pid" ] && grep -q 'ERROR SUMMARY' "$work/vg/vg.$wl_pid.log" 2>/dev/null; then
	check ok "workload backend (pid $wl_pid) ran its leak check at exit: $(sed -n 's/^==[0-9]*==    definitely lost: //p' "$work/vg/vg.$wl_pid.log") definitely lost in all (okra's share: see below)"
else
	check fail "workload backend (pid ${wl_pid:-?}) ran its leak check at exit"
fi

echo "== valgrind logs ($(ls "$work/vg" | wc -l) processes)"
python3 test/valgrind/analyze.py --src-dir "$repo/src" --server-log "$work/server.log" \
	"$work"/vg/vg.*.log >"$work/analysis.out" 2>&1
cat "$work/analysis.out"
read -r ap af < <(sed -n 's/^CHECKS passed=\([0-9]*\) failed=\([0-9]*\)$/\1 \2/p' "$work/analysis.out")
passed=$((passed + ${ap:-0}))
failed=$((failed + ${af:-1}))
finish
