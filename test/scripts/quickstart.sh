#!/usr/bin/env bash
# The README's "Quick start against okra-sandbox", run from the README itself.
#
# Every code block of README.md that follows an HTML comment
# "<!-- quickstart: KIND -->" is extracted and run as written (no copy of
# the README's commands lives here), in README order within each kind:
#
#   build        the README's apt-get and make line: not run (the suite has
#                built and installed okra already; run-all.sh did it)
#   shell        bash, as root, in the repository's top directory
#   configure    psql as the superuser postgres (su postgres -c psql)
#   restart      pg_ctlcluster ... restart: not run, the suite's cluster is
#                not restarted; it was started with okra preloaded, which
#                is what the restart gives (checked), and the settings of
#                "configure" are loaded with pg_reload_conf() instead
#   setup        psql as postgres
#   grants       psql as postgres, for the roles app, reader and settler
#                ("Granting roles"; the script creates the roles)
#   grants-cron  psql as postgres, in the database pg_cron is installed in
#                (cron.database_name)
#   calls        psql as the role app: the quick start's calls, made by the
#                role "Granting roles" sets up, so its grants are proven
#                sufficient (the README runs them as postgres; same output)
#   report       psql as the role reader ("Reports")
#   output       the output of the block before it, as psql prints it: the
#                actual output must match (compared cell by cell; columns
#                whose values differ on every run -- ids okra-sandbox makes,
#                times, durations -- are compared by name only)
#
# The README's sandbox port 8089 becomes a free port, and psql's database is
# a new one (PGDATABASE; the README uses psql's default).  Then checks that
# the README's result holds: the key file is postgres's and mode 600, the
# sandbox carried out each refund exactly once and never the refused one,
# app is no superuser and cannot read okra.api_key_file, and app can
# schedule verification with pg_cron with the grants-cron block's grants.
#
# Runs as root inside the suite's cluster (test/run-pg.sh: pg_virtualenv,
# okra and pg_cron preloaded, cron.database_name = postgres) and puts it
# back as it found it: okra.base_url, okra.api_key_file and
# shared_preload_libraries as ALTER SYSTEM had them, no key file, no roles,
# no database, okra and pg_cron in the postgres database only if they were.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run it as root (the README's shell blocks are root's)"
croncheck_db=$(psql -AtqX -d postgres -c "SHOW cron.database_name" 2>/dev/null) ||
	fail "pg_cron is not preloaded (test/run-all.sh preloads it, with cron.database_name = postgres)"
