#!/usr/bin/env bash
# okra's main job on embedded defaults: install what is missing, build,
# start a throwaway PostgreSQL with okra and a local okra-sandbox seeded with
# payments, and run a short demo (test/demo.sql).
#
#   bash demo.sh          run the demo, then clean up
#   bash demo.sh --shell  run the demo, then open psql in the same set-up
set -uo pipefail
cd "$(dirname "$0")"
. test/lib.sh

if [ "${1:-}" != "--inside" ]; then
	echo "== installing packages (if missing) and building"
	okra_install_packages || exit 1
	okra_build || exit 1
	echo "== starting a throwaway PostgreSQL 15 (pg_virtualenv)"
	exec pg_virtualenv -t -v 15 -o shared_preload_libraries=okra bash "$0" --inside "${1:-}"
fi

# Inside pg_virtualenv: PGHOST, PGPORT, PGUSER point at the new cluster.
work=$(mktemp -d /tmp/okra-demo.XXXXXX)
chmod 755 "$work"
trap '[ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null; rm -rf "$work"' EXIT

key=sk_test_okra_sandbox
okra_start_sandbox SB "$work/sandbox.log" --key "$key" --seed test/sandbox/seed-demo.json || exit 1
echo "== okra-sandbox listening on http://127.0.0.1:$SB (log: $work/sandbox.log)"

# The one way to give okra its key: a file only the server's OS user reads.
printf '%s\n' "$key" >"$work/okra.key"
chown postgres:postgres "$work/okra.key"
chmod 600 "$work/okra.key"
okra_configure "http://127.0.0.1:$SB/v2" "$work/okra.key" || exit 1
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION okra' || exit 1

echo "== demo (test/demo.sql)"
psql -X -v ON_ERROR_STOP=1 -f test/demo.sql || exit 1

if [ "${2:-}" = "--shell" ]; then
	carry_on="psql opens now, in this cluster, with okra-sandbox still running on port $SB.
Both go away when you quit psql (\\q). Try, for example:"
	ctl_how="\\! test/sandbox/ctl $SB GET counters"
else
	carry_on="This cluster and sandbox go away as this script ends. To explore them in psql,
run  bash demo.sh --shell  instead: the same demo, then psql in the same set-up,
until you quit it. There, try, for example:"
	ctl_how="test/sandbox/ctl <port> GET counters"
fi
cat <<MSG

== carry on
$carry_on
    SELECT * FROM okra_verify('5f88ebf63103d912f1d4baca');
    SELECT okra_request('pay/list', '{"limit": 5}');
    SELECT * FROM okra_daily_summary;
Control the sandbox with $ctl_how (see test/sandbox/README.md).
MSG

if [ "${2:-}" = "--shell" ]; then
	export OKRA_SANDBOX_PORT=$SB
	psql
fi
