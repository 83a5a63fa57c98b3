#!/usr/bin/env bash
# make installcheck: the regression suite (pg_regress, test/sql) against the
# running server that PGHOST, PGPORT and PGUSER name, with the installed okra
# (make install, or the Debian package).  It starts what the suite needs and
# puts the server back as it found it:
#
#   - okra-sandbox over HTTP and HTTPS on free loopback ports, with a test CA
#     and key files in a temporary directory (test/lib.sh okra_test_fixtures);
#   - okra.base_url and okra.api_key_file pointed at them (ALTER SYSTEM and a
#     reload), and reset to what they were afterwards.
#
# Needs: root on the server's machine (the suite hands key files to the
# server's OS user, postgres), a superuser connection, okra in
# shared_preload_libraries (refunds are journaled by its worker), and
# okra-sandbox built (make sandbox; the Makefile's installcheck does it).
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

die() { echo "make installcheck: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run it as root: the suite gives key files to the server's OS user postgres"
[ -x test/sandbox/okra-sandbox ] || die "okra-sandbox is not built: run make sandbox"
preload=$(psql -AtqX -c "SHOW shared_preload_libraries") || die "cannot connect to the server (set PGHOST, PGPORT, PGUSER)"
[[ ",${preload// /}," == *,okra,* ]] ||
	die "okra is not in shared_preload_libraries (\"$preload\"): add it and restart the server (README \"Install\")"

# While it runs, okra.base_url names the sandbox for the whole server: an
# okra worker of another database would send its queued refunds there, and
# record them as done.  So only where no other database has okra.
others=""
for db in $(psql -AtqX -c "SELECT datname FROM pg_database WHERE datallowconn AND datname <> 'contrib_regression'"); do
	[ -n "$(psql -AtqX -d "$db" -c "SELECT 1 FROM pg_extension WHERE extname = 'okra'")" ] && others="$others $db"
done
[ -z "$others" ] || [ -n "${OKRA_INSTALLCHECK_ANYWAY:-}" ] ||
	die "okra is installed in database(s)$others: while the suite runs, okra.base_url points at a test sandbox for the whole server, and their queued refunds would go there. Run it on a server of its own (or set OKRA_INSTALLCHECK_ANYWAY=1 if those databases hold nothing real)."

old_url=$(psql -AtqX -c "LOAD 'okra'" -c "SELECT setting FROM pg_settings WHERE name = 'okra.base_url' AND source = 'configuration file' AND sourcefile LIKE '%postgresql.auto.conf'")
old_keyfile=$(psql -AtqX -c "LOAD 'okra'" -c "SELECT setting FROM pg_settings WHERE name = 'okra.api_key_file' AND source = 'configuration file' AND sourcefile LIKE '%postgresql.auto.conf'")

work=$(mktemp -d /tmp/okra-installcheck.XXXXXX)
chmod 755 "$work"
cleanup() {
	# back to what ALTER SYSTEM said before (RESET when it said nothing)
	local s
	for s in "okra.base_url:$old_url" "okra.api_key_file:$old_keyfile"; do
		if [ -n "${s#*:}" ]; then
			psql -qX -c "ALTER SYSTEM SET ${s%%:*} = '${s#*:}'"
		else
			psql -qX -c "ALTER SYSTEM RESET ${s%%:*}"
		fi
	done
	psql -qX -c "SELECT pg_reload_conf()" >/dev/null
	[ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null
	[ -n "${SBTLS_PID:-}" ] && kill "$SBTLS_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

okra_test_fixtures "$work" || die "could not start okra-sandbox"
okra_configure "http://127.0.0.1:$SB/v2" "$work/okra.key" || die "could not point okra at okra-sandbox"
# a reload reaches new sessions once the postmaster has read it
for _ in $(seq 1 50); do
	[ "$(psql -AtqX -c "LOAD 'okra'" -c "SHOW okra.base_url")" = "http://127.0.0.1:$SB/v2" ] && break
	sleep 0.1
done
make -s regresscheck