work=$(mktemp -d /tmp/okra-quickstart.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

# --- what the README says, block by block -----------------------------------
python3 - README.md "$work/blocks" <<'PY'
import os, re, sys
readme, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
lines = open(readme, encoding="utf-8").read().split("\n")
kind, n, i = None, 0, 0
while i < len(lines):
    m = re.fullmatch(r"<!-- quickstart: ([a-z-]+) -->", lines[i])
    if m:
        kind = m.group(1)
    elif kind and lines[i].startswith("```"):
        j = i + 1
        while not lines[j].startswith("```"):
            j += 1
        n += 1
        with open(f"{out}/{n:02d}.{kind}", "w", encoding="utf-8") as f:
            f.write("\n".join(lines[i + 1:j]) + "\n")
        kind, i = None, j
    elif kind and lines[i].strip():
        sys.exit(f"README.md:{i + 1}: text between <!-- quickstart: {kind} --> and its code block")
    i += 1
PY
ls "$work/blocks" | sed 's/^[0-9]*\.//' | sort | uniq -c | tr '\n' ' '
echo
kinds=" build shell configure restart setup grants grants-cron calls report output "
for k in $kinds; do
	ls "$work/blocks"/*."$k" >/dev/null 2>&1 || fail "README.md has no <!-- quickstart: $k --> block"
done
for f in "$work/blocks"/*; do
	[[ $kinds == *" ${f##*.} "* ]] || fail "README.md has a <!-- quickstart: ${f##*.} --> block: no such kind"
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for f in "$work/blocks"/*; do sed -i "s/\b8089\b/$port/g" "$f"; done

# --- the cluster as we found it ---------------------------------------------
auto_setting() {
	psql -AtqX -c "LOAD 'okra'" -c "SELECT setting FROM pg_settings WHERE name = '$1' AND sourcefile LIKE '%postgresql.auto.conf'"
}
old_url=$(auto_setting okra.base_url)
old_keyfile=$(auto_setting okra.api_key_file)
old_preload=$(auto_setting shared_preload_libraries)
pgdata=$(psql -AtqX -c "SHOW data_directory")
[ ! -e "$pgdata/okra.key" ] || fail "$pgdata/okra.key exists already"
for r in app reader settler; do
	[ -z "$(psql -AtqX -c "SELECT 1 FROM pg_roles WHERE rolname = '$r'")" ] || fail "role $r exists already"
done
had_cron=$(psql -AtqX -d "$croncheck_db" -c "SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'")
had_okra=$(psql -AtqX -d "$croncheck_db" -c "SELECT 1 FROM pg_extension WHERE extname = 'okra'")
sandbox_pid=
cleanup() {
	[ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
	local s
	for s in "okra.base_url:$old_url" "okra.api_key_file:$old_keyfile" "shared_preload_libraries:$old_preload"; do
		if [ -n "${s#*:}" ]; then
			psql -qX -d postgres -c "ALTER SYSTEM SET ${s%%:*} = '${s#*:}'"
		else
			psql -qX -d postgres -c "ALTER SYSTEM RESET ${s%%:*}"
		fi
	done
	psql -qX -d postgres -c "SELECT pg_reload_conf()" >/dev/null
	psql -qX -d "$croncheck_db" >/dev/null 2>&1 <<SQL || true
SELECT cron.unschedule(jobid) FROM cron.job WHERE username = 'app';
$([ -z "$had_okra" ] && echo "DROP EXTENSION IF EXISTS okra;")
$([ -z "$had_cron" ] && echo "DROP EXTENSION IF EXISTS pg_cron;")
SQL
	psql -qX -d "$croncheck_db" -c "DROP OWNED BY app, reader, settler" >/dev/null 2>&1 || true
	psql -qX -d postgres >/dev/null 2>&1 <<SQL || true
DROP DATABASE IF EXISTS okra_quickstart;
DROP OWNED BY app, reader, settler;
DROP ROLE IF EXISTS app;
DROP ROLE IF EXISTS reader;
DROP ROLE IF EXISTS settler;
SQL
	rm -f "$pgdata/okra.key"
	rm -rf "$work"
}
trap cleanup EXIT

# The reports count the calls of this day and hour: not across a boundary.
while [ "$(psql -AtqX -d postgres -c "SELECT to_char(clock_timestamp(), 'MISS')")" -ge 5945 ]; do sleep 1; done

psql -qX -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE okra_quickstart" \
	-c "CREATE ROLE app LOGIN" -c "CREATE ROLE reader" -c "CREATE ROLE settler" >/dev/null
export PGDATABASE=okra_quickstart

# as the README says: psql as postgres, the block on its input
# (in the database $2, if given)
as_postgres() { PGDATABASE=${2:-$PGDATABASE} su postgres -c "psql -X" <"$1" 2>&1; }
as_role() { PGOPTIONS="-c role=$1" psql -X <"$2" 2>&1; }
# a block with no output shown must run without an error
must_run() {
	local out
	out=$("$@") || fail "$(basename "$2") failed: $out"
	! grep -q "ERROR:" <<<"$out" || fail "$(basename "$2") said: $out"
}

# Compare psql output, cell by cell, with the README's.
same_output() {
	python3 - "$1" "$2" <<'PY'
import re, sys, difflib
VOLATILE = re.compile(r"refund_id|refund_payment_id|day|hour|age|since_last_check|.*_at|.*_ms")
def norm(text):
    out, volatile, lines = [], None, text.split("\n")
    for n, line in enumerate(lines):
        line = re.sub(r"^psql:[^:]*:\d+: ", "", line).rstrip()
        nxt = lines[n + 1].strip() if n + 1 < len(lines) else ""
        if re.fullmatch(r"-+(\+-+)*", nxt) and line.strip():
            cols = [c.strip() for c in line.split("|")]
            volatile = [bool(VOLATILE.fullmatch(c)) for c in cols]
            out.append(" | ".join(cols))
        elif re.fullmatch(r"-+(\+-+)*", line.strip()):
            out.append("---")
        elif re.fullmatch(r"\(\d+ rows?\)", line.strip()):
            out.append(line.strip())
            volatile = None
        elif volatile is not None and line.strip():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) == len(volatile):
                cells = ["<varies>" if v and c else c for c, v in zip(cells, volatile)]
            out.append(" | ".join(cells))
        elif line.strip():
            out.append(" ".join(line.split()))
    return out
expected = norm(open(sys.argv[1], encoding="utf-8").read())
actual = norm(open(sys.argv[2], encoding="utf-8").read())
if expected != actual:
    sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(expected, actual, "README.md", "actual", lineterm=""))
    sys.exit(1)
PY
}

# --- run the blocks ------------------------------------------------------------
# Kind by kind in the order a reader meets them in the quick start (the
# grants, which "Install" shows earlier, once the extension exists), and
# each kind's blocks in README order.  An output block is the output of
# the block just before it in the README.
mismatches=0
compare_output() {
	local f=$1 n out expected
	n=$(basename "$f")
	n=${n%%.*}
	expected=$(ls "$work/blocks/$(printf '%02d' $((10#$n + 1))).output" 2>/dev/null) || return 0
	out=$work/out.$(basename "$f")
	if same_output "$expected" "$out"; then
		echo "   the output is the README's ($(basename "$expected"))"
	else
		echo "--- what psql printed:"
		cat "$out"
		echo "FAIL: the output of $(basename "$f") is not the README's $(basename "$expected")"
		mismatches=$((mismatches + 1))
	fi
}
for kind in build shell configure restart setup grants grants-cron calls report; do
	for f in "$work/blocks"/*."$kind"; do
		echo "-- README block $(basename "$f"): $(head -n 1 "$f" | cut -c 1-70)"
		case $kind in
		build)
			echo "   (not run: the suite built and installed okra and okra-sandbox)" ;;
		shell)
			# the README's "&" leaves the sandbox running; its pid is the last job
			bash -e -c "$(cat "$f")"$'\n''echo $! >"$0"' "$work/sandbox.pid" >"$work/shell.out" 2>&1 ||
				fail "the shell block failed: $(cat "$work/shell.out")"
			sandbox_pid=$(cat "$work/sandbox.pid")
			for _ in $(seq 1 100); do
				test/sandbox/ctl "$port" GET counters >/dev/null 2>&1 && break
				sleep 0.05
			done
			test/sandbox/ctl "$port" GET counters >/dev/null || fail "okra-sandbox is not listening on $port" ;;
		configure)
			must_run as_postgres "$f"
			psql -qX -c "SELECT pg_reload_conf()" >/dev/null ;;
		restart)
			echo "   (not run: the suite's cluster already preloads okra)"
			[[ ",$(psql -AtqX -c "SHOW shared_preload_libraries" | tr -d ' ')," == *,okra,* ]] ||
				fail "okra is not preloaded" ;;
		setup | grants)
			must_run as_postgres "$f" ;;
		grants-cron)
			psql -qX -d "$croncheck_db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
				-c "CREATE EXTENSION IF NOT EXISTS okra" >/dev/null
			must_run as_postgres "$f" "$croncheck_db" ;;
		calls)
			as_role app "$f" >"$work/out.$(basename "$f")" || true
			compare_output "$f" ;;
		report)
			as_role reader "$f" >"$work/out.$(basename "$f")" || true
			compare_output "$f" ;;
		esac
	done
done
# every output block belongs to a calls or report block
for f in "$work/blocks"/*.output; do
	n=$(basename "$f")
	prev=$work/blocks/$(printf '%02d' $((10#${n%%.*} - 1)))
	[ -f "$prev.calls" ] || [ -f "$prev.report" ] || fail "$n follows no calls or report block"
done
[ "$mismatches" -eq 0 ] || fail "$mismatches output block(s) of README.md are not what psql printed"

# --- what the quick start promises ----------------------------------------------
# the key file is the server's, for it alone
[ "$(stat -c '%U:%G %a' "$pgdata/okra.key")" = "postgres:postgres 600" ] ||
	fail "the key file is $(stat -c '%U:%G %a' "$pgdata/okra.key")"
# okra-sandbox carried out each refund of the first payment once, and never
# the refused one
counters=$(test/sandbox/ctl "$port" GET counters)
refunds=$(jq -c '.refunds' <<<"$counters")
echo "sandbox refunds: $refunds"
[ "$refunds" = '{"5f88ebf63103d912f1d4baca":{"count":2,"total":10000,"amounts":[2500,7500]}}' ] ||
	fail "the sandbox executed $refunds, expected 2500 then 7500 of 5f88ebf63103d912f1d4baca, once each"
# app is no superuser, and cannot read okra.api_key_file (the library is
# loaded: preloaded)
[ "$(PGOPTIONS="-c role=app" psql -AtqX -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = f ] ||
	fail "app is a superuser"
if out=$(PGOPTIONS="-c role=app" psql -AtqX -c "SHOW okra.api_key_file" 2>&1); then
	fail "app can SHOW okra.api_key_file: $out"
fi
grep -q "must be superuser or have privileges of pg_read_all_settings" <<<"$out" || fail "SHOW okra.api_key_file said \"$out\""
# with the grants-cron block's grants, app schedules verification in
# cron.database_name's database, and the job is app's
as_cron_app() { PGOPTIONS="-c role=app" psql -AtqX -v ON_ERROR_STOP=1 -d "$croncheck_db" -c "$1" 2>&1; }
job=$(as_cron_app "SELECT okra_schedule_verification('*/5 * * * *', 100)") || fail "app could not schedule verification: $job"
out=$(psql -AtqX -d "$croncheck_db" -c "SELECT username || ' ' || command FROM cron.job WHERE jobid = $job")
[ "$out" = "app CALL public.okra_verify_pending(100)" ] || fail "the job is \"$out\""
out=$(as_cron_app "SELECT okra_unschedule_verification()") || fail "app could not unschedule: $out"
[ "$out" = t ] || fail "okra_unschedule_verification said \"$out\""
echo "ok: the README quick start, its grants and its reports hold"
