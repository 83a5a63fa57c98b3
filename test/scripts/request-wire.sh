#!/usr/bin/env bash
# What okra puts on the wire, seen by a bare capture server: one POST per
# call to base_url + "/" + endpoint, "Authorization: Bearer <key>", JSON
# body and headers, "User-Agent: okra/<version>" (no PostgreSQL version),
# no "Expect: 100-continue"; ids sent in lower case; and a redirect is not
# followed: its target never sees a request (nor the key).
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OKRA_SANDBOX_KEY:?}"
work=$(mktemp -d)
chmod 755 "$work"
db=okra_wire
trap 'kill $CAP_PID $THIEF_PID 2>/dev/null; rm -rf "$work"; psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 || exit 1
psql -qX -v ON_ERROR_STOP=1 -d $db -c "CREATE EXTENSION okra" >/dev/null || exit 1

cat >"$work/capture.py" <<'PY'
import http.server, json, sys
log, portfile, thief = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(log, "a") as f:
            f.write(json.dumps({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                "body": body, "body_len": n}) + "\n")
        if self.path.endswith("/pay/refund") and thief != "-":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%s/steal" % thief)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        out = json.dumps({"status": "success", "message": "ok", "data": {"payment_status": {
            "_id": "64a000000000000000000001", "amount": 1, "currency": "NGN", "status": "success"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
start() {	# start LOG PORTFILE THIEF_PORT -> pid
	python3 "$work/capture.py" "$1" "$2" "$3" &
	local pid=$! i
	for i in $(seq 1 100); do [ -s "$2" ] && break; sleep 0.05; done
	echo $pid >"$2.pid"
}
start "$work/thief.log" "$work/thief.port" -
THIEF_PID=$(cat "$work/thief.port.pid"); THIEF=$(cat "$work/thief.port")
start "$work/cap.log" "$work/cap.port" "$THIEF"
CAP_PID=$(cat "$work/cap.port.pid"); CAP=$(cat "$work/cap.port")
touch "$work/cap.log" "$work/thief.log"

psql -qX -d $db >"$work/psql.out" 2>&1 <<SQL
SET okra.base_url = 'http://127.0.0.1:$CAP/v2/';
SELECT okra_verify('64A00000000000000000000B');
SELECT okra_refund('64a000000000000000000001', 2500, E'line1\r\nX-Injected: yes "q"');
SQL

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
n=$(wc -l <"$work/cap.log")
check "two calls, two requests (got $n)" '[ "$n" -eq 2 ]'
v=$(sed -n 1p "$work/cap.log"); r=$(sed -n 2p "$work/cap.log")
check "verify: POST /v2/pay/verify (one slash after a base_url ending in /)" '[ "$(jq -r .path <<<"$v")" = /v2/pay/verify ]'
check "verify: Authorization: Bearer <key>" '[ "$(jq -r ".headers.Authorization" <<<"$v")" = "Bearer $OKRA_SANDBOX_KEY" ]'
check "verify: Content-Type application/json" '[[ $(jq -r ".headers[\"Content-Type\"]" <<<"$v") == application/json* ]]'
check "verify: Accept application/json" '[ "$(jq -r ".headers.Accept" <<<"$v")" = application/json ]'
check "verify: User-Agent okra/<version> and nothing about PostgreSQL" \
	'[[ $(jq -r ".headers[\"User-Agent\"]" <<<"$v") =~ ^okra/[0-9]+\.[0-9]+\.[0-9]+$ ]]'
check "verify: no Expect header" '[ "$(jq -r ".headers.Expect // empty" <<<"$v")" = "" ]'
check "verify: the body is {\"payment_id\": lower-case id}" \
	'[ "$(jq -c ".body | fromjson" <<<"$v")" = "{\"payment_id\":\"64a00000000000000000000b\"}" ]'
check "refund: POST /v2/pay/refund" '[ "$(jq -r .path <<<"$r")" = /v2/pay/refund ]'
check "refund: the body carries amount as a JSON integer and the reason intact" \
	'[ "$(jq -c ".body | fromjson | [.payment_id, .amount, .reason]" <<<"$r")" = "[\"64a000000000000000000001\",2500,\"line1\\r\\nX-Injected: yes \\\"q\\\"\"]" ]'
check "refund: no header was injected" '[ "$(jq -r ".headers[\"X-Injected\"] // empty" <<<"$r")" = "" ]'
check "refund: Content-Length is the body's length" '[ "$(jq -r ".headers[\"Content-Length\"]" <<<"$r")" = "$(jq -r .body_len <<<"$r")" ]'
check "the redirect was not followed: its target got nothing" '[ ! -s "$work/thief.log" ]'
check "the redirect answered OK011" 'grep -q "redirects are not followed" "$work/psql.out"'
grep -qF "$OKRA_SANDBOX_KEY" "$work/psql.out" && { echo "FAIL the key appears in psql's output"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || { sed 's/^/    /' "$work/cap.log" "$work/psql.out"; exit 1; }
