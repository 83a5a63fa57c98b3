#!/usr/bin/env bash
# pg_cron really runs okra_verify_pending (README "Scheduled verification"):
# okra_schedule_verification in cron.database_name, and the README's
# cron.schedule_in_database for another database; both jobs fire within a
# minute or so and their results land in each database's ledger and in
# cron.job_run_details.  Without pg_cron in the database, a clear error.
# Needs a cluster with pg_cron preloaded and cron.database_name = postgres
# (test/run-all.sh starts one).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/test/sandbox:$PATH"
: "${OKRA_SANDBOX_PORT:?}"
other=okra_cron_other
cleanup() {
	psql -qX -d postgres -c "SELECT cron.unschedule(jobid) FROM cron.job" \
		-c "DROP EXTENSION IF EXISTS okra" -c "DROP EXTENSION IF EXISTS pg_cron" >/dev/null 2>&1
	psql -qX -c "DROP DATABASE IF EXISTS $other" >/dev/null 2>&1
	ctl POST reset >/dev/null 2>&1
}
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { local d=$1; shift; psql -AtqX -d "$d" -c "$1" 2>&1; }

[ "$(q postgres "SHOW cron.database_name")" = postgres ] || { echo "FAIL pg_cron is not preloaded with cron.database_name = postgres"; exit 1; }
ctl POST reset >/dev/null
psql -qX -c "DROP DATABASE IF EXISTS $other" -c "CREATE DATABASE $other" >/dev/null || exit 1
q $other "CREATE EXTENSION okra" >/dev/null

out=$(psql -AtqX -d $other -v VERBOSITY=verbose -c "SELECT okra_schedule_verification()" 2>&1)
check "without pg_cron in the database: 55000 and a hint" \
	'[[ $out == *"55000"*"pg_cron is not installed in database \"$other\""*"HINT"*"cron.schedule_in_database"* ]]'

q postgres "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
q postgres "CREATE EXTENSION IF NOT EXISTS okra" >/dev/null
q postgres "SELECT okra_track('64a00000000000000000000a')" >/dev/null
q $other "SELECT okra_track('64a00000000000000000000b')" >/dev/null

job=$(q postgres "SELECT okra_schedule_verification('*/5 * * * *', 50)")
again=$(q postgres "SELECT okra_schedule_verification('* * * * *', 50)")
check "okra_schedule_verification creates one job and updates it ($job, $again)" \
	'[ "$job" = "$again" ] && [ "$(q postgres "SELECT count(*) || '"' '"' || min(schedule) || '"' '"' || min(command) FROM cron.job")" = "1 * * * * * CALL public.okra_verify_pending(50)" ]'
# the README's example for a database other than cron.database_name
q postgres "SELECT cron.schedule_in_database('okra-verify-$other', '* * * * *', 'CALL okra_verify_pending()', '$other')" >/dev/null

# wait for both jobs to fire (pg_cron runs on the minute)
for _ in $(seq 1 90); do
	[ "$(q postgres "SELECT check_count FROM okra_payments WHERE payment_id = '64a00000000000000000000a'")" -gt 0 ] 2>/dev/null &&
		[ "$(q $other "SELECT check_count FROM okra_payments WHERE payment_id = '64a00000000000000000000b'")" -gt 0 ] 2>/dev/null &&
		[ "$(q postgres "SELECT count(DISTINCT jobid) FROM cron.job_run_details WHERE status = 'succeeded'")" = 2 ] && break
	sleep 1
done
check "the job checked the payment in cron.database_name" \
	'[ "$(q postgres "SELECT status || '"' '"' || check_count FROM okra_payments WHERE payment_id = '"'64a00000000000000000000a'"'")" = "pending 1" ]'
check "and okra_verification_runs has its run" \
	'[ "$(q postgres "SELECT count(*) FROM okra_verification_runs WHERE finished_at IS NOT NULL AND checked = 1")" -ge 1 ]'
check "the job in the other database checked its payment" \
	'[ "$(q $other "SELECT status || '"' '"' || check_count FROM okra_payments WHERE payment_id = '"'64a00000000000000000000b'"'")" = "pending 1" ]'
check "cron.job_run_details shows both runs succeeded" \
	'[ "$(q postgres "SELECT string_agg(DISTINCT d.status || '"' '"' || d.database, '"','"' ORDER BY d.status || '"' '"' || d.database) FROM cron.job_run_details d")" = "succeeded $other,succeeded postgres" ]'

check "okra_unschedule_verification removes the job" \
	'[ "$(q postgres "SELECT okra_unschedule_verification()")" = t ] && [ "$(q postgres "SELECT count(*) FROM cron.job WHERE jobname = '"'okra-verify-pending'"'")" = 0 ]'
check "and says false when there is none" '[ "$(q postgres "SELECT okra_unschedule_verification()")" = f ]'
[ $fails -eq 0 ]
