#!/usr/bin/env bash
# The reference webhook receiver (examples/webhook-receiver, issue 14 item 3)
# against a stand-in okra_webhook() in a database of its own: each SQLSTATE's
# HTTP status, the body passed byte for byte, 413 without reading the rest,
# 404/405, nothing secret in its log (body, token, password), a reconnect
# after a terminated backend, 503 without a database, one connection per
# thread, configuration errors, a clean exit on SIGTERM, and a run under
# valgrind.  Needs PGHOST/PGPORT (pg_virtualenv) with password logins over
# TCP; the receiver's role logs in with a password from a PGPASSFILE.
set -uo pipefail
cd "$(dirname "$0")/../.."
rx=examples/webhook-receiver
bin=$rx/okra-webhook-receiver
db=okra_webhook_rx
role=okra_webhook_rx
password=pw-P4SSW0RD-$$
token="Bearer tok-S3CRET-$$"
mark=body-M4RKER-$$
work=$(mktemp -d /tmp/okra-webhook-rx.XXXXXX)
RX_PID=""
cleanup() {
	[ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null && wait "$RX_PID" 2>/dev/null
	psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
q() { psql -AtqX -d $db -c "$1" 2>&1; }

make -s -C $rx >/dev/null || { echo "FAIL: examples/webhook-receiver does not build"; exit 1; }

psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" \
	-c "CREATE DATABASE $db" -c "CREATE ROLE $role LOGIN PASSWORD '$password'" >/dev/null || exit 1
# the stand-in: okra_webhook's contract (../../notes: SQLSTATEs 28000, 22P02,
# 22023, 22021, 54000), recording each distinct body once; error messages
# quote the body, as PostgreSQL's own JSON errors do
psql -qX -d $db -v ON_ERROR_STOP=1 -v token="$token" -v role=$role >/dev/null <<'EOF' || exit 1
CREATE TABLE events (id bigserial PRIMARY KEY, payload text UNIQUE NOT NULL, copies int NOT NULL DEFAULT 1);
CREATE FUNCTION okra_webhook(body text, authorization text)
 RETURNS TABLE (event_id bigint, duplicate boolean)
 LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
DECLARE
	j jsonb;
BEGIN
	IF "authorization" IS DISTINCT FROM current_setting('rx.token') THEN
		RAISE EXCEPTION 'invalid webhook token' USING ERRCODE = '28000';
	END IF;
	IF body IS NULL OR body = '' THEN
		RAISE EXCEPTION 'empty webhook body' USING ERRCODE = '22023';
	END IF;
	IF octet_length(body) > 2000 THEN
		RAISE EXCEPTION 'webhook body too large' USING ERRCODE = '54000';
	END IF;
	j := body::jsonb;
	IF jsonb_typeof(j) <> 'object' THEN
		RAISE EXCEPTION 'webhook body is not an object: %', body USING ERRCODE = '22023';
	END IF;
	IF j ? 'boom' THEN
		RAISE EXCEPTION 'boom: %', body;
	END IF;
	IF j ? 'sleep' THEN
		PERFORM pg_sleep((j->>'sleep')::float8);
	END IF;
	INSERT INTO public.events AS e (payload) VALUES (body)
		ON CONFLICT (payload) DO UPDATE SET copies = e.copies + 1
		RETURNING e.id, e.copies > 1 INTO event_id, duplicate;
	RETURN NEXT;
END
$f$;
REVOKE ALL ON FUNCTION okra_webhook(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION okra_webhook(text, text) TO :"role";
SELECT format('ALTER DATABASE %I SET rx.token = %L', current_database(), :'token') \gexec
EOF

printf '*:*:%s:%s:%s\n' "$db" "$role" "$password" >"$work/pgpass"
chmod 600 "$work/pgpass"
conninfo="host=${PGHOST:-localhost} port=${PGPORT:-5432} dbname=$db user=$role"
cat >"$work/rx.conf" <<EOF
# test configuration
listen_address = 127.0.0.1
port = 0
path = /okra/webhook
conninfo = $conninfo
max_body = 4096
threads = 4
EOF

# start_rx CONF LOG [WRAPPER...]: start the receiver (under WRAPPER, e.g.
# valgrind), wait for its "listening" line; sets RX_PID and URL
start_rx() {
	local conf=$1 log=$2 i
	shift 2
	env -u PGPASSWORD PGPASSFILE="$work/pgpass" "$@" "$bin" "$conf" 2>"$log" &
	RX_PID=$!
	for i in $(seq 1 300); do
		grep -q 'listening on' "$log" && break
		kill -0 "$RX_PID" 2>/dev/null || break
		sleep 0.1
	done
	URL="http://127.0.0.1:$(sed -n 's/.*listening on 127.0.0.1 port \([0-9]*\),.*/\1/p' "$log")/okra/webhook"
}
# stop_rx: SIGTERM, wait at most 10 s; sets RX_RC (124: did not stop)
stop_rx() {
	local i
	kill -TERM "$RX_PID"
	for i in $(seq 1 100); do kill -0 "$RX_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$RX_PID" 2>/dev/null; then
		kill -KILL "$RX_PID"; wait "$RX_PID" 2>/dev/null; RX_RC=124
	else
		wait "$RX_PID"; RX_RC=$?
	fi
	RX_PID=""
}
# post FILE [CURL ARGS...]: POST the file with the token; prints the status
post() { local f=$1; shift; curl -s -o "$work/resp" -D "$work/headers" -w '%{http_code}' -H "Authorization: $token" \
	-H 'Content-Type: application/json' --data-binary @"$f" "$@" "$URL"; }
body() { printf '%s' "$1" >"$work/body"; echo "$work/body"; }

log=$work/rx.log
start_rx "$work/rx.conf" "$log"
check "the receiver starts and says where it listens" '[[ $URL == http://127.0.0.1:[1-9]*/okra/webhook ]]'

# -- 200, the raw body byte for byte, duplicates
printf '{"payment_id": "64a000000000000000000001",\n "note": "%s caf\xc3\xa9 \\u00e9  "}' "$mark" >"$work/ok.json"
check "a good webhook: 200 {\"ok\":true}" '[ "$(post "$work/ok.json")" = 200 ] && [ "$(cat "$work/resp")" = "{\"ok\":true}" ]'
check "okra_webhook got the raw body byte for byte" \
	'[ "$(q "SELECT md5(convert_to(payload, '"'UTF8'"')) FROM events")" = "$(md5sum <"$work/ok.json" | cut -d" " -f1)" ]'
check "a retried delivery: 200 again, recorded once" \
	'[ "$(post "$work/ok.json")" = 200 ] && [ "$(q "SELECT count(*) || '"' '"' || sum(copies) FROM events")" = "1 2" ]'
check "the log has the event id and duplicate flag" 'grep -q "POST /okra/webhook 200 .* sqlstate=- event_id=1 duplicate=t" "$log"'

# -- 401
st=$(curl -s -o /dev/null -D "$work/headers" -w '%{http_code}' --data-binary @"$work/ok.json" "$URL")
check "no Authorization header (NULL): 401 with WWW-Authenticate: Bearer" \
	'[ "$st" = 401 ] && grep -qi "^WWW-Authenticate: Bearer" "$work/headers"'
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-TOK3N" --data-binary @"$work/ok.json" "$URL")
check "a wrong token (28000): 401" '[ "$st" = 401 ] && grep -q "POST /okra/webhook 401 .* sqlstate=28000" "$log"'

# -- 400
check "malformed JSON (22P02): 400" '[ "$(post "$(body "{\"$mark\": nope")")" = 400 ] && grep -q " 400 .* sqlstate=22P02" "$log"'
check "an empty body (22023): 400" '[ "$(post "$(body "")")" = 400 ] && [ "$(grep -c " 400 .* sqlstate=22023" "$log")" = 1 ]'
check "a JSON array, not an object (22023): 400" '[ "$(post "$(body "[\"$mark\"]")")" = 400 ] && [ "$(grep -c " 400 .* sqlstate=22023" "$log")" = 2 ]'
printf '{"x": "\xff\xfe %s"}' "$mark" >"$work/latin"
check "a body that is not UTF-8 (22021): 400" '[ "$(post "$work/latin")" = 400 ] && grep -q " 400 .* sqlstate=22021" "$log"'
printf '{"x": "%s"}\0{"y": 1}' "$mark" >"$work/nul"
check "a body with a NUL byte: 400, never truncated into a valid one" \
	'[ "$(post "$work/nul")" = 400 ] && [ "$(grep -c " 400 .* sqlstate=22021" "$log")" = 2 ] && [ "$(q "SELECT count(*) FROM events")" = 1 ]'
head -c 3000 /dev/zero | tr '\0' x | sed "s/^/{\"$mark\": \"/; s/\$/\"}/" >"$work/big"
check "a body under max_body that okra_webhook finds too large (54000): 400" \
	'[ "$(post "$work/big")" = 400 ] && grep -q " 400 .* sqlstate=54000" "$log"'

# -- 503
check "any other error (P0001): 503 with Retry-After" \
	'[ "$(post "$(body "{\"boom\": \"$mark\"}")")" = 503 ] && grep -qi "^Retry-After:" "$work/headers" && grep -q " 503 .* sqlstate=P0001" "$log"'

# -- 404, 405
check "GET on the path: 405 with Allow: POST" \
	'[ "$(curl -s -o /dev/null -D "$work/headers" -w "%{http_code}" "$URL")" = 405 ] && grep -qi "^Allow: POST" "$work/headers"'
check "PUT on the path: 405" '[ "$(curl -s -o /dev/null -w "%{http_code}" -X PUT --data-binary @"$work/ok.json" "$URL")" = 405 ]'
check "POST elsewhere: 404" '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: $token" --data-binary @"$work/ok.json" "$URL"s)" = 404 ]'
check "GET /: 404" '[ "$(curl -s -o /dev/null -w "%{http_code}" "${URL%/okra/webhook}/")" = 404 ]'
check "the query string is not part of the path: 200" '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: $token" --data-binary @"$work/ok.json" "$URL?x=1")" = 200 ]'

# -- 413
head -c 4000 /dev/zero | tr '\0' y | sed 's/^/{"a": "/; s/$/"}/' >"$work/max"	# 4009 bytes
head -c 4087 /dev/zero | tr '\0' y | sed 's/^/{"a": "/; s/$/"}/' >"$work/exact"	# 4096 bytes
head -c 4088 /dev/zero | tr '\0' y | sed 's/^/{"a": "/; s/$/"}/' >"$work/over"	# 4097 bytes
check "a body of exactly max_body bytes is passed on (54000 from the stand-in: 400)" '[ "$(post "$work/exact")" = 400 ]'
check "max_body + 1 bytes with Content-Length: 413" '[ "$(post "$work/over")" = 413 ]'
copies=$(q "SELECT sum(copies) FROM events")
check "a chunked body (no Content-Length): 411, unread" '[ "$(post "$work/ok.json" -H "Transfer-Encoding: chunked")" = 411 ] && [ "$(q "SELECT sum(copies) FROM events")" = "$copies" ]'
head -c 20000000 /dev/zero | tr '\0' z >"$work/huge"
out=$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H "Authorization: $token" -H 'Expect: 100-continue' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$work/huge" "$URL")
check "20 MB chunked with Expect: 100-continue: 411 at once, nothing sent (${out#* })" '[ "$out" = "411 0" ]'
out=$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H "Authorization: $token" -H 'Expect: 100-continue' \
	--data-binary @"$work/huge" "$URL")
check "20 MB with Content-Length and Expect: 100-continue: 413 at once, nothing sent (${out#* })" '[ "$out" = "413 0" ]'
out=$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H "Authorization: $token" -H 'Expect:' \
	--data-binary @"$work/huge" "$URL")
check "20 MB with Content-Length, no Expect: 413 before it is all sent (${out#* })" '[ "${out% *}" = 413 ] && [ "${out#* }" -lt 20000000 ]'
check "after all that, a good webhook still gets 200" '[ "$(post "$work/max")" = 400 ] && [ "$(post "$(body "{\"payment_id\": \"p2\"}")")" = 200 ]'

# -- nothing secret in the log
check "the log has one line per request with method, path, status, duration, SQLSTATE" \
	'[ "$(grep -cE "^[0-9T:.-]+Z okra-webhook-receiver: [A-Z]+ /[^ ]* [0-9]{3} [0-9.]+ ms sqlstate=" "$log")" -ge 20 ]'
check "the log never has the body, the token or the password" \
	'! grep -qE "M4RKER|S3CRET|P4SSW0RD|wrong-TOK3N|payment_id|yyyy|zzzz" "$log"'

# -- a terminated backend: reconnected, the webhook still gets 200
q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
sleep 0.2
check "after its connection was terminated: 200 on a new one" \
	'[ "$(post "$(body "{\"payment_id\": \"p3\"}")")" = 200 ] && grep -q "the database connection broke" "$log"'

# -- one connection per thread at most
for i in $(seq 1 12); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: $token" --data-binary "{\"sleep\": 0.3, \"i\": $i}" "$URL" >>"$work/par" &
done
sleep 0.5
conns=$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = '$role'")
wait $(jobs -p | grep -v "^$RX_PID\$") 2>/dev/null
check "12 concurrent webhooks: all 200, over at most 4 connections ($conns)" \
	'[ "$(sort "$work/par" | uniq -c | awk "{print \$1, \$2}")" = "12 200" ] && [ "$conns" -ge 2 ] && [ "$conns" -le 4 ]'

# -- SIGTERM
stop_rx
check "SIGTERM: exits 0 and says so" '[ "$RX_RC" = 0 ] && tail -1 "$log" | grep -q "stopped"'
sleep 0.3
check "its database connections are closed" '[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = '"'$role'"'")" = 0 ]'

# -- no database: 503, and the password still not in the log
sed "s|^conninfo = .*|conninfo = $conninfo port=1|" "$work/rx.conf" >"$work/nodb.conf"
start_rx "$work/nodb.conf" "$work/nodb.log"
check "without a database: 503 (08001)" '[ "$(post "$work/ok.json")" = 503 ] && grep -q " 503 .* sqlstate=08001" "$work/nodb.log"'
stop_rx
check "the connection error is logged, without the password" \
	'grep -q "could not connect to the database:.*port 1 failed" "$work/nodb.log" && ! grep -q P4SSW0RD "$work/nodb.log"'

# -- configuration errors
printf 'port = 8090\nlisten = 0.0.0.0\n' >"$work/bad.conf"
"$bin" "$work/bad.conf" 2>"$work/bad.log"; rc=$?
check "an unknown key: exit 2 naming the line" '[ $rc = 2 ] && grep -q "bad.conf:2: unknown key \"listen\"" "$work/bad.log"'
printf 'conninfo = host=x password secret-V4LUE\n' >"$work/bad.conf"
"$bin" "$work/bad.conf" 2>"$work/bad.log"; rc=$?
check "a malformed conninfo: exit 2, without quoting it" '[ $rc = 2 ] && grep -q "not a valid libpq connection string" "$work/bad.log" && ! grep -q V4LUE "$work/bad.log"'
"$bin" "$work/none.conf" 2>"$work/bad.log"; rc=$?
check "a missing configuration file: exit 2" '[ $rc = 2 ] && grep -q "could not open configuration file" "$work/bad.log"'

# -- the example configuration file is valid as it is (but for the port)
sed 's/^port = .*/port = 0/' $rx/okra-webhook-receiver.conf >"$work/example.conf"
start_rx "$work/example.conf" "$work/example.log"
stop_rx
check "the example okra-webhook-receiver.conf is accepted" '[ "$RX_RC" = 0 ] && grep -q "listening on 127.0.0.1 port [1-9].*max_body 65536" "$work/example.log"'

# -- valgrind: a few requests of each kind, then SIGTERM
if command -v valgrind >/dev/null; then
	sed 's/^threads = .*/threads = 2/' "$work/rx.conf" >"$work/vg.conf"
	start_rx "$work/vg.conf" "$work/vg.log" valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$work/valgrind.log"
	codes=$(post "$work/ok.json"; post "$(body "{\"payment_id\": \"vg\"}")"; post "$(body "{")";
		curl -s -o /dev/null -w '%{http_code}' --data-binary @"$work/ok.json" "$URL"; post "$work/over";
		post "$work/ok.json" -H "Transfer-Encoding: chunked"; post "$(body "{\"boom\": 1}")"; post "$work/nul";
		curl -s -o /dev/null -w '%{http_code}' "$URL"; curl -s -o /dev/null -w '%{http_code}' "${URL%/okra/webhook}/x")
	q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
	sleep 0.2
	codes="$codes$(post "$(body "{\"payment_id\": \"vg2\"}")")"
	stop_rx
	check "under valgrind: the expected statuses ($codes)" '[ "$codes" = 200200400401413411503400405404200 ]'
	check "under valgrind: exits 0, no errors, nothing definitely or indirectly lost" \
		'[ "$RX_RC" = 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$work/valgrind.log"' ||
		cat "$work/valgrind.log"
else
	echo "FAIL valgrind is not installed"
	fails=$((fails + 1))
fi

[ $fails -eq 0 ] || { echo "-- receiver logs:"; cat "$log" "$work/nodb.log"; }
exit $((fails > 0))
